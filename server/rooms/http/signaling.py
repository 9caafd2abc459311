"""``GET /ws``: the signaling WebSocket, protocol version 1 (docs/protocol.md).

The handler parses, authorises and hands over to the node's ``RoomHub``; the room logic lives in the pure
``Room``. Limits (docs/protocol.md, "Limits"):
- text frames over 64 KiB are refused with ``too_large`` and the connection stays open; frames over 1 MiB
  are cut off by the WebSocket layer (close 1009);
- 50 messages/s per connection with bursts of 200; 20 refusals within 30 s close the connection (4429);
- 30 connection attempts per 10 s per address, 10 joins per minute per invitation or staff member;
- 5 failed identity checks per invitation per 15 minutes lock that invitation's check for the rest of it;
- WebSocket ping every 20 s (aiohttp heartbeat) closes sockets that stop answering; clients may also send
  ``{"type": "ping"}`` and get ``{"type": "pong"}``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from server.errors import ApiError
from server.http import client_ip, parse_id
from server.media.ice import ice_servers
from server.rooms.bus import make_bus
from server.rooms.connection import SocketConnection
from server.rooms.event_writer import RoomEventWriter
from server.rooms.hub import RoomHub
from server.rooms.limits import AbuseGuard
from server.rooms.protocol import HARD_MESSAGE_BYTES, ProtocolError, parse
from server.security.attempts import Attempts, attempts
from server.security.ratelimit import RateLimiter
from server.services import services
from server.sessions.service import SessionError, check_matches, resolve_join
from server.sfu import failover
from server.sfu.bridge import SfuBridge
from server.sfu.cluster import JanusCluster, instance_id
from server.sfu.load import load_board

log = logging.getLogger("concord.rooms")

# Close codes (docs/protocol.md).
CLOSE_BAD_JOIN = 4400
CLOSE_UNAUTHORISED = 4401
CLOSE_GONE = 4410
CLOSE_ABUSE = 4429
CLOSE_GOING_AWAY = 1001


@dataclass
class SignalingSettings:
    heartbeat_s: float = 20.0
    join_timeout_s: float = 10.0  # the first message (join) must arrive within this
    answer_timeout_s: float = 15.0
    msg_rate: float = 50.0
    msg_burst: float = 200.0
    strike_limit: int = 20
    strike_window_s: float = 30.0
    join_limit: int = 30  # connection attempts per address per join_window_s
    join_window_s: float = 10.0
    identity_join_limit: int = 10  # joins per invitation/staff member per minute
    check_fail_limit: int = 5  # failed identity checks per invitation per 15 minutes

    @classmethod
    def from_env(cls) -> SignalingSettings:
        s = cls()
        raw = os.environ.get("CONCORD_WS_JOIN_LIMIT")  # "count/seconds", e.g. "30/10"
        if raw:
            try:
                n, w = raw.split("/")
                s.join_limit, s.join_window_s = int(n), float(w)
            except ValueError:
                log.warning("ignoring malformed CONCORD_WS_JOIN_LIMIT=%r (want count/seconds)", raw)
        return s


def _fail(conn: SocketConnection, code: str, message: str, close_code: int, ref: str | None = "join") -> None:
    conn.send({"type": "error", "code": code, "message": message, "ref": ref})
    conn.left = True
    conn.close(close_code, code)


_CLOSE_FOR = {"session_ended": CLOSE_GONE, "session_cancelled": CLOSE_GONE, "wrong_session": CLOSE_UNAUTHORISED,
              "forbidden": CLOSE_UNAUTHORISED}


async def ws_handler(request: web.Request) -> web.StreamResponse:
    app = request.app
    st: SignalingSettings = services(app).signaling
    ws = web.WebSocketResponse(heartbeat=st.heartbeat_s, max_msg_size=HARD_MESSAGE_BYTES, compress=False,
                               timeout=3.0)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "websocket_expected", "GET /ws speaks WebSocket (signaling protocol v1)")
    await ws.prepare(request)
    conn = SocketConnection(ws, client_ip(request))  # the browser's address, also behind a trusted proxy
    services(app).metrics.inc("concord_ws_connections_total")
    hub: RoomHub = services(app).room_hub
    try:
        await _serve(request, st, hub, conn)
    except Exception:
        log.exception("signaling connection failed")
    finally:
        await hub.disconnect(conn)
        await conn.finish()
    return ws


async def _serve(request: web.Request, st: SignalingSettings, hub: RoomHub, conn: SocketConnection) -> None:
    app = request.app
    ws = conn.ws
    if services(app).ws_join_limiter.hit(f"ip:{conn.remote}"):
        _fail(conn, "rate_limited", "too many connections from your address; wait a moment", CLOSE_ABUSE)
        return
    try:
        first = await ws.receive(timeout=st.join_timeout_s)
    except TimeoutError:
        _fail(conn, "join_timeout", "send join first", CLOSE_BAD_JOIN)
        return
    if first.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return
    if first.type != WSMsgType.TEXT:
        _fail(conn, "invalid_message", "messages are JSON text frames", CLOSE_BAD_JOIN)
        return
    try:
        m = parse(first.data)
    except ProtocolError as e:
        _fail(conn, e.code, e.message, CLOSE_BAD_JOIN, e.ref)
        return
    if m["type"] != "join":
        _fail(conn, "not_joined", "the first message must be join", CLOSE_BAD_JOIN, m["type"])
        return
    hint = m.get("session")
    if hint is None:
        hint = parse_id(request.query.get("session"))
    config = services(app).config
    try:
        grant = await resolve_join(services(app).db, config.secret_key, m["token"], session_hint=hint,
                                   at=services(app).clock.now())
    except SessionError as e:
        _fail(conn, e.code, e.message, _CLOSE_FOR.get(e.code, CLOSE_UNAUTHORISED))
        return
    if services(app).ws_identity_limiter.hit(grant.identity):
        _fail(conn, "rate_limited", "too many joins with this invitation; wait a minute", CLOSE_ABUSE)
        return
    resume = m.get("resume")
    if grant.check_method != "none" and not hub.resume_valid(grant, resume):
        key = f"check:{grant.nonce}"
        limiter: Attempts = services(app).ws_check_limiter
        if await limiter.blocked(key):
            _fail(conn, "check_locked", "too many wrong answers; ask the mediator for a new invitation",
                  CLOSE_UNAUTHORISED)
            return
        if not m.get("check"):
            _fail(conn, "check_required", "this invitation asks for an identity check (\"check\" in join)",
                  CLOSE_UNAUTHORISED)
            return
        if not check_matches(config.secret_key, grant, m["check"]):
            await limiter.fail(key)
            _fail(conn, "check_failed", "身份核验未通过 / the identity check did not match", CLOSE_UNAUTHORISED)
            return
    try:
        await hub.join(conn, grant, resume)
    except Exception as e:  # the bus (Redis) is unreachable or overloaded: say so, do not just drop
        log.warning("join failed: %s", type(e).__name__)
        _fail(conn, "unavailable", "the room service is unavailable; try again shortly", 1011)
        return
    try:
        answer = await asyncio.wait_for(asyncio.shield(conn.answered), st.answer_timeout_s)
    except TimeoutError:
        _fail(conn, "join_timeout", "the room did not answer in time; try again", 1011)
        return
    if answer.get("type") == "error":
        return  # the room refused; its Close is queued
    guard = AbuseGuard(st.msg_rate, st.msg_burst, st.strike_limit, st.strike_window_s)
    async for msg in ws:
        now = time.monotonic()
        if msg.type == WSMsgType.TEXT:
            if not guard.take(now):
                err: str | None = "rate_limited"
                conn.send({"type": "error", "code": "rate_limited", "message": "slow down", "ref": None})
            else:
                try:
                    err = await hub.handle(conn, parse(msg.data))
                except ProtocolError as e:
                    conn.send(e.as_message())
                    err = e.code
        elif msg.type == WSMsgType.BINARY:
            conn.send({"type": "error", "code": "invalid_message", "message": "messages are JSON text frames"})
            err = "invalid_message"
        else:
            break
        if err is not None and guard.strike(now):
            _fail(conn, "abuse", "too many refused messages; disconnected", CLOSE_ABUSE, None)
            break
        if conn.closed:
            break


async def _shutdown(app: web.Application) -> None:
    # Tell clients to come back (to this node after a restart, or to another): their places are kept.
    hub: RoomHub = services(app).room_hub
    for conn in list(hub.conns.values()):
        if isinstance(conn, SocketConnection):
            conn.close(CLOSE_GOING_AWAY, "server restarting")


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub: RoomHub = services(app).room_hub
    services(app).room_events.start()
    sfu = services(app).sfu
    if sfu is not None:
        await sfu.cluster.start()
    await hub.start()
    yield
    if sfu is not None:
        await sfu.close()
        await sfu.cluster.close()
    await hub.close()
    await services(app).room_events.close()


def setup(app: web.Application) -> None:
    config = services(app).config
    st = services(app).signaling or SignalingSettings.from_env()
    services(app).signaling = st
    node_id = secrets.token_hex(6)
    bus = make_bus(config.redis_url, node_id, prefix=config.redis_prefix)
    writer = RoomEventWriter(services(app).db)
    hub = RoomHub(bus, writer, ice=lambda peer_id: ice_servers(config.ice_servers, config.turn_secret, peer_id),
                  grace_s=config.room_grace_s, idle_end_s=config.room_idle_end_s)
    services(app).room_events = writer
    services(app).room_hub = hub
    if config.janus_urls:  # the SFU backend (docs/sfu.md); without it every room is a mesh, as before
        assert config.janus_api_secret and config.janus_admin_key  # Config.load refuses an open Janus
        # Each instance's load from its Admin API (CONCORD_JANUS_ADMIN_URL), for placement and /metrics.
        board = load_board(config.janus_urls, config.janus_admin_urls, config.janus_admin_secret,
                           config.janus_admin_key, name=instance_id, interval_s=config.janus_poll_s)
        cluster = JanusCluster(config.janus_urls, config.janus_api_secret, config.janus_admin_key,
                               admin_secret=config.janus_admin_secret, load=board)
        sfu = SfuBridge(hub, cluster, config.secret_key, mesh_limit=config.mesh_limit,
                        instance_peers=config.sfu_instance_peers)
        # A lost instance's rooms move to the others (after the bridge has forgotten their handles).
        failover.attach(hub, cluster)
        if board is not None:
            services(app).metrics.collect(board.samples)
        hub.set_media(sfu)
        services(app).sfu = sfu
    services(app).ws_join_limiter = RateLimiter(limit=st.join_limit, window_s=st.join_window_s)
    services(app).ws_identity_limiter = RateLimiter(limit=st.identity_join_limit, window_s=60)
    services(app).ws_check_limiter = attempts(services(app), "identity-check", st.check_fail_limit, 900)
    app.router.add_get("/ws", ws_handler)
    app.on_shutdown.append(_shutdown)
    app.cleanup_ctx.append(_hub_ctx)
    m = services(app).metrics
    m.gauge("concord_rooms", lambda: len(hub.rooms), "rooms this node holds")
    m.gauge("concord_room_connections", lambda: len(hub.conns), "room connections on this node")
    m.gauge("concord_signals_relayed", lambda: hub.relayed, "signal messages relayed since start")
    m.gauge("concord_signals_mailed", lambda: hub.mailed, "signals relayed to another node")
    m.gauge("concord_signals_deferred", lambda: hub.deferred, "signals from other nodes held for the room log")
    m.gauge("concord_room_events_written", lambda: writer.written, "room ledger events written")
    bridge = services(app).sfu
    if bridge is not None:
        m.gauge("concord_sfu_rooms", lambda: len(bridge.rooms), "rooms this node drives on Janus")
        m.gauge("concord_sfu_errors", lambda: bridge.errors, "failed Janus requests of the SFU bridge")
