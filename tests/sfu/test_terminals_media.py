"""WHIP in, WHEP out, and recording on the SFU: real programs through Concord and a real Janus, no mocks.

- FFmpeg's own ``whip`` muxer (PyAV 18 / FFmpeg 8, in its own process: tests/sfu/whip_publisher.py)
  publishes H.264 + Opus into a dispatch briefing with an invitation as Bearer token. It sits in the room
  as a participant (the host admits it from the lobby), the host receives its video and, with the floor,
  its audio; the ledger has its join, consent and leave.
- An aiortc WHEP viewer POSTs its offer and receives the room's main feed (the floor holder: the
  terminal) through a Janus subscriber; DELETE ends it.
- Recording on the SFU: the recorder subscribes to Janus for each recorded person; consenting people are
  recorded (segments hashed and ledgered), a person who declines is not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server import ledger
from server.config import Config
from server.ledger_store import events
from server.recording.store import list_recordings
from server.rooms.hub import RoomEvent
from server.services import services
from server.sfu import terminals
from server.sfu.http.terminals import TERMINALS
from tests.browser.conftest import CHROMIUM_ARGS
from tests.conftest import need
from tests.media.helpers import probe, sha256
from tests.media.synthetic import SyntheticAudio, SyntheticVideo
from tests.sfu.conftest import JanusTarget
from tests.sfu.test_whip_sdp import FFMPEG_OFFER
from tests.support.rooms import invite, make_session, staff_token
from tests.support.sfu_client import SfuRoomClient

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
NO_STUN = RTCConfiguration(iceServers=[])


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"


@pytest.fixture
def config(db_url: str, tmp_path: Path, janus: JanusTarget) -> Config:
    rec = tmp_path / "recordings"
    rec.mkdir(exist_ok=True)
    return Config(data_dir=tmp_path, database_url=db_url, secret_key=b"test-secret-key-not-for-production",
                  recordings_dir=rec, schedulers=False, janus_urls=(janus.ws_url,),
                  janus_api_secret=janus.api_secret, janus_admin_key=janus.admin_key,
                  janus_admin_secret=janus.admin_secret)


@pytest.fixture
def whip_muxer() -> None:
    """FFmpeg's own WHIP client: skipped without it, a failure in CI (CONCORD_REQUIRE_SERVICES=1)."""
    need("FFmpeg's whip muxer (PyAV 18, FFmpeg 8)", "whip" in av.formats_available)


def p256_certificate(d: Path) -> tuple[str, str]:
    """A self-signed P-256 certificate for FFmpeg's DTLS (its own key is refused by Janus 1.1.2)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whip-terminal")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return str(d / "cert.pem"), str(d / "key.pem")


async def until(pred: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"{what} not met in {timeout:g} s"
        await asyncio.sleep(0.1)


class Viewer:
    """An aiortc WHEP client: it offers to receive one audio and one video track."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(NO_STUN)
        self.pc.addTransceiver("audio", direction="recvonly")
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = {"audio": 0, "video": 0}
        self.sizes: set[tuple[int, int]] = set()
        self.tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self.tasks.append(asyncio.create_task(self._drain(track)))

    async def _drain(self, track: Any) -> None:
        try:
            while True:
                f = await track.recv()
                self.frames[track.kind] += 1
                if track.kind == "video":
                    self.sizes.add((f.width, f.height))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        await self.pc.close()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def admit(host: SfuRoomClient, name: str) -> str:
    knock = await host.wait_message("knock", timeout=40, where=lambda m: m["peer"]["name"] == name)
    await host.send({"type": "admit", "peer": knock["peer"]["id"]})
    return str(knock["peer"]["id"])


