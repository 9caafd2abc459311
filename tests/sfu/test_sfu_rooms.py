"""Rooms on the SFU: real aiortc peers through Concord's /ws and a real Janus (no mocks).

The app runs with CONCORD_JANUS_URL pointing at the test Janus (``sfu_config``). Each participant is an
``SfuRoomClient``: one publishing and one subscribing PeerConnection, driven by ``sfu`` messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from server.config import Config
from server.rooms.hub import RoomEvent
from server.services import services
from server.sfu import plan
from server.sfu.bridge import sdp_mids
from tests.media.synthetic import SyntheticAudio, SyntheticVideo
from tests.sfu.conftest import JanusTarget
from tests.support.rooms import invite, make_session, staff_token
from tests.support.sfu_client import SfuRoomClient

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"


def sfu_config(db_url: str, tmp_path: Path, janus: JanusTarget, **kw: Any) -> Config:
    rec = tmp_path / "recordings"
    rec.mkdir(exist_ok=True)
    return Config(data_dir=tmp_path, database_url=db_url, secret_key=b"test-secret-key-not-for-production",
                  recordings_dir=rec, schedulers=False, janus_urls=(janus.ws_url,),
                  janus_api_secret=janus.api_secret, janus_admin_key=janus.admin_key,
                  janus_admin_secret=janus.admin_secret, **kw)


@pytest.fixture
def config(db_url: str, tmp_path: Path, janus: JanusTarget) -> Config:
    return sfu_config(db_url, tmp_path, janus)


def tracks() -> list:
    return [SyntheticVideo(160, 120, 15), SyntheticAudio()]


class Briefing:
    """A dispatch briefing: the county hosts, centres are invited (they knock, the host admits)."""

    def __init__(self, client: Any, tracks: Callable[[], list] = tracks) -> None:
        self.client = client
        self.tracks = tracks
        self.base = str(client.make_url("/")).rstrip("/")
        self.made: list[SfuRoomClient] = []
        self.events: list[RoomEvent] = []
        self.sid = 0
        self.h: dict[str, str] = {}

    async def setup(self, kind: str = "dispatch") -> None:
        user, unit = ("mediator_340321", "340321") if kind == "dispatch" else ("mediator", "340321001")
        self.sid, self.h = await make_session(self.client, user, kind=kind, unit=unit)
        services(self.client.server.app).room_hub.add_listener(self.events.append)

    def person(self, token: str) -> SfuRoomClient:
        c = SfuRoomClient(self.base, token, tracks=self.tracks)
        self.made.append(c)
        return c

    async def host(self) -> SfuRoomClient:
        c = self.person(await staff_token(self.client, self.h, self.sid))
        w = await c.connect()
        assert w["type"] == "welcome", w
        return c

    async def centre(self, host: SfuRoomClient, name: str, role: str = "observer") -> SfuRoomClient:
        c = self.person((await invite(self.client, self.h, self.sid, name, role=role))["token"])
        first = await c.connect()
        if first["type"] == "lobby":
            knock = await host.wait_message("knock", where=lambda m: m["peer"]["name"] == name)
            await host.send({"type": "admit", "peer": knock["peer"]["id"]})
        await c.wait(lambda: c.peer_id is not None and c.published.is_set())
        return c

    def ledger(self, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.type == type_]

    async def close(self) -> None:
        for c in self.made:
            await c.close()


@pytest.fixture
async def briefing(client: Any) -> AsyncIterator[Briefing]:
    b = Briefing(client)
    await b.setup()
    yield b
    await b.close()


async def receives(viewer: SfuRoomClient, peer: str | None, kind: str = "video", n: int = 10,
                   timeout: float = 40.0) -> None:
    assert peer is not None
    start = viewer.frames_from(peer, kind)
    try:
        await viewer.wait(lambda: viewer.frames_from(peer, kind) >= start + n, timeout)
    except TimeoutError:
        raise AssertionError(f"{viewer.peer_id} got {viewer.frames_from(peer, kind) - start} of {n} {kind} "
                             f"frames from {peer}; feeds {viewer.feeds}, all {viewer.sfu_frames} offers {viewer.offers}"
                             f"{[ln for ln in viewer.last_offer.splitlines() if 'ssrc' in ln or 'mid' in ln or 'm=' in ln]}") from None


async def silent(viewer: SfuRoomClient, peer: str | None, kind: str, seconds: float = 2.0,
                 settle: float = 1.0) -> int:
    """Frames of ``kind`` from ``peer`` over ``seconds``, once none came for ``settle`` seconds (within 10 s;
    -1 if they never stopped)."""
    assert peer is not None
    deadline = time.monotonic() + 10
    while time.monotonic() - viewer.last_from(peer, kind) < settle:
        if time.monotonic() > deadline:
            return -1
        await asyncio.sleep(0.05)
    before = viewer.frames_from(peer, kind)
    await asyncio.sleep(seconds)
    return viewer.frames_from(peer, kind) - before


async def hears(viewer: SfuRoomClient, n: int = 25, timeout: float = 40.0) -> None:
    """``n`` more audio frames, from whoever may be heard (see SfuRoomClient.sfu_total)."""
    start = viewer.sfu_total["audio"]
    await viewer.wait(lambda: viewer.sfu_total["audio"] >= start + n, timeout)


async def quiet(viewer: SfuRoomClient, seconds: float = 2.0, settle: float = 1.0, stop_within: float = 10.0) -> int:
    """Audio frames from anyone over ``seconds``, once the audio has stopped: ``settle`` seconds without a
    frame (frames decoded late on a busy machine still count as arriving), within ``stop_within``."""
    deadline = time.monotonic() + stop_within
    while time.monotonic() - viewer.sfu_total_last["audio"] < settle:
        if time.monotonic() > deadline:
            return -1  # the audio never stopped
        await asyncio.sleep(0.05)
    before = viewer.sfu_total["audio"]
    await asyncio.sleep(seconds)
    return viewer.sfu_total["audio"] - before


async def until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_dispatch_publish_subscribe_and_server_floor(briefing: Briefing) -> None:
    host = await briefing.host()
    assert host.topology == "sfu"
    a = await briefing.centre(host, "龙亢镇综治中心")
    b = await briefing.centre(host, "河溜镇综治中心")
    for viewer, peer in ((a, host.peer_id), (b, host.peer_id), (host, a.peer_id), (host, b.peer_id)):
        await receives(viewer, peer, "video")
    # A briefing: only hosts speak. Janus forwards no centre's audio, whatever the centre sends: the host
    # (who subscribes to the two centres only) hears nothing, a centre hears the host.
    await hears(a)
    assert await quiet(host) == 0
    assert a.links == {} and host.links == {}  # no mesh connection at all
    # The floor, given by the host, opens the centre's audio on the server; taking it back closes it.
    await host.send({"type": "floor", "peer": a.peer_id})
    await hears(host)
    await host.send({"type": "floor", "peer": None})
    assert await quiet(host) == 0
    moves = briefing.ledger("topology")
    assert moves and moves[0]["cause"] == "kind" and moves[0]["to"] == "sfu" and moves[0]["from"] == "mesh"
    # The browsers learnt nothing about Janus: no URL, no secret, no Janus id in any message.
    sfu_cfg = services(briefing.client.server.app).config
    seen = repr(host.messages + a.messages)
    for secret in (sfu_cfg.janus_urls[0], str(sfu_cfg.janus_api_secret), str(sfu_cfg.janus_admin_key),
                   f"concord-{briefing.sid}"):
        i = seen.find(secret)
        assert i < 0, (secret, seen[max(0, i - 300):i + 100])
    assert sfu_cfg.janus_urls[0] not in seen and str(sfu_cfg.janus_api_secret) not in seen
    assert str(sfu_cfg.janus_admin_key) not in seen and f"concord-{briefing.sid}" not in seen


async def test_briefing_centres_hold_the_host_and_the_floor_only(briefing: Briefing) -> None:
    """A dispatch with a host and 4 centres: a centre's Janus subscription holds the host's feed only,
    plus the floor holder's while it has the floor; the host holds every centre."""
    host = await briefing.host()
    centres = [await briefing.centre(host, f"第{i}综治中心") for i in range(1, 5)]
    bridge = services(briefing.client.server.app).sfu
    assert bridge is not None

    def held(c: SfuRoomClient) -> set[str]:
        return set(bridge.rooms[briefing.sid].peers[c.peer_id or ""].subscribed)

    ids = {c.peer_id for c in centres}
    for c in centres:
        await receives(host, c.peer_id)
        await receives(c, host.peer_id)
    await until(lambda: all(held(c) == {host.peer_id} for c in centres) and held(host) == ids)
    assert all(set(c.feeds.values()) == {host.peer_id} for c in centres)
    a, b = centres[0], centres[1]
    await host.send({"type": "floor", "peer": a.peer_id})
    for c in centres[1:]:
        await receives(c, a.peer_id)
    await until(lambda: all(held(c) == {host.peer_id, a.peer_id} for c in centres[1:]) and held(a) == {host.peer_id})
    # The floor moves on: the feed set follows it (A's feed is dropped, B's added).
    await host.send({"type": "floor", "peer": b.peer_id})
    others = [c for c in centres if c is not b]
    await until(lambda: all(held(c) == {host.peer_id, b.peer_id} for c in others) and held(b) == {host.peer_id})
    await receives(centres[2], b.peer_id)
    await until(lambda: set(centres[2].feeds.values()) == {host.peer_id, b.peer_id})
    assert await silent(centres[2], a.peer_id, "video") == 0
    assert held(host) == ids


