"""The playback page in Chromium: our WebM files (passthrough VP8, Opus with our OpusHead, the composite)
play in a real browser, and clicking a ledger event seeks the video."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from server import ledger
from server.ledger_store import append
from server.media.segments import TrackInfo, TrackWriter
from server.recording.store import DbRecordingEvents
from server.services import services
from tests.browser.conftest import poll, shot
from tests.unit.test_segments import opus_packets, vp8_frames

pytestmark = [pytest.mark.browser]


class Collect:
    def __init__(self) -> None:
        self.reports: list[tuple[str, tuple]] = []

    def request_keyframe(self) -> None:
        pass

    def segment_opened(self, *a: Any) -> None:
        self.reports.append(("segment_opened", a))

    def segment_closed(self, *a: Any) -> None:
        self.reports.append(("segment_closed", a))

    def failed(self, *a: Any) -> None:
        raise AssertionError(a)

    def resumed(self, *a: Any) -> None:
        pass


async def _record(app: Any, sid: int) -> float:
    """Write 6 s of one participant's video and audio through the real writer, persisted and ledgered."""
    root = services(app).config.recordings_dir
    events = DbRecordingEvents(services(app).db, sid, "browser-node")
    t0 = time.time() - 10
    for no, kind in ((1, "video"), (2, "audio")):
        col = Collect()
        track = TrackInfo(sid, "p-zhang", "张三", "party", kind, "vp8" if kind == "video" else "opus", kind, no)
        w = TrackWriter(root, track, col, first_ts_wall=t0, max_segment_s=3.0)
        frames = vp8_frames(90, keyframes={40, 80}, size=(320, 192)) if kind == "video" else opus_packets(300)
        for data, ts in frames:
            w.write(data, ts)
        w.close()
        await events.track_started(track)
        for name, args in col.reports:
            await getattr(events, name)(*args)
    return t0


async def test_playback_page_plays_and_seeks(live_server: Any, browser: Any) -> None:
    app = live_server.app
    token = await live_server.login("mediator")
    sid = (await live_server.api("POST", "/api/sessions", token,
                                 {"kind": "mediation", "title": "回放测试", "unit": "340321001"}))["id"]
    async with services(app).db.session() as s:
        await append(s, ledger.session_chain(sid), "recording_on", {"by": "p-host", "by_name": "调解员张三"})
    t0 = await _record(app, sid)
    async with services(app).db.session() as s:  # something said 3 s into the recording
        await append(s, ledger.session_chain(sid), "chat", {"peer": "p-zhang", "name": "张三", "text": "我同意调解方案"},
                     at=datetime.fromtimestamp(t0 + 3.0, UTC))
    job = await services(app).playback.create_job(sid)
    await services(app).playback.run(sid, job)
    assert (await services(app).playback.latest_job(sid)).status == "done"

    page = await (await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})).new_page()
    from server.directory.demo import DEMO_PASSWORD

    await page.goto(f"{live_server.url}/login")
    await page.fill('input[name="username"]', "mediator")
    await page.fill('input[name="password"]', DEMO_PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_load_state()
    await page.goto(f"{live_server.url}/sessions/{sid}/playback")
    # The composite, the video track and the audio track all load and know their duration.
    media = await poll(page, """() => {
        const els = [...document.querySelectorAll('video, audio')];
        if (els.length < 3) return null;
        if (els.some(e => e.error)) return 'error ' + els.map(e => e.error && e.error.message).join(',');
        if (els.some(e => !(e.duration > 0))) return null;
        return els.map(e => [e.tagName, e.duration]);
    }""", timeout_s=30)
    assert not isinstance(media, str), media
    composite_duration = media[0][1]
    assert composite_duration > 4
    # Video frames really decode (not just metadata).
    await page.evaluate("() => { const v = document.getElementById('composite'); v.muted = true; return v.play(); }")
    await poll(page, "() => document.getElementById('composite').getVideoPlaybackQuality().totalVideoFrames > 5")
    # Clicking an event seeks to it.
    target = await page.evaluate("""() => {
        const ev = [...document.querySelectorAll('#timeline .ev')].find(e => e.textContent.includes('我同意调解方案'));
        return ev ? Number(ev.dataset.offset) : null;
    }""")
    assert target is not None and abs(target - 3.0) < 0.05, target
    await page.evaluate("() => document.getElementById('composite').pause()")
    await page.locator("#timeline .ev", has_text="我同意调解方案").click()
    got = await poll(page, f"() => Math.abs(document.getElementById('composite').currentTime - {target}) < 0.6 && document.getElementById('composite').currentTime")
    assert got
    await shot(page, "playback", full_page=True)
    # A Chinese page names tracks and statuses in words, never by code.
    text = await page.inner_text("main")
    assert "张三 · 视频" in text and "张三 · 音频" in text
    assert not re.search(r"\b(?:none|video|audio|closed|composite|track)\b", text), text
    await page.goto(f"{live_server.url}/sessions/{sid}/record")
    assert "校验通过" in await page.content()
    assert await poll(page, "() => document.getElementById('playback-state').textContent.includes('已完成')")
    text = await page.inner_text("main")
    assert "已保存" in text and not re.search(r"\b(?:none|video|audio|closed|composite|track)\b", text), text
    await shot(page, "session-record", full_page=True)
    # Nothing recorded yet: the playback file reads 尚未合成 on both pages, not the job's code "none".
    empty = (await live_server.api("POST", "/api/sessions", token,
                                   {"kind": "mediation", "title": "未录像", "unit": "340321001"}))["id"]
    for path in ("record", "playback"):
        await page.goto(f"{live_server.url}/sessions/{empty}/{path}")
        assert await poll(page, "() => document.getElementById('playback-state').textContent === '尚未合成'"), path
        assert not re.search(r"\bnone\b", await page.inner_text("main")), path