@pytest.fixture
async def room(client: Any) -> AsyncIterator[dict[str, Any]]:
    base = str(client.make_url("/")).rstrip("/")
    sid, h = await make_session(client, "mediator_340321", kind="dispatch", unit="340321")
    log: list[RoomEvent] = []
    services(client.app).room_hub.add_listener(log.append)
    host = SfuRoomClient(base, await staff_token(client, h, sid),
                         tracks=lambda: [SyntheticVideo(160, 120, 15), SyntheticAudio()])
    w = await host.connect()
    assert w["type"] == "welcome" and host.topology == "sfu", w
    yield {"sid": sid, "h": h, "host": host, "base": base, "log": log}
    await host.close()


async def test_ffmpeg_whip_in_aiortc_whep_out(client: Any, room: dict[str, Any], tmp_path: Path,
                                              whip_muxer: None) -> None:
    sid, h, host, base, log = room["sid"], room["h"], room["host"], room["base"], room["log"]
    cert, key = p256_certificate(tmp_path)
    terminal = await invite(client, h, sid, "会议室视频终端", role="expert")
    ffmpeg = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sfu.whip_publisher", f"{base}/whip/{sid}?consent=recording",
        terminal["token"], "40", cert, key, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        term_id = await admit(host, "会议室视频终端")  # an invitation without a staff account knocks first
        # The terminal is a participant: in everyone's peers, in the ledger, its feed up on the SFU.
        await until(lambda: host.frames_from(term_id, "video") >= 30, 40, "the host receiving the terminal's video")
        assert host.peers[term_id]["role"] == "expert" and host.peers[term_id]["consent"] is True
        knocked = [e.data for e in log if e.type == "lobby_waiting" and e.data["peer"] == term_id]
        assert knocked == [{"peer": term_id, "name": "会议室视频终端", "role": "expert"}]
        assert any(e.type == "admitted" and e.data["peer"] == term_id for e in log)
        assert any(e.type == "consent" and e.data["peer"] == term_id and e.data["recording"] for e in log)
        # A briefing: only hosts speak. With the floor the terminal's audio reaches the host.
        await host.send({"type": "floor", "peer": term_id})
        before = host.frames_from(term_id, "audio")
        await until(lambda: host.frames_from(term_id, "audio") >= before + 25, 30, "the terminal's audio")

        # WHEP: a wall screen watches the briefing; its main feed is the floor holder, the terminal.
        viewer = Viewer()
        screen = await invite(client, h, sid, "指挥中心大屏", role="observer")
        async with aiohttp.ClientSession() as http:
            admitting = asyncio.create_task(admit(host, "指挥中心大屏"))
            r = await http.post(f"{base}/whep/{sid}", data=await viewer.offer(),
                                headers={"Content-Type": "application/sdp",
                                         "Authorization": f"Bearer {screen['token']}"})
            body = await r.text()
            assert r.status == 201, body
            screen_id = await admitting
            location = r.headers["Location"]
            assert location.startswith(f"/whep/{sid}/") and r.headers["Content-Type"] == "application/sdp"
            assert "H264/90000" in body  # the terminal's codec, relayed as sent
            await viewer.pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
            await until(lambda: viewer.frames["video"] >= 30 and viewer.frames["audio"] >= 25, 40,
                        f"WHEP frames ({viewer.frames})")
            assert viewer.sizes == {(320, 180)}  # the terminal's picture, not the host's 160x120
            # Someone else's token cannot end the viewer's resource; its own can.
            r = await http.delete(f"{base}{location}", headers={"Authorization": f"Bearer {terminal['token']}"})
            assert r.status == 404
            r = await http.delete(f"{base}{location}", headers={"Authorization": f"Bearer {screen['token']}"})
            assert r.status == 200
            await until(lambda: screen_id not in host.peers, 15, "the WHEP viewer leaving the room")
            got = viewer.frames["video"]
            await asyncio.sleep(2.0)
            assert viewer.frames["video"] - got <= 5  # in flight at most: the subscriber is gone
            await viewer.close()

        # The terminal stops: FFmpeg closes its session (DELETE), the terminal leaves the room.
        out, _ = await asyncio.wait_for(ffmpeg.communicate(), 60)
        assert ffmpeg.returncode == 0, out.decode(errors="replace")
        await until(lambda: term_id not in host.peers, 20, "the terminal leaving the room")
        assert any(e.type == "peer_left" and e.data["peer"] == term_id for e in log)
        terms = client.app[TERMINALS]
        assert not terms.resources and terms.ended["delete"] == 2, terms.ended  # FFmpeg's DELETE, and ours
    finally:
        if ffmpeg.returncode is None:
            ffmpeg.kill()
            await ffmpeg.wait()


