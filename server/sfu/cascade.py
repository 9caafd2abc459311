"""Cascading a publisher's feed from one Janus instance to others, for briefings larger than one instance.

Janus 1.1.2's VideoRoom supports **remote publishers**, so that is what Concord uses (checked in the
packaged plugin and its source, ``src/plugins/janus_videoroom.c`` at v1.1.2):

- on the target instance B, ``add_remote_publisher`` (room secret required) creates a publisher that has
  no PeerConnection: it listens for plain RTP on a UDP port (and RTCP on another) and appears in B's room
  like any publisher (``listparticipants`` marks it ``remote``). B's subscribers subscribe to it as to a
  local feed, with the same ``feed`` id as on A;
- on the source instance A, ``publish_remotely`` (room secret and, with ``lock_rtp_forward``, the
  VideoRoom admin key) adds an RTP forwarder per stream of the local publisher to that port. The SSRC of
  each forwarded stream encodes its m-line index (1000 + 10 × mindex, + 1 and + 2 for simulcast layers),
  which is how B maps packets to streams; simulcast layers are forwarded too;
- keyframes: B sends a subscriber's PLI to the RTCP address it latched from A's forwarder, and A passes it
  to the publisher, so a subscriber joining on B gets a picture at once.

Why remote publishers rather than ``rtp_forward`` into a publisher on B: they are the same mechanism
(an RTP forwarder on A), but a remote publisher is a first-class feed on B (subscriptions, simulcast
layers, moderation, ``remote`` in the participant list) with a PLI path back to A. A plain RTP participant
on B would need a Concord-side WebRTC re-publisher (CPU in Python, which issue 13 rules out) or the
Streaming plugin (not a VideoRoom feed).

Limits of 1.1.2: only local publishers can be remotized (its ``publish_remotely`` refuses a remote
one), so the cascade is a star rooted at the host's instance, not a deeper tree: A forwards one plain-RTP
copy of each stream per target instance. The RTP is not encrypted (SRTP for remotization is not exposed
by ``publish_remotely``): the cascade runs on a private network between Janus hosts.

Security:
- B's RTP/RTCP sockets are bound to ``bind`` (``iface`` of ``add_remote_publisher``): 127.0.0.1 when all
  instances share one host, the private inter-Janus address otherwise; never the public address. Their
  ports are picked by B from the plugin's range (10000-60000 in 1.1.2, not configurable), so the firewall
  admits that range on the private interface only, from the other Janus hosts only (docs/operations.md).
- Only Concord holds the room secrets and the admin key; without them both requests are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.sfu.janus import VR_NO_SUCH_FEED, VR_NO_SUCH_ROOM, JanusError, VideoRoomHandle

log = logging.getLogger("concord.sfu.cascade")

VR_ID_EXISTS = 436  # VideoRoom: a participant with this id is already in the room
ID_BUSY_WAIT_S = 3.0

JSON = dict[str, Any]


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a publisher as Janus describes it: m-line index, type (audio/video/data), codec."""

    mindex: int
    type: str
    codec: str = ""
    mid: str = ""
    simulcast: bool = False
    disabled: bool = False

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> StreamInfo:
        return cls(int(d["mindex"]), str(d["type"]), str(d.get("codec") or ""), str(d.get("mid") or ""),
                   bool(d.get("simulcast")), bool(d.get("disabled")))


def streams_from(items: Iterable[Mapping[str, Any]]) -> list[StreamInfo]:
    """Streams from a ``publishers`` event entry or from the Admin API's ``handle_info``
    (``plugin_specific.streams``) of the publisher's handle."""
    return sorted((StreamInfo.parse(s) for s in items), key=lambda s: s.mindex)


