"""A real mediation in two browser windows: staff join, lobby and admission, video both ways, a private
sub-room and back, removal; plus the identity check and a phone-sized smoke test.

Everything is real: the app with its /ws signaling, Chromium's WebRTC with fake camera and microphone,
peer-to-peer media on loopback. Waits poll with deadlines; nothing sleeps for correctness.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, LiveServer, poll, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEDIA_TIMEOUT_MS = 30_000

REMOTE_VIDEO_PLAYING = """() => {
  const vids = [...document.querySelectorAll('#stage .tile:not(.local) video')];
  return vids.length > 0 && vids.every((v) => v.videoWidth > 0 && !v.paused);
}"""

FRAMES_DECODED = """async () => {
  let n = 0;
  for (const link of window.concord.mesh.links.values()) {
    const report = await link.pc.getStats();
    report.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
  }
  return n;
}"""


async def new_page(browser: Any, options: dict, errors: list[str]) -> Any:
    ctx = await browser.new_context(**options)
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


async def staff_login(page: Any, server: LiveServer, username: str) -> None:
    from server.directory.demo import DEMO_PASSWORD

    await page.goto(f"{server.url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_url(f"{server.url}/")


async def pass_prejoin(page: Any) -> None:
    """Wait for the device check to find the fake camera and microphone, then join."""
    await page.wait_for_function("document.querySelector('#device-status').dataset.kind === 'ok'",
                                 timeout=MEDIA_TIMEOUT_MS)
    await page.click("#join-button")


async def host_joins(page: Any, server: LiveServer, session_id: int) -> None:
    """The mediator logs in and joins from the session page (staff join token, no invitation)."""
    await staff_login(page, server, "mediator")
    await page.goto(f"{server.url}/sessions/{session_id}")
    await page.click("#join-session")
    await page.wait_for_url("**/join/**")
    await pass_prejoin(page)
    await page.wait_for_selector("#screen-room:not([hidden])")


async def frames_rising(page: Any) -> None:
    """framesDecoded of the inbound video grows: the picture is moving, not one frozen frame."""
    first = await page.evaluate(FRAMES_DECODED)
    await poll(page, f"async (first) => (await ({FRAMES_DECODED})()) > first + 5", first)


async def tile_count(page: Any, n: int) -> None:
    await page.wait_for_function(f"document.querySelectorAll('#stage .tile').length === {n}", timeout=MEDIA_TIMEOUT_MS)


async def make_session(server: LiveServer, check: dict | None = None) -> tuple[int, dict]:
    token = await server.login("mediator")
    me = await server.api("GET", "/api/auth/me", token)
    sess = await server.api("POST", "/api/sessions", token, {
        "kind": "mediation", "title": "张三与李四宅基地纠纷调解", "unit": me["unit"]})
    body: dict = {"role": "party", "name": "张三"}
    if check:
        body["check"] = check
    inv = await server.api("POST", f"/api/sessions/{sess['id']}/invitations", token, body)
    return sess["id"], inv


async def test_mediation_in_two_browsers(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    session_id, inv = await make_session(live_server)

    host = await new_page(browser, DESKTOP, errors)
    await host_joins(host, live_server, session_id)

    # The party opens the invitation link and waits in the lobby.
    party = await new_page(browser, DESKTOP, errors)
    await party.goto(live_server.url + inv["url"])
    await shot(party, "join-desktop", full_page=True)
    await pass_prejoin(party)
    await party.wait_for_selector("#screen-lobby:not([hidden])")
    await shot(party, "lobby-desktop")

    # The host admits the party from the moderator panel's lobby queue.
    await host.click("#btn-mod")
    await host.click("#lobby-queue button.admit")
    for page in (host, party):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
        await frames_rising(page)
    assert await party.inner_text("#stage .tile:not(.local) .name") != ""
    await shot(host, "room-host-desktop")

    # Shuttle mediation: the party goes to a private room; the media connection between them ends.
    await host.click("#mod-people button.move")
    await host.fill("dialog.move-dialog input[name=subroom]", "背靠背一")
    await host.click("dialog.move-dialog button[value=ok]")
    await tile_count(host, 1)
    await tile_count(party, 1)
    await party.wait_for_function("window.concord.mesh.links.size === 0", timeout=MEDIA_TIMEOUT_MS)
    assert "背靠背一" in await party.inner_text("#room-subroom")

    # The mediator walks into that room: the mover offers, and they see each other again.
    await host.click(".mod-goto button.goto")
    for page in (host, party):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
        await frames_rising(page)
    await shot(party, "room-party-subroom")

    # Both back to the main room, then the party is removed.
    await host.click("#mod-people button.back")
    await host.click(".mod-goto button.back")
    await host.wait_for_function("document.querySelector('#room-subroom').textContent.includes('主会议室')")
    for page in (host, party):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    await host.click("#mod-people button.remove")
    await host.click("dialog.confirm button[value=ok]")
    await party.wait_for_selector("#screen-ended:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    assert "移出" in await party.inner_text("#ended-text")
    assert not await party.is_visible("#btn-rejoin")
    await tile_count(host, 1)
    assert errors == []


async def test_identity_check_and_phone_layout(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    session_id, inv = await make_session(live_server, {"method": "id_last4", "value": "123X"})
    party = await new_page(browser, PHONE, errors)
    await party.goto(live_server.url + inv["url"])
    await party.wait_for_selector("#identity-check")
    await party.wait_for_function("document.querySelector('#device-status').dataset.kind === 'ok'",
                                  timeout=MEDIA_TIMEOUT_MS)
    await shot(party, "join-phone", full_page=True)
    # Nothing wider than the phone: no sideways scrolling on the join page.
    assert await party.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert await party.is_disabled("#join-button")

    # A wrong answer: the server refuses the join and the page asks again.
    await party.fill("#check-answer", "9999")
    await party.click("#join-button")
    await party.wait_for_function(
        "document.querySelector('#check-message') && document.querySelector('#check-message').textContent.length > 0",
        timeout=MEDIA_TIMEOUT_MS)
    assert "未通过" in await party.inner_text("#check-message")

    # The right one (x typed lower-case) gets into the lobby.
    await party.wait_for_function("document.querySelector('#device-status').dataset.kind === 'ok'",
                                  timeout=MEDIA_TIMEOUT_MS)
    await party.fill("#check-answer", "123x")
    await party.click("#join-button")
    await party.wait_for_selector("#screen-lobby:not([hidden])", timeout=MEDIA_TIMEOUT_MS)

    host_token = await live_server.login("mediator")
    staff = await live_server.api("POST", f"/api/sessions/{session_id}/join-token", host_token)
    host = await new_page(browser, DESKTOP, errors)
    await host.goto(f"{live_server.url}/join/{staff['token']}")
    await pass_prejoin(host)
    await host.click("#btn-mod")
    await host.click("#lobby-queue button.admit")
    await party.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    await shot(party, "room-phone")

    # Phone room: controls on screen, big enough to tap, no sideways scroll.
    sizes = await party.evaluate("""() => [...document.querySelectorAll('.controls .ctl')]
        .filter((b) => b.offsetParent !== null)
        .map((b) => { const r = b.getBoundingClientRect(); return [r.width, r.height, r.right, r.bottom]; })""")
    assert sizes, "no visible controls"
    width, height = PHONE["viewport"]["width"], PHONE["viewport"]["height"]
    for w, h, right, bottom in sizes:
        assert w >= 44 and h >= 44
        assert right <= width + 1 and bottom <= height + 1
    assert await party.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Chat opens as a bottom sheet and delivers both ways.
    await party.click("#btn-chat")
    await party.fill("#chat-input", "您好，我是张三")
    await party.press("#chat-input", "Enter")
    await host.click("#side .tab[data-panel=chat]")
    await host.wait_for_function("document.querySelector('#chat-log').textContent.includes('我是张三')")
    await shot(party, "chat-phone")
    assert errors == []


async def test_bad_invitation_link_gets_a_clear_page(live_server: LiveServer, browser: Any) -> None:
    page = await new_page(browser, PHONE, [])
    resp = await page.goto(f"{live_server.url}/join/not-a-real-token")
    assert resp.status in (401, 403)
    assert "邀请链接无效" in await page.inner_text("#join-error")


async def join_pair(server: LiveServer, browser: Any, errors: list[str], party_options: dict = DESKTOP,
                    kind: str = "mediation") -> tuple[Any, Any]:
    """A host (staff join token) and an admitted party, with video flowing both ways."""
    token = await server.login("mediator")
    me = await server.api("GET", "/api/auth/me", token)
    sess = await server.api("POST", "/api/sessions", token, {"kind": kind, "title": "邻里纠纷调解", "unit": me["unit"]})
    inv = await server.api("POST", f"/api/sessions/{sess['id']}/invitations", token, {"role": "party", "name": "李四"})
    staff = await server.api("POST", f"/api/sessions/{sess['id']}/join-token", token)
    host = await new_page(browser, DESKTOP, errors)
    await host.goto(f"{server.url}/join/{staff['token']}")
    await pass_prejoin(host)
    party = await new_page(browser, party_options, errors)
    await party.goto(server.url + inv["url"])
    await pass_prejoin(party)
    await host.click("#btn-mod")
    await host.click("#lobby-queue button.admit", timeout=MEDIA_TIMEOUT_MS)
    for page in (host, party):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    return host, party


async def test_reconnect_resumes_place_with_fresh_connections(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await join_pair(live_server, browser, errors)
    before = await party.evaluate("() => { window.oldPc = [...window.concord.mesh.links.values()][0].pc; "
                                  "return window.concord.me.id; }")
    # The party's network drops: the socket dies without a leave.
    await party.evaluate("() => window.concord.signaling.dropForTest()")
    # It comes back with its resume token: same peer id, straight into the room (not the lobby), and a new
    # RTCPeerConnection on both sides carrying video again.
    await poll(party, "() => window.concord.signaling.state === 'open' && window.concord.mesh.links.size === 1 "
                      "&& [...window.concord.mesh.links.values()][0].pc !== window.oldPc")
    assert await party.evaluate("window.concord.me.id") == before
    assert await party.is_hidden("#screen-lobby")
    for page in (host, party):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
        await frames_rising(page)
    assert await party.evaluate("window.oldPc.connectionState") == "closed"
    assert errors == []


async def test_hand_floor_and_recording_consent(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await join_pair(live_server, browser, errors)

    # Raise hand: the host sees it on the tile and in the moderator panel.
    await party.click("#btn-hand")
    await host.wait_for_function("document.querySelector('#stage .tile:not(.local)').classList.contains('hand')")
    assert "举手" in await host.inner_text("#mod-people")
    # Giving the floor lowers the hand and marks the tile.
    await host.click("#mod-people button.floor")
    await party.wait_for_function("document.querySelector('#stage .tile.local').classList.contains('floor')")
    await host.wait_for_function("!document.querySelector('#stage .tile:not(.local)').classList.contains('hand')")

    # Recording on: everyone is asked; the indicator stays up; a refusal is shown to all.
    await host.click(".mod-controls button.rec")
    await party.wait_for_selector("#consent-dialog[open]")
    await shot(party, "consent-dialog")
    await party.click("#consent-no")
    await host.wait_for_selector("#consent-dialog[open]")
    await host.click("#consent-yes")
    for page in (host, party):
        await page.wait_for_selector("#rec-indicator:not([hidden])")
    await host.wait_for_function("document.querySelector('#rec-declined').textContent.includes('李四')")
    await party.wait_for_function("document.querySelector('#rec-declined').textContent.includes('我')")
    await shot(host, "recording-host")
    # Switching it off closes the prompt state and hides the indicator.
    await host.click(".mod-controls button.rec")
    for page in (host, party):
        await page.wait_for_selector("#rec-indicator", state="hidden")
    assert errors == []


async def test_petition_party_speaks_only_with_the_floor(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await join_pair(live_server, browser, errors, kind="petition")
    # A petitioner's microphone stays off until the host gives the floor (the kind's speaking rule).
    assert await party.evaluate("window.concord.mesh.tracks.audio.enabled") is False
    await host.click("#mod-people button.floor")
    await poll(party, "() => window.concord.mesh.tracks.audio.enabled === true")
    await host.click("#mod-people button.floor")  # now "收回发言权"
    await poll(party, "() => window.concord.mesh.tracks.audio.enabled === false")
    assert errors == []


async def test_reload_in_a_private_room_comes_back_there(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await join_pair(live_server, browser, errors)
    await host.click("#mod-people button.move")
    await host.fill("dialog.move-dialog input[name=subroom]", "背靠背一")
    await host.click("dialog.move-dialog button[value=ok]")
    await party.wait_for_function("document.querySelector('#room-subroom').textContent.includes('背靠背一')")
    await host.click(".mod-goto button.goto")
    await party.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    # The party reloads the page: same place (the private room), no lobby, media again.
    await party.reload()
    await pass_prejoin(party)
    await party.wait_for_selector("#screen-room:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    assert "背靠背一" in await party.inner_text("#room-subroom")
    for page in (host, party):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
        await frames_rising(page)
    assert errors == []


async def test_browsers_that_consent_are_recorded(live_server: LiveServer, browser: Any) -> None:
    """Browser → server recorder (aiortc): consenting people offer to the `recorder` peer; a refusal is
    never recorded; segments land on disk and in the session's recordings list."""
    errors: list[str] = []
    host, party = await join_pair(live_server, browser, errors)
    await host.click(".mod-controls button.rec")
    await host.wait_for_selector("#consent-dialog[open]")
    await host.click("#consent-yes")
    await party.wait_for_selector("#consent-dialog[open]")
    await party.click("#consent-no")
    recorder_link = """() => {
      const c = window.concord;
      const rec = [...c.peers.values()].find((p) => p.role === 'recorder');
      const link = rec && c.mesh.links.get(rec.id);
      return link ? link.pc.connectionState : null;
    }"""
    await poll(host, f"() => ({recorder_link})() === 'connected'")
    assert await party.evaluate(recorder_link) is None  # declined: no connection to the recorder
    # Media flows to the recorder while the room's own call goes on.
    sent = """async () => {
      const c = window.concord;
      const rec = [...c.peers.values()].find((p) => p.role === 'recorder');
      let n = 0;
      (await c.mesh.links.get(rec.id).pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp') n += s.bytesSent || 0; });
      return n;
    }"""
    first = await host.evaluate(sent)
    await poll(host, f"async (first) => (await ({sent})()) > first + 20000", first)
    await host.wait_for_function(REMOTE_VIDEO_PLAYING)
    # The party changes its mind: it connects too.
    await party.click("#rec-change")
    await party.click("#consent-yes")
    await poll(party, f"() => ({recorder_link})() === 'connected'")
    await host.click(".mod-controls button.rec")  # stop
    for page in (host, party):
        await page.wait_for_selector("#rec-indicator", state="hidden")
    token = await live_server.login("mediator")
    sid = await host.evaluate("window.concord.config.session_id")

    async def recordings() -> list:
        return (await live_server.api("GET", f"/api/sessions/{sid}/recordings", token))["recordings"]

    import asyncio
    import time

    deadline = time.monotonic() + 30
    recs: list = []
    while time.monotonic() < deadline:
        recs = await recordings()
        finished = all(r["bytes"] is not None and r["sha256"] for r in recs)  # the last segment is closing
        if finished and {r["kind"] for r in recs} >= {"video", "audio"} and len({r["peer"] for r in recs}) >= 2:
            break
        await asyncio.sleep(0.5)
    assert {r["kind"] for r in recs} >= {"video", "audio"}, recs
    assert len({r["peer"] for r in recs}) >= 2, "both people, once both consented"
    assert all(r["bytes"] > 0 and len(r["sha256"]) == 64 for r in recs)
    assert errors == []


