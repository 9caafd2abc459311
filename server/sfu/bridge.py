"""The node's side of the SFU: Concord's rooms driving Janus VideoRoom (docs/sfu.md).

``SfuBridge`` plugs into ``RoomHub`` as its media backend (``hub.set_media``). It decides nothing about
the room: ``server.rooms.room.Room`` does, and ``server.sfu.plan`` turns its state into Janus requests.

- Topology: after each command this node submitted, ``plan.choose_topology`` says whether the room moves
  to the SFU (its kind, or more admitted people than the mesh limit); the move is a ``topology`` command
  in the room's log, so every node agrees, with the Janus instance chosen by ``JanusCluster.place``.
  Dispatch and petition rooms are moved before their first join is submitted.
- For a room on the SFU, this node ensures the VideoRoom exists (``plan.janus_room_id``; its secret is an
  HMAC of the server secret, so any node can moderate and kick) and, for each person whose connection it
  holds, a publisher handle (made when the browser sends ``sfu``/``publish``) and a subscriber handle.
- After every room change it reconciles, per room (one run at a time; inside it each person's requests in
  order, up to ``CONCURRENCY`` people at once): subscriptions (``plan.subscription_feeds``: sub-rooms
  are isolated by Concord, browsers never name feeds; a hidden feed is paused; in a briefing a centre
  takes only the moderators and the floor holder), the server-side
  floor and mute (VideoRoom ``moderate`` by ``plan.audio_forwarded``), simulcast layers (``plan.allocate_layers``
  from the client's ``layers`` report), kicks of removed people, and the end of the session.
- Browsers never see a Janus URL, id or secret: only SDP and Concord peer ids pass over ``/ws``.

Server-side participants (the recorder, a WHIP publisher) use the same path as a browser: a system peer
joined with ``hub.attach_system_peer`` sends ``{"type": "sfu", ...}`` with ``hub.system_send`` and gets
the ``sfu`` answers and offers in ``deliver``; or call ``publish``/``answer`` below directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from server.rooms.connection import Connection
from server.rooms.hub import Replica, RoomHub
from server.rooms.room import MAX_PEERS_SFU, Effect, Peer, Record, Room
from server.sessions.kinds import MODERATOR_ROLES
from server.sfu import plan, span
from server.sfu.cascade import CascadeLink, RoomOn, StreamInfo, cascade, streams_from
from server.sfu.cluster import JanusCluster, JanusInstance, NoInstance
from server.sfu.janus import (
    VR_NO_SUCH_FEED,
    VR_NO_SUCH_ROOM,
    VR_ROOM_EXISTS,
    JanusError,
    RoomSpec,
    VideoRoomHandle,
)

log = logging.getLogger("concord.sfu")

VR_ID_EXISTS = 436  # VideoRoom: a participant with this id is already in the room
DEFAULT_BANDWIDTH = 10_000_000  # bits/s assumed until a client reports its estimate
_MID_RE = re.compile(r"^a=mid:(\S+)", re.M)
_SESSION_NAME_RE = re.compile(r"^s=.*$", re.M)


def room_secret(secret_key: bytes, janus_room: str) -> str:
    """The VideoRoom secret of a Janus room: the same on every node, never sent to a browser."""
    return hmac.new(secret_key, f"concord-janus-room:{janus_room}".encode(), hashlib.sha256).hexdigest()[:40]


def sdp_mids(sdp: str) -> dict[str, list[str]]:
    """The mids of an SDP's audio and video sections, in order."""
    out: dict[str, list[str]] = {"audio": [], "video": []}
    for section in sdp.split("\nm=")[1:]:
        kind = section.split(" ", 1)[0]
        m = _MID_RE.search(section)
        if m and kind in out:
            out[kind].append(m.group(1).strip())
    return out


def client_sdp(sdp: str) -> str:
    """Janus's SDP as a browser gets it: the session name (``s=VideoRoom <room id>``) says nothing of Janus."""
    return _SESSION_NAME_RE.sub("s=-", sdp, count=1)


def party(room: Room, p: Peer) -> plan.Party:
    return plan.Party(p.id, p.subroom, admitted=p.admitted, system=p.system, recorded=room.is_recorded(p),
                      moderator=p.role in MODERATOR_ROLES)


@dataclass(eq=False)
class PeerMedia:
    """This node's Janus handles for one person (or the recorder) of a room on the SFU."""

    peer_id: str
    epoch: int
    pub: VideoRoomHandle | None = None
    sub: VideoRoomHandle | None = None
    mids: dict[str, list[str]] = field(default_factory=lambda: {"audio": [], "video": []})
    feed_up: bool = False
    subscribed: set[str] = field(default_factory=set)  # peer ids of the feeds subscribed to
    streams: list[dict[str, Any]] = field(default_factory=list)  # Janus's subscriber streams
    awaiting_start: bool = False
    offered_at: float = 0.0
    layers: dict[str, Any] | None = None
    applied: dict[str, tuple[bool, int | None]] = field(default_factory=dict)  # mid -> (send, substream)
    muted: dict[str, bool] = field(default_factory=dict)  # own publisher mid -> moderated mute applied
    visible: set[str] = field(default_factory=set)  # feeds the person may see now
    shown: list[dict[str, Any]] = field(default_factory=list)  # the feeds last told to the client
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request at a time on this person's subscriber
    instance: JanusInstance | None = None  # where this person's handles are (server.sfu.span.place_person)
    streams_info: list[StreamInfo] = field(default_factory=list)  # the published streams (for cascades)


