"""The impairing UDP relay of the weak-link measurement (tests/support/impair.py): rate, delay, loss and
the queue bound, measured on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.support.impair import ImpairedRelay, Impairment, Shaper

pytestmark = pytest.mark.timeout(60)


class Sink(asyncio.DatagramProtocol):
    """A UDP endpoint that records (arrival time, payload, sender) and can echo."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.got: list[tuple[float, bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((time.monotonic(), data, addr))
        if self.echo and self.transport is not None:
            self.transport.sendto(data, addr)


async def endpoint(echo: bool = False) -> tuple[Sink, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: Sink(echo), local_addr=("127.0.0.1", 0))
    return proto, transport.get_extra_info("sockname")[:2]


def test_bad_settings_are_refused() -> None:
    for bad in ({"rate_bps": 0}, {"loss": 1.0}, {"loss": -0.1}, {"delay_s": -1}, {"queue_bytes": 0}):
        with pytest.raises(ValueError):
            Impairment(**bad)  # type: ignore[arg-type]


async def test_loss_is_near_the_rate_and_reproducible_with_the_seed() -> None:
    imp = Impairment(rate_bps=10**9, delay_s=0, loss=0.05, queue_bytes=10**7, burst_bytes=10**7, seed=7)
    runs: list[list[int]] = []
    for _ in range(2):
        out: list[int] = []
        shaper = Shaper(imp, imp.seed, lambda data, addr, out=out: out.append(int.from_bytes(data, "big")))
        for i in range(4000):
            shaper.push(i.to_bytes(4, "big"), ("127.0.0.1", 9))
        await asyncio.sleep(0.05)
        shaper.close()
        runs.append(out)
        assert shaper.stats.lost + shaper.stats.delivered == 4000 and shaper.stats.overflow == 0
        assert 0.04 <= shaper.stats.lost / 4000 <= 0.06, shaper.stats.lost
    assert runs[0] == runs[1], "the same seed drops the same datagrams"
    other = Shaper(Impairment(loss=0.05, seed=8, rate_bps=10**9, queue_bytes=10**7, burst_bytes=10**7),
                   8, lambda d, a: None)
    assert [other.rng.random() < 0.05 for _ in range(200)] != [Shaper(imp, 7, lambda d, a: None).rng.random() < 0.05
                                                              for _ in range(200)]
    other.close()


async def test_rate_limit_and_bounded_queue_under_a_flood() -> None:
    """2x the link's rate for 2 s: about the link's rate gets through, the rest is dropped at the queue,
    which never holds more than its bound."""
    rate, queue = 400_000, 10_000
    imp = Impairment(rate_bps=rate, delay_s=0.0, loss=0.0, queue_bytes=queue, burst_bytes=2_000)
    sink, target = await endpoint()
    async with ImpairedRelay(target, imp) as relay:
        assert relay.up is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            payload = b"x" * 1000
            start = time.monotonic()
            sent = 0
            peak = 0
            while time.monotonic() - start < 2.0:
                # 100 datagrams/s of 1000 B = 800 kbps, twice the rate
                client.sendto(payload, relay.address)
                sent += 1
                await asyncio.sleep(max(0.0, start + sent / 100 - time.monotonic()))
                peak = max(peak, relay.up.queued_bytes)
            await asyncio.sleep(0.3)
        st = relay.up.stats
        assert st.offered == sent
        assert st.max_queue_bytes <= queue and peak <= queue
        assert st.overflow > sent * 0.3, st
        times = [t for t, _, _ in sink.got]
        span = times[-1] - times[0]
        throughput = (len(times) - 1) * 1000 * 8 / span
        assert 0.85 * rate <= throughput <= 1.1 * rate, throughput
        assert all(addr != ("127.0.0.1", 0) for _, _, addr in sink.got)


async def test_fixed_delay_each_way() -> None:
    imp = Impairment(rate_bps=10_000_000, delay_s=0.1, loss=0.0)
    _, target = await endpoint(echo=True)
    async with ImpairedRelay(target, imp) as relay:
        front = relay.address
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(lambda: Sink(), local_addr=("127.0.0.1", 0))
        rtts = []
        for i in range(10):
            t0 = time.monotonic()
            transport.sendto(i.to_bytes(2, "big"), relay.address)
            while len(proto.got) <= i:
                await asyncio.sleep(0.002)
            rtts.append(proto.got[i][0] - t0)
        transport.close()
        assert all(d == pytest.approx(0.1, abs=0.03) for d in relay.up.stats.delays)  # type: ignore[union-attr]
    assert min(rtts) >= 0.2 and sorted(rtts)[5] < 0.26, rtts
    # The echo came back to the client that sent it, from the relay's own address.
    assert {addr for _, _, addr in proto.got} == {front}


async def test_strangers_and_extra_clients_are_ignored() -> None:
    sink, target = await endpoint()
    async with ImpairedRelay(target, Impairment(loss=0.0, delay_s=0.0), max_clients=1) as relay:
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        a.setblocking(False)
        try:
            a.sendto(b"from a", relay.address)
            b.sendto(b"from b", relay.address)
            await asyncio.sleep(0.1)
            assert [d for _, d, _ in sink.got] == [b"from a"] and relay.refused_clients == 1
            upstream = sink.got[0][2]
            # A stranger writing to the upstream socket does not reach the client: only the target does.
            b.sendto(b"stranger", upstream)
            assert sink.transport is not None
            sink.transport.sendto(b"reply", upstream)
            await asyncio.sleep(0.1)
            assert a.recv(100) == b"reply"
            with pytest.raises(BlockingIOError):
                a.recv(100)
        finally:
            a.close()
            b.close()
