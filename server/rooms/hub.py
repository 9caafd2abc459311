"""RoomHub: this node's share of the live rooms.

For every room with someone on this node, the hub keeps a replica of the pure ``Room`` and applies the
room's command log (``server.rooms.bus``) to it, fanning the resulting effects out to the connections it
holds: sockets and system peers. Ledger events and session state changes are written by the node that
submitted the command (``origin``), through ``RoomEventWriter``, off the signaling path.

``signal`` messages skip the log: the sender's node checks them against its replica and hands them to the
target's socket (same node) or mails them to the target's node, tagged with the log position the check
saw, so the receiving node never judges a signal against an older state than the sender's.

Public hooks for other features (docs/protocol.md, "Server hooks"):
- ``await attach_system_peer(session_id, peer, name=...)`` -> peer id; ``system_send``; ``detach_system_peer``;
- ``on_recording(callback)``: ``async callback(session_id, on, subrooms)`` on the node that took the switch;
- ``on_recorder_lost(callback)``: ``async callback(session_id, subrooms)`` on the one node that released a
  dead node's recorder while recording was on;
- ``add_listener(fn)``: ``fn(RoomEvent)`` for every ledgered room event, on the node that wrote it;
- ``set_media(backend)``: a media backend beside the mesh (``MediaBackend``: the SFU bridge, docs/sfu.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.rooms import permissions
from server.rooms.bus import Bus, pos_key
from server.rooms.connection import Connection, SystemConnection, SystemPeer
from server.rooms.event_writer import RoomEventWriter
from server.rooms.protocol import ProtocolError, dumps, parse
from server.rooms.room import (
    GRACE_S,
    IDLE_END_S,
    Close,
    Effect,
    Peer,
    Record,
    RecorderLost,
    RecordingChanged,
    Room,
    Send,
    SessionState,
)
from server.sessions.service import JoinGrant, RoomMeta

log = logging.getLogger("concord.rooms")

RecordingCallback = Callable[[int, bool, tuple[str, ...]], Awaitable[None]]
RecorderLostCallback = Callable[[int, tuple[str, ...]], Awaitable[None]]


@dataclass(frozen=True)
class RoomEvent:
    session_id: int
    type: str
    data: dict[str, Any]
    at: float


class MediaBackend(Protocol):
    """A media backend beside the mesh (server.sfu.bridge.SfuBridge), set with ``hub.set_media``."""

    async def before_join(self, rep: Replica) -> None:
        """Before a join is submitted to the room's log (may submit commands first, e.g. ``topology``)."""

    def applied(self, rep: Replica, cmd: dict[str, Any], effects: list[Effect]) -> None:
        """After every command applied to a replica on this node, with its effects. Must not block."""

    async def message(self, rep: Replica, conn: Connection, me: Peer, msg: dict[str, Any]) -> str | None:
        """An ``sfu`` client message from an admitted peer; returns the error code sent, if any."""


