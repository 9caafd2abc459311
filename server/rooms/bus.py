"""The room bus: how the nodes serving one room see the same room.

Two primitives (docs/multinode.md explains the design):

- an ordered **command log per room**. Every state change (join, admit, move, chat, drop, ...) is appended
  to the room's log, and every node holding the room applies the log in order to its own replica of the
  pure ``Room``. Same commands, same order, same state: the replicas agree without a lock.
- **node mail**: a message to one node, used to relay ``signal`` messages to the node holding the target
  socket. Signals never enter the log (they change no state), so relaying stays one hop.

``LocalBus`` is the one-process default (the log is applied at once, in-process). ``RedisBus`` keeps each
room's log in a Redis stream (XADD / XREAD) and node mail on Redis pub/sub channels, and keeps a liveness
key per node so the others can release the places of a crashed node's peers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, cast

log = logging.getLogger("concord.bus")

ApplyFn = Callable[[str, dict[str, Any]], None]  # (position, command)
MailFn = Callable[[dict[str, Any]], None]
# Stream replies as RedisBus gets them (decode_responses=True, RESP2); redis-py types them as bytes | str.
StreamEntries = list[tuple[str, dict[str, str]]]
XReadReply = list[tuple[str, StreamEntries]]


def _cancelling() -> bool:
    """redis-py may turn a cancellation into TimeoutError; retry loops must still stop when cancelled."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def pos_key(pos: str) -> tuple[int, int]:
    """Stream positions ("<ms>-<seq>") in order."""
    a, _, b = pos.partition("-")
    return int(a), int(b or 0)


class Bus(ABC):
    name = "abstract"

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id

    @abstractmethod
    async def start(self, on_mail: MailFn) -> None:
        """Begin receiving node mail for this node."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def open_log(self, key: str, apply: ApplyFn) -> None:
        """Replay the room's log so far through ``apply``, then keep following it. Returns after the replay."""

    @abstractmethod
    async def close_log(self, key: str) -> None: ...

    @abstractmethod
    async def append(self, key: str, cmd: dict[str, Any]) -> None:
        """Append a command; every node following the log applies it, in log order."""

    @abstractmethod
    def send(self, node_id: str, msg: dict[str, Any]) -> None:
        """Mail one node (fire and forget; queued, never blocks the caller)."""

    @abstractmethod
    async def alive(self, node_ids: Iterable[str]) -> set[str]:
        """Which of these nodes are alive."""

    async def retire_log(self, key: str, ttl_s: int) -> None:  # noqa: B027  (optional for a bus)
        """The room ended: its log may go after ``ttl_s``. Nothing to do in-process."""
        return None


class LocalBus(Bus):
    """Everything in this process: the log is applied synchronously in append order."""

    name = "local"

    def __init__(self, node_id: str = "local") -> None:
        super().__init__(node_id)
        self._logs: dict[str, ApplyFn] = {}
        self._n = 0
        self._on_mail: MailFn | None = None

    async def start(self, on_mail: MailFn) -> None:
        self._on_mail = on_mail

    async def close(self) -> None:
        self._logs.clear()

    async def open_log(self, key: str, apply: ApplyFn) -> None:
        self._logs[key] = apply

    async def close_log(self, key: str) -> None:
        self._logs.pop(key, None)

    async def append(self, key: str, cmd: dict[str, Any]) -> None:
        self._n += 1
        apply = self._logs.get(key)
        if apply is not None:
            apply(f"0-{self._n}", cmd)

    def send(self, node_id: str, msg: dict[str, Any]) -> None:
        if node_id == self.node_id and self._on_mail is not None:
            self._on_mail(msg)

    async def alive(self, node_ids: Iterable[str]) -> set[str]:
        return {n for n in node_ids if n == self.node_id}


