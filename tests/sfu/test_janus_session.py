"""Session lifetime on a real Janus with a short session_timeout: keepalives hold a session, silence
loses it, and the client notices (its own Janus: the shared one keeps the default 60 s)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from server.sfu.janus import SESSION_NOT_FOUND, JanusConnection, JanusError
from server.sfu.jcfg import JanusConfig
from server.sfu.process import JanusProcess, JanusStartError, free_ports, janus_binary, local_ipv4
from tests.conftest import need

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_keepalive_holds_the_session_and_silence_loses_it(tmp_path: Path) -> None:
    need("Janus", janus_binary() is not None)
    ws, http, admin = free_ports(3)
    cfg = JanusConfig(api_secret=secrets.token_urlsafe(16), admin_secret=secrets.token_urlsafe(16),
                      admin_key=secrets.token_urlsafe(16), ws_port=ws, http_port=http, admin_port=admin,
                      ice_enforce_list=local_ipv4(), session_timeout=3, rtp_port_range=(35000, 35019))
    proc = await JanusProcess(cfg, tmp_path / "janus").start(timeout=30)
    try:
        async with await JanusConnection.connect(cfg.ws_url, cfg.api_secret) as conn:
            kept = await conn.create_session(keepalive_s=1.0)
            lost = await conn.create_session(keepalive_s=3600)
            await asyncio.wait_for(lost.ended.wait(), 15)
            assert "timed out" in lost.end_reason
            assert not kept.ended.is_set()
            handle = await kept.attach_videoroom()  # still usable
            assert not await handle.exists("nothing-here")
            with pytest.raises(JanusError) as e:
                await conn.request({"janus": "attach", "session_id": lost.id, "plugin": "janus.plugin.videoroom"})
            assert e.value.code == SESSION_NOT_FOUND
    finally:
        await proc.stop()
    # A stopped Janus is a clear error for a new connection.
    with pytest.raises(JanusError):
        await JanusConnection.connect(cfg.ws_url, cfg.api_secret)


async def test_start_fails_clearly_on_a_taken_port(tmp_path: Path) -> None:
    need("Janus", janus_binary() is not None)
    ws, http, admin = free_ports(3)
    cfg = JanusConfig(api_secret="a" * 16, admin_secret="b" * 16, admin_key="c" * 16, ws_port=ws,
                      http_port=http, admin_port=admin, rtp_port_range=(35020, 35029))
    first = await JanusProcess(cfg, tmp_path / "one").start(timeout=30)
    try:
        second = JanusProcess(cfg, tmp_path / "two")
        with pytest.raises(JanusStartError):
            await second.start(timeout=5)
        assert second.proc is None  # stopped, not left running
    finally:
        await first.stop()


async def test_a_dropped_socket_ends_its_sessions_on_janus(janus) -> None:  # type: ignore[no-untyped-def]
    """No destroy sent: Janus itself ends the sessions of a WebSocket that went away (docs/sfu.md)."""
    from server.sfu.janus import JanusAdmin

    admin = JanusAdmin(janus.admin_url, janus.admin_secret)
    conn = await JanusConnection.connect(janus.ws_url, janus.api_secret)
    session = await conn.create_session()
    await session.attach_videoroom()
    assert session.id in await admin.list_sessions()
    await conn._shutdown("socket dropped")  # what the reader does when the socket breaks
    assert session.ended.is_set()
    for _ in range(50):
        if session.id not in await admin.list_sessions():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("Janus kept the session of a closed socket")
