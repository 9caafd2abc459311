"""The Janus client's bounds on a misbehaving server: timeouts, a dropped socket, an event flood.

The far end here is a small aiohttp WebSocket server that answers the way Janus frames its messages
and then misbehaves on purpose; the real-Janus behaviour is in test_janus_media.py.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from server.sfu.janus import JanusClosed, JanusConnection, JanusTimeout
from server.sfu.jcfg import JanusConfig
from server.sfu.process import free_ports


def _app(mode: str) -> web.Application:
    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("janus-protocol",))
        await ws.prepare(request)
        async for msg in ws:
            req = msg.json()
            txn = req["transaction"]
            if req["janus"] == "create":
                await ws.send_json({"janus": "success", "transaction": txn, "data": {"id": 7}})
            elif req["janus"] == "attach":
                await ws.send_json({"janus": "success", "transaction": txn, "session_id": 7, "data": {"id": 9}})
                if mode == "flood":
                    for i in range(1000):
                        await ws.send_json({"janus": "event", "session_id": 7, "sender": 9,
                                            "plugindata": {"plugin": "janus.plugin.videoroom",
                                                           "data": {"n": i}}})
            elif req["janus"] == "message" and mode == "ack-then-close":
                await ws.send_json({"janus": "ack", "transaction": txn, "session_id": 7})
                await ws.close()
            # anything else: never answered
        return ws

    app = web.Application()
    app.router.add_get("/", ws_handler)
    return app


async def test_unreachable_janus_is_a_clear_error() -> None:
    (port,) = free_ports(1)
    t0 = time.monotonic()
    try:
        await JanusConnection.connect(f"ws://127.0.0.1:{port}", "s")
    except JanusClosed as e:
        assert "cannot connect" in str(e)
        assert "s" not in str(e).split(":")[-1]  # the secret is not in the message
    else:
        raise AssertionError("connected to nothing")
    assert time.monotonic() - t0 < 5


async def test_silent_janus_times_out(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    server = await aiohttp_server(_app("silent"))
    async with await JanusConnection.connect(str(server.make_url("/")).replace("http", "ws"), "s",
                                             timeout=0.5) as conn:
        session = await conn.create_session()
        t0 = time.monotonic()
        try:
            await session.request({"janus": "keepalive"}, accept_ack=True)
        except JanusTimeout as e:
            assert e.request == "keepalive"
        else:
            raise AssertionError("no timeout")
        assert 0.4 < time.monotonic() - t0 < 3
        assert conn._waiters == {}


async def test_dropped_socket_fails_pending_requests(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    server = await aiohttp_server(_app("ack-then-close"))
    conn = await JanusConnection.connect(str(server.make_url("/")).replace("http", "ws"), "s", timeout=5)
    session = await conn.create_session()
    handle = await session.attach_videoroom()
    t0 = time.monotonic()
    try:
        await handle.join_publisher("r")
    except JanusClosed:
        pass
    else:
        raise AssertionError("join survived a closed socket")
    assert time.monotonic() - t0 < 3  # failed at once, not after the timeout
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert session.ended.is_set() and handle.gone.is_set()
    try:
        await conn.create_session()
    except JanusClosed:
        pass
    else:
        raise AssertionError("a closed connection accepted a request")
    await conn.close()


async def test_event_flood_is_bounded(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    server = await aiohttp_server(_app("flood"))
    async with await JanusConnection.connect(str(server.make_url("/")).replace("http", "ws"), "s",
                                             events_max=50) as conn:
        session = await conn.create_session()
        handle = await session.attach_videoroom()
        deadline = time.monotonic() + 10
        while handle.dropped < 950 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert handle.events.qsize() == 50 and handle.dropped == 950
        first = await handle.next_event(timeout=1)
        assert first.data == {"n": 950}  # the newest events are kept


def test_repr_hides_secrets() -> None:
    cfg = JanusConfig(api_secret="A-SECRET", admin_secret="B-SECRET", admin_key="C-SECRET",
                      ws_port=1, http_port=2, admin_port=3)
    conn = JanusConnection("ws://127.0.0.1:1", "A-SECRET")
    assert "SECRET" not in repr(cfg) + repr(conn)
