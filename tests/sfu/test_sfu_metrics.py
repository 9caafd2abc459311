"""Per-instance SFU figures in /metrics (Prometheus text), read from real Janus instances, and the settings
that name each instance's Admin API."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from pathlib import Path

import pytest

from server.config import Config, ConfigError, parse_janus_admin_urls
from server.metrics import Metrics
from server.sfu.janus import JanusAdmin, JanusConnection, RoomSpec
from server.sfu.load import InstanceLoad, LoadBoard, Probe, instance_label
from server.sfu.process import free_ports
from tests.integration.test_metrics import parse
from tests.sfu.conftest import JanusTarget
from tests.sfu.peers import Publisher, Subscriber
from tests.sfu.test_sfu_rooms import sfu_config


def test_admin_urls_pair_with_the_instances(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    urls = ("ws://10.0.0.5:8188", "ws://10.0.0.6:8188")
    assert parse_janus_admin_urls("", urls) == ()
    assert parse_janus_admin_urls("http://10.0.0.5:7088/admin/, http://10.0.0.6:7088/admin", urls) == (
        "http://10.0.0.5:7088/admin", "http://10.0.0.6:7088/admin")
    for bad in ("ws://10.0.0.5:7088/admin http://b/admin", "http://a/admin", "http:// http://b"):
        with pytest.raises(ConfigError):
            parse_janus_admin_urls(bad, urls)
    monkeypatch.setenv("CONCORD_SECRET_KEY", "k")
    monkeypatch.setenv("CONCORD_JANUS_URL", "ws://127.0.0.1:8188")
    monkeypatch.setenv("CONCORD_JANUS_API_SECRET", "api-secret-value")
    monkeypatch.setenv("CONCORD_JANUS_ADMIN_KEY", "admin-key-value")
    monkeypatch.setenv("CONCORD_JANUS_ADMIN_URL", "http://127.0.0.1:7088/admin")
    monkeypatch.delenv("CONCORD_JANUS_ADMIN_SECRET", raising=False)
    with pytest.raises(ConfigError, match="CONCORD_JANUS_ADMIN_SECRET"):
        Config.load(tmp_path)
    monkeypatch.setenv("CONCORD_JANUS_ADMIN_SECRET", "admin-secret-value")
    c = Config.load(tmp_path)
    assert c.janus_admin_urls == ("http://127.0.0.1:7088/admin",)
    assert "admin-secret-value" not in repr(c)


def test_labelled_gauges_render_once_per_name_and_escape_labels() -> None:
    m = Metrics()
    m.collect(lambda: [("concord_janus_rooms", "rooms", {"instance": 'a"b:1'}, 2.0),
                       ("concord_janus_rooms", "rooms", {"instance": "c:1"}, 0.0)])
    samples = parse(m.render())
    assert samples["concord_janus_rooms"] == ['concord_janus_rooms{instance="a\\"b:1"} 2', 'concord_janus_rooms{instance="c:1"} 0']


@pytest.mark.media
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_metrics_export_each_instance_without_secrets(janus: JanusTarget) -> None:
    (dead,) = free_ports(1)
    live = instance_label(janus.ws_url)
    board = LoadBoard([Probe(live, JanusAdmin(janus.admin_url, janus.admin_secret)),
                       Probe(f"127.0.0.1:{dead}", JanusAdmin(f"http://127.0.0.1:{dead}/admin", janus.admin_secret))],
                      admin_key=janus.admin_key, poll_timeout_s=5)
    metrics = Metrics()
    metrics.collect(board.samples)
    assert "concord_janus" not in metrics.render()  # nothing polled yet: no made-up zeros
    async with await JanusConnection.connect(janus.ws_url, janus.api_secret) as conn:
        session = await conn.create_session()
        control = await session.attach_videoroom()
        spec = RoomSpec(room=f"metrics-{secrets.token_hex(5)}", secret=secrets.token_urlsafe(16))
        await control.create_room(spec, admin_key=janus.admin_key)
        pub, sub = Publisher(session, spec.room, "host"), Subscriber(session, spec.room)
        try:
            await pub.publish()
            await sub.subscribe([pub.id])
            await sub.wait_frames("video", 15)
            await board.poll_once()
        finally:
            await sub.close()
            await pub.close()
            await control.destroy_room(spec.room, secret=spec.secret)
    text = metrics.render()
    samples = parse(text)

    def value(name: str, inst: str) -> float:
        row = next(r for r in samples[name] if f'instance="{inst}"' in r)
        return float(row.rsplit(" ", 1)[1])

    loaded: InstanceLoad = board.loads[live]
    assert value("concord_janus_up", live) == 1
    assert value("concord_janus_rooms", live) == loaded.rooms >= 1
    assert value("concord_janus_publishers", live) == loaded.publishers >= 1
    assert value("concord_janus_subscribers", live) == loaded.subscribers >= 1
    assert value("concord_janus_forwarded_bits_per_second", live) == loaded.forwarded_bps > 0
    assert value("concord_janus_up", f"127.0.0.1:{dead}") == 0
    for secret in (janus.admin_secret, janus.admin_key, janus.api_secret, "/admin"):
        assert secret not in text


@pytest.mark.media
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_app_metrics_show_each_janus_instance(aiohttp_client, tmp_path: Path, janus: JanusTarget) -> None:  # type: ignore[no-untyped-def]
    from server.app import create_app  # the app is heavy; as in tests/conftest.py

    token = "scrape-" + secrets.token_hex(8)
    cfg = dataclasses.replace(sfu_config(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", tmp_path, janus),
                              janus_admin_urls=(janus.admin_url,), metrics_token=token)
    client = await aiohttp_client(create_app(cfg))
    label = instance_label(janus.ws_url)
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # the first poll runs when the app starts
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        text = await r.text()
        if f'concord_janus_up{{instance="{label}"}} 1' in text:
            break
        assert asyncio.get_running_loop().time() < deadline, text[-2000:]
        await asyncio.sleep(0.2)
    samples = parse(text)
    for name in ("concord_janus_rooms", "concord_janus_publishers", "concord_janus_subscribers",
                 "concord_janus_forwarded_bits_per_second"):
        assert any(f'instance="{label}"' in row for row in samples[name]), name
    assert "concord_sfu_rooms" in samples  # the bridge's own gauge, beside the per-instance ones
    for secret in (janus.admin_secret, janus.admin_key, janus.api_secret, janus.admin_url, janus.ws_url):
        assert secret not in text