class Watcher(SfuRoomClient):
    """A centre that only receives (no publishing connection, frames not decoded): cheap enough for 20."""

    async def _sfu_start(self) -> None:
        await self._sfu_close()
        self.published.set()


async def test_floor_change_for_20_subscribers_concurrent_vs_serial(briefing: Briefing) -> None:
    """A room change touching 20 subscriptions (the floor moves to a publishing centre, so 20 centres
    subscribe to its feed): applied one Janus request at a time (bound 1) against 16 at once."""
    host = await briefing.host()
    speaker = await briefing.centre(host, "发言中心")
    watchers = []
    for i in range(20):
        w = Watcher(briefing.base, (await invite(briefing.client, briefing.h, briefing.sid, f"收看{i}"))["token"],
                    consume=False)
        briefing.made.append(w)
        if (await w.connect())["type"] == "lobby":
            knock = await host.wait_message("knock", where=lambda m, n=f"收看{i}": m["peer"]["name"] == n)
            await host.send({"type": "admit", "peer": knock["peer"]["id"]})
        await w.wait(lambda w=w: w.peer_id is not None)
        watchers.append(w)
    bridge = services(briefing.client.server.app).sfu
    assert bridge is not None
    rm = bridge.rooms[briefing.sid]

    def settled(feeds: set[str], answered: bool = True) -> bool:
        pms = [rm.peers.get(w.peer_id or "") for w in watchers]
        return all(pm is not None and pm.subscribed == feeds and not (answered and pm.awaiting_start) for pm in pms)

    await until(lambda: settled({host.peer_id or ""}), 60)
    took: dict[int, list[tuple[int, int]]] = {}
    both = {host.peer_id or "", speaker.peer_id or ""}
    for bound in (1, 16, 1, 16):
        bridge.concurrency = bound
        t0 = time.monotonic()
        await host.send({"type": "floor", "peer": speaker.peer_id})
        while not settled(both, answered=False):  # Janus has made every new offer
            await asyncio.sleep(0.005)
        offered = time.monotonic() - t0
        await until(lambda: settled(both), 60)  # and every client has answered
        took.setdefault(bound, []).append((round(offered * 1000), round((time.monotonic() - t0) * 1000)))
        await host.send({"type": "floor", "peer": None})
        await until(lambda: settled({host.peer_id or ""}), 60)
    print(f"\nfloor change touching 20 subscriptions (ms to every offer, to every answer): serial {took[1]}, "
          f"16 at once {took[16]}")
    assert all(set(w.feeds.values()) == {host.peer_id} for w in watchers)


