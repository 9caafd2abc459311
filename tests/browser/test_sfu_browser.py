"""A dispatch briefing on the SFU in Chromium: a county host and six township centres, one on a phone.

Everything is real: the app with CONCORD_JANUS_URL pointing at the test Janus, /ws signaling, Chromium's
WebRTC with the fake camera publishing three simulcast layers through sfu.js, Janus forwarding. Every
centre sees the host's video playing; the host sees the six centres' thumbnails.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, DESKTOP, PHONE, LiveServer, poll, shot
from tests.browser.test_room_browser import MEDIA_TIMEOUT_MS, new_page, pass_prejoin, staff_login
from tests.sfu.conftest import JanusTarget, janus  # noqa: F401  (the test Janus fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.media, pytest.mark.timeout(420)]

CENTRES = ["龙亢镇综治中心", "河溜镇综治中心", "新马桥镇综治中心", "濠城镇综治中心", "唐集镇综治中心", "曹老集镇综治中心"]

PLAYING = """(peer) => {
  const tile = [...document.querySelectorAll('#stage .tile')].find((t) => t.dataset.peer === peer);
  const v = tile && tile.querySelector('video');
  return !!v && v.videoWidth > 0 && !v.paused && v.readyState >= 2;
}"""

THUMBNAILS = """(n) => {
  const vids = [...document.querySelectorAll('#stage .tile:not(.local) video')];
  return vids.length === n && vids.every((v) => v.videoWidth > 0 && !v.paused);
}"""


@pytest.fixture
async def browser(chromium: str, tmp_path: Any) -> Any:
    """Seven pages share two cores: the fake camera plays a small, slow clip instead of 640x480 at 30 fps."""
    import subprocess

    from playwright.async_api import async_playwright

    clip = tmp_path / "camera.y4m"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10",
                    "-t", "3", "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=60)
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, headless=True,
                                    args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"])
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def live_config(janus: JanusTarget) -> dict[str, Any]:  # noqa: F811
    return {"janus_urls": (janus.ws_url,), "janus_api_secret": janus.api_secret,
            "janus_admin_key": janus.admin_key, "janus_admin_secret": janus.admin_secret}


async def test_dispatch_briefing_host_and_six_centres(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    token = await live_server.login("mediator_340321")
    sess = await live_server.api("POST", "/api/sessions", token, {
        "kind": "dispatch", "title": "全县矛盾纠纷排查调度会", "unit": "340321"})
    sid = sess["id"]

    host = await new_page(browser, DESKTOP, errors)
    await staff_login(host, live_server, "mediator_340321")
    await host.goto(f"{live_server.url}/sessions/{sid}")
    await host.click("#join-session")
    await host.wait_for_url("**/join/**")
    await pass_prejoin(host)
    await host.wait_for_selector("#screen-room:not([hidden])")
    assert await host.evaluate("window.concord.room.topology") == "sfu"
    host_id = await host.evaluate("window.concord.me.id")

    centres = []
    for i, name in enumerate(CENTRES):
        inv = await live_server.api("POST", f"/api/sessions/{sid}/invitations", token, {"name": name, "role": "observer"})
        page = await new_page(browser, PHONE if i == 0 else DESKTOP, errors)
        await page.goto(live_server.url + inv["url"], timeout=120_000)
        await pass_prejoin(page)
        await page.wait_for_selector("#screen-lobby:not([hidden])")
        # The host admits from its lobby queue (the moderator panel's button sends the same message).
        await poll(host, "(name) => [...window.concord.lobby.values()].some((p) => p.name === name)", name)
        await host.evaluate("""(name) => {
          const p = [...window.concord.lobby.values()].find((x) => x.name === name);
          window.concord.send({ type: 'admit', peer: p.id });
        }""", name)
        await page.wait_for_selector("#screen-room:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
        centres.append(page)

    for page in centres:
        await page.wait_for_function(PLAYING, arg=host_id, timeout=60_000)
        assert await page.evaluate("window.concord.sfu.active && window.concord.mesh.links.size === 0")
    await host.wait_for_function(THUMBNAILS, arg=len(CENTRES), timeout=60_000)
    await shot(host, "sfu-dispatch-host")
    await shot(centres[0], "sfu-dispatch-phone")
    # The phone's picture of the host is moving (frames keep being decoded on the receiving connection).
    decoded = """async () => { let n = 0; (await window.concord.sfu.sub.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; }); return n; }"""
    first = await centres[0].evaluate(decoded)
    await poll(centres[0], f"async (first) => (await ({decoded})()) > first + 10", first, timeout_s=30)
    # The browsers publish three simulcast layers.
    rids = await host.evaluate("window.concord.sfu.videoSender.getParameters().encodings.map((e) => e.rid)")
    assert rids == ["q", "h", "f"]
    # The host reported its tiles; the server chose a layer for every centre's video from them.
    from server.services import services

    bridge = services(live_server.app).sfu
    assert bridge is not None
    pm = bridge.rooms[sid].peers[host_id]
    await poll(host, "() => true")  # let a report go out
    assert pm.layers is not None and len(pm.layers["tiles"]) == len(CENTRES)
    videos = [str(st["mid"]) for st in pm.streams if st.get("type") == "video"]
    assert videos and all(pm.applied.get(mid, (False, None))[1] is not None for mid in videos), pm.applied
    # Quality badges work on the SFU as on the mesh: sfu.sample() gives real getStats figures per centre.
    sample = """async () => { const s = await window.concord.sfu.sample(); return Object.fromEntries(
      Object.entries(s).map(([k, v]) => [k, [v.quality, v.framesDecoded, v.frameWidth, v.rtt]])); }"""
    await host.evaluate(sample)  # a first sample: rates need two
    await poll(host, f"async () => {{ const s = await ({sample})(); return Object.keys(s).length === {len(CENTRES)}"
                     " && Object.values(s).every((v) => v[0] !== 'connecting' && v[1] > 0 && v[2] > 0); }",
               timeout_s=30)
    assert await host.evaluate(f"""() => [...document.querySelectorAll('.quality')]
      .filter((q) => ['good', 'fair', 'poor'].includes(q.dataset.quality)).length >= {len(CENTRES)}""")
    assert errors == []