async def test_phone_host_admits_two_parties(live_server: LiveServer, browser: Any) -> None:
    """A mediator on a phone: every control on screen (panels fold into "more"), admits from the sheet."""
    errors: list[str] = []
    token = await live_server.login("mediator")
    me = await live_server.api("GET", "/api/auth/me", token)
    sess = await live_server.api("POST", "/api/sessions", token, {"kind": "mediation", "title": "张三与李四宅基地纠纷调解",
                                                                  "unit": me["unit"]})
    invs = [await live_server.api("POST", f"/api/sessions/{sess['id']}/invitations", token, {"role": "party", "name": n})
            for n in ("张三", "李四")]
    staff = await live_server.api("POST", f"/api/sessions/{sess['id']}/join-token", token)
    host = await new_page(browser, PHONE, errors)
    await host.goto(f"{live_server.url}/join/{staff['token']}")
    await pass_prejoin(host)
    parties = []
    for inv in invs:
        p = await new_page(browser, PHONE, errors)
        await p.goto(live_server.url + inv["url"])
        await pass_prejoin(p)
        parties.append(p)
    await host.wait_for_function("window.concord.lobby.size === 2", timeout=MEDIA_TIMEOUT_MS)
    assert await host.inner_text("#btn-more .badge") == "2"
    for sel in ("#btn-leave", "#btn-mic", "#btn-more"):
        box = await host.locator(sel).bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["viewport"]["width"] + 1, sel
    await host.click("#btn-more")
    await host.click("#lobby-queue li:first-child button.admit")
    await host.wait_for_function("window.concord.lobby.size === 1")
    await host.click("#lobby-queue button.admit")
    await host.click("#side-close")
    for p in (host, *parties):
        await p.wait_for_function("document.querySelectorAll('#stage .tile:not(.local) video').length === 2",
                                  timeout=MEDIA_TIMEOUT_MS)
        await p.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    await shot(host, "room-phone-host-three")
    assert errors == []


