"""The pre-join device check when things go wrong, with real browsers (no stubs of getUserMedia):
permission refused, and a machine with no camera or microphone at all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, PHONE, LiveServer, shot
from tests.browser.test_room_browser import make_session

pytestmark = [pytest.mark.browser]


async def open_join(chromium: str, args: list[str], url: str) -> tuple[Any, Any, Any]:
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    b = await pw.chromium.launch(executable_path=chromium, args=args, headless=True)
    page = await (await b.new_context(**PHONE)).new_page()
    page.set_default_timeout(60_000)  # a fresh browser on a shared 2-core machine: generous, never unbounded
    # The verdict of the device check is what matters, and the next line waits for it; "load" adds nothing.
    await page.goto(url, wait_until="domcontentloaded")
    await page.wait_for_function("['warn', 'error'].includes(document.querySelector('#device-status').dataset.kind)")
    return pw, b, page


async def test_permission_refused_says_how_to_fix_it(live_server: LiveServer, chromium: str) -> None:
    _, inv = await make_session(live_server)
    # Without the fake-UI flag nobody answers the permission prompt: headless Chromium refuses it.
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
    pw, b, page = await open_join(chromium, args, live_server.url + inv["url"])
    try:
        text = await page.inner_text("#device-status")
        assert "拒绝" in text and "允许" in text
        assert await page.get_attribute("#device-status", "data-kind") == "error"
        assert await page.is_visible("#retry-devices")
        # Joining without devices is still possible (listen and chat, or fix it in the room).
        assert await page.is_enabled("#join-button")
        await shot(page, "prejoin-denied-phone", full_page=True)
    finally:
        await b.close()
        await pw.stop()


async def test_no_devices_says_so(live_server: LiveServer, chromium: str) -> None:
    _, inv = await make_session(live_server)
    # No fake devices: this machine has no camera or microphone.
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-device-for-media-stream"]
    pw, b, page = await open_join(chromium, args, live_server.url + inv["url"])
    try:
        text = await page.inner_text("#device-status")
        assert "没有找到摄像头或麦克风" in text
        assert "无摄像头" in await page.inner_text("#camera-select")
        assert await page.is_visible("#preview-empty")
    finally:
        await b.close()
        await pw.stop()