class SilentAudio(SyntheticAudio):
    """Digital silence in 20 ms frames (audio level 127 -dBov): never the active speaker."""

    def __init__(self) -> None:
        super().__init__()
        self._tone = self._tone * 0


async def test_active_speaker_from_janus_talking_events(briefing: Briefing) -> None:
    """A loud publisher becomes the active speaker (Janus's talking events), is announced to clients and
    gets the higher layer; a silent one never does, nor a loud centre whose audio Janus does not forward."""
    briefing.tracks = lambda: [SyntheticVideo(160, 120, 15), SilentAudio()]
    host = await briefing.host()
    quiet_m = await briefing.centre(host, "县调解员乙", role="mediator")
    briefing.tracks = tracks  # the 440 Hz tone
    loud = await briefing.centre(host, "县调解员甲", role="mediator")
    centre = await briefing.centre(host, "龙亢镇综治中心")  # loud too, but without the floor: not forwarded
    msg = await centre.wait_message("sfu", timeout=40, where=lambda m: m.get("op") == "speaker")
    assert msg["peer"] == loud.peer_id
    await host.wait_message("sfu", where=lambda m: m.get("op") == "speaker")
    bridge = services(briefing.client.server.app).sfu
    assert bridge is not None
    rm = bridge.rooms[briefing.sid]
    assert rm.speaker == loud.peer_id
    # The centre sees the three moderators on 144 kbps of audio + three lowest layers + one raise.
    for peer in (host.peer_id, quiet_m.peer_id, loud.peer_id):
        await receives(centre, peer)
    ids = [host.peer_id or "", quiet_m.peer_id or "", loud.peer_id or ""]
    bw = 3 * plan.AUDIO_BITRATE + 3 * plan.LAYERS[0].bitrate + plan.LAYERS[1].bitrate - plan.LAYERS[0].bitrate
    await centre.set_layers({p: 720 for p in ids}, bandwidth=bw)
    pm = rm.peers[centre.peer_id or ""]

    def substreams() -> dict[str, Any]:
        video = {str(st["mid"]): plan.peer_of_participant(str(st.get("feed_id") or "")) for st in pm.streams
                 if st.get("type") == "video" and st.get("active", True)}
        return {peer: pm.applied.get(mid) for mid, peer in video.items()}

    await until(lambda: substreams() == {loud.peer_id: (True, 1), host.peer_id: (True, 0),
                                         quiet_m.peer_id: (True, 0)})
    await asyncio.sleep(3)  # silence stays silent, the centre's loud muted audio never counts
    said = [m["peer"] for m in centre.messages + host.messages if m.get("type") == "sfu" and m.get("op") == "speaker"]
    assert set(said) <= {loud.peer_id} and rm.speaker == loud.peer_id  # (wait_message took the first ones)


