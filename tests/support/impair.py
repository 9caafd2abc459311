"""An impairing UDP relay: an emulated weak link for media tests and benches (not product code).

The kernel here has ``tc`` rate limits but no ``netem``, so delay and loss are made in userspace. The
relay sits between a party and its TURN server (``tests/support/turn.py``): the party's ICE is forced
through TURN (``iceTransportPolicy: relay``) at the relay's address, so every media packet it sends or
receives crosses the relay.

Each direction is shaped on its own, in this order:

1. **loss**: each datagram is dropped with probability ``loss`` (``random.Random(seed)``: one stream of
   draws per direction, so a run is reproducible given the same packet sequence);
2. **rate**: a token bucket of ``rate_bps`` with ``burst_bytes`` of depth, counted on UDP payload bytes
   (IP and UDP headers are not counted). Datagrams wait in a FIFO when the bucket is empty; the FIFO
   holds at most ``queue_bytes`` and a datagram that does not fit is dropped (tail drop, counted in
   ``overflow``): nothing is buffered without a bound;
3. **delay**: a fixed one-way ``delay_s`` after leaving the bucket.

The defaults are issue 13's link, 500 kbps each way, 5% loss each way, and a fixed 100 ms each way, so a
round trip takes 200 ms plus queueing. (``delay_s=0.2`` gives a 200 ms one-way delay instead.)

Topology: the relay listens on one socket; every client address that sends to it gets its own upstream
socket towards ``target`` (like a NAT mapping, at most ``max_clients``). Datagrams from the target come
back to the client that owns the upstream socket; datagrams from anyone else are ignored.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Addr = tuple[str, int]


@dataclass(frozen=True)
class Impairment:
    rate_bps: int = 500_000
    delay_s: float = 0.100
    loss: float = 0.05
    # 0.8 s of queue at 500 kbps, like the buffer of a mobile or DSL link: a key frame (up to ~1 s of a
    # 300 kbps CBR encoder's budget) fits in it; a sender that stays above the rate sees losses, not an
    # ever-growing delay.
    queue_bytes: int = 50_000
    burst_bytes: int = 4_000
    seed: int = 13

    def __post_init__(self) -> None:
        if self.rate_bps <= 0 or self.queue_bytes <= 0 or self.burst_bytes <= 0:
            raise ValueError("rate_bps, queue_bytes and burst_bytes must be positive")
        if not 0.0 <= self.loss < 1.0 or self.delay_s < 0:
            raise ValueError("loss must be in [0, 1) and delay_s >= 0")


@dataclass
class DirectionStats:
    offered: int = 0
    lost: int = 0  # dropped by the random loss
    overflow: int = 0  # dropped because the queue was full
    delivered: int = 0
    delivered_bytes: int = 0
    max_queue_bytes: int = 0
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=4096))  # enqueue → send, seconds


class Shaper:
    """One direction of the link. ``push`` takes a datagram; ``send`` is called when it comes out."""

    def __init__(self, imp: Impairment, seed: int, send: Callable[[bytes, Addr], None],
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.imp = imp
        self.rng = random.Random(seed)
        self.send = send
        self.loop = loop or asyncio.get_running_loop()
        self.stats = DirectionStats()
        self._queue: deque[tuple[bytes, Addr, float]] = deque()
        self._queued = 0
        self._tokens = float(imp.burst_bytes)
        self._refilled = self.loop.time()
        self._drain: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.TimerHandle] = set()
        self.closed = False

    @property
    def queued_bytes(self) -> int:
        return self._queued

    @property
    def in_flight(self) -> int:
        """Datagrams out of the bucket and inside the delay line."""
        return len(self._in_flight)

    def push(self, data: bytes, addr: Addr) -> None:
        if self.closed:
            return
        self.stats.offered += 1
        if self.rng.random() < self.imp.loss:
            self.stats.lost += 1
            return
        if self._queued + len(data) > self.imp.queue_bytes:
            self.stats.overflow += 1
            return
        self._queue.append((data, addr, self.loop.time()))
        self._queued += len(data)
        self.stats.max_queue_bytes = max(self.stats.max_queue_bytes, self._queued)
        if self._drain is None:
            self._pump()

    def _refill(self) -> None:
        now = self.loop.time()
        self._tokens = min(float(self.imp.burst_bytes),
                           self._tokens + (now - self._refilled) * self.imp.rate_bps / 8)
        self._refilled = now

    def _pump(self) -> None:
        self._drain = None
        if self.closed:
            return
        self._refill()
        while self._queue:
            data, addr, queued_at = self._queue[0]
            if self._tokens < len(data):
                wait = (len(data) - self._tokens) * 8 / self.imp.rate_bps
                self._drain = self.loop.call_later(wait, self._pump)
                return
            self._tokens -= len(data)
            self._queue.popleft()
            self._queued -= len(data)
            self._later(data, addr, queued_at)

    def _later(self, data: bytes, addr: Addr, queued_at: float) -> None:
        def out() -> None:
            self._in_flight.discard(handle)
            if self.closed:
                return
            self.stats.delivered += 1
            self.stats.delivered_bytes += len(data)
            self.stats.delays.append(self.loop.time() - queued_at)
            self.send(data, addr)

        handle = self.loop.call_later(self.imp.delay_s, out)
        self._in_flight.add(handle)

    def close(self) -> None:
        self.closed = True
        if self._drain is not None:
            self._drain.cancel()
        for h in self._in_flight:
            h.cancel()
        self._in_flight.clear()
        self._queue.clear()
        self._queued = 0


class ImpairedRelay:
    """``await ImpairedRelay(target).start()``; clients send to ``relay.address``."""

    def __init__(self, target: Addr, imp: Impairment = Impairment(), host: str = "127.0.0.1",
                 max_clients: int = 16) -> None:
        self.target = target
        self.imp = imp
        self.host = host
        self.max_clients = max_clients
        self._front: socket.socket | None = None
        self._upstream: dict[Addr, socket.socket] = {}
        self.refused_clients = 0
        self.up: Shaper | None = None  # client → target
        self.down: Shaper | None = None  # target → client

    @property
    def address(self) -> Addr:
        assert self._front is not None
        host, port = self._front.getsockname()[:2]
        return host, port

    async def start(self) -> ImpairedRelay:
        loop = asyncio.get_running_loop()
        self._front = self._socket(self.host)
        self.up = Shaper(self.imp, self.imp.seed, self._send_up, loop)
        self.down = Shaper(self.imp, self.imp.seed + 1, self._send_down, loop)
        loop.add_reader(self._front.fileno(), self._read_front)
        return self

    @staticmethod
    def _socket(host: str) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((host, 0))
        return s

    def _read_front(self) -> None:
        assert self._front is not None and self.up is not None
        for _ in range(64):
            try:
                data, addr = self._front.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            client = (addr[0], addr[1])
            if client not in self._upstream:
                if len(self._upstream) >= self.max_clients:
                    self.refused_clients += 1
                    continue
                up = self._socket(self.host)
                self._upstream[client] = up
                asyncio.get_running_loop().add_reader(up.fileno(), self._read_upstream, client, up)
            self.up.push(data, client)

    def _read_upstream(self, client: Addr, up: socket.socket) -> None:
        assert self.down is not None
        for _ in range(64):
            try:
                data, addr = up.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if (addr[0], addr[1]) != self.target:
                continue
            self.down.push(data, client)

    def _send_up(self, data: bytes, client: Addr) -> None:
        up = self._upstream.get(client)
        if up is not None:
            try:
                up.sendto(data, self.target)
            except OSError:
                pass

    def _send_down(self, data: bytes, client: Addr) -> None:
        if self._front is not None:
            try:
                self._front.sendto(data, client)
            except OSError:
                pass

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for shaper in (self.up, self.down):
            if shaper is not None:
                shaper.close()
        for up in self._upstream.values():
            loop.remove_reader(up.fileno())
            up.close()
        self._upstream.clear()
        if self._front is not None:
            loop.remove_reader(self._front.fileno())
            self._front.close()
            self._front = None

    async def __aenter__(self) -> ImpairedRelay:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.close()
