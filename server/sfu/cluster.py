"""The Janus instances this node drives (CONCORD_JANUS_URL): one control session per instance.

``JanusCluster`` keeps one WebSocket (``JanusConnection``) and one Janus session per instance. The
session holds a control handle (rooms: create, destroy, moderate, kick) and the participants' handles
that ``server.sfu.bridge`` attaches. Instances are named by a short id derived from their URL
(``instance_id``), the same on every node with the same configuration; the room log stores that id,
never the URL, and no id or URL reaches a browser.

Interfaces other parts build on (docs/sfu.md, "Interfaces"):
- ``place(session_id) -> instance id``: where a new room goes: the least-loaded instance that is up, by
  each instance's load from its Admin API (``server.sfu.load.LoadBoard``, with CONCORD_JANUS_ADMIN_URL),
  otherwise the one where this node has the fewest rooms;
- ``instance(id) -> JanusInstance`` (``.session``, ``.control``, ``.conn``, ``.up``, ``.rooms``);
- ``on_lost(callback)``: ``callback(instance_id)`` when an instance's socket drops (its sessions and
  handles are gone with it); the cluster reconnects in the background (``on_up`` when it is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from server.sfu.janus import JanusClosed, JanusConnection, JanusError, JanusSession, VideoRoomHandle
from server.sfu.load import LoadBoard, placement_score

log = logging.getLogger("concord.sfu")

LostCallback = Callable[[str], None]


def instance_id(url: str) -> str:
    """A stable short name for an instance (no secret, no address): ``j-`` + 8 hex digits."""
    return "j-" + hashlib.sha256(url.encode()).hexdigest()[:8]


class NoInstance(Exception):
    """No Janus instance is reachable."""


@dataclass(eq=False)
class JanusInstance:
    id: str
    url: str
    conn: JanusConnection | None = None
    session: JanusSession | None = None
    control: VideoRoomHandle | None = None
    rooms: set[str] = field(default_factory=set)  # Janus room ids this node uses here
    up: bool = False
    failures: int = 0

    def __repr__(self) -> str:
        return f"JanusInstance({self.id}, up={self.up}, rooms={len(self.rooms)})"


class JanusCluster:
    RETRY_S = 2.0

    def __init__(self, urls: tuple[str, ...] | list[str], api_secret: str, admin_key: str, *,
                 admin_secret: str | None = None, timeout: float = 10.0, load: LoadBoard | None = None) -> None:
        if not urls:
            raise ValueError("a cluster needs at least one Janus URL")
        self.instances: dict[str, JanusInstance] = {instance_id(u): JanusInstance(instance_id(u), u) for u in urls}
        self._api_secret = api_secret
        self.admin_key = admin_key
        self.admin_secret = admin_secret
        self.timeout = timeout
        self._lost: list[LostCallback] = []
        self._up: list[LostCallback] = []
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        # Each instance's load from its Admin API (probes named by instance id); polled while started.
        self.load = load
        self._load_task: asyncio.Task[None] | None = None
        if load is not None:
            load.on_down(self._health_failed)

    def __repr__(self) -> str:
        return f"JanusCluster({list(self.instances.values())!r})"

    # -- hooks --
    def on_lost(self, callback: LostCallback) -> None:
        """``callback(instance_id)`` when an instance's socket drops (called from the event loop)."""
        self._lost.append(callback)

    def on_up(self, callback: LostCallback) -> None:
        """``callback(instance_id)`` when an instance is connected (at start and after a reconnection)."""
        self._up.append(callback)

    # -- lifecycle --
    async def start(self, wait_s: float = 10.0) -> None:
        """Connect to every instance; returns once all are up or ``wait_s`` passed (the rest keep trying)."""
        for inst in self.instances.values():
            self._watchers[inst.id] = asyncio.create_task(self._watch(inst), name=f"janus-watch {inst.id}")
        if self.load is not None and self._load_task is None:
            self._load_task = asyncio.create_task(self.load.run(), name="janus-load")
        deadline = asyncio.get_running_loop().time() + wait_s
        while not all(i.up for i in self.instances.values()):
            if asyncio.get_running_loop().time() > deadline:
                down = [i.id for i in self.instances.values() if not i.up]
                log.warning("Janus instances not reachable yet: %s", ", ".join(down))
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self._closing = True
        tasks = [*self._watchers.values(), *([self._load_task] if self._load_task else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._load_task = None
        for inst in self.instances.values():
            if inst.conn is not None:
                with contextlib.suppress(Exception):
                    await inst.conn.close()
            inst.up = False

    async def _connect(self, inst: JanusInstance) -> None:
        conn = await JanusConnection.connect(inst.url, self._api_secret, timeout=self.timeout)
        try:
            session = await conn.create_session()
            control = await session.attach_videoroom(opaque_id="concord-control")
        except BaseException:
            await conn.close()
            raise
        inst.conn, inst.session, inst.control = conn, session, control
        inst.rooms.clear()
        inst.up, inst.failures = True, 0

    async def _watch(self, inst: JanusInstance) -> None:
        while not self._closing:
            try:
                await self._connect(inst)
            except (JanusError, OSError) as e:
                inst.failures += 1
                if inst.failures in (1, 10) or inst.failures % 100 == 0:
                    log.warning("Janus %s unreachable (%s); retrying", inst.id, type(e).__name__)
                await asyncio.sleep(self.RETRY_S)
                continue
            log.info("Janus %s connected", inst.id)
            if self.load is not None:
                self.load.mark_up(inst.id)
            for cb in list(self._up):
                self._call(cb, inst.id)
            assert inst.conn is not None and inst.session is not None
            ended = asyncio.ensure_future(inst.session.ended.wait())
            closed = asyncio.ensure_future(inst.conn.closed.wait())
            try:
                await asyncio.wait({ended, closed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
                closed.cancel()
            inst.up = False
            if self._closing:
                return
            if self.load is not None:  # placement skips it at once, not only after the next poll
                self.load.mark_down(inst.id, "socket closed")
            log.warning("Janus %s lost (%s)", inst.id, inst.conn.close_reason or inst.session.end_reason)
            with contextlib.suppress(Exception):
                await inst.conn.close()
            for cb in list(self._lost):
                self._call(cb, inst.id)
            await asyncio.sleep(self.RETRY_S)

    async def _health_failed(self, iid: str, error: str) -> None:
        """The instance's Admin API failed ``load.down_after`` polls in a row while its socket looks up (a
        frozen or unreachable host whose TCP connection has not broken yet): treat it as lost, as if the
        socket had dropped, so its rooms move now rather than when the heartbeat gives up."""
        inst = self.instances.get(iid)
        if inst is None or not inst.up or inst.conn is None or self._closing:
            return
        log.warning("Janus %s failed its health check (%s): treated as lost", iid, error)
        await inst.conn.abort("health check failed")

    @staticmethod
    def _call(cb: LostCallback, iid: str) -> None:
        try:
            cb(iid)
        except Exception:
            log.exception("Janus cluster callback failed")

    # -- placement --
    def _load(self, inst: JanusInstance) -> float:
        """How busy an instance is without Admin API figures: the rooms this node uses there."""
        return float(len(inst.rooms))

    def place(self, session_id: int) -> str:
        """The instance a new room of ``session_id`` goes to: the least loaded one that is up (by the
        Admin API's figures when there are any; rooms placed since the last poll count at once)."""
        up = [i for i in self.instances.values() if i.up]
        if not up:
            raise NoInstance("no Janus instance is reachable")
        if self.load is not None:
            chosen = self.load.place(among=[i.id for i in up])
            if chosen is not None:
                return chosen
            # every instance that is up is full or failing its polls: fall back rather than refuse
        return min(up, key=lambda i: (self._load(i), i.id)).id

    def up_ids(self) -> list[str]:
        return [i.id for i in self.instances.values() if i.up and i.session is not None and i.control is not None]

    def scores(self) -> dict[str, float]:
        """Each instance's load score from its Admin API (lower: less loaded); empty without a board."""
        if self.load is None:
            return {}
        return {iid: placement_score(ld, pending_rooms=self.load.pending.get(iid, 0), weights=self.load.weights)
                for iid, ld in self.load.loads.items()}

    def instance(self, iid: str | None) -> JanusInstance:
        """An instance that is up (``NoInstance`` if unknown or down)."""
        inst = self.instances.get(iid or "")
        if inst is None or not inst.up or inst.session is None or inst.control is None:
            raise NoInstance(f"Janus instance {iid} is not available")
        return inst

    def is_up(self, iid: str | None) -> bool:
        inst = self.instances.get(iid or "")
        return inst is not None and inst.up


__all__ = ["JanusCluster", "JanusClosed", "JanusInstance", "NoInstance", "instance_id"]