async def test_subroom_isolation_on_the_sfu(briefing: Briefing) -> None:
    host = await briefing.host()
    a = await briefing.centre(host, "龙亢镇综治中心", role="mediator")
    b = await briefing.centre(host, "河溜镇综治中心", role="mediator")
    await receives(a, b.peer_id)
    await host.send({"type": "move", "peer": a.peer_id, "subroom": "甲方调解室"})
    await a.wait(lambda: a.subroom == "甲方调解室")
    # A, alone in its sub-room, receives nothing from the main room, and the main room nothing from A.
    await until(lambda: set(a.feeds.values()) == set() and a.peer_id not in set(b.feeds.values())
                and a.peer_id not in set(host.feeds.values()))
    for viewer, peer in ((a, host.peer_id), (a, b.peer_id), (b, a.peer_id), (host, a.peer_id)):
        assert await silent(viewer, peer, "video", 1.5) == 0, (viewer.peer_id, peer)
    await receives(b, host.peer_id)  # the main room goes on
    # The host joins A: they see each other, B sees neither.
    await host.send({"type": "move", "peer": host.peer_id, "subroom": "甲方调解室"})
    await receives(a, host.peer_id)
    await receives(host, a.peer_id)
    await until(lambda: set(host.feeds.values()) == {a.peer_id} and set(b.feeds.values()) == set())
    assert await silent(host, b.peer_id, "video", 1.5) == 0
    assert await silent(b, host.peer_id, "video", 1.5) == 0


