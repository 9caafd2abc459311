"""kill -9 of a real ``concord serve`` in the middle of a live recorded session, then a restart.

A real aiortc participant consents and sends to the recorder over the real /ws signaling of a server
subprocess. After SIGKILL and a restart on the same data: every closed segment is intact, listed and
matches its ledgered hash; the half-written ones are salvaged or discarded and listed as such; the
session is ``interrupted``; ``concord verify-log`` passes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from server.directory.demo import DEMO_PASSWORD
from tests.conftest import cli_env
from tests.media.helpers import probe, sha256
from tests.media.synthetic import SyntheticAudio, SyntheticVideo

pytestmark = [pytest.mark.media, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start(env: dict, data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("server did not start")
            await asyncio.sleep(0.3)


class Ws:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inbox: list[dict] = []

    async def send(self, msg: dict) -> None:
        await self.ws.send_str(json.dumps(msg))

    async def expect(self, type_: str, timeout: float = 15.0, where=None) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if m.get("type") == type_ and (where is None or where(m)):
                    return self.inbox.pop(i)
            left = deadline - time.time()
            assert left > 0, f"no {type_}: {self.inbox}"
            m = await self.ws.receive(timeout=left)
            assert m.type == aiohttp.WSMsgType.TEXT, m
            self.inbox.append(json.loads(m.data))


async def test_kill_9_while_recording_then_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    root = tmp_path / "recordings"
    env = cli_env(CONCORD_RECORDINGS_DIR=str(root), CONCORD_NODE_ID="node-1", CONCORD_RECORDING_SEGMENT_S="2")
    env.pop("CONCORD_DATABASE_URL", None)
    assert subprocess.run([sys.executable, "-m", "server", "demo", "--data-dir", str(data)], env=env,
                          capture_output=True, timeout=120).returncode == 0
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = await _start(env, data, port)
    pc = RTCPeerConnection()
    try:
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{base}/api/auth/login", json={"username": "mediator", "password": DEMO_PASSWORD})
            h = {"Authorization": f"Bearer {(await r.json())['token']}"}
            r = await http.post(f"{base}/api/sessions", headers=h,
                                json={"kind": "mediation", "title": "宅基地纠纷（断电测试）", "unit": "340321001"})
            sid = (await r.json())["id"]
            r = await http.post(f"{base}/api/sessions/{sid}/join-token", headers=h)
            host = Ws(await http.ws_connect(f"{base}/ws"))
            await host.send({"type": "join", "token": (await r.json())["token"]})
            await host.expect("welcome")
            r = await http.post(f"{base}/api/sessions/{sid}/invitations", headers=h, json={"role": "party", "name": "张三"})
            zhang = Ws(await http.ws_connect(f"{base}/ws"))
            await zhang.send({"type": "join", "token": (await r.json())["token"]})
            await zhang.expect("lobby")
            knock = await host.expect("knock")
            await host.send({"type": "admit", "peer": knock["peer"]["id"]})
            await zhang.expect("welcome")
            await host.send({"type": "recording", "on": True})
            rec = (await zhang.expect("peer-joined", where=lambda m: m["peer"]["role"] == "recorder"))["peer"]
            await zhang.send({"type": "consent", "recording": True})
            pc.addTrack(SyntheticVideo(320, 180, 15))
            pc.addTrack(SyntheticAudio())
            await pc.setLocalDescription(await pc.createOffer())
            await zhang.send({"type": "signal", "to": rec["id"],
                              "data": {"description": {"type": "offer", "sdp": pc.localDescription.sdp}}})
            ans = await zhang.expect("signal", where=lambda m: m["from"] == rec["id"])
            await pc.setRemoteDescription(RTCSessionDescription(**ans["data"]["description"]))

            deadline = time.time() + 60
            while True:
                async with http.get(f"{base}/api/sessions/{sid}/recordings", headers=h) as r:
                    rows = (await r.json())["recordings"]
                if sum(x["status"] == "closed" for x in rows) >= 4:
                    break
                assert time.time() < deadline, rows
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.3)  # inside the next segments, past their first clusters
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
    finally:
        await pc.close()
        if server.poll() is None:
            server.kill()

    server = await _start(env, data, port)
    try:
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{base}/api/auth/login", json={"username": "mediator", "password": DEMO_PASSWORD})
            h = {"Authorization": f"Bearer {(await r.json())['token']}"}
            async with http.get(f"{base}/api/sessions/{sid}/recordings", headers=h) as r:
                rows = (await r.json())["recordings"]
            async with http.get(f"{base}/api/sessions/{sid}/log?verify=1", headers=h) as r:
                log = await r.json()
            async with http.get(f"{base}/api/sessions/{sid}", headers=h) as r:
                session = await r.json()
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert log["verification"]["ok"], log["verification"]
    assert session["state"] == "interrupted", session
    types = [e["type"] for e in log["events"]]
    assert "recording_interrupted" in types and "session_interrupted" in types
    segs = [x for x in rows if x["artefact"] == "segment"]
    statuses = [x["status"] for x in segs]
    assert "writing" not in statuses and statuses.count("closed") >= 4 and "recovered" in statuses, statuses
    ledgered = {e["data"]["path"]: e["data"]["sha256"] for e in log["events"]
                if e["type"] in ("recording_segment", "segment_recovered")}
    for x in segs:
        path = root / x["path"]
        if x["status"] in ("closed", "recovered"):
            assert sha256(path) == x["sha256"] == ledgered[x["path"]]
            info = probe(path)
            assert info["decoded"] == info["packets"] > 0
        else:
            assert x["status"] == "discarded" and not path.exists()
    out = subprocess.run([sys.executable, "-m", "server", "verify-log", "--session", str(sid), "--data-dir", str(data)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("OK"), out.stdout + out.stderr
