"""WHIP publishers and WHEP viewers (docs/sfu.md, "WHIP and WHEP"): terminals that speak HTTP, not /ws.

A terminal (a hardware video terminal, OBS, FFmpeg; or a WHEP player) presents a join token (an
invitation, or a staff member's join token) as Bearer. Concord seats it in the session's room through the
hub like any participant (``TerminalConnection``: an in-process connection), so it is in ``peers`` for
everyone, in the ledger (``peer_joined``/``peer_left``) and subject to the room's decisions (lobby,
removal, the end of the session). Its media goes through Janus:

- WHIP: the terminal's offer is relayed to a Janus publisher handle by the SFU bridge
  (``SfuBridge.publish``), exactly as a browser's, so moderation (floor, mute), removal and recording
  apply to it like to anyone else;
- WHEP: Concord attaches a Janus subscriber to the room's main feeds (visible to the viewer, as
  ``plan.visible_feeds`` says) and answers the client's offer on top of Janus's offer
  (``server.sfu.sdp.splice_whep``). The feeds are fixed when the viewer connects (WHEP has no
  renegotiation).

The room is moved to the SFU first if it is still a mesh (``topology`` cause ``terminal``).

A resource ends on ``DELETE``, when its Janus PeerConnection goes away (the terminal stopped without
``DELETE``), when the room closes the terminal's place (removed, session ended), or when its media
never comes up (``MEDIA_TIMEOUT_S``). Ending it leaves the room (``peer_left``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from server.failures import DomainError, Kind
from server.rooms.connection import SystemConnection
from server.rooms.hub import Replica, RoomHub
from server.rooms.room import Peer
from server.sessions.kinds import MODERATOR_ROLES
from server.sessions.service import JoinGrant
from server.sfu import plan, sdp
from server.sfu.bridge import SfuBridge, party
from server.sfu.cluster import NoInstance
from server.sfu.janus import JanusError, VideoRoomHandle

log = logging.getLogger("concord.sfu.terminals")

WHIP = "whip"
WHEP = "whep"
JOIN_TIMEOUT_S = 10.0
ADMIT_WAIT_S = 30.0  # a terminal whose invitation waits in the lobby holds its POST this long
MEDIA_TIMEOUT_S = 30.0  # a resource whose PeerConnection is not up by then is ended
WATCH_S = 1.0
MAX_RESOURCES = 200  # per node


class TerminalError(DomainError):
    """A refusal of a WHIP/WHEP request (its kind gives the HTTP status)."""


@dataclass(frozen=True)
class Answer:
    resource: str
    sdp: str
    peer_id: str


class TerminalConnection(SystemConnection):
    """The room connection of a terminal. The bridge leaves its subscriptions alone (``auto_subscribe``):
    a WHIP terminal only sends, and a WHEP viewer's subscription is negotiated here."""

    kind = "terminal"
    auto_subscribe = False


class TerminalPeer:
    """``SystemPeer`` of a terminal: waits for its welcome; the room closing its place ends it."""

    def __init__(self, service: Terminals, resource_id: str) -> None:
        self.service = service
        self.resource_id = resource_id
        self.welcomed = asyncio.get_running_loop().create_future()

    def deliver(self, message: dict[str, Any]) -> None:
        t = message.get("type")
        if t == "welcome" and not self.welcomed.done():
            self.welcomed.set_result(message)
        elif t == "error" and message.get("ref") == "join" and not self.welcomed.done():
            self.welcomed.set_result(message)
        elif t == "error" and message.get("code") == "denied" and not self.welcomed.done():
            self.welcomed.set_result(message)
        # Other room messages (peers, chat, sfu offers) mean nothing to a terminal.

    def closed(self, code: int, reason: str) -> None:
        if not self.welcomed.done():
            self.welcomed.set_result({"type": "error", "code": reason or "closed", "message": reason})
        self.service.end_soon(self.resource_id, f"room:{reason}")


@dataclass(eq=False)
class Resource:
    id: str
    kind: str
    session_id: int
    token_hash: str
    conn: TerminalConnection
    peer: TerminalPeer
    peer_id: str | None = None
    handle: VideoRoomHandle | None = None  # WHEP: our subscriber
    served: set[str] = field(default_factory=set)  # WHEP: the peers whose feeds it was given
    created: float = field(default_factory=time.monotonic)
    watch: asyncio.Task[None] | None = None
    ended: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(f"concord-terminal:{token}".encode()).hexdigest()