class JoinRefused(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


@dataclass
class Replica:
    meta: RoomMeta
    room: Room
    pos: tuple[int, int] = (0, 0)
    conns: set[str] = field(default_factory=set)  # this node's connections in the room
    waiting: list[tuple[tuple[int, int], dict[str, Any]]] = field(default_factory=list)
    touched: float = 0.0
    ended_at: float | None = None
    expiring: set[tuple[str, int]] = field(default_factory=set)
    dropping: set[tuple[str, str]] = field(default_factory=set)
    idle_end_sent: float | None = None  # empty_since of the room when this node asked to end it


def resume_hash(token: str) -> str:
    return hashlib.sha256(f"concord-resume:{token}".encode()).hexdigest()


def new_peer_id() -> str:
    return "p" + secrets.token_hex(5)


class RoomHub:
    SWEEP_S = 1.0
    LIVENESS_EVERY = 3  # sweeps between checks that other nodes are alive
    IDLE_CLOSE_S = 30.0  # a replica with nobody of ours in it is dropped after this
    TOMBSTONE_S = 300.0  # an ended room is remembered this long (late joins get "session_ended")
    MAX_WAITING = 5000

    def __init__(self, bus: Bus, sink: RoomEventWriter | None = None, *,
                 ice: Callable[[str], list[dict[str, Any]]] = lambda peer_id: [],
                 clock: Callable[[], float] = time.time, grace_s: float = GRACE_S,
                 idle_end_s: float = IDLE_END_S) -> None:
        self.bus = bus
        self.node_id = bus.node_id
        self.sink = sink
        self.ice = ice
        self.clock = clock
        self.grace_s = grace_s
        self.idle_end_s = idle_end_s
        self.rooms: dict[int, Replica] = {}
        self.conns: dict[str, Connection] = {}
        self._opening: dict[int, asyncio.Lock] = {}
        self._listeners: list[Callable[[RoomEvent], None]] = []
        self._recording: list[RecordingCallback] = []
        self._recorder_lost: list[RecorderLostCallback] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._sweeps = 0
        self.relayed = 0
        self.mailed = 0  # signals sent to other nodes
        self.deferred = 0  # signals from other nodes held until our replica caught up
        self.media: MediaBackend | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start(self._on_mail)
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="room-sweeper")

    async def close(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.bus.close()

    def _spawn(self, coro: Awaitable[Any], name: str = "") -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._task_done)

    def _task_done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("room task failed", exc_info=t.exception())

    # ---- hooks for other features ---------------------------------------------------------------

    def add_listener(self, fn: Callable[[RoomEvent], None]) -> None:
        """``fn(RoomEvent)`` for each ledgered room event this node writes. Must not block."""
        self._listeners.append(fn)

    def on_recording(self, callback: RecordingCallback) -> None:
        """``await callback(session_id, on, subrooms)`` when a moderator on this node switches recording."""
        self._recording.append(callback)

    def on_recorder_lost(self, callback: RecorderLostCallback) -> None:
        """``await callback(session_id, subrooms)`` on the one node whose sweep released the recorder of a
        dead node while recording was on: it should record from now on."""
        self._recorder_lost.append(callback)

    async def attach_system_peer(self, session_id: int, peer: SystemPeer, *, name: str = "录像 / Recorder",
                                 role: str = "recorder", timeout: float = 10.0) -> str:
        """Seat a server-side peer (the recorder) in a room that this node holds. Returns its peer id.

        Raises JoinRefused (e.g. ``not_recording`` when recording is off, ``no_room``).
        """
        rep = self.rooms.get(session_id)
        if rep is None:
            raise JoinRefused("no_room", "this node holds no such room")
        conn = SystemConnection(peer)
        conn.session_id = session_id
        self.conns[conn.id] = conn
        rep.conns.add(conn.id)
        await self.submit(rep, {"op": "join", "peer_id": new_peer_id(), "name": name, "role": role,
                                "identity": f"system:{conn.id}", "node": self.node_id, "conn": conn.id,
                                "new_resume_hash": "", "direct": True, "system": True})
        try:
            answer = await asyncio.wait_for(asyncio.shield(conn.answered), timeout)
        except TimeoutError:
            answer = {"type": "error", "code": "timeout"}
        if answer.get("type") != "welcome":
            self._forget(conn)
            raise JoinRefused(answer.get("code", "refused"), answer.get("message", ""))
        assert conn.peer_id is not None
        return conn.peer_id

    def _system_conn(self, session_id: int, peer_id: str) -> SystemConnection:
        for c in self.conns.values():
            if isinstance(c, SystemConnection) and c.session_id == session_id and c.peer_id == peer_id:
                return c
        raise KeyError(f"no system peer {peer_id} in session {session_id}")

    async def system_send(self, session_id: int, peer_id: str, message: dict[str, Any]) -> str | None:
        """A system peer sends a client message (normally ``signal``). Errors also reach its ``deliver``."""

        conn = self._system_conn(session_id, peer_id)
        try:
            msg = parse(dumps(message))
        except ProtocolError as e:
            conn.send(e.as_message())
            return e.code
        return await self.handle(conn, msg)

    async def detach_system_peer(self, session_id: int, peer_id: str) -> None:
        try:
            conn = self._system_conn(session_id, peer_id)
        except KeyError:
            return
        await self.handle(conn, {"type": "leave"})
        self._forget(conn)

    def set_media(self, backend: MediaBackend | None) -> None:
        """Plug in the SFU (docs/sfu.md). Without one every room is a mesh and ``sfu`` messages are refused."""
        self.media = backend

    # ---- rooms ----------------------------------------------------------------------------------

    async def open(self, meta: RoomMeta) -> Replica:
        rep = self.rooms.get(meta.session_id)
        if rep is not None:
            rep.touched = self.clock()
            return rep
        lock = self._opening.setdefault(meta.session_id, asyncio.Lock())
        async with lock:
            rep = self.rooms.get(meta.session_id)
            if rep is not None:
                return rep
            rep = Replica(meta, Room(meta.session_id, meta.kind, meta.title, grace_s=self.grace_s, clock=self.clock,
                                     shuttle=meta.shuttle, idle_end_s=self.idle_end_s), touched=self.clock())
            self.rooms[meta.session_id] = rep
            try:
                await self.bus.open_log(meta.key, lambda pos, cmd: self._apply(rep, pos, cmd))
            except BaseException:
                self.rooms.pop(meta.session_id, None)
                raise
        self._opening.pop(meta.session_id, None)
        return rep

    def snapshot(self, session_id: int) -> dict[str, Any] | None:
        rep = self.rooms.get(session_id)
        if rep is None:
            return None
        room = rep.room
        return {"room": room.room_json(), "peers": [room.peer_json(p) for p in room.admitted()],
                "lobby": len(room.lobby())}

    async def submit(self, rep: Replica, cmd: dict[str, Any]) -> None:
        cmd["at"] = self.clock()
        cmd["origin"] = self.node_id
        rep.touched = cmd["at"]
        await self.bus.append(rep.meta.key, cmd)

    async def update_settings(self, meta: RoomMeta) -> None:
        """The session's settings changed in the database (e.g. a DV joint override): tell the room.

        Joins sync this by themselves; call it to apply a change at once."""
        rep = self.rooms.get(meta.session_id)
        if rep is not None:
            await self.submit(rep, {"op": "settings", "shuttle": meta.shuttle})

    async def end_session(self, meta: RoomMeta, reason: str) -> bool:
        """End a room from the API. True if a room with people in it took the end."""
        rep = await self.open(meta)
        # A live room nobody is in still takes the end (else its idle timeout would end it again later).
        if rep.room.ended or (rep.room.empty and not rep.room.live):
            return False
        await self.submit(rep, {"op": "end", "reason": reason})
        return True

    # ---- applying the log -----------------------------------------------------------------------

    def _apply(self, rep: Replica, pos: str, cmd: dict[str, Any]) -> None:
        p = pos_key(pos)
        if p <= rep.pos:
            return  # already applied (a replay overlapping the live feed)
        rep.pos = p
        effects = rep.room.apply(cmd)
        self._fan_out(rep, cmd, effects)
        if self.media is not None:
            try:
                self.media.applied(rep, cmd, effects)
            except Exception:
                log.exception("media backend failed on a room change")
        if rep.room.ended and rep.ended_at is None:
            rep.ended_at = self.clock()
        if rep.waiting:
            self._flush_waiting(rep)

    def _fan_out(self, rep: Replica, cmd: dict[str, Any], effects: list[Effect]) -> None:
        mine = cmd.get("origin") == self.node_id
        sid = rep.meta.session_id
        at = float(cmd.get("at") or self.clock())
        me = self.node_id
        for e in effects:
            if isinstance(e, Send):
                text = None
                for pid, node, cid in e.to:
                    if node != me:
                        continue
                    conn = self.conns.get(cid)
                    if conn is None:
                        continue
                    t = e.msg["type"]
                    if t == "welcome":
                        conn.peer_id = pid
                        conn.send({**e.msg, "resume": conn.resume_token or None, "ice_servers": self.ice(pid)})
                        continue
                    if t == "lobby":
                        conn.peer_id = pid
                    if text is None:
                        text = dumps(e.msg)
                    conn.send(e.msg, text)
            elif isinstance(e, Close):
                pid, node, cid = e.to
                if node == me:
                    conn = self.conns.get(cid)
                    if conn is not None:
                        conn.left = True
                        conn.close(e.code, e.reason)
            elif isinstance(e, Record):
                if mine:
                    if self.sink is not None:
                        self.sink.record(sid, e.type, e.data, at)
                    ev = RoomEvent(sid, e.type, e.data, at)
                    for fn in self._listeners:
                        try:
                            fn(ev)
                        except Exception:
                            log.exception("room event listener failed")
            elif isinstance(e, SessionState):
                if mine and self.sink is not None:
                    self.sink.state(sid, e.state, at)
                if mine and e.state == "ended":
                    self._spawn(self.bus.retire_log(rep.meta.key, int(self.TOMBSTONE_S * 2)))
            elif isinstance(e, RecordingChanged):
                if mine:
                    for cb in self._recording:
                        self._spawn(cb(sid, e.on, e.subrooms))
            elif isinstance(e, RecorderLost):
                if mine:
                    for lost in self._recorder_lost:
                        self._spawn(lost(sid, e.subrooms))

    # ---- connections ----------------------------------------------------------------------------

    async def join(self, conn: Connection, grant: JoinGrant, resume: str | None) -> None:
        """Submit a join for a connection whose token the handler verified. The answer (``welcome``,
        ``lobby`` or ``error``) arrives on the connection; ``conn.answered`` resolves with it."""
        rep = await self.open(grant.meta)
        if rep.room.shuttle != grant.meta.shuttle:
            await self.update_settings(grant.meta)
        if self.media is not None:
            await self.media.before_join(rep)
        conn.session_id = grant.meta.session_id
        conn.resume_token = secrets.token_urlsafe(24)
        self.conns[conn.id] = conn
        rep.conns.add(conn.id)
        await self.submit(rep, {
            "op": "join", "peer_id": new_peer_id(), "name": grant.name, "role": grant.role,
            "identity": grant.identity, "node": self.node_id, "conn": conn.id,
            "new_resume_hash": resume_hash(conn.resume_token),
            "resume_hash": resume_hash(resume) if resume else None, "direct": grant.direct,
        })

    def resume_valid(self, grant: JoinGrant, resume: str | None) -> bool:
        rep = self.rooms.get(grant.meta.session_id)
        return bool(resume) and rep is not None and rep.room.resume_matches(grant.identity, resume_hash(resume or ""))

    def _forget(self, conn: Connection) -> Replica | None:
        self.conns.pop(conn.id, None)
        rep = self.rooms.get(conn.session_id) if conn.session_id is not None else None
        if rep is not None:
            rep.conns.discard(conn.id)
            rep.touched = self.clock()
        return rep

    async def disconnect(self, conn: Connection) -> None:
        """The connection is gone. Unless it left, its peer keeps its place for the grace period."""
        rep = self._forget(conn)
        if rep is None or conn.left:
            return
        try:
            await self.submit(rep, {"op": "drop", "peer": conn.peer_id, "conn": conn.id})
        except Exception as e:
            log.warning("could not record a drop: %s", type(e).__name__)

    async def handle(self, conn: Connection, msg: dict[str, Any]) -> str | None:
        """One validated client message from a joined connection. Returns the error code sent, if any."""
        t = msg["type"]
        if t == "ping":
            conn.send({"type": "pong"})
            return None
        if t == "join":
            return self._refuse(conn, "already_joined", "this connection has already joined", t)
        rep = self.rooms.get(conn.session_id) if conn.session_id is not None else None
        me = rep.room.peers.get(conn.peer_id) if rep is not None and conn.peer_id else None
        if rep is None or me is None or me.conn != conn.id:
            return self._refuse(conn, "not_joined", "join first", t)
        if t == "signal":
            err = self.relay(rep, conn, msg["to"], msg["data"])
            if err is not None:
                return self._refuse(conn, err, _SIGNAL_ERRORS.get(err, err), t)
            return None
        # Refuse early against our replica (the log re-checks authoritatively).
        if not me.admitted and t not in permissions.LOBBY_ACTIONS:
            return self._refuse(conn, "not_admitted", "wait until a moderator admits you", t)
        if me.admitted and not permissions.allowed(rep.room.kind, me.role, t):
            return self._refuse(conn, "forbidden", f"your role ({me.role}) may not {t}", t)
        if t == "sfu":
            if self.media is None:
                return self._refuse(conn, "not_sfu", "this server has no SFU; media is peer to peer", t)
            if not me.admitted:
                return self._refuse(conn, "not_admitted", "wait until a moderator admits you", t)
            return await self.media.message(rep, conn, me, msg)
        if t == "leave":
            conn.left = True
        try:
            await self.submit(rep, {"op": "msg", "peer": me.id, "conn": conn.id, "message": msg})
        except Exception as e:  # the bus is unreachable: the message is refused, the connection stays
            log.warning("room command not taken: %s", type(e).__name__)
            return self._refuse(conn, "unavailable", "the room service is unavailable; try again", t)
        return None

    @staticmethod
    def _refuse(conn: Connection, code: str, message: str, ref: str | None) -> str:
        conn.send({"type": "error", "code": code, "message": message, "ref": ref})
        return code

    # ---- signals (the hot path) -----------------------------------------------------------------

    def relay(self, rep: Replica, conn: Connection, to: str, data: dict[str, Any]) -> str | None:
        room = rep.room
        src = conn.peer_id
        assert src is not None
        err = room.check_signal(src, to)
        if err is not None:
            return err
        dst = room.peers[to]
        if not dst.connected:
            return None  # dropped: lost; the peer offers afresh when it resumes
        self.relayed += 1
        if dst.node == self.node_id:
            c = self.conns.get(dst.conn)
            if c is not None:
                c.send({"type": "signal", "from": src, "data": data})
        else:
            self.mailed += 1
            self.bus.send(dst.node, {"k": "signal", "sid": rep.meta.session_id, "from": src, "to": to,
                                     "data": data, "pos": list(rep.pos)})
        return None

    def _on_mail(self, msg: dict[str, Any]) -> None:
        if msg.get("k") != "signal":
            return
        rep = self.rooms.get(msg.get("sid"))  # type: ignore[arg-type]
        if rep is None:
            return
        pos = tuple(msg.get("pos") or (0, 0))
        if pos > rep.pos:
            # The sender saw a newer room state than ours (say, the join of the peer it signals from).
            self.deferred += 1
            if len(rep.waiting) < self.MAX_WAITING:
                rep.waiting.append((pos, msg))  # type: ignore[arg-type]
            return
        self._deliver_signal(rep, msg)

    def _flush_waiting(self, rep: Replica) -> None:
        ready = [m for p, m in rep.waiting if p <= rep.pos]
        rep.waiting = [(p, m) for p, m in rep.waiting if p > rep.pos]
        for m in ready:
            self._deliver_signal(rep, m)

    def _deliver_signal(self, rep: Replica, msg: dict[str, Any]) -> None:
        src, to = msg.get("from"), msg.get("to")
        if not isinstance(src, str) or not isinstance(to, str) or rep.room.check_signal(src, to) is not None:
            return
        dst = rep.room.peers[to]
        if dst.node != self.node_id:
            return
        c = self.conns.get(dst.conn)
        if c is not None:
            c.send({"type": "signal", "from": src, "data": msg.get("data")})

    # ---- housekeeping ---------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.SWEEP_S)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("room sweep failed")

    async def sweep(self) -> None:
        """Expire dropped peers, end rooms left empty for ``idle_end_s``, release the places of crashed
        nodes' peers, forget idle rooms."""
        now = self.clock()
        self._sweeps += 1
        check_nodes = self._sweeps % self.LIVENESS_EVERY == 0
        remote: dict[str, list[tuple[Replica, str, str]]] = {}
        for rep in list(self.rooms.values()):
            room = rep.room
            for pid, epoch in room.expired(now):
                if (pid, epoch) not in rep.expiring:
                    rep.expiring.add((pid, epoch))
                    await self.submit(rep, {"op": "expire", "peer": pid, "epoch": epoch})
            if room.idle_expired(now) and rep.idle_end_sent != room.empty_since:
                rep.idle_end_sent = room.empty_since
                await self.submit(rep, {"op": "end", "reason": "idle"})
            if check_nodes:
                for p in room.peers.values():
                    if p.connected and p.node != self.node_id:
                        remote.setdefault(p.node, []).append((rep, p.id, p.conn))
            ours = any(p.node == self.node_id for p in room.peers.values())
            idle = now - rep.touched > self.IDLE_CLOSE_S
            gone = rep.ended_at is not None and now - rep.ended_at > self.TOMBSTONE_S
            # A live room stays open with nobody in it: its idle timeout ends it (room.idle_expired).
            if not rep.conns and ((not ours and idle and not room.ended and not room.holding) or gone):
                self.rooms.pop(rep.meta.session_id, None)
                await self.bus.close_log(rep.meta.key)
        if remote:
            alive = await self.bus.alive(remote)
            for node, peers in remote.items():
                if node in alive:
                    continue
                for rep, pid, conn in peers:
                    if (pid, conn) not in rep.dropping:
                        rep.dropping.add((pid, conn))
                        log.warning("node %s is gone: releasing peer %s", node, pid)
                        await self.submit(rep, {"op": "drop", "peer": pid, "conn": conn})


_SIGNAL_ERRORS = {
    "unknown_peer": "no such peer in this room",
    "other_subroom": "that peer is in another sub-room",
    "not_admitted": "wait until a moderator admits you",
    "no_consent": "you have not consented to recording",
    "not_recording": "recording is off",
}
