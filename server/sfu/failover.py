"""Moving the rooms of a Janus instance that died to the instances that are left.

An instance is lost when its WebSocket drops (Janus ends the sessions made over it at once, so every
handle and PeerConnection on it is gone: docs/sfu.md) or when its Admin API stops answering
(``server.sfu.load.LoadBoard.on_down``). Either way ``Failover.instance_lost`` runs once per loss:

1. the rooms placed on that instance are listed (``placements``: Concord's own record, not Janus's, as
   the dead instance cannot be asked);
2. each gets a new instance from the placement (least loaded, the dead one excluded; rooms placed during
   this failover count at once, so they spread over the survivors instead of piling on one);
3. the caller's ``move`` recreates the VideoRoom room there and makes every client renegotiate
   (publishers publish again, subscribers subscribe again: ``server.sfu.bridge``);
4. the move is reported through ``record`` with cause ``instance failover``, the instances, and how long
   the room took to move (the session ledger's entry; the video gap itself is measured by the tests).

Moves run concurrently, at most ``concurrency`` at a time, each bounded by ``move_timeout_s``. A room with
nowhere to go (no healthy instance left), or whose move fails, is reported with its error and left for
the next loss or for the caller to fall back (e.g. to the mesh, for a small room).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from server.rooms.hub import RoomHub
from server.sfu.cluster import JanusCluster, NoInstance

log = logging.getLogger("concord.sfu.failover")

CAUSE = "instance failover"


@dataclass(frozen=True)
class Move:
    """The outcome of moving one room: where from, where to (None: nowhere), how long, any error."""

    room: str
    source: str
    target: str | None
    seconds: float
    cause: str = CAUSE
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.target is not None and not self.error


Picker = Callable[[Iterable[str]], str | None]  # exclude -> instance, reserving it
Mover = Callable[[str, str, str], Awaitable[None]]  # room, source, target
Recorder = Callable[[Move], Awaitable[None] | None]


def plan_moves(rooms: Iterable[str], dead: str, pick: Picker, *, also_exclude: Iterable[str] = ()) -> dict[str, str | None]:
    """Room → new instance, picking one at a time so each pick sees the rooms placed before it."""
    exclude = {dead, *also_exclude}
    return {room: pick(exclude) for room in sorted(rooms)}


@dataclass
class Failover:
    """Keeps which room is on which instance and moves them when an instance is lost."""

    pick: Picker
    move: Mover
    record: Recorder | None = None
    concurrency: int = 8
    move_timeout_s: float = 30.0
    placements: dict[str, str] = field(default_factory=dict)
    # Where the rooms of an instance are listed from, if not from ``placements`` (e.g. the room hub's
    # replicas, which every node holds for its rooms: ``server.sfu.bridge``).
    rooms_of: Callable[[str], Iterable[str]] | None = None
    history: list[Move] = field(default_factory=list)
    history_max: int = 1000

    def __post_init__(self) -> None:
        self._lost: set[str] = set()
        self._running: dict[str, asyncio.Task[list[Move]]] = {}

    def placed(self, room: str, instance: str) -> None:
        self.placements[room] = instance

    def removed(self, room: str) -> None:
        self.placements.pop(room, None)

    def rooms_on(self, instance: str) -> list[str]:
        if self.rooms_of is not None:
            return sorted(self.rooms_of(instance))
        return sorted(r for r, i in self.placements.items() if i == instance)

    def recovered(self, instance: str) -> None:
        """The instance answers again (restarted, empty): it may take rooms and be lost again."""
        self._lost.discard(instance)

    async def instance_lost(self, instance: str, reason: str = "") -> list[Move]:
        """Move every room of ``instance``; a second report of the same loss joins the first."""
        running = self._running.get(instance)
        if running is not None:
            return await running
        if instance in self._lost:
            return []
        self._lost.add(instance)
        task = asyncio.ensure_future(self._move_all(instance, reason))
        self._running[instance] = task
        try:
            return await task
        finally:
            self._running.pop(instance, None)

    async def _move_all(self, instance: str, reason: str) -> list[Move]:
        rooms = self.rooms_on(instance)
        log.warning("Janus instance %s lost (%s): moving %d room(s)", instance, reason or "no reason", len(rooms))
        plan = plan_moves(rooms, instance, self.pick, also_exclude=self._lost)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(room: str, target: str | None) -> Move:
            t0 = time.monotonic()
            if target is None:
                return Move(room, instance, None, 0.0, error="no healthy Janus instance left")
            async with gate:
                try:
                    await asyncio.wait_for(self.move(room, instance, target), self.move_timeout_s)
                except TimeoutError:
                    return Move(room, instance, target, time.monotonic() - t0, error="move timed out")
                except Exception as e:  # one room's failure must not stop the others
                    log.exception("moving room %s from %s to %s failed", room, instance, target)
                    return Move(room, instance, target, time.monotonic() - t0, error=type(e).__name__)
            if self.placements.get(room) == instance:
                self.placements[room] = target
            return Move(room, instance, target, time.monotonic() - t0)

        moves = list(await asyncio.gather(*(one(r, t) for r, t in plan.items())))
        for m in moves:
            self.history.append(m)
            if self.record is not None:
                try:
                    res = self.record(m)
                    if res is not None:
                        await res
                except Exception:
                    log.exception("recording the move of room %s failed", m.room)
        del self.history[:-self.history_max]
        return moves


LostCallback = Callable[[str, str], Awaitable[object] | object]


async def watch_connection(closed: asyncio.Event, reason: Callable[[], str], instance: str,
                           on_lost: LostCallback) -> None:
    """Wait for a Janus connection's ``closed`` event; unless Concord closed it itself, report the
    instance lost. (``JanusConnection.closed`` and ``close_reason``.)"""
    await closed.wait()
    why = reason()
    if why == "closed by client":
        return
    res = on_lost(instance, why)
    if asyncio.iscoroutine(res):
        await res


def attach(hub: RoomHub, cluster: JanusCluster, *, cause: str = CAUSE) -> Failover:
    """Failover for this node's rooms: when the cluster loses an instance, every room of the hub on that
    instance gets a ``topology`` command to a new Janus room (``generation`` + 1) on the instance the
    cluster places it on. Every node with a replica of the room does the same; the room's log keeps the
    first command, the others (same generation) change nothing. The Room records the move (cause
    ``instance failover``) and, once every connected person's feed is up again, how long it took."""

    def rooms_of(instance: str) -> list[str]:
        return [str(sid) for sid, rep in hub.rooms.items()
                if rep.room.topology == "sfu" and rep.room.sfu_instance == instance and not rep.room.ended]

    def pick(exclude: Iterable[str]) -> str | None:
        try:
            chosen = cluster.place(0)
        except NoInstance:
            return None
        return None if chosen in set(exclude) else chosen

    async def move(room: str, source: str, target: str) -> None:
        rep = hub.rooms.get(int(room))
        if rep is None or rep.room.ended or rep.room.sfu_instance != source:
            return  # ended meanwhile, or another node's command moved it already
        await hub.submit(rep, {"op": "topology", "topology": "sfu", "cause": cause, "instance": target,
                               "generation": rep.room.sfu_generation + 1})

    fo = Failover(pick, move, rooms_of=rooms_of)
    tasks: set[asyncio.Task[list[Move]]] = set()

    def done(t: asyncio.Task[list[Move]]) -> None:
        tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("failover failed", exc_info=t.exception())
        elif not t.cancelled():
            for m in t.result():
                if not m.ok:
                    log.warning("room %s could not move off %s: %s", m.room, m.source, m.error)

    def lost(instance: str) -> None:
        t = asyncio.ensure_future(fo.instance_lost(instance, "socket closed"))
        tasks.add(t)
        t.add_done_callback(done)

    cluster.on_lost(lost)
    cluster.on_up(fo.recovered)
    return fo
