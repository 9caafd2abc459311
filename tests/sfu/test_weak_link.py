"""Issue 13, weak links: a party behind 500 kbps, 5% loss and a 200 ms round trip still sees and hears
the mediator through Janus.

The party is Debian's Chromium whose ICE is forced through coturn (``iceTransportPolicy: relay``) at
the address of an impairing UDP relay (tests/support/impair.py: 500 kbps token bucket with a bounded
queue, 100 ms each way, 5% seeded loss each way). The mediator (aiortc, unimpaired) publishes camera-like
640x360 15 fps video and voice-like Opus with FEC to a VideoRoom capped at 300 kbps; Python relays the
subscription SDP between Janus and the page. Figures come from the page's getStats() over 15 s after a
5 s warm-up (tests/support/weak_link.py). bench/weak_link.py runs the same and the mesh beside it.

Needs janus, coturn and Chromium: skipped without them, a failure with CONCORD_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.sfu.process import local_ipv4
from tests.conftest import need
from tests.sfu.conftest import JanusTarget
from tests.support.impair import ImpairedRelay, Impairment
from tests.support.turn import Coturn, stun_binding_ok, turnserver_binary
from tests.support.weak_link import CHROMIUM_ARGS, run_sfu

pytestmark = [pytest.mark.media, pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

LINK = Impairment(rate_bps=500_000, delay_s=0.100, loss=0.05, seed=13)


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    need("coturn (turnserver)", turnserver_binary() is not None)
    ip = local_ipv4()
    need("a non-loopback IPv4 address for the TURN relay", ip is not None)
    assert ip is not None
    turn = Coturn(relay_ip=ip, workdir=tmp_path_factory.mktemp("coturn")).start()
    try:
        yield turn
    finally:
        turn.stop()


@pytest.fixture
async def party_browser(chromium: str) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def test_party_behind_a_weak_link_sees_and_hears_the_mediator_through_janus(
        janus: JanusTarget, coturn: Coturn, party_browser: object) -> None:
    async with ImpairedRelay(coturn.address, LINK) as relay:
        fig = await run_sfu(party_browser, relay, coturn.username, coturn.password, janus.ws_url,
                            janus.api_secret, janus.admin_key, warmup=5.0, seconds=15.0, room_bitrate=300_000)
    print(fig.line())
    # The media really crossed the emulated link, and only it: relay candidates only, about 5% of the
    # datagrams towards the party dropped, never more than the link's rate delivered.
    assert fig.candidate == "relay" and fig.gathered == "relay", (fig.candidate, fig.gathered)
    assert 190 <= fig.rtt_ms <= 600, fig.rtt_ms
    down = fig.link_down
    assert down["offered"] > 500 and 0.02 <= down["lost"] / down["offered"] <= 0.09, down
    assert down["kbps"] <= 510 and down["max_queue"] <= LINK.queue_bytes, down
    assert fig.video_packets_lost + fig.audio_packets_lost > 0, "no loss seen by the party"
    # A starved machine shows first at the sender: then the figures say nothing about the link.
    assert fig.sent_fps >= 13.5, f"the mediator itself sent only {fig.sent_fps:.1f} frames/s (CPU overloaded)"
    # Issue 13's target: at least 10 frames/s of the mediator's video, audio concealment under 5%.
    assert fig.frame_size == "640x360", fig.frame_size
    assert fig.video_fps >= 10, fig.line()
    assert fig.audio_concealment < 0.05, fig.line()
    assert fig.audio_packets > 600, fig.line()  # 50 packets/s for 15 s, less the losses


def test_coturn_on_a_taken_port_fails_clearly_and_leaves_nothing_running(tmp_path: Path) -> None:
    need("coturn (turnserver)", turnserver_binary() is not None)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        turn = Coturn(relay_ip="127.0.0.1", port=port, workdir=tmp_path)
        with pytest.raises((TimeoutError, RuntimeError)) as e:
            turn.start(timeout=3)
        assert "did not answer STUN" in str(e.value) or "exited" in str(e.value)
        assert turn.proc is not None and turn.proc.poll() is not None, "turnserver left running"
        assert not stun_binding_ok(("127.0.0.1", port), timeout=0.3)
