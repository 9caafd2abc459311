"""Load of each Janus instance, read through the Admin API, and the least-loaded placement of new rooms.

What one poll reads from one instance (Janus 1.1.2; every request carries the admin secret):

- ``message_plugin`` → VideoRoom ``list`` (with the VideoRoom admin key, so private rooms are listed too):
  the rooms and their participant counts;
- ``message_plugin`` → VideoRoom ``listparticipants`` per room: who publishes (``publisher: true``), and
  which of them are cascaded in from another instance (``remote: true``, see ``server.sfu.cascade``);
- ``list_sessions``, ``list_handles`` and ``handle_info`` per handle: the VideoRoom role of each handle
  (``plugin_specific.type``: ``publisher`` or ``subscriber``) and its PeerConnection's byte counters
  (``webrtc.media.<mid>.stats.out.bytes_lastsec``): what Janus sent in the last second to that peer. The sum
  over every handle is the instance's forwarded bitrate.

Bounds: a poll reads at most ``max_handles`` handles: past that a random sample of them, whose counts are
scaled to all handles (the load says so with ``truncated``); at most ``concurrency`` requests are in flight
over one kept-alive HTTP session, every request has the Admin API's timeout and the whole poll has its own
(``poll_timeout``). Measured: 400 handles take 0.9 s, 0.19 s of Concord's CPU and 0.06 s of Janus's. A poll that fails marks the
instance unhealthy (``ok`` false, ``error`` the exception's class name only: no URL with a secret, no
answer body); placement skips it.

Placement (``placement_score``, ``pick_instance``) is pure: the score grows with subscribers (each costs
Janus one outgoing copy of every stream, the measured cost in docs/scaling.md), publishers and the
forwarded bitrate; rooms placed since the last poll (``LoadBoard.reserve``) count as if they had already
arrived, so a burst of new rooms is spread instead of piling on the instance that looked idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from server.sfu.janus import VIDEOROOM, JanusAdmin, JanusError

log = logging.getLogger("concord.sfu.load")

JSON = dict[str, Any]


def instance_label(url: str) -> str:
    """``host:port`` of an instance URL, the only name metrics and logs use (no path, query or userinfo)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or {"ws": 80, "http": 80, "wss": 443, "https": 443}.get(parts.scheme, 0)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


@dataclass(frozen=True)
class InstanceLoad:
    """One poll of one instance. ``forwarded_bps``: bits per second Janus sent to its peers (the last
    second's byte counters); ``received_bps`` what it received from publishers."""

    instance: str
    ok: bool
    rooms: int = 0
    participants: int = 0
    publishers: int = 0
    remote_publishers: int = 0
    subscribers: int = 0
    forwarded_bps: int = 0
    received_bps: int = 0
    sessions: int = 0
    handles: int = 0
    sampled_handles: int = 0
    truncated: bool = False
    error: str = ""
    polled_at: float = 0.0  # time.monotonic()
    poll_s: float = 0.0

    @classmethod
    def down(cls, instance: str, error: str, *, polled_at: float | None = None) -> InstanceLoad:
        return cls(instance, False, error=error, polled_at=time.monotonic() if polled_at is None else polled_at)


@dataclass(frozen=True)
class Weights:
    """Placement weights: what one unit of each costs, in "subscriber equivalents". A subscriber is the unit
    (Janus sends it one copy of each stream); a publisher costs a little more (it is received, decrypted
    and fanned out); forwarded megabits cover large simulcast layers; a room costs a fixed overhead."""

    subscriber: float = 1.0
    publisher: float = 1.5
    mbps: float = 0.5
    room: float = 0.25
    # An instance past this many subscribers takes no new room (0: no cap). docs/scaling.md derives it.
    max_subscribers: int = 0


def placement_score(load: InstanceLoad, *, pending_rooms: int = 0, weights: Weights = Weights()) -> float:
    """Lower is better; ``inf`` for an instance that must not take a new room (down, or full)."""
    if not load.ok:
        return math.inf
    if weights.max_subscribers and load.subscribers >= weights.max_subscribers:
        return math.inf
    return (weights.subscriber * load.subscribers + weights.publisher * load.publishers
            + weights.mbps * load.forwarded_bps / 1e6 + weights.room * (load.rooms + pending_rooms))


