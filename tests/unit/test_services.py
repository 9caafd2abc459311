"""The app's services: one typed object under one AppKey, reached from a request or the app; a feature's
fields are set by its setup(); the clock and Beijing time are defined once."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from server.clock import BEIJING, Clock
from server.config import Config
from server.services import SERVICES, Services, services


def _config(tmp_path: Path) -> Config:
    rec = tmp_path / "recordings"
    rec.mkdir()
    return Config(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                  secret_key=b"test-secret-key-not-for-production", recordings_dir=rec, schedulers=False)


def test_create_app_fills_one_typed_services_object_without_app_key_warnings(tmp_path: Path) -> None:
    from server.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # aiohttp's NotAppKeyWarning is a UserWarning
        app = create_app(_config(tmp_path), migrate=False)
    svc = app[SERVICES]
    assert isinstance(svc, Services) and services(app) is svc
    assert svc.config.data_dir == tmp_path and svc.bus_name == "local"
    # Each feature's setup() filled in its own fields.
    assert svc.room_hub is not None and svc.signaling is not None and svc.recording is not None
    assert svc.agreement_keys is not None and svc.verify_executor is not None and svc.login_limiter is not None
    assert svc.intake_limiter is not None and svc.jinja is None and svc.render_error is not None
    # The unread badge (cases), the council figures (dashboard) and the council section of a case page.
    assert len(svc.page_extras) == 3 and svc.cases_scan_interval_s == 60.0
    # Only the services key: no untyped string keys left on the app.
    assert [k for k in app if isinstance(k, str)] == []
    svc.verify_executor.shutdown()


def test_the_clock_is_settable_and_beijing_is_utc_plus_8() -> None:
    clock = Clock()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    t0 = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    clock.set(t0)
    assert clock.now() == t0 and clock.advance(timedelta(hours=1)) == t0 + timedelta(hours=1)
    assert t0.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") == "2026-03-01 09:30"
    try:
        clock.set(datetime(2026, 3, 1))
    except ValueError:
        pass
    else:
        raise AssertionError("a naive time must be refused")


async def test_services_from_a_request(aiohttp_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from server.app import create_app

    app = create_app(_config(tmp_path))
    seen: list[Services] = []

    async def probe(request: web.Request) -> web.Response:
        seen.append(services(request))
        return web.Response(text="ok")

    app.router.add_get("/probe", probe)
    client = await aiohttp_client(app)
    assert (await client.get("/probe")).status == 200
    assert seen == [services(app)]