async def test_whep_before_anyone_publishes_says_retry(client: Any, tmp_path: Path) -> None:
    base = str(client.make_url("/")).rstrip("/")
    sid, h = await make_session(client, "mediator_340321", kind="dispatch", unit="340321")
    viewer = Viewer()
    try:
        async with aiohttp.ClientSession() as http:
            # A staff member of the unit enters a briefing directly; nobody publishes yet.
            r = await http.post(f"{base}/whep/{sid}", data=await viewer.offer(),
                                headers={"Content-Type": "application/sdp",
                                         "Authorization": f"Bearer {await staff_token(client, h, sid)}"})
            assert r.status == 409 and r.headers["Retry-After"] == "5", await r.text()
            assert (await r.json())["error"]["code"] == "no_feeds"
        assert not client.app[TERMINALS].resources
        rep = services(client.app).room_hub.rooms[sid]
        await until(lambda: not rep.room.humans(), 10, "the refused viewer leaving")
    finally:
        await viewer.close()


async def test_recording_on_the_sfu(client: Any, room: dict[str, Any], tmp_path: Path, whip_muxer: None) -> None:
    app = client.app
    services(app).recording.max_segment_s = 3.0
    root: Path = services(app).config.recordings_dir
    sid, h, host, base = room["sid"], room["h"], room["host"], room["base"]

    async def centre(name: str) -> SfuRoomClient:
        c = SfuRoomClient(base, (await invite(client, h, sid, name, role="observer"))["token"],
                          tracks=lambda: [SyntheticVideo(160, 120, 15), SyntheticAudio()])
        first = await c.connect()
        if first["type"] == "lobby":
            await admit(host, name)
        await c.wait(lambda: c.peer_id is not None and c.published.is_set())
        return c

    yes, no = await centre("龙亢镇综治中心"), await centre("河溜镇综治中心")
    # A WHIP terminal co-hosting from the county hall (a moderator speaks without the floor), consenting.
    cert, key = p256_certificate(tmp_path)
    hall = await invite(client, h, sid, "县指挥中心终端", role="mediator")
    ffmpeg = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sfu.whip_publisher", f"{base}/whip/{sid}?consent=recording", hall["token"],
        "60", cert, key, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await until(lambda: any(p["name"] == "县指挥中心终端" for p in host.peers.values()), 30, "the terminal")
        term_id = next(pid for pid, p in host.peers.items() if p["name"] == "县指挥中心终端")
        await until(lambda: host.frames_from(term_id, "audio") >= 10, 30, "the terminal's audio")
        await host.send({"type": "floor", "peer": yes.peer_id})  # so Janus forwards its audio at all
        await host.send({"type": "recording", "on": True})
        await until(lambda: sid in services(app).recording.active, 15, "the recorder starting")
        await host.send({"type": "consent", "recording": True})
        await yes.send({"type": "consent", "recording": True})
        await no.send({"type": "consent", "recording": False})

        async def closed_tracks() -> set[tuple[str | None, str]]:
            async with services(app).db.session() as s:
                return {(r.peer, r.kind) for r in await list_recordings(s, sid) if r.status == "closed"
                        and r.artefact == "segment"}

        everyone = {(p, k) for p in (host.peer_id, yes.peer_id, term_id) for k in ("audio", "video")}
        deadline = time.monotonic() + 60
        while not everyone <= await closed_tracks():
            assert time.monotonic() < deadline, f"segments only for {await closed_tracks()}"
            await asyncio.sleep(0.3)
        rec = services(app).recording.active[sid]
        assert rec.feeds is not None and set(rec.feeds.handles) == {host.peer_id, yes.peer_id, term_id}
        # Withdrawing consent stops that person's recording at once (their subscription goes).
        await yes.send({"type": "consent", "recording": False})
        await until(lambda: yes.peer_id not in rec.feeds.handles, 15, "the subscription dropped")
        await asyncio.sleep(1.0)
        await host.send({"type": "recording", "on": False})
        await until(lambda: sid not in services(app).recording.active, 30, "recording off")
    finally:
        await yes.close()
        await no.close()
        if ffmpeg.returncode is None:
            ffmpeg.kill()
            await ffmpeg.wait()

    async with services(app).db.session() as s:
        rows = await list_recordings(s, sid)
        evs = await events(s, ledger.session_chain(sid))
    segs = [r for r in rows if r.artefact == "segment"]
    assert {r.peer for r in segs} == {host.peer_id, yes.peer_id, term_id}
    # The terminal's Opus and H.264 are recorded like anyone's: its video as sent, in Matroska segments.
    assert {(r.peer, r.kind) for r in segs} == everyone
    assert no.peer_id not in "".join(str(p) for p in root.rglob("*"))
    assert not any(e.data.get("peer") == no.peer_id for e in evs if e.type.startswith("recording_"))
    ledgered = {e.data["path"]: e.data["sha256"] for e in evs if e.type == "recording_segment"}
    for r in segs:
        if r.status != "closed":
            continue
        info = probe(root / r.path)
        codec = ("h264" if r.peer == term_id else "vp8") if r.kind == "video" else "opus"
        assert info["codec"] == r.codec == codec and r.path.endswith(".mkv" if codec == "h264" else ".webm")
        assert info["decoded"] == info["packets"] > 0 and info["first_keyframe"]
        if codec == "h264":
            with av.open(str(root / r.path)) as c:
                pic = next(iter(c.decode(video=0)))
                assert (pic.width, pic.height) == (320, 180)  # the terminal's picture, not transcoded
        assert sha256(root / r.path) == r.sha256 == ledgered[r.path]