@dataclass(eq=False)
class RoomMedia:
    session_id: int
    janus_room: str
    instance: JanusInstance
    generation: int
    secret: str
    peers: dict[str, PeerMedia] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The same Janus room (id and secret) on other instances, when the room's people outgrow the home
    # instance (``instance``), and the feeds cascaded there: (peer id, target instance) -> link.
    edges: dict[str, JanusInstance] = field(default_factory=dict)
    links: dict[tuple[str, str], CascadeLink] = field(default_factory=dict)
    speaker: str | None = None  # the active speaker (Janus talking events): the last who started talking


class SfuBridge:
    START_TIMEOUT_S = 15.0  # an offer not answered by then is offered again
    CONCURRENCY = 16  # Janus requests in flight per room while reconciling (one at a time per person)

    def __init__(self, hub: RoomHub, cluster: JanusCluster, secret_key: bytes, *,
                 mesh_limit: int = plan.MESH_LIMIT, instance_peers: int = span.INSTANCE_PEERS,
                 cascade_bind: str = "127.0.0.1") -> None:
        self.hub = hub
        self.cluster = cluster
        self._key = secret_key
        self.mesh_limit = mesh_limit
        self.instance_peers = instance_peers  # CONCORD_SFU_INSTANCE_PEERS
        self.cascade_bind = cascade_bind  # where an edge instance listens for cascaded RTP
        self.concurrency = self.CONCURRENCY
        self.rooms: dict[int, RoomMedia] = {}
        self._dirty: set[int] = set()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._moving: set[tuple[int, int]] = set()  # (session, switch count) topology commands in flight
        self._creating: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors = 0
        cluster.on_lost(self._instance_lost)

    def __repr__(self) -> str:
        return f"SfuBridge(rooms={len(self.rooms)})"

    # ---- the hub's media-backend interface ---------------------------------------------------------

    async def before_join(self, rep: Replica) -> None:
        """A room of an SFU kind goes on the SFU before anyone is welcomed to it."""
        room = rep.room
        if room.ended or room.topology == plan.SFU or room.kind not in plan.SFU_KINDS:
            return
        await self._move(rep, plan.TopologyChange(plan.SFU, "kind"))

    def applied(self, rep: Replica, cmd: dict[str, Any], effects: list[Effect]) -> None:
        """Called by the hub for every command applied to a replica on this node (synchronously)."""
        room = rep.room
        sid = rep.meta.session_id
        mine = cmd.get("origin") == self.hub.node_id
        rm = self.rooms.get(sid)
        for e in effects:
            if isinstance(e, Record) and e.type in ("removed", "denied") and rm is not None:
                rm.removed.add(str(e.data.get("peer")))
        if mine and cmd.get("op") in ("join", "msg") and not room.ended:
            people = sum(1 for p in room.admitted() if not p.system)
            change = plan.choose_topology(room.kind, room.topology, people, sfu_configured=True,
                                          mesh_limit=self.mesh_limit)
            if change is not None:
                self._spawn(self._move(rep, change))
        if room.topology == plan.SFU or rm is not None:
            self.schedule(sid)

    async def message(self, rep: Replica, conn: Connection, me: Peer, msg: dict[str, Any]) -> str | None:
        """An ``sfu`` message from a client (validated by server.rooms.protocol). Returns an error code."""
        if rep.room.topology != plan.SFU:
            return self._refuse(conn, "not_sfu", "this room's media is peer to peer")
        op = msg["op"]
        try:
            if op == "publish":
                answer = await self.publish(rep, me, msg["sdp"])
                conn.send({"type": "sfu", "op": "answer", "sdp": client_sdp(answer)})
            elif op == "start":
                await self.answer(rep, me, msg["sdp"])
            elif op == "layers":
                await self.set_layers(rep, me, msg["layers"])
        except NoInstance:
            return self._refuse(conn, "sfu_unavailable", "媒体服务器暂不可用 / the media server is unavailable")
        except JanusError as e:
            self.errors += 1
            log.warning("sfu %s for %s failed: %s", op, me.id, e)
            return self._refuse(conn, "sfu_failed", "媒体协商失败，请重试 / media negotiation failed; try again")
        return None

    async def close(self) -> None:
        for t in list(self._running.values()) + list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._running.values(), *self._tasks, return_exceptions=True)
        for rm in list(self.rooms.values()):
            for pm in list(rm.peers.values()):
                await self._drop_peer(rm, pm, kick=False)
        self.rooms.clear()

    # ---- public operations (also for server-side participants) -------------------------------------

    async def publish(self, rep: Replica, me: Peer, offer_sdp: str) -> str:
        """Relay a participant's offer to its publisher handle; returns Janus's SDP answer."""
        if not plan.media_plan(me.role).publish:
            raise JanusError(0, "this participant does not publish", "publish")
        rm = await self._room_media(rep)
        async with rm.lock:
            pm = self._peer_media(rm, me)
            if pm.pub is None:
                inst = await self._place(rm, rep.room, me, pm)
                pm.pub = await self._join_publisher(rm, inst, me)
                pm.tasks.append(asyncio.create_task(self._watch_publisher(rep, rm, pm, pm.pub)))
                data, jsep = await pm.pub.message({"request": "publish"}, {"type": "offer", "sdp": offer_sdp})
            else:  # renegotiation of a running publisher (a track added or replaced)
                data, jsep = await pm.pub.message({"request": "configure"}, {"type": "offer", "sdp": offer_sdp})
            if jsep is None or jsep.get("type") != "answer":
                raise JanusError(0, "no SDP answer to the publish offer", "publish")
            answer = jsep
            pm.streams_info = streams_from(data.get("streams") or []) or pm.streams_info
            pm.mids = sdp_mids(offer_sdp)
            pm.muted.clear()  # new mids: moderation is applied again once the feed is up
        return str(answer["sdp"])

    async def answer(self, rep: Replica, me: Peer, answer_sdp: str) -> None:
        """The participant's answer to the subscription offer we sent."""
        rm = self.rooms.get(rep.meta.session_id)
        pm = rm.peers.get(me.id) if rm is not None else None
        if rm is None or pm is None or pm.sub is None or not pm.awaiting_start:
            raise JanusError(0, "no subscription offer is waiting for an answer", "start")
        async with pm.lock:  # this person's handle only: the others' reconciling goes on meanwhile
            if rm.peers.get(me.id) is not pm or pm.sub is None:
                raise JanusError(0, "the subscription was closed meanwhile", "start")
            await pm.sub.start({"type": "answer", "sdp": answer_sdp})
            pm.awaiting_start = False
        self.schedule(rep.meta.session_id)

    async def set_layers(self, rep: Replica, me: Peer, layers: dict[str, Any]) -> None:
        rm = self.rooms.get(rep.meta.session_id)
        if rm is None:
            return
        pm = self._peer_media(rm, me)
        pm.layers = layers
        self.schedule(rep.meta.session_id)

    async def relocate(self, session_id: int, instance: str | None = None) -> bool:
        """Move a room on the SFU to a new Janus room (``generation`` + 1) on ``instance`` (default: the
        least loaded instance that is up): the failover step. Every client gets ``topology`` and
        renegotiates in place; the ledger records the move (cause ``failover``) and its duration. False if
        this node holds no such room on the SFU."""
        rep = self.hub.rooms.get(session_id)
        if rep is None or rep.room.ended or rep.room.topology != plan.SFU:
            return False
        where = instance or self.cluster.place(session_id)
        await self.hub.submit(rep, {"op": "topology", "topology": plan.SFU, "cause": "failover", "instance": where,
                                    "generation": rep.room.sfu_generation + 1})
        return True

    def rooms_on(self, instance_id: str) -> list[int]:
        """Sessions this node has on a Janus instance (for failover)."""
        return [sid for sid, rm in self.rooms.items() if rm.instance.id == instance_id]

    # ---- topology ----------------------------------------------------------------------------------

    async def _move(self, rep: Replica, change: plan.TopologyChange) -> None:
        key = (rep.meta.session_id, rep.room.switches)
        if key in self._moving:
            return
        self._moving.add(key)
        try:
            try:
                where = self.cluster.place(rep.meta.session_id)
            except NoInstance:
                log.warning("session %s stays on the mesh: no Janus instance is up", rep.meta.session_id)
                return
            await self.hub.submit(rep, {"op": "topology", "topology": change.topology, "cause": change.cause,
                                        "n": change.n, "limit": change.limit, "instance": where,
                                        "generation": rep.room.sfu_generation})
        finally:
            self._moving.discard(key)

    # ---- reconciling -------------------------------------------------------------------------------

    def schedule(self, sid: int) -> None:
        """Reconcile a room soon (coalesced: one run at a time per room, again if changed meanwhile)."""
        self._dirty.add(sid)
        if sid not in self._running:
            self._running[sid] = asyncio.create_task(self._run(sid), name=f"sfu-reconcile {sid}")

    async def _run(self, sid: int) -> None:
        try:
            while sid in self._dirty:
                self._dirty.discard(sid)
                try:
                    await self._reconcile(sid)
                except NoInstance as e:
                    log.warning("session %s: %s", sid, e)
                except JanusError as e:
                    self.errors += 1
                    log.warning("session %s: reconciling with Janus failed: %s", sid, e)
                    await asyncio.sleep(0.5)
                    self._dirty.add(sid)
        finally:
            self._running.pop(sid, None)

    async def _reconcile(self, sid: int) -> None:
        rep = self.hub.rooms.get(sid)
        room = rep.room if rep is not None else None
        rm = self.rooms.get(sid)
        if rep is None or room is None or room.ended or room.topology != plan.SFU:
            if rm is not None:
                await self._drop_room(rm, destroy=room is not None and room.ended)
            self._creating.pop(sid, None)
            return
        rm = await self._room_media(rep)  # a new generation (failover) drops the old one's handles first
        me = self.hub.node_id
        local = {p.id: p for p in room.peers.values() if p.node == me and p.connected and p.admitted}
        async with rm.lock:
            # Per person, in order on that person's handles; across people, at most ``concurrency``
            # Janus requests at once (a briefing's floor moving touches every centre's subscription).
            gone = [pm for pid, pm in rm.peers.items() if (p := local.get(pid)) is None or p.epoch != pm.epoch]
            await self._each([self._drop_peer(rm, pm, kick=pm.peer_id in rm.removed) for pm in gone])
            publishers = [party(room, p) for p in room.sfu_publishers()]
            # Where everyone is (server.sfu.span): this node's people are placed as they come (one at a
            # time: each placement counts the ones before it); other nodes' people where their feed is up
            # (``Peer.sfu_instance``, from the room's log), or the home.
            for p in local.values():
                await self._place(rm, room, p, self._peer_media(rm, p))
            placement = {q.id: q.sfu_instance for q in room.admitted() if q.connected and q.sfu_instance}
            placement |= {pid: pm.instance.id for pid, pm in rm.peers.items() if pm.instance is not None}
            for q in publishers:
                placement.setdefault(q.peer_id, rm.instance.id)
            # Every viewer whose instance is known, of any node: the feeds this node publishes go where
            # they are taken (the other nodes do the same for theirs).
            wants = {p.id: (plan.visible_feeds(party(room, p), publishers) if p.system else
                            plan.subscription_feeds(room.kind, party(room, p), publishers, floor=room.floor))
                     for p in room.admitted() if p.connected and p.id in placement
                     and plan.media_plan(p.role).subscribe}
            # The feeds cascaded to the instances whose viewers take them, before anyone subscribes.
            await self._sync_links(rm, room, span.forwards(placement, wants))
            links = set(rm.links)
            await self._each([self._sync_peer(rm, room, p, publishers, placement, links) for p in local.values()])

    async def _each(self, coros: list[Coroutine[Any, Any, None]]) -> None:
        """Run one coroutine per person, ``concurrency`` at a time; the first failure is raised once all ended."""
        if not coros:
            return
        sem = asyncio.Semaphore(self.concurrency)

        async def bounded(c: Coroutine[Any, Any, None]) -> None:
            async with sem:
                await c

        results = await asyncio.gather(*(bounded(c) for c in coros), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _sync_peer(self, rm: RoomMedia, room: Room, p: Peer, publishers: list[plan.Party],
                         placement: dict[str, str], links: set[tuple[str, str]]) -> None:
        """One local person: the server-side floor and mute on their feed, then their subscription to the
        feeds on their own instance (native there or cascaded there)."""
        pm = rm.peers.get(p.id)
        if pm is not None and pm.pub is not None and pm.feed_up:
            await self._moderate(rm, room, p, pm)
        if not plan.media_plan(p.role).subscribe or not self._auto_subscribe(p):
            return
        pm = self._peer_media(rm, p)
        here = span.available(placement.get(p.id, rm.instance.id), placement, links, (q.peer_id for q in publishers))
        async with pm.lock:
            await self._sync_subscriber(rm, room, p, pm, [q for q in publishers if q.peer_id in here])

    async def _sync_subscriber(self, rm: RoomMedia, room: Room, p: Peer, pm: PeerMedia,
                               publishers: list[plan.Party]) -> None:
        """``publishers``: the feeds on the person's instance."""
        viewer = party(room, p)
        visible = set(plan.visible_feeds(viewer, publishers))
        wanted = set(plan.subscription_feeds(room.kind, viewer, publishers, floor=room.floor))
        pm.visible = wanted
        # A feed that left Janus (or the person's instance) left the subscription with it.
        pm.subscribed &= {q.peer_id for q in publishers}
        if pm.awaiting_start and time.monotonic() - pm.offered_at >= self.START_TIMEOUT_S:
            pm.awaiting_start = False  # never answered: offer again
        # A feed still visible but no longer of interest (the floor moved on in a briefing) is
        # unsubscribed; one hidden by a sub-room move stays subscribed, paused.
        drop = (pm.subscribed & visible) - wanted
        if not pm.awaiting_start and (wanted - pm.subscribed or drop):
            await self._subscribe(rm, p, pm, wanted - pm.subscribed, drop)
        # Applied at once, even while an offer waits for its answer: isolation does not wait.
        await self._apply_streams(rm, room, p, pm, wanted)

    async def _room_media(self, rep: Replica) -> RoomMedia:
        sid = rep.meta.session_id
        async with self._creating.setdefault(sid, asyncio.Lock()):
            return await self._make_room_media(rep)

    async def _make_room_media(self, rep: Replica) -> RoomMedia:
        sid = rep.meta.session_id
        rm = self.rooms.get(sid)
        room = rep.room
        if rm is not None and rm.generation == room.sfu_generation and rm.instance.id == room.sfu_instance:
            return rm
        if rm is not None:  # the room moved to a new Janus room: leave the old one first (and destroy it
            # on the instances still up: a later generation never goes back to it)
            await self._drop_room(rm, destroy=rm.generation < room.sfu_generation)
        inst = self.cluster.instance(room.sfu_instance)
        jroom = plan.janus_room_id(sid, generation=room.sfu_generation)
        rm = RoomMedia(sid, jroom, inst, room.sfu_generation, room_secret(self._key, jroom))
        assert inst.control is not None
        try:
            await inst.control.create_room(RoomSpec(room=jroom, secret=rm.secret, description=f"concord {sid}",
                                                    videocodec=plan.VIDEO_CODECS,
                                                    publishers=MAX_PEERS_SFU, audiolevel_event=True,
                                                    bitrate=plan.PUBLISHER_BITRATE),
                                           admin_key=self.cluster.admin_key)
        except JanusError as e:
            if e.code != VR_ROOM_EXISTS:
                raise
        inst.rooms.add(jroom)
        self.rooms[sid] = rm
        return rm

    async def _room_on(self, rm: RoomMedia, iid: str) -> JanusInstance:
        """The room's instance ``iid``: the home, or an edge where the same Janus room (id and secret) is
        created on first use."""
        if iid == rm.instance.id:
            return rm.instance
        inst = rm.edges.get(iid)
        if inst is not None and inst.up:
            return inst
        inst = self.cluster.instance(iid)
        assert inst.control is not None
        try:
            # The home's spec (talking events too: a speaker on an edge is heard by its own handles).
            await inst.control.create_room(RoomSpec(room=rm.janus_room, secret=rm.secret,
                                                    description=f"concord {rm.session_id}",
                                                    videocodec=plan.VIDEO_CODECS, publishers=MAX_PEERS_SFU,
                                                    audiolevel_event=True),
                                           admin_key=self.cluster.admin_key)
        except JanusError as e:
            if e.code != VR_ROOM_EXISTS:
                raise
        inst.rooms.add(rm.janus_room)
        rm.edges[iid] = inst
        return inst

    async def _place(self, rm: RoomMedia, room: Room, p: Peer, pm: PeerMedia) -> JanusInstance:
        """This person's instance (``span.place_person``): the home while it has fewer than
        ``instance_peers`` of the room's people, then the least-loaded other instance that is up. The
        recorder and terminals stay on the home (server.sfu.recording and terminals use it)."""
        if pm.instance is not None:
            return pm.instance
        if p.system or not self._auto_subscribe(p):
            pm.instance = rm.instance
            return rm.instance
        # The room's people per instance: this node's placements, and other nodes' people where their
        # feed is up (the room's log).
        placed = {q.id: q.sfu_instance for q in room.admitted() if q.connected and q.sfu_instance}
        placed |= {pid: q.instance.id for pid, q in rm.peers.items() if q.instance is not None}
        placed.pop(p.id, None)
        counts = Counter(placed.values())
        try:
            iid = span.place_person(rm.instance.id, counts, self.cluster.up_ids(), capacity=self.instance_peers,
                                    load=self.cluster.scores())
        except ValueError:
            raise NoInstance("no Janus instance is up") from None
        pm.instance = await self._room_on(rm, iid)
        if pm.instance is not rm.instance:
            log.info("session %s: %s placed on %s (home %s full)", rm.session_id, p.id, iid, rm.instance.id)
        return pm.instance

    async def _sync_links(self, rm: RoomMedia, room: Room, needed: set[tuple[str, str]]) -> None:
        """Cascade each feed this node publishes to the instances that need it (``span.forwards``), and
        stop the cascades nobody needs any more (the viewers left, the floor moved on, the feed is down)."""
        keep: set[tuple[str, str]] = set()
        for feed, target in needed:
            pm = rm.peers.get(feed)
            if (pm is not None and pm.pub is not None and pm.feed_up and pm.streams_info
                    and pm.instance is not None and self.cluster.is_up(target)):
                keep.add((feed, target))
        for key in [k for k in rm.links if k not in keep or rm.links[k].closed]:
            await rm.links.pop(key).close()
        for feed, target in sorted(keep - rm.links.keys()):
            pm = rm.peers[feed]
            src = pm.instance
            assert src is not None and src.control is not None
            dst = await self._room_on(rm, target)
            assert dst.control is not None
            p = room.peers.get(feed)
            try:
                rm.links[(feed, target)] = await cascade(
                    RoomOn(src.id, src.control, rm.janus_room, rm.secret),
                    RoomOn(dst.id, dst.control, rm.janus_room, rm.secret),
                    feed=plan.janus_participant_id(feed), streams=pm.streams_info, admin_key=self.cluster.admin_key,
                    bind=self.cascade_bind, display=p.name if p is not None else "")
            except ValueError as e:
                log.warning("session %s: feed %s not cascaded: %s", rm.session_id, feed, e)

    def _peer_media(self, rm: RoomMedia, p: Peer) -> PeerMedia:
        pm = rm.peers.get(p.id)
        if pm is None or pm.epoch != p.epoch:
            pm = rm.peers[p.id] = PeerMedia(p.id, p.epoch)
        return pm

    async def _join_publisher(self, rm: RoomMedia, inst: JanusInstance, p: Peer) -> VideoRoomHandle:
        assert inst.session is not None and inst.control is not None
        h = await inst.session.attach_videoroom(opaque_id=f"concord-{rm.session_id}")
        participant = plan.janus_participant_id(p.id)
        try:
            try:
                await h.join_publisher(rm.janus_room, participant=participant, display=p.name)
            except JanusError as e:
                if e.code != VR_ID_EXISTS:
                    raise
                # The person's previous publisher (an old connection, maybe on another node) is still there.
                await inst.control.kick(rm.janus_room, secret=rm.secret, participant=participant)
                await h.join_publisher(rm.janus_room, participant=participant, display=p.name)
        except BaseException:
            with contextlib.suppress(Exception):
                await h.detach()
            raise
        return h

    async def _watch_publisher(self, rep: Replica, rm: RoomMedia, pm: PeerMedia, h: VideoRoomHandle) -> None:
        """Report the feed up (``webrtcup``) and down (hangup, kicked) to the room log."""
        with contextlib.suppress(asyncio.CancelledError):
            while not h.gone.is_set():
                try:
                    ev = await h.next_event(timeout=3600)
                except JanusError:
                    continue
                if ev.data.get("videoroom") == "talking":
                    self._talking(rep, rm, plan.peer_of_participant(str(ev.data.get("id") or "")))
                    continue
                up = None
                if ev.janus == "webrtcup":
                    up = True
                elif ev.janus in ("hangup", "detached") or ev.data.get("unpublished") == "ok":
                    up = False
                if up is None or up == pm.feed_up:
                    continue
                pm.feed_up = up
                try:
                    await self.hub.submit(rep, {"op": "sfu_feed", "peer": pm.peer_id, "up": up,
                                                "generation": rm.generation, "epoch": pm.epoch,
                                                "instance": (pm.instance or rm.instance).id})
                except Exception as e:
                    log.warning("could not report a feed: %s", type(e).__name__)
                self.schedule(rm.session_id)

    def _talking(self, rep: Replica, rm: RoomMedia, peer_id: str | None) -> None:
        """Janus says a publisher started talking (every publisher handle of the room hears it, so this is
        idempotent). Only someone whose audio is forwarded counts: a centre without the floor talking into
        a muted microphone is not the active speaker. Local clients get ``sfu`` ``speaker``; layers follow."""
        room = rep.room
        p = room.peers.get(peer_id or "")
        if p is None or rm.speaker == p.id or self.rooms.get(rm.session_id) is not rm:
            return
        if not plan.audio_forwarded(room.rules, p.role, has_floor=room.floor == p.id, muted=not p.audio):
            return
        rm.speaker = p.id
        for q in room.peers.values():
            if q.node == self.hub.node_id and q.connected and q.admitted and not q.system:
                self._send(rm.session_id, q.id, {"type": "sfu", "op": "speaker", "peer": p.id})
        self.schedule(rm.session_id)

    async def _moderate(self, rm: RoomMedia, room: Room, p: Peer, pm: PeerMedia) -> None:
        """Janus forwards this publisher's audio only if the room says so (``plan.audio_forwarded``: the
        kind's speaking rule, the floor, a moderator's mute), whatever the client sends; its video follows
        the person's video state (a moderator's video mute). VideoRoom ``moderate``, per publisher mid, on
        the feed's own instance: a muted stream is not forwarded to the instances it is cascaded to either."""
        inst = pm.instance or rm.instance
        assert inst.control is not None
        hear = plan.audio_forwarded(room.rules, p.role, has_floor=room.floor == p.id, muted=not p.audio)
        want = {**{m: not hear for m in pm.mids["audio"]}, **{m: not p.video for m in pm.mids["video"]}}
        for mid, mute in want.items():
            if pm.muted.get(mid) == mute:
                continue
            await inst.control.moderate(rm.janus_room, secret=rm.secret,
                                               participant=plan.janus_participant_id(p.id), mid=mid, mute=mute)
            pm.muted[mid] = mute

    async def _subscribe(self, rm: RoomMedia, p: Peer, pm: PeerMedia, add_feeds: set[str],
                         drop_feeds: set[str] | None = None) -> None:
        """Add feeds to (and drop feeds from) the person's subscription (Janus offers, the client answers
        with ``start``). Feeds are not unsubscribed for sub-room visibility: a hidden feed is paused
        (``_apply_streams``), so moving between sub-rooms costs no renegotiation; a briefing's floor
        moving on drops its feed (``plan.subscription_feeds``); Janus drops a feed when its publisher leaves."""
        add = sorted(add_feeds)
        feeds = [{"feed": plan.janus_participant_id(f)} for f in add]
        offer: dict[str, Any] | None
        try:
            if pm.sub is None:
                if not feeds:
                    return
                inst = pm.instance or rm.instance
                assert inst.session is not None
                pm.sub = await inst.session.attach_videoroom(opaque_id=f"concord-{rm.session_id}")
                pm.tasks.append(asyncio.create_task(self._watch_subscriber(rm, p.id, pm, pm.sub)))
                data, offer = await pm.sub.join_subscriber(rm.janus_room, feeds)
            else:
                drop = [{"feed": plan.janus_participant_id(f)} for f in sorted(drop_feeds or ())]
                data, offer = await pm.sub.update_subscription(subscribe=feeds, unsubscribe=drop)
        except JanusError as e:
            if e.code in (VR_NO_SUCH_FEED, VR_NO_SUCH_ROOM):
                self._dirty.add(rm.session_id)  # a feed went away meanwhile: look again
                return
            raise
        pm.subscribed = (pm.subscribed | set(add)) - (drop_feeds or set())
        pm.streams = list(data.get("streams") or pm.streams)
        if offer is not None:
            self._send_offer(rm, p.id, pm, offer)

    async def _apply_streams(self, rm: RoomMedia, room: Room, p: Peer, pm: PeerMedia, wanted: set[str]) -> None:
        """Pause every subscribed stream the person may not see (sub-rooms, a publisher gone from the
        room), resume the others, and give each shown video its simulcast layer (``plan.allocate_layers``
        from the client's ``layers`` report; ``plan.feed_priority``: the active speaker and a shared screen, then
        the floor holder and moderators). One ``configure``."""
        if pm.sub is None:
            return
        streams = [(str(s["mid"]), str(s.get("type")), plan.peer_of_participant(str(s.get("feed_id") or "")))
                   for s in pm.streams if s.get("active", True) and s.get("type") in ("audio", "video")]
        want: dict[str, tuple[bool, int | None]] = {mid: (peer in wanted, None) for mid, _kind, peer in streams}
        if pm.layers is not None:
            rep = pm.layers
            heights = {t["peer"]: int(t["height"]) for t in rep.get("tiles") or []}
            screens = [t["peer"] for t in rep.get("tiles") or [] if t.get("screen")]
            moderators = [q.id for q in room.moderators()]
            views = [plan.View(mid, heights.get(peer or "", 0),
                               priority=plan.feed_priority(peer, speaker=rm.speaker, screens=screens,
                                                           floor=room.floor, moderators=moderators))
                     for mid, kind, peer in streams if kind == "video" and peer in wanted]
            audio = sum(1 for _mid, kind, peer in streams if kind == "audio" and peer in wanted)
            chosen = plan.allocate_layers(views, int(rep.get("bandwidth") or DEFAULT_BANDWIDTH),
                                          audio_feeds=audio, low_data=bool(rep.get("low_data")))
            for mid, sub in chosen.items():
                want[mid] = (want[mid][0] and sub is not None, sub)
        changes = []
        for mid, (send, sub) in want.items():
            if pm.applied.get(mid) == (send, sub):
                continue
            c: dict[str, Any] = {"mid": mid, "send": send}
            if send and sub is not None:
                c["substream"] = sub
            changes.append(c)
        if changes:
            await pm.sub.message({"request": "configure", "streams": changes})
            for c in changes:
                pm.applied[c["mid"]] = want[c["mid"]]
        shown = self._feeds(pm, wanted)
        if shown != pm.shown and not pm.awaiting_start:
            pm.shown = shown
            self._send(rm.session_id, p.id, {"type": "sfu", "op": "feeds", "feeds": shown})

    def _send_offer(self, rm: RoomMedia, peer_id: str, pm: PeerMedia, offer: dict[str, Any]) -> None:
        if self.rooms.get(rm.session_id) is not rm or rm.peers.get(peer_id) is not pm:
            return  # a Janus room or handle we are leaving (failover, reconnection): not the client's business
        pm.awaiting_start = True
        pm.offered_at = time.monotonic()
        pm.shown = self._feeds(pm, pm.visible)
        self._send(rm.session_id, peer_id, {"type": "sfu", "op": "offer", "sdp": client_sdp(offer["sdp"]),
                                            "feeds": pm.shown})

    @staticmethod
    def _feeds(pm: PeerMedia, visible: set[str]) -> list[dict[str, Any]]:
        """The streams the client shows: mid, kind and Concord peer id (paused ones are left out)."""
        out = []
        for s in pm.streams:
            peer = plan.peer_of_participant(str(s.get("feed_id") or ""))
            if peer in visible and s.get("active", True) and s.get("type") in ("audio", "video"):
                out.append({"mid": str(s["mid"]), "kind": s["type"], "peer": peer})
        return out

    async def _watch_subscriber(self, rm: RoomMedia, peer_id: str, pm: PeerMedia, h: VideoRoomHandle) -> None:
        """Janus renegotiates a subscription by itself when a subscribed publisher leaves: relay that offer."""
        with contextlib.suppress(asyncio.CancelledError):
            while not h.gone.is_set():
                try:
                    ev = await h.next_event(timeout=3600)
                except JanusError:
                    continue
                if ev.janus != "event":
                    continue
                if ev.data.get("streams") is not None:
                    pm.streams = list(ev.data["streams"])
                    live = {plan.peer_of_participant(str(s.get("feed_id") or "")) for s in pm.streams
                            if s.get("active", True)}
                    pm.subscribed &= {x for x in live if x}
                    self._dirty.add(rm.session_id)
                    self.schedule(rm.session_id)
                if ev.jsep is not None and ev.jsep.get("type") == "offer":
                    self._send_offer(rm, peer_id, pm, ev.jsep)

    # ---- teardown ----------------------------------------------------------------------------------

    async def _drop_peer(self, rm: RoomMedia, pm: PeerMedia, *, kick: bool) -> None:
        """Leave Janus for a person who left, dropped or reconnected; ``kick`` (removal) also makes Janus
        kick the participant, whichever node's handle publishes it."""
        rm.peers.pop(pm.peer_id, None)
        for t in pm.tasks:
            t.cancel()
        for key in [k for k in rm.links if k[0] == pm.peer_id]:  # its cascaded copies go with it
            await rm.links.pop(key).close()
        inst = pm.instance or rm.instance
        if kick and inst.up and inst.control is not None:
            try:
                await inst.control.kick(rm.janus_room, secret=rm.secret,
                                               participant=plan.janus_participant_id(pm.peer_id))
            except JanusError as e:
                if e.code not in (VR_NO_SUCH_FEED, VR_NO_SUCH_ROOM):
                    log.warning("kick of %s failed: %s", pm.peer_id, e)
        for h in (pm.pub, pm.sub):
            if h is not None:
                with contextlib.suppress(JanusError):
                    await h.detach()

    async def _drop_room(self, rm: RoomMedia, *, destroy: bool) -> None:
        if self.rooms.get(rm.session_id) is rm:
            self.rooms.pop(rm.session_id, None)
        for pm in rm.peers.values():  # first stop listening: leaving makes Janus renegotiate the others
            for t in pm.tasks:
                t.cancel()
        for link in list(rm.links.values()):
            await link.close()
        rm.links.clear()
        await self._each([self._drop_peer(rm, pm, kick=False) for pm in list(rm.peers.values())])
        for inst in (rm.instance, *rm.edges.values()):
            inst.rooms.discard(rm.janus_room)
            if destroy and inst.up and inst.control is not None:
                try:
                    await inst.control.destroy_room(rm.janus_room, secret=rm.secret)
                except JanusError as e:
                    if e.code != VR_NO_SUCH_ROOM:
                        log.warning("destroying %s failed: %s", rm.janus_room, e)

    def _instance_lost(self, instance_id: str) -> None:
        """The instance's sessions and handles are gone with its socket: forget them here. Moving the
        rooms to another instance (a ``topology`` command with cause ``failover``) is the failover step."""
        for sid in self.rooms_on(instance_id):
            rm = self.rooms.pop(sid)
            for pm in rm.peers.values():
                for t in pm.tasks:
                    t.cancel()
            if rm.edges:  # the handles, cascaded copies and rooms on the edges that are still up go too
                self._spawn(self._drop_room(rm, destroy=True))
        # A lost edge: the room stays on its home, in a new Janus room (generation + 1) where its people
        # are placed again (the home, or another instance that is up) and every client renegotiates.
        for sid, rm in list(self.rooms.items()):
            if instance_id in rm.edges:
                rm.edges.pop(instance_id)
                self._spawn(self.relocate(sid, rm.instance.id))

    # ---- helpers -----------------------------------------------------------------------------------

    def _auto_subscribe(self, p: Peer) -> bool:
        """Whether the bridge subscribes this participant itself: not the recorder (server.sfu.recording
        subscribes it once per recorded person) nor a WHIP/WHEP terminal (server.sfu.terminals)."""
        if p.system:
            return False
        return bool(getattr(self.hub.conns.get(p.conn), "auto_subscribe", True))

    def _send(self, sid: int, peer_id: str, msg: dict[str, Any]) -> None:
        rep = self.hub.rooms.get(sid)
        p = rep.room.peers.get(peer_id) if rep is not None else None
        if p is None or p.node != self.hub.node_id:
            return
        conn = self.hub.conns.get(p.conn)
        if conn is not None:
            conn.send(msg)

    @staticmethod
    def _refuse(conn: Connection, code: str, message: str) -> str:
        conn.send({"type": "error", "code": code, "message": message, "ref": "sfu"})
        return code

    def _spawn(self, coro: Awaitable[Any]) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[Any]) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("sfu task failed", exc_info=t.exception())