async def host_admits_phone_party(server: LiveServer, browser: Any, errors: list[str]) -> tuple[Any, Any]:
    """A desktop host and a phone party, admitted, the host seeing the party's video."""
    session_id, inv = await make_session(server)
    host = await new_page(browser, DESKTOP, errors)
    await host_joins(host, server, session_id)
    party = await new_page(browser, PHONE, errors)
    await party.goto(server.url + inv["url"])
    await pass_prejoin(party)
    await party.wait_for_selector("#screen-lobby:not([hidden])")
    await host.click("#btn-mod")
    await host.click("#lobby-queue button.admit")
    await host.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    return host, party


async def test_camera_off_releases_the_device_and_on_brings_the_picture_back(
        live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await host_admits_phone_party(live_server, browser, errors)

    # Off: the capture itself stops (the camera light goes out), and the host shows the party's initial.
    await party.evaluate("() => { window._cam = window.concord.mesh.tracks.video; }")
    await party.click("#btn-cam")
    await party.wait_for_function("window._cam.readyState === 'ended'", timeout=MEDIA_TIMEOUT_MS)
    assert await party.evaluate("window.concord.localStream.getVideoTracks().length") == 0
    assert await party.get_attribute("#btn-cam", "aria-pressed") == "true"
    await host.wait_for_selector("#stage .tile:not(.local).no-video", timeout=MEDIA_TIMEOUT_MS)

    # On: a fresh capture goes out on the same connection, and the host's picture moves again.
    await party.click("#btn-cam")
    await party.wait_for_function("window.concord.mesh.tracks.video && window.concord.mesh.tracks.video.readyState"
                                  " === 'live'", timeout=MEDIA_TIMEOUT_MS)
    await host.wait_for_selector("#stage .tile:not(.local):not(.no-video)", timeout=MEDIA_TIMEOUT_MS)
    await frames_rising(host)
    assert await party.get_attribute("#btn-cam", "aria-pressed") == "false"
    assert errors == []


SENDER_PARAMS = """() => {
  const link = [...window.concord.mesh.links.values()][0];
  const out = {};
  for (const tr of link.pc.getTransceivers()) {
    const kind = tr.receiver.track && tr.receiver.track.kind;
    const enc = (tr.sender.getParameters().encodings || [])[0] || {};
    out[kind] = {maxBitrate: enc.maxBitrate, maxFramerate: enc.maxFramerate,
                 scale: enc.scaleResolutionDownBy, priority: enc.priority};
  }
  return out;
}"""

REMOTE_WIDTH = "() => document.querySelector('#stage .tile:not(.local) video').videoWidth"


async def test_uplink_budget_and_low_data_mode(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await host_admits_phone_party(live_server, browser, errors)
    await host.wait_for_function(f"({REMOTE_WIDTH})() === 640", timeout=MEDIA_TIMEOUT_MS)

    # One link: the whole budget up to the per-link cap; voice ahead of the picture.
    await party.wait_for_function(f"({SENDER_PARAMS})().video.maxBitrate === 1200000", timeout=MEDIA_TIMEOUT_MS)
    p = await party.evaluate(SENDER_PARAMS)
    assert p["video"]["maxFramerate"] == 30 and p["audio"]["priority"] == "high"

    # Low data: a quarter-size, 15 fps picture at 300 kbps; the host's picture really shrinks.
    await party.click("#lowdata-toggle")
    assert await party.get_attribute("#lowdata-toggle", "aria-pressed") == "true"
    await shot(party, "room-phone-lowdata")
    p = await party.evaluate(SENDER_PARAMS)
    assert p["video"] == {"maxBitrate": 300000, "maxFramerate": 15, "scale": 2, "priority": "low"}
    await host.wait_for_function(f"({REMOTE_WIDTH})() === 320", timeout=MEDIA_TIMEOUT_MS)
    assert await party.evaluate("localStorage.getItem('concord.lowData')") == "1"  # remembered for next time
    await party.click("#lowdata-toggle")
    await host.wait_for_function(f"({REMOTE_WIDTH})() === 640", timeout=MEDIA_TIMEOUT_MS)
    await frames_rising(host)

    # The rules themselves: the split between links, and when poor links trigger low data.
    rules = await party.evaluate("""async () => {
      const b = await import('/static/js/bandwidth.js');
      const kbps = (n, low) => b.videoLimits(n, low).maxBitrate / 1000;
      const w = new b.PoorNetworkWatch(3);
      const trips = [["poor", "good"], ["poor", "poor", "good"], ["poor", "poor", "good"], ["connecting", "poor"],
                     ["poor"], ["poor"], ["poor"]].map((q) => w.feed(q));
      return {one: kbps(1, false), two: kbps(2, false), three: kbps(3, false), many: kbps(30, false),
              lowTwo: kbps(2, true), trips};
    }""")
    assert rules == {"one": 1200, "two": 750, "three": 500, "many": 100, "lowTwo": 150,
                     "trips": [False, False, False, True, False, False, False]}
    assert errors == []