async def test_terminal_removed_by_the_host_is_cut_off(client: Any, room: dict[str, Any], tmp_path: Path,
                                                       whip_muxer: None) -> None:
    """Removing a WHIP terminal kicks its Janus publisher: nobody receives it any more, its resource ends,
    and its token cannot come back."""
    sid, h, host, base, log = room["sid"], room["h"], room["host"], room["base"], room["log"]
    cert, key = p256_certificate(tmp_path)
    terminal = await invite(client, h, sid, "村委会终端", role="observer")
    ffmpeg = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sfu.whip_publisher", f"{base}/whip/{sid}", terminal["token"], "30", cert, key,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        term_id = await admit(host, "村委会终端")
        await until(lambda: host.frames_from(term_id, "video") >= 20, 40, "the terminal's video")
        assert host.peers[term_id]["consent"] is None  # no ?consent=recording: not asked, not recorded
        await host.send({"type": "remove", "peer": term_id})
        await until(lambda: not client.app[TERMINALS].resources, 15, "the resource ending")
        assert client.app[TERMINALS].ended["room:removed"] == 1, client.app[TERMINALS].ended
        await until(lambda: term_id not in host.peers, 15, "the terminal leaving")
        got = host.frames_from(term_id, "video")
        await asyncio.sleep(2.0)
        assert host.frames_from(term_id, "video") - got <= 5
        assert any(e.type == "removed" and e.data["peer"] == term_id for e in log)
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{base}/whip/{sid}", data=FFMPEG_OFFER,
                                headers={"Content-Type": "application/sdp",
                                         "Authorization": f"Bearer {terminal['token']}"})
            assert r.status == 403 and (await r.json())["error"]["code"] == "removed"
    finally:
        if ffmpeg.returncode is None:
            ffmpeg.kill()
            await ffmpeg.wait()