def remote_streams(streams: Sequence[StreamInfo]) -> list[JSON]:
    """The ``streams`` of ``add_remote_publisher``. B numbers a remote publisher's streams 0, 1, 2 ... in
    the order given, and A's forwarder tags each packet with its own m-line index: every index up to the
    last one must be present, so a gap (say a data channel Concord does not relay) becomes a disabled
    placeholder."""
    by_index = {s.mindex: s for s in streams}
    out: list[JSON] = []
    for i in range(max(by_index) + 1 if by_index else 0):
        s = by_index.get(i)
        if s is None or s.type not in ("audio", "video"):
            out.append({"mid": str(i), "mindex": i, "type": "data", "disabled": True})
            continue
        d: JSON = {"mid": str(i), "mindex": i, "type": s.type, "codec": s.codec}
        if s.type == "video" and s.simulcast:
            d["simulcast"] = True
        if s.disabled:
            d["disabled"] = True
        out.append(d)
    if not any(d["type"] in ("audio", "video") and not d.get("disabled") for d in out):
        raise ValueError("nothing to cascade: the feed has no enabled audio or video stream")
    return out


@dataclass(frozen=True)
class RoomOn:
    """A VideoRoom room on one instance, as Concord drives it: its label, a control handle, the room id
    and the room secret (which only Concord holds)."""

    instance: str
    handle: VideoRoomHandle
    room: str
    secret: str

    def __repr__(self) -> str:
        return f"RoomOn({self.instance!r}, {self.room!r})"


@dataclass
class CascadeLink:
    """A feed of room ``source`` forwarded as a remote publisher into room ``target``."""

    source: RoomOn
    target: RoomOn
    feed: str
    remote_id: str
    host: str
    port: int
    rtcp_port: int
    admin_key: str | None
    closed: bool = False

    def __repr__(self) -> str:
        return (f"CascadeLink({self.feed!r}: {self.source.instance} -> {self.target.instance} "
                f"{self.host}:{self.port})")

    async def close(self) -> None:
        """Stop forwarding on A and remove the remote publisher on B; either may be gone already (an
        instance died, the room was destroyed), which is not an error."""
        if self.closed:
            return
        self.closed = True
        body: JSON = {"request": "unpublish_remotely", "room": self.source.room, "secret": self.source.secret,
                      "publisher_id": self.feed, "remote_id": self.remote_id}
        if self.admin_key:
            body["admin_key"] = self.admin_key
        with contextlib.suppress(JanusError):
            await self.source.handle.message(body)
        with contextlib.suppress(JanusError):
            await remove_remote_publisher(self.target, self.feed)


async def remove_remote_publisher(target: RoomOn, feed: str, *, wait_s: float = 3.0) -> None:
    """Remove a remote publisher and wait (at most ``wait_s``) until B has let it go: B only marks it
    leaving, and its thread finishes within a second, so the id is busy until then."""
    try:
        await target.handle.message({"request": "remove_remote_publisher", "room": target.room,
                                     "secret": target.secret, "id": feed})
    except JanusError as e:
        if e.code not in (VR_NO_SUCH_ROOM, VR_NO_SUCH_FEED):
            raise
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            people = await target.handle.list_participants(target.room)
        except JanusError:
            return
        if not any(str(p.get("id")) == feed for p in people):
            return
        await asyncio.sleep(0.1)