async def test_mute_that_the_client_ignores(briefing: Briefing) -> None:
    host = await briefing.host()
    m = await briefing.centre(host, "县调解员", role="mediator")  # a moderator: may speak at a briefing
    c = await briefing.centre(host, "龙亢镇综治中心")
    # The host keeps its own microphone off, so the only audio the others may get is the mediator's.
    await host.send({"type": "media", "audio": False})
    await hears(c)
    await hears(host)
    await host.send({"type": "mute", "peer": m.peer_id, "kind": "audio"})
    await m.wait_message("muted")  # the client gets it and ignores it: its track keeps sending
    assert m.pub is not None and all(s.track is not None and s.track.readyState == "live" for s in m.pub.getSenders())
    assert await quiet(c) == 0
    assert await quiet(host) == 0
    await receives(c, m.peer_id, "video")  # only the audio is held back
    # The person unmutes themselves: Janus forwards again.
    await m.send({"type": "media", "audio": True})
    await hears(c)
    await hears(host)


async def test_removal_kicks_the_janus_handle(briefing: Briefing) -> None:
    host = await briefing.host()
    a = await briefing.centre(host, "龙亢镇综治中心")
    b = await briefing.centre(host, "县调解员", role="mediator")  # a moderator: subscribes to every centre
    await receives(b, a.peer_id)
    bridge = services(briefing.client.server.app).sfu
    assert bridge is not None
    rm = bridge.rooms[briefing.sid]
    control = rm.instance.control
    assert control is not None
    ids = {p["id"] for p in await control.list_participants(rm.janus_room)}
    assert plan.janus_participant_id(a.peer_id or "") in ids
    await host.send({"type": "remove", "peer": a.peer_id})
    await a.wait(lambda: a.close_code is not None)

    async def gone() -> bool:
        return plan.janus_participant_id(a.peer_id or "") not in {
            p["id"] for p in await control.list_participants(rm.janus_room)}

    deadline = time.monotonic() + 10
    while not await gone():
        assert time.monotonic() < deadline, "the removed participant is still in the Janus room"
        await asyncio.sleep(0.1)
    assert await silent(b, a.peer_id, "video") == 0
    assert await silent(host, a.peer_id, "video") == 0
    await receives(b, host.peer_id)  # the others go on


async def test_sfu_messages_are_validated(briefing: Briefing) -> None:
    host = await briefing.host()
    for bad, code in (({"type": "sfu", "op": "dial"}, "invalid_field"),
                      ({"type": "sfu", "op": "publish"}, "invalid_field"),
                      ({"type": "sfu", "op": "publish", "sdp": "x" * 70_000}, "too_large"),
                      ({"type": "sfu", "op": "layers", "layers": {"tiles": [{"peer": "x", "height": -1}]}},
                       "invalid_field"),
                      ({"type": "sfu", "op": "start", "sdp": "v=0\r\n"}, "sfu_failed")):
        await host.send(bad)
        err = await host.wait_message("error", where=lambda m, code=code: m.get("code") == code)
        assert err["code"] == code
    assert host.close_code is None


def test_sdp_mids() -> None:
    sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n"
    assert sdp_mids(sdp) == {"audio": ["0"], "video": ["1"]}


async def test_without_janus_the_briefing_is_a_mesh(aiohttp_client: Any, db_url: str, tmp_path: Path) -> None:
    from server.app import create_app
    from server.directory.demo import seed

    rec = tmp_path / "rec-mesh"
    rec.mkdir()
    app = create_app(Config(data_dir=tmp_path, database_url=db_url, secret_key=b"test-secret-key-not-for-production",
                            recordings_dir=rec, schedulers=False))
    client = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    assert services(app).sfu is None
    b = Briefing(client)
    await b.setup()
    try:
        host = await b.host()
        assert host.topology == "mesh" and host.room["topology"] == "mesh"
        c = b.person((await invite(client, b.h, b.sid, "龙亢镇综治中心"))["token"])
        assert (await c.connect())["type"] == "lobby"
        knock = await host.wait_message("knock")
        await host.send({"type": "admit", "peer": knock["peer"]["id"]})
        await c.wait(lambda: c.peer_id is not None)
        await receives(c, host.peer_id)
        await receives(host, c.peer_id)
        assert c.peer_id in host.links and c.pub is None
        await host.send({"type": "sfu", "op": "layers", "layers": {"tiles": []}})
        err = await host.wait_message("error", where=lambda m: m.get("ref") == "sfu")
        assert err["code"] == "not_sfu"
        assert not b.ledger("topology")
    finally:
        await b.close()