async def test_terminal_left_in_the_lobby_is_refused(client: Any, room: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody admits it: 403 not_admitted, and it leaves the lobby; a denied one gets 403 denied."""
    monkeypatch.setattr(terminals, "ADMIT_WAIT_S", 1.0)
    sid, h, host, base, log = room["sid"], room["h"], room["host"], room["base"], room["log"]
    waiting = await invite(client, h, sid, "无人理会的终端", role="observer")
    denied = await invite(client, h, sid, "被拒绝的终端", role="observer")
    async with aiohttp.ClientSession() as http:
        r = await http.post(f"{base}/whip/{sid}", data=FFMPEG_OFFER,
                            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {waiting['token']}"})
        assert r.status == 403 and (await r.json())["error"]["code"] == "not_admitted"
        await until(lambda: any(e.type == "lobby_left" for e in log), 10, "the lobby place released")
        monkeypatch.setattr(terminals, "ADMIT_WAIT_S", 20.0)

        async def deny() -> None:
            knock = await host.wait_message("knock", timeout=20, where=lambda m: m["peer"]["name"] == "被拒绝的终端")
            await host.send({"type": "deny", "peer": knock["peer"]["id"]})

        denying = asyncio.create_task(deny())
        r = await http.post(f"{base}/whip/{sid}", data=FFMPEG_OFFER,
                            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {denied['token']}"})
        await denying
        assert r.status == 403 and (await r.json())["error"]["code"] == "denied"
    assert not client.app[TERMINALS].resources
    rep = services(client.app).room_hub.rooms[sid]
    assert [p.name for p in rep.room.peers.values()] == [rep.room.peers[host.peer_id].name]


WHEP_IN_PAGE = """async ([url, token]) => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.pc = pc;
  pc.addTransceiver('audio', {direction: 'recvonly'});
  pc.addTransceiver('video', {direction: 'recvonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    setTimeout(done, 3000);
  });
  const r = await fetch(url, {method: 'POST', body: pc.localDescription.sdp,
                              headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}});
  const body = await r.text();
  if (r.status !== 201) return {status: r.status, body};
  await pc.setRemoteDescription({type: 'answer', sdp: body});
  return {status: r.status, location: r.headers.get('Location')};
}"""
WHEP_STATS = """async () => { let v = 0, a = 0;
  (await window.pc.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') v = s.framesDecoded || 0;
    if (s.type === 'inbound-rtp' && s.kind === 'audio') a = s.packetsReceived || 0; });
  return {state: window.pc.connectionState, video: v, audio: a}; }"""


async def test_whep_in_chromium(client: Any, room: dict[str, Any], chromium: str) -> None:
    """A browser is a WHEP player too: cross-origin (CORS preflight for the Bearer header), Chromium's
    own offer, the answer Concord makes on top of Janus's offer; it decodes the host's video."""
    from playwright.async_api import async_playwright  # heavy: loaded on first use

    sid, h, host, base = room["sid"], room["h"], room["host"], room["base"]
    screen = await invite(client, h, sid, "浏览器大屏", role="observer")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await b.new_page()
            admitting = asyncio.create_task(admit(host, "浏览器大屏"))
            res = await page.evaluate(WHEP_IN_PAGE, [f"{base}/whep/{sid}", screen["token"]])
            await admitting
            assert res["status"] == 201, res
            assert res["location"].startswith(f"/whep/{sid}/")
            deadline = time.monotonic() + 40
            while True:
                st = await page.evaluate(WHEP_STATS)
                if st["video"] >= 30 and st["audio"] >= 25:
                    break
                assert time.monotonic() < deadline, st
                await asyncio.sleep(0.5)
            # The host it watches leaves: WHEP cannot renegotiate, so Concord ends the viewer (its
            # PeerConnection closes) and the player may come back for the current main feed.
            terms = client.app[TERMINALS]
            await host.leave()
            await until(lambda: terms.ended["feeds gone"] == 1 and not terms.resources, 20, "the viewer ended")
        finally:
            await b.close()