_REFUSALS = {
    "removed": (Kind.FORBIDDEN, "you were removed from this session"),
    "denied": (Kind.FORBIDDEN, "主持人未准许您进入 / the host did not admit you"),
    "session_ended": (Kind.GONE, "this session has ended"),
    "room_full": (Kind.CONFLICT, "the room is full"),
    "forbidden": (Kind.FORBIDDEN, "this role does not take part in this session"),
}


class Terminals:
    """This node's WHIP and WHEP resources."""

    def __init__(self, hub: RoomHub, bridge: SfuBridge | None) -> None:
        self.hub = hub
        self.bridge = bridge
        self.resources: dict[str, Resource] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.published = 0
        self.watched = 0
        self.ended: Counter[str] = Counter()  # resources ended, by reason (delete, hangup, room:removed, ...)

    def __repr__(self) -> str:
        return f"Terminals({len(self.resources)} resources)"

    # ---- entry points ------------------------------------------------------------------------------

    async def publish(self, grant: JoinGrant, token: str, offer: str, *, consent: bool) -> Answer:
        """WHIP: seat the terminal, relay its offer to Janus; returns the answer and the resource id."""
        sdp.check_offer(offer, sending=True)
        res, rep, me = await self._seat(WHIP, grant, token)
        try:
            if consent:
                await self.hub.system_send(res.session_id, me.id, {"type": "consent", "recording": True})
            bridge = self._bridge()
            answer = await bridge.publish(rep, me, offer)
        except BaseException as e:
            await self.end(res.id, "refused")
            raise self._janus_refusal(e) from e
        self.published += 1
        res.watch = self._spawn(self._watch_publisher(res))
        return Answer(res.id, answer, me.id)

    async def watch(self, grant: JoinGrant, token: str, offer: str) -> Answer:
        """WHEP: seat the viewer, subscribe it to the room's main feeds, answer its offer."""
        client = sdp.check_offer(offer, sending=False)
        kinds = sdp.wanted_kinds(client)
        res, rep, me = await self._seat(WHEP, grant, token)
        try:
            answer = await self._subscribe(res, rep, me, offer, kinds)
        except BaseException as e:
            await self.end(res.id, "refused")
            raise self._janus_refusal(e) from e
        self.watched += 1
        res.watch = self._spawn(self._watch_viewer(res))
        return Answer(res.id, answer, me.id)

    def owns(self, resource_id: str, session_id: int, token: str) -> Resource:
        """The resource if ``token`` is the one that made it (404 otherwise: ids are not guessable)."""
        res = self.resources.get(resource_id)
        if res is None or res.session_id != session_id or not hmac.compare_digest(res.token_hash, token_hash(token)):
            raise TerminalError(Kind.NOT_FOUND, "not_found", "no such WHIP/WHEP resource")
        return res

    def end_soon(self, resource_id: str, reason: str) -> None:
        if resource_id in self.resources:
            self._spawn(self.end(resource_id, reason))

    async def end(self, resource_id: str, reason: str) -> bool:
        """End a resource: its Janus handle goes, the terminal leaves the room. False if unknown."""
        res = self.resources.pop(resource_id, None)
        if res is None or res.ended:
            return False
        res.ended = True
        self.ended[reason] += 1
        if res.watch is not None and res.watch is not asyncio.current_task():
            res.watch.cancel()
        if res.handle is not None:
            with contextlib.suppress(JanusError):
                await res.handle.detach()
        pid = res.peer_id or res.conn.peer_id  # seated, or still in the lobby
        with contextlib.suppress(Exception):
            if pid is not None and not res.conn.closed:
                await self.hub.detach_system_peer(res.session_id, pid)  # leave (ledgered) and forget
            else:  # the room closed its place already, or never answered: only forget the connection
                res.conn.left = True
                await self.hub.disconnect(res.conn)
        log.info("%s resource in session %s ended (%s)", res.kind, res.session_id, reason)
        return True

    async def close(self) -> None:
        for rid in list(self.resources):
            await self.end(rid, "shutdown")
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- joining the room --------------------------------------------------------------------------

    def _bridge(self) -> SfuBridge:
        if self.bridge is None:
            raise TerminalError(Kind.UNAVAILABLE, "no_sfu",
                                "WHIP/WHEP need the SFU (CONCORD_JANUS_URL); this server has none")
        return self.bridge

    async def _seat(self, kind: str, grant: JoinGrant, token: str) -> tuple[Resource, Replica, Peer]:
        bridge = self._bridge()
        if len(self.resources) >= MAX_RESOURCES:
            raise TerminalError(Kind.UNAVAILABLE, "busy", "too many WHIP/WHEP sessions on this server")
        rep = await self.hub.open(grant.meta)
        if rep.room.ended:
            raise TerminalError(Kind.GONE, "session_ended", "this session has ended")
        await self._on_sfu(bridge, rep)
        rid = secrets.token_urlsafe(18)
        peer = TerminalPeer(self, rid)
        conn = TerminalConnection(peer)
        res = Resource(rid, kind, grant.meta.session_id, token_hash(token), conn, peer)
        self.resources[rid] = res
        try:
            try:
                await self.hub.join(conn, grant, None)
            except Exception as e:  # the bus (Redis) is unreachable or overloaded: say so
                log.warning("terminal join failed: %s", type(e).__name__)
                raise TerminalError(Kind.UNAVAILABLE, "unavailable",
                                    "the room service is unavailable; try again shortly") from None
            first = await asyncio.wait_for(asyncio.shield(conn.answered), JOIN_TIMEOUT_S)
            if first.get("type") == "lobby":
                log.info("%s terminal of session %s waits in the lobby", kind, res.session_id)
            welcome = await asyncio.wait_for(asyncio.shield(peer.welcomed), ADMIT_WAIT_S)
        except TimeoutError:
            await self.end(rid, "timeout")
            raise TerminalError(Kind.FORBIDDEN, "not_admitted",
                                f"not admitted within {ADMIT_WAIT_S:g} s; ask the host to admit you, then retry"
                                ) from None
        except BaseException:
            await self.end(rid, "failed")
            raise
        if welcome.get("type") != "welcome":
            await self.end(rid, "refused")
            code = str(welcome.get("code") or "refused")
            k, msg = _REFUSALS.get(code, (Kind.FORBIDDEN, str(welcome.get("message") or code)))
            raise TerminalError(k, code, msg)
        res.peer_id = str(welcome["peer_id"])
        me = rep.room.peers.get(res.peer_id)
        if me is None:
            await self.end(rid, "gone")
            raise TerminalError(Kind.CONFLICT, "gone", "the room let the terminal go again")
        return res, rep, me

    async def _on_sfu(self, bridge: SfuBridge, rep: Replica) -> None:
        """Move a mesh room to the SFU (a terminal's media can only go through Janus)."""
        if rep.room.topology == plan.SFU:
            return
        try:
            where = bridge.cluster.place(rep.meta.session_id)
        except NoInstance as e:
            raise TerminalError(Kind.UNAVAILABLE, "sfu_unavailable",
                                "媒体服务器暂不可用 / the media server is unavailable") from e
        await self.hub.submit(rep, {"op": "topology", "topology": plan.SFU, "cause": "terminal", "n": 0,
                                    "limit": 0, "instance": where, "generation": rep.room.sfu_generation})
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while rep.room.topology != plan.SFU:
            if time.monotonic() > deadline or rep.room.ended:
                raise TerminalError(Kind.UNAVAILABLE, "sfu_unavailable", "the room could not move to the SFU")
            await asyncio.sleep(0.02)

    @staticmethod
    def _janus_refusal(e: BaseException) -> BaseException:
        if isinstance(e, DomainError | asyncio.CancelledError):
            return e
        if isinstance(e, JanusError):
            log.warning("terminal negotiation failed: %s", e)
            return TerminalError(Kind.UNAVAILABLE, "sfu_failed",
                                 "媒体协商失败，请重试 / media negotiation with the SFU failed; try again")
        if isinstance(e, NoInstance):
            return TerminalError(Kind.UNAVAILABLE, "sfu_unavailable",
                                 "媒体服务器暂不可用 / the media server is unavailable")
        if isinstance(e, sdp.SdpError):
            return TerminalError(Kind.INVALID, "bad_sdp", str(e))
        return e

    # ---- WHEP --------------------------------------------------------------------------------------

    def main_feeds(self, rep: Replica, me: Peer) -> list[str]:
        """The feeds a viewer sees, main ones first: the floor, then the moderators, then by arrival."""
        room = rep.room
        publishers = [party(room, p) for p in room.sfu_publishers()]
        visible = set(plan.visible_feeds(party(room, me), publishers))
        order = sorted((p for p in room.sfu_publishers() if p.id in visible),
                       key=lambda p: (p.id != room.floor, p.role not in MODERATOR_ROLES, p.joined_at, p.id))
        return [p.id for p in order]

    async def _subscribe(self, res: Resource, rep: Replica, me: Peer, offer: str,
                         kinds: list[str | None]) -> str:
        bridge = self._bridge()
        feeds = self.main_feeds(rep, me)
        if not feeds:
            raise TerminalError(Kind.CONFLICT, "no_feeds", "nobody in this room is publishing yet; retry later",
                                retry_after=5)
        want = max(kinds.count("audio"), kinds.count("video"))
        rm = await bridge._room_media(rep)
        assert rm.instance.session is not None
        h = await rm.instance.session.attach_videoroom(opaque_id=f"concord-{res.session_id}-whep")
        res.handle = h
        data, joffer = await h.join_subscriber(rm.janus_room, [{"feed": plan.janus_participant_id(f)}
                                                                 for f in feeds[:max(want, 1)]])
        streams = [s for s in data.get("streams") or [] if s.get("active", True)]
        pools = {k: [str(s["mid"]) for s in streams if s.get("type") == k] for k in ("audio", "video")}
        mids: list[str | None] = [pools[k].pop(0) if k in pools and pools[k] else None for k in kinds]
        splice = sdp.splice_whep(offer, str(joffer["sdp"]), mids)
        used = set(splice.mids.values())
        res.served = {p for p in (plan.peer_of_participant(str(s.get("feed_id") or "")) for s in streams
                                  if str(s.get("mid")) in used) if p}
        await h.start({"type": "answer", "sdp": splice.janus_answer})
        return splice.client_answer

    # ---- watching ----------------------------------------------------------------------------------

    async def _watch_publisher(self, res: Resource) -> None:
        """End the resource when the terminal's publisher goes away (or never comes up)."""
        was_up = False
        with contextlib.suppress(asyncio.CancelledError):
            while not res.ended:
                await asyncio.sleep(WATCH_S)
                rm = self.bridge.rooms.get(res.session_id) if self.bridge is not None else None
                pm = rm.peers.get(res.peer_id or "") if rm is not None else None
                pub = pm.pub if pm is not None else None
                if pub is None or pub.gone.is_set():
                    await self.end(res.id, "publisher gone")
                    return
                if pm is not None and pm.feed_up:
                    was_up = True
                elif was_up:
                    await self.end(res.id, "hangup")
                    return
                elif time.monotonic() - res.created > MEDIA_TIMEOUT_S:
                    await self.end(res.id, "media timeout")
                    return

    async def _watch_viewer(self, res: Resource) -> None:
        h = res.handle
        assert h is not None
        up = False
        with contextlib.suppress(asyncio.CancelledError):
            while not res.ended:
                if res.served and not res.served & self._publishing(res.session_id):
                    # WHEP cannot renegotiate: end it, so the player's connection closes and it comes back
                    # for whoever is the main feed now.
                    await self.end(res.id, "feeds gone")
                    return
                try:
                    ev = await h.next_event(timeout=WATCH_S)
                except JanusError:
                    if h.gone.is_set():
                        await self.end(res.id, "subscriber gone")
                        return
                    if not up and time.monotonic() - res.created > MEDIA_TIMEOUT_S:
                        await self.end(res.id, "media timeout")
                        return
                    continue
                if ev.janus == "webrtcup":
                    up = True
                elif ev.janus in ("hangup", "detached"):
                    await self.end(res.id, ev.janus)
                    return

    def _publishing(self, session_id: int) -> set[str]:
        rep = self.hub.rooms.get(session_id)
        return {p.id for p in rep.room.sfu_publishers()} if rep is not None else set()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t


__all__ = ["ADMIT_WAIT_S", "WHEP", "WHIP", "Answer", "Resource", "TerminalConnection", "TerminalError",
           "Terminals", "token_hash"]
