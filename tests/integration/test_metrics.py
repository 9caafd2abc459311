"""/metrics in the Prometheus text exposition format; /healthz reports the database and the bus."""

from __future__ import annotations

import dataclasses
import re

import pytest

from server.services import services
from tests.conftest import login

METRICS_TOKEN = "scrape-token-for-tests-0123456789"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
async def scraped(aiohttp_client, config):  # type: ignore[no-untyped-def]
    """The app with CONCORD_METRICS_TOKEN set, seeded like ``client``."""
    from server.app import create_app
    from server.directory.demo import seed

    app = create_app(dataclasses.replace(config, metrics_token=METRICS_TOKEN))
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    return c

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? -?[0-9.eE+-]+|NaN|[+-]Inf$')


def parse(text: str) -> dict[str, list[str]]:
    """A strict reading of the text format: every line is a comment or a well-formed sample."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}, line
            assert name not in types, f"duplicate TYPE for {name}"
            types[name] = kind
        elif line.startswith("#"):
            assert line.startswith("# HELP "), line
        else:
            assert SAMPLE.match(line), f"malformed sample: {line!r}"
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
            assert name in types, f"sample before its TYPE: {line!r}"
            samples.setdefault(name, []).append(line)
    return samples


async def test_metrics_are_refused_without_a_token_configured(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "admin")
    for headers in ({}, h, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        r = await client.get("/metrics", headers=headers)
        assert r.status == 403, headers
        assert "concord_" not in await r.text()


async def test_metrics_need_the_right_bearer_token(scraped) -> None:  # type: ignore[no-untyped-def]
    h = await login(scraped, "admin")  # a staff login is not the scraper's token
    for headers in ({}, h, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN},
                    {"Authorization": f"Basic {METRICS_TOKEN}"}):
        r = await scraped.get("/metrics", headers=headers)
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), headers
        assert "concord_" not in await r.text()


async def test_metrics_prometheus_text(scraped) -> None:  # type: ignore[no-untyped-def]
    client = scraped
    h = await login(client)
    await client.get("/api/units", headers=h)
    await client.get("/api/units/nope", headers=h)
    await client.get("/api/units/<\"quoted\">", headers=h)
    r = await client.get("/metrics", headers=SCRAPER)
    assert r.status == 200
    assert r.content_type == "text/plain"
    samples = parse(await r.text())
    for name in ("concord_event_loop_lag_seconds", "concord_uptime_seconds", "concord_peak_rss_bytes",
                 "concord_http_requests_total"):
        assert name in samples, name
    reqs = "\n".join(samples["concord_http_requests_total"])
    assert 'route="/api/units",status="200"' in reqs
    assert 'route="/api/units/{code}",status="404"' in reqs


async def test_healthz_reports_backend_and_bus(client) -> None:
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok"
    assert body["database"] in ("sqlite", "postgresql")
    assert body["bus"] == "local"