def pick_instance(loads: Iterable[InstanceLoad], *, pending: Mapping[str, int] | None = None,
                  exclude: Iterable[str] = (), weights: Weights = Weights()) -> str | None:
    """The least-loaded healthy instance (ties: fewer rooms, then name), or None if none may take a room."""
    pending = pending or {}
    skip = set(exclude)
    best: tuple[float, int, str] | None = None
    for load in loads:
        if load.instance in skip:
            continue
        p = pending.get(load.instance, 0)
        score = placement_score(load, pending_rooms=p, weights=weights)
        if math.isinf(score):
            continue
        key = (score, load.rooms + p, load.instance)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def _count_handle(info: Mapping[str, Any]) -> tuple[str, int, int]:
    """(VideoRoom role, bytes sent last second, bytes received last second) from one ``handle_info``."""
    plugin = info.get("plugin_specific") or {}
    role = str(plugin.get("type") or "none") if info.get("plugin") == VIDEOROOM else "other"
    out_b = in_b = 0
    media = ((info.get("webrtc") or {}).get("media")) or {}
    for m in media.values() if isinstance(media, Mapping) else ():
        stats = (m or {}).get("stats") or {}
        out_b += int(((stats.get("out") or {}).get("bytes_lastsec")) or 0)
        s_in = stats.get("in") or {}
        in_b += int(s_in.get("bytes_lastsec") or 0)
        for layer in ("video-simulcast-1", "video-simulcast-2"):
            in_b += int(((s_in.get(layer) or {}).get("bytes_lastsec")) or 0)
    return role, out_b, in_b


async def _videoroom(admin: JanusAdmin, body: JSON) -> JSON:
    """A synchronous VideoRoom request through the Admin API (``message_plugin``)."""
    r = await admin.request("message_plugin", plugin=VIDEOROOM, request=body)
    data = dict(r.get("response") or {})
    if "error_code" in data:
        raise JanusError(int(data.get("error_code") or 0), str(data.get("error") or ""),
                         f"admin/videoroom/{body.get('request')}")
    return data


async def poll_instance(admin: JanusAdmin, *, instance: str, admin_key: str | None, max_handles: int = 1000,
                        concurrency: int = 8) -> InstanceLoad:
    """Read one instance's load (see the module docstring). Raises ``JanusError`` when it cannot be read."""
    async with admin.pooled():
        return await _poll(admin, instance=instance, admin_key=admin_key, max_handles=max_handles,
                           concurrency=concurrency)


async def _poll(admin: JanusAdmin, *, instance: str, admin_key: str | None, max_handles: int,
                concurrency: int) -> InstanceLoad:
    t0 = time.monotonic()
    key = {"admin_key": admin_key} if admin_key else {}
    rooms = list((await _videoroom(admin, {"request": "list", **key})).get("list") or [])
    participants = sum(int(r.get("num_participants") or 0) for r in rooms)
    gate = asyncio.Semaphore(concurrency)

    async def people(room: JSON) -> list[JSON]:
        async with gate:
            try:
                data = await _videoroom(admin, {"request": "listparticipants", "room": room.get("room")})
            except JanusError as e:
                if e.code == 426:  # destroyed between list and listparticipants
                    return []
                raise
        return list(data.get("participants") or [])

    lists = await asyncio.gather(*(people(r) for r in rooms))
    publishing = [p for ps in lists for p in ps if p.get("publisher")]
    remote = sum(1 for p in publishing if p.get("remote"))

    sessions = await admin.list_sessions()

    async def handles_of(sid: int) -> list[tuple[int, int]]:
        async with gate:
            with contextlib.suppress(JanusError):  # the session ended meanwhile
                return [(sid, h) for h in await admin.list_handles(sid)]
        return []

    pairs = [p for hs in await asyncio.gather(*(handles_of(s) for s in sessions)) for p in hs]
    # Past max_handles a random sample is read and its counts scaled up (an estimate, flagged truncated).
    sample = random.sample(pairs, max_handles) if len(pairs) > max_handles else pairs
    scale = len(pairs) / len(sample) if sample else 1.0

    async def info(sid: int, hid: int) -> tuple[str, int, int]:
        async with gate:
            try:
                return _count_handle(await admin.handle_info(sid, hid))
            except JanusError:  # detached meanwhile
                return "gone", 0, 0

    counted = await asyncio.gather(*(info(s, h) for s, h in sample))
    subscribers = round(scale * sum(1 for role, _, _ in counted if role == "subscriber"))
    out_b = round(scale * sum(o for _, o, _ in counted))
    in_b = round(scale * sum(i for _, _, i in counted))
    return InstanceLoad(instance, True, rooms=len(rooms), participants=participants,
                        publishers=len(publishing) - remote, remote_publishers=remote,
                        subscribers=subscribers, forwarded_bps=out_b * 8, received_bps=in_b * 8,
                        sessions=len(sessions), handles=len(pairs), sampled_handles=len(sample),
                        truncated=len(pairs) > len(sample), polled_at=time.monotonic(),
                        poll_s=time.monotonic() - t0)