async def cascade(source: RoomOn, target: RoomOn, *, feed: str, streams: Sequence[StreamInfo],
                  admin_key: str | None, bind: str = "127.0.0.1", display: str = "",
                  ports: tuple[int, int] | None = None) -> CascadeLink:
    """Make ``feed`` (a local publisher of ``source``) a remote publisher with the same id in ``target``.

    ``bind`` is the address B listens on for the forwarded RTP (see the module docstring); ``ports`` the
    RTP and RTCP ports there, when the firewall between Janus hosts admits a fixed few rather than B's
    10000-60000 (None: B picks). On failure nothing is left behind: a remote publisher created on B is
    removed again."""
    if source.instance == target.instance and source.room == target.room:
        raise ValueError("a feed cannot be cascaded into its own room")
    add: JSON = {"request": "add_remote_publisher", "room": target.room, "secret": target.secret, "id": feed,
                 "iface": bind, "streams": remote_streams(streams)}
    if ports is not None:
        if not all(0 < p < 65536 for p in ports) or ports[0] == ports[1]:
            raise ValueError(f"bad cascade ports {ports}")
        add["port"], add["rtcp_port"] = ports
    if display:
        add["display"] = display
    deadline = time.monotonic() + ID_BUSY_WAIT_S
    while True:
        try:
            data, _ = await target.handle.message(add)
            break
        except JanusError as e:
            # A remote publisher with this id that is still leaving (a cascade just closed) holds the id
            # for up to a second; anything else, or a longer wait, is an error.
            if e.code != VR_ID_EXISTS or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    host = str(data.get("ip") or bind)
    port, rtcp_port = int(data["port"]), int(data.get("rtcp_port") or 0)
    remote_id = f"cascade-{target.instance}-{target.room}"
    fwd: JSON = {"request": "publish_remotely", "room": source.room, "secret": source.secret,
                 "publisher_id": feed, "remote_id": remote_id, "host": host, "port": port}
    if rtcp_port:
        fwd["rtcp_port"] = rtcp_port
    if admin_key:
        fwd["admin_key"] = admin_key
    try:
        await source.handle.message(fwd)
    except BaseException:
        with contextlib.suppress(JanusError):
            await remove_remote_publisher(target, feed)
        raise
    link = CascadeLink(source, target, feed, remote_id, host, port, rtcp_port, admin_key)
    log.info("cascaded feed %s from %s to %s", feed, source.instance, target.instance)
    return link


async def list_remotes(source: RoomOn, feed: str, *, admin_key: str | None) -> list[JSON]:
    """The remotizations of a local publisher on its instance (``listremotes``)."""
    body: JSON = {"request": "listremotes", "room": source.room, "secret": source.secret, "publisher_id": feed}
    if admin_key:
        body["admin_key"] = admin_key
    data, _ = await source.handle.message(body)
    return list(data.get("list") or [])


@dataclass(frozen=True)
class CascadePlan:
    """How a briefing's viewers spread over instances: the host's instance serves ``source_viewers`` and
    forwards the host's feed to ``len(edge_viewers)`` other instances, each serving that many viewers."""

    source_viewers: int
    edge_viewers: tuple[int, ...]

    @property
    def instances(self) -> int:
        return 1 + len(self.edge_viewers)


def plan_cascade(viewers: int, *, capacity: int, forward_cost: float = 1.0) -> CascadePlan:
    """Spread ``viewers`` subscribers over the fewest instances, each serving at most ``capacity``
    subscriber-equivalents. The source instance pays ``forward_cost`` subscriber-equivalents per edge
    instance it forwards to (one plain-RTP copy of each stream, no SRTP: at most a subscriber's cost).
    In 1.1.2 the cascade is a star (only local publishers can be remotized), so the source's spare capacity
    also bounds the number of edges; past that, raise ``capacity`` (bigger hosts) or the host publishes
    to two instances."""
    if viewers < 0 or capacity < 1:
        raise ValueError("viewers must be >= 0 and capacity >= 1")
    if viewers <= capacity:
        return CascadePlan(viewers, ())
    # Edge instances run full; the source keeps what is left after paying for its forwards.
    edges = 1
    while True:
        source_room = capacity - forward_cost * edges
        if source_room < 0:
            raise ValueError(f"{viewers} viewers need more edges than one source instance can feed "
                             f"at capacity {capacity}")
        if source_room + edges * capacity >= viewers:
            break
        edges += 1
    source = min(viewers, math.floor(source_room))
    rest = viewers - source
    # Spread the rest evenly over the edges (differences of at most one viewer).
    base, extra = divmod(rest, edges)
    return CascadePlan(source, tuple(base + (1 if i < extra else 0) for i in range(edges)))