class RedisBus(Bus):
    """Room logs in Redis streams, node mail on pub/sub, node liveness as expiring keys."""

    name = "redis"
    HEARTBEAT_S = 3.0
    ALIVE_TTL_S = 10
    LOG_TTL_S = 24 * 3600  # a room's log outlives any session; refreshed on every append
    BLOCK_MS = 2000  # well under the socket timeout: an idle room's XREAD must not look like a dead Redis
    SOCKET_TIMEOUT_S = 10.0
    MAX_CONNECTIONS = 32

    def __init__(self, url: str, node_id: str, prefix: str = "concord") -> None:
        super().__init__(node_id)
        import redis.asyncio as aioredis

        self.url = url
        self.prefix = prefix
        # A blocking pool queues bursts (many joins at once) instead of failing them.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, health_check_interval=30, socket_timeout=self.SOCKET_TIMEOUT_S,
            socket_connect_timeout=5, max_connections=self.MAX_CONNECTIONS, timeout=self.SOCKET_TIMEOUT_S)
        self.redis = aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes its sockets
        # Every followed room log, read by one task with one XREAD over all of them (not a connection per
        # room): stream -> (last position, apply). The node's wake stream interrupts the XREAD when a room
        # is added.
        self._follow: dict[str, tuple[str, ApplyFn]] = {}
        self._wake_last = "$"
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None
        self._mail_q: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=100_000)

    def _stream(self, key: str) -> str:
        return f"{self.prefix}:room:{key}:log"

    def _mailbox(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:mail"

    def _alive_key(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:alive"

    def _wake_key(self) -> str:
        return f"{self.prefix}:node:{self.node_id}:wake"

    async def start(self, on_mail: MailFn) -> None:
        await self.redis.ping()
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._mailbox(self.node_id))
        await self.redis.set(self._alive_key(self.node_id), "1", ex=self.ALIVE_TTL_S)
        self._tasks = [asyncio.create_task(self._read_logs(), name="bus-logs"),
                       asyncio.create_task(self._receive_mail(on_mail), name="bus-mail-in"),
                       asyncio.create_task(self._send_mail(), name="bus-mail-out"),
                       asyncio.create_task(self._heartbeat(), name="bus-heartbeat")]

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        # redis-py can swallow a cancel that lands inside a blocking XREAD and then wait on the socket for
        # ever (1 close in 6 on this machine); closing the pool's sockets ends that read, and the loop sees
        # that it is being cancelled.
        await self.redis.connection_pool.disconnect()
        for t in self._tasks:
            try:
                await asyncio.wait_for(t, 3.0)
            except (asyncio.CancelledError, Exception):  # a cancelled read ends in Cancelled or ConnectionError
                if _cancelling():
                    raise
                if not t.done():
                    log.warning("bus task %s did not stop", t.get_name())
        self._tasks = []
        self._follow.clear()
        try:
            await self.redis.delete(self._alive_key(self.node_id), self._wake_key())
        except Exception:  # shutting down: Redis may already be gone
            pass
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:
                pass
        await self.redis.aclose()

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self.redis.set(self._alive_key(self.node_id), "1", ex=self.ALIVE_TTL_S)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if _cancelling():
                    raise
                log.warning("redis heartbeat failed: %s", type(e).__name__)
            await asyncio.sleep(self.HEARTBEAT_S)

    async def _receive_mail(self, on_mail: MailFn) -> None:
        while True:
            try:
                async for m in self._pubsub.listen():
                    if m.get("type") != "message":
                        continue
                    try:
                        on_mail(json.loads(m["data"]))
                    except Exception:
                        log.exception("node mail handler failed")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if _cancelling():
                    raise
                log.warning("redis mail subscription lost (%s); resubscribing", type(e).__name__)
                await asyncio.sleep(0.5)

    async def _send_mail(self) -> None:
        # One pipeline per batch: under load many signals leave in one round trip.
        while True:
            item = await self._mail_q.get()
            batch = [item]
            while not self._mail_q.empty() and len(batch) < 500:
                batch.append(self._mail_q.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if _cancelling():
                    raise
                log.warning("redis publish failed (%s); %d messages lost", type(e).__name__, len(batch))

    async def open_log(self, key: str, apply: ApplyFn) -> None:
        stream = self._stream(key)
        if stream in self._follow:
            return
        last = "0-0"
        while True:  # replay in pages
            entries = cast(StreamEntries, await self.redis.xrange(
                stream, min=f"({last}" if last != "0-0" else "-", count=1000))
            for eid, fields in entries:
                last = eid
                self._apply_entry(apply, eid, fields)
            if len(entries) < 1000:
                break
        self._follow[stream] = (last, apply)
        # Interrupt the reader's blocking XREAD so that it includes this room from now on.
        await self.redis.xadd(self._wake_key(), {"w": "1"}, maxlen=10, approximate=True)

    @staticmethod
    def _apply_entry(apply: ApplyFn, eid: str, fields: dict[str, str]) -> None:
        try:
            apply(eid, json.loads(fields["c"]))
        except Exception:
            log.exception("applying room command %s failed", eid)

    async def _read_logs(self) -> None:
        wake = self._wake_key()
        while True:
            # xread wants dict[KeyT, StreamIdT]; a dict[str, str] does not match the invariant unions.
            streams: dict[Any, Any] = {st: last for st, (last, _fn) in self._follow.items()}
            streams[wake] = self._wake_last
            try:
                resp = cast(XReadReply | None, await self.redis.xread(streams, block=self.BLOCK_MS, count=500))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if _cancelling():
                    raise
                log.warning("reading the room logs failed (%s); retrying", type(e).__name__)
                await asyncio.sleep(0.5)
                continue
            if self._wake_last == "$":
                self._wake_last = "0-0"  # from the first answer on, a wake-up is never missed
            for name, entries in resp or []:
                if name == wake:
                    self._wake_last = entries[-1][0]
                    continue
                for eid, fields in entries:
                    followed = self._follow.get(name)
                    if followed is None:
                        break  # closed meanwhile
                    self._follow[name] = (eid, followed[1])
                    self._apply_entry(followed[1], eid, fields)

    async def close_log(self, key: str) -> None:
        self._follow.pop(self._stream(key), None)

    async def append(self, key: str, cmd: dict[str, Any]) -> None:
        stream = self._stream(key)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(stream, {"c": json.dumps(cmd, ensure_ascii=False, separators=(",", ":"))})
            pipe.expire(stream, self.LOG_TTL_S)
            await pipe.execute()

    def send(self, node_id: str, msg: dict[str, Any]) -> None:
        try:
            self._mail_q.put_nowait((self._mailbox(node_id), json.dumps(msg, ensure_ascii=False, separators=(",", ":"))))
        except asyncio.QueueFull:
            log.warning("node mail queue full; dropping a message")

    async def alive(self, node_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(node_ids))
        if not ids:
            return set()
        values = await self.redis.mget([self._alive_key(n) for n in ids])
        return {n for n, v in zip(ids, values, strict=True) if v is not None} | ({self.node_id} & set(ids))

    async def retire_log(self, key: str, ttl_s: int) -> None:
        await self.redis.expire(self._stream(key), ttl_s)


def make_bus(redis_url: str | None, node_id: str, prefix: str = "concord") -> Bus:
    return RedisBus(redis_url, node_id, prefix) if redis_url else LocalBus(node_id)