@dataclass
class Probe:
    """How to read one instance: the name placement knows it by (``instance``: the cluster's instance id),
    its Admin API, and the label metrics show (``label``: ``host:port`` of its WebSocket API URL; by default
    the same as ``instance``)."""

    instance: str
    admin: JanusAdmin
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.instance

    def __repr__(self) -> str:
        return f"Probe({self.instance!r}, {self.label!r})"


@dataclass
class LoadBoard:
    """The last load of every instance, refreshed by ``poll_once``/``run``, and the placement on top of it.

    ``reserve(instance)`` records a room placed since the last poll; the next successful poll of that
    instance clears it (the room is in the numbers by then). A failed poll takes the instance out of
    placement at once; ``on_down`` callbacks run when it has failed ``down_after`` polls in a row (the
    cluster then treats it as lost, as if its socket had dropped: a health check)."""

    probes: Sequence[Probe]
    admin_key: str | None
    weights: Weights = field(default_factory=Weights)
    interval_s: float = 10.0
    poll_timeout_s: float = 8.0
    max_handles: int = 1000
    concurrency: int = 8
    loads: dict[str, InstanceLoad] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    polls: int = 0
    failures: int = 0
    down_after: int = 2
    consecutive: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._down_callbacks: list[Callable[[str, str], Any]] = []
        if self.interval_s <= 0 or self.poll_timeout_s <= 0:
            raise ValueError("interval_s and poll_timeout_s must be positive")

    def __repr__(self) -> str:
        return f"LoadBoard({[p.instance for p in self.probes]}, interval={self.interval_s:g}s)"

    def on_down(self, callback: Callable[[str, str], Any]) -> None:
        self._down_callbacks.append(callback)

    def reserve(self, instance: str) -> None:
        self.pending[instance] = self.pending.get(instance, 0) + 1

    def release(self, instance: str) -> None:
        if self.pending.get(instance, 0) > 0:
            self.pending[instance] -= 1

    def pick(self, *, exclude: Iterable[str] = (), among: Iterable[str] | None = None) -> str | None:
        """The least-loaded healthy instance (of ``among``, if given); one never polled yet counts as
        empty."""
        allowed = set(among) if among is not None else None
        loads = [self.loads.get(p.instance) or InstanceLoad(p.instance, True) for p in self.probes
                 if allowed is None or p.instance in allowed]
        return pick_instance(loads, pending=self.pending, exclude=exclude, weights=self.weights)

    def place(self, *, exclude: Iterable[str] = (), among: Iterable[str] | None = None) -> str | None:
        """``pick`` and ``reserve`` in one step."""
        chosen = self.pick(exclude=exclude, among=among)
        if chosen is not None:
            self.reserve(chosen)
        return chosen

    async def _poll(self, probe: Probe) -> InstanceLoad:
        try:
            return await asyncio.wait_for(
                poll_instance(probe.admin, instance=probe.instance, admin_key=self.admin_key,
                              max_handles=self.max_handles, concurrency=self.concurrency),
                self.poll_timeout_s)
        except TimeoutError:
            return InstanceLoad.down(probe.instance, "poll timeout")
        except JanusError as e:
            return InstanceLoad.down(probe.instance, type(e).__name__ + (f" {e.code}" if e.code else ""))
        except (OSError, ValueError, KeyError, TypeError) as e:  # a malformed answer: unhealthy, not a crash
            return InstanceLoad.down(probe.instance, type(e).__name__)

    async def poll_once(self) -> list[InstanceLoad]:
        results = await asyncio.gather(*(self._poll(p) for p in self.probes))
        self.polls += 1
        for load in results:
            before = self.loads.get(load.instance)
            self.loads[load.instance] = load
            if load.ok:
                self.pending.pop(load.instance, None)
                self.consecutive.pop(load.instance, None)
                continue
            self.failures += 1
            n = self.consecutive[load.instance] = self.consecutive.get(load.instance, 0) + 1
            if before is None or before.ok:
                # Label and error class only: the Admin API URL and its secret are never logged.
                log.warning("Janus instance %s failed its load poll (%s)", load.instance, load.error)
            if n == self.down_after:
                for cb in list(self._down_callbacks):
                    try:
                        res = cb(load.instance, load.error)
                        if asyncio.iscoroutine(res):
                            await res
                    except Exception:
                        log.exception("on_down callback failed for %s", load.instance)
        return results

    async def run(self) -> None:
        """Poll every ``interval_s`` until cancelled."""
        while True:
            try:
                await self.poll_once()
            except Exception:  # a bug in one poll must not stop the polling (placement would go stale)
                log.exception("Janus load poll failed")
            await asyncio.sleep(self.interval_s)

    def samples(self) -> list[tuple[str, str, dict[str, str], float]]:
        """Prometheus samples ``(name, help, labels, value)`` per instance (label ``instance``, no secret)."""
        out: list[tuple[str, str, dict[str, str], float]] = []
        rows: list[tuple[str, str, Callable[[InstanceLoad], float]]] = [
            ("concord_janus_up", "1 if the last Admin API poll of the Janus instance succeeded",
             lambda x: 1.0 if x.ok else 0.0),
            ("concord_janus_rooms", "VideoRoom rooms on the Janus instance", lambda x: x.rooms),
            ("concord_janus_publishers", "WebRTC publishers on the Janus instance", lambda x: x.publishers),
            ("concord_janus_remote_publishers", "feeds cascaded in from another Janus instance",
             lambda x: x.remote_publishers),
            ("concord_janus_subscribers", "subscriber PeerConnections on the Janus instance",
             lambda x: x.subscribers),
            ("concord_janus_forwarded_bits_per_second", "bits per second the Janus instance sent to its peers",
             lambda x: x.forwarded_bps),
            ("concord_janus_received_bits_per_second", "bits per second the Janus instance received",
             lambda x: x.received_bps),
            ("concord_janus_handles", "plugin handles on the Janus instance", lambda x: x.handles),
            ("concord_janus_poll_seconds", "duration of the last Admin API poll", lambda x: x.poll_s),
        ]
        for p in self.probes:
            load = self.loads.get(p.instance)
            if load is None:
                continue
            for name, help_text, fn in rows:
                out.append((name, help_text, {"instance": p.label}, float(fn(load))))
        return out

    def mark_up(self, instance: str) -> None:
        """The instance's socket is back (a restarted Janus holds no rooms): placement may use it again
        before its next poll."""
        prev = self.loads.get(instance)
        if prev is not None and not prev.ok:
            self.loads[instance] = InstanceLoad(instance, True, polled_at=time.monotonic())
        self.consecutive.pop(instance, None)

    def mark_down(self, instance: str, error: str) -> None:
        """Record an instance as down without a poll (its socket dropped): placement skips it at once."""
        prev = self.loads.get(instance)
        self.loads[instance] = (replace(prev, ok=False, error=error) if prev is not None
                                else InstanceLoad.down(instance, error))


def load_board(urls: Sequence[str], admin_urls: Sequence[str], admin_secret: str | None, admin_key: str | None,
               *, name: Callable[[str], str], interval_s: float = 10.0) -> LoadBoard | None:
    """The board for CONCORD_JANUS_URL / CONCORD_JANUS_ADMIN_URL (same order), or None without Admin URLs.
    ``name`` turns an instance's WebSocket URL into the id placement uses (``cluster.instance_id``); the
    metrics label is the URL's ``host:port``."""
    if not admin_urls or not admin_secret:
        return None
    if len(admin_urls) != len(urls):
        raise ValueError("one Admin API URL per Janus instance, in the same order")
    probes = [Probe(name(u), JanusAdmin(a, admin_secret), instance_label(u)) for u, a in zip(urls, admin_urls, strict=True)]
    # A poll may take most of an interval, never more than 8 s (400 handles: 0.9 s).
    return LoadBoard(probes, admin_key, interval_s=interval_s, poll_timeout_s=min(8.0, max(1.0, 0.8 * interval_s)))