async def test_layers_report_picks_substreams(briefing: Briefing) -> None:
    host = await briefing.host()
    a = await briefing.centre(host, "龙亢镇综治中心")
    await receives(host, a.peer_id)
    bridge = services(briefing.client.server.app).sfu
    assert bridge is not None
    pm = bridge.rooms[briefing.sid].peers[host.peer_id or ""]
    video = next(str(s["mid"]) for s in pm.streams if s.get("type") == "video")
    await host.set_layers({a.peer_id or "": 720}, bandwidth=5_000_000)
    await until(lambda: pm.applied.get(video) == (True, 2))
    await host.set_layers({a.peer_id or "": 720}, bandwidth=5_000_000, low_data=True)  # 省流量: lowest layer
    await until(lambda: pm.applied.get(video) == (True, 0))
    await host.set_layers({a.peer_id or "": 720}, bandwidth=60_000)  # not even the lowest layer: paused
    await until(lambda: pm.applied.get(video) == (False, None))
    assert await silent(host, a.peer_id, "video") == 0
    await host.set_layers({a.peer_id or "": 180}, bandwidth=1_000_000)
    await until(lambda: pm.applied.get(video) == (True, 0))
    await receives(host, a.peer_id)  # audio is never starved, video comes back


async def test_unreachable_janus_leaves_the_briefing_on_the_mesh(aiohttp_client: Any, db_url: str,
                                                                  tmp_path: Path, janus: JanusTarget) -> None:
    """Janus configured but down: rooms keep working peer to peer, and `sfu` messages are refused."""
    import socket

    from server.app import create_app
    from server.directory.demo import seed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    cfg = sfu_config(db_url, tmp_path, janus)
    cfg.janus_urls = (f"ws://127.0.0.1:{dead}",)
    app = create_app(cfg)
    client = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    bridge = services(app).sfu
    assert bridge is not None and not any(i.up for i in bridge.cluster.instances.values())
    b = Briefing(client)
    await b.setup()
    try:
        host = await b.host()
        assert host.topology == "mesh" and not b.ledger("topology")
        await host.send({"type": "sfu", "op": "layers", "layers": {"tiles": []}})
        err = await host.wait_message("error", where=lambda m: m.get("ref") == "sfu")
        assert err["code"] == "not_sfu"
    finally:
        await b.close()


async def test_relocation_renegotiates_in_place(briefing: Briefing) -> None:
    """The failover step's move: a new Janus room (generation 1); everyone renegotiates, nobody rejoins."""
    host = await briefing.host()
    a = await briefing.centre(host, "龙亢镇综治中心")
    await receives(a, host.peer_id)
    await receives(host, a.peer_id)
    bridge = services(briefing.client.server.app).sfu
    assert bridge is not None
    ids = (host.peer_id, a.peer_id)
    assert await bridge.relocate(briefing.sid)
    await host.wait(lambda: host.generation == 1 and a.generation == 1)
    await receives(a, host.peer_id)
    await receives(host, a.peer_id)
    assert (host.peer_id, a.peer_id) == ids
    assert bridge.rooms[briefing.sid].janus_room == f"concord-{briefing.sid}-g1"
    moves = [m for m in briefing.ledger("topology") if m["cause"] == "failover"]
    assert moves and moves[0]["generation"] == 1 and moves[0]["peers"] == 2
    await until(lambda: any(s["cause"] == "failover" for s in briefing.ledger("topology_settled")))
    print("relocation settled in", [s["duration_ms"] for s in briefing.ledger("topology_settled")
                                    if s["cause"] == "failover"][0], "ms")
    assert not await bridge.relocate(999_999)
