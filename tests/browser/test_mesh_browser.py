"""mesh.js on its own, in Chromium: perfect negotiation under glare, candidates that arrive before the
description, and a peer that comes back with a fresh RTCPeerConnection.

Two Mesh objects live in one page with real RTCPeerConnections and the fake camera. Their signaling is an
in-page channel that carries the exact `signal` payloads the server would relay; a test can reorder or
delay what it carries, which a real network also does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from server.config import ROOT
from tests.browser.conftest import _free_port, poll

pytestmark = [pytest.mark.browser]

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>
<script type="module">
import { Mesh } from "/static/js/mesh.js";

// A pair of meshes joined by a channel with optional delays per payload kind.
window.makePair = async ({ delayDescriptionMs = 0, delayCandidateMs = 0 } = {}) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const meshes = {};
  const log = [];
  const channel = (from) => ({
    send(msg) {
      if (msg.type !== "signal") return true;
      const delay = msg.data.description ? delayDescriptionMs : delayCandidateMs;
      log.push([from, msg.to, msg.data.description ? msg.data.description.type : "candidate"]);
      setTimeout(() => meshes[msg.to].handleSignal(from, msg.data), delay);
      return true;
    },
  });
  for (const id of ["a", "b"]) {
    meshes[id] = new Mesh({ signaling: channel(id), localStream: stream });
    meshes[id].setSelf(id, []);
  }
  window.meshes = meshes;
  window.signalLog = log;
  return true;
};

window.inboundFrames = async (id, peer) => {
  const link = window.meshes[id].links.get(peer);
  if (!link) return 0;
  let n = 0;
  (await link.pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") n += s.framesDecoded || 0; });
  return n;
};
window.ready = true;
</script></body></html>"""


@pytest.fixture
async def static_server() -> Any:
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    app.router.add_static("/static/", Path(ROOT) / "web" / "static")
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


async def open_pair(browser: Any, url: str, **delays: int) -> Any:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    await page.wait_for_function("window.ready === true")
    args = {"delayDescriptionMs": delays.get("description", 0), "delayCandidateMs": delays.get("candidate", 0)}
    await page.evaluate("(args) => window.makePair(args)", args)
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def both_see_video(page: Any) -> None:
    for me, other in (("a", "b"), ("b", "a")):
        first = await page.evaluate("([m, o]) => window.inboundFrames(m, o)", [me, other])
        await poll(page, "async ([m, o, n]) => (await window.inboundFrames(m, o)) > n + 5", [me, other, first])


async def test_newcomer_offers_and_media_flows_both_ways(browser: Any, static_server: str) -> None:
    page = await open_pair(browser, static_server)
    await page.evaluate("() => { window.meshes.a.connect('b'); }")
    await both_see_video(page)
    kinds = await page.evaluate("window.signalLog.filter((x) => x[2] !== 'candidate')")
    assert kinds == [["a", "b", "offer"], ["b", "a", "answer"]]
    assert page.errors == []


async def test_glare_resolves_to_one_connection(browser: Any, static_server: str) -> None:
    page = await open_pair(browser, static_server, description=50)
    await page.evaluate("() => { window.meshes.a.connect('b'); window.meshes.b.connect('a'); }")
    await both_see_video(page)
    states = await page.evaluate("""[...Object.values(window.meshes)].map((m) =>
        [m.links.size, [...m.links.values()][0].pc.connectionState, [...m.links.values()][0].pc.signalingState])""")
    assert states == [[1, "connected", "stable"], [1, "connected", "stable"]]
    offers = await page.evaluate("window.signalLog.filter((x) => x[2] === 'offer').map((x) => x[0])")
    assert {"a", "b"} <= set(offers), "both sides offered at once: this is the glare case"
    assert page.errors == []


async def test_candidates_before_the_description_are_held(browser: Any, static_server: str) -> None:
    # The answer is slow and candidates are fast: the offerer gets candidates before its remote description.
    page = await open_pair(browser, static_server, description=400)
    await page.evaluate("() => { window.meshes.a.connect('b'); }")
    await both_see_video(page)
    held = await page.evaluate("[window.meshes.a.links.get('b').heldCount, window.meshes.b.links.get('a').heldCount]")
    assert held[0] > 0, "the offerer held the answerer's early candidates"
    assert page.errors == []


async def test_a_fresh_connection_from_the_peer_replaces_the_stale_one(browser: Any, static_server: str) -> None:
    page = await open_pair(browser, static_server)
    await page.evaluate("() => { window.meshes.a.connect('b'); }")
    await both_see_video(page)
    old = await page.evaluate("() => { window.oldPc = window.meshes.b.links.get('a').pc; return window.oldPc.connectionState; }")
    assert old == "connected"
    # `a` reconnects (as after a dropped socket): it drops its side and offers from a new RTCPeerConnection.
    await page.evaluate("() => { window.meshes.a.closeAll(); window.meshes.a.connect('b'); }")
    await page.wait_for_function("window.meshes.b.links.get('a') && window.meshes.b.links.get('a').pc !== window.oldPc",
                                 timeout=30_000)
    await both_see_video(page)
    assert await page.evaluate("window.oldPc.signalingState") == "closed"
