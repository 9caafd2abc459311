"""A resident on a 390-pixel phone: from the login page to the intake form, then the reference number to the
status page, by links only; nothing overflows the screen, in Chinese and in English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PHONE, shot

pytestmark = [pytest.mark.browser]
TIMEOUT_MS = 60_000


async def fits(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"


async def test_resident_follows_up_on_a_phone(live_server: Any, browser: Any) -> None:
    base = live_server.url
    ctx = await browser.new_context(**PHONE)
    ctx.set_default_timeout(TIMEOUT_MS)
    phone = await ctx.new_page()
    await phone.goto(f"{base}/login")
    await fits(phone)
    async with phone.expect_navigation():
        await phone.click("#public-links #link-intake")
    await phone.select_option("#unit", "340321001001")
    await phone.fill("#name", "孙九")
    await phone.fill("#phone", "13912348765")
    await phone.fill("#description", "村口井盖破损，夜间行人容易掉落，请尽快修复。")
    async with phone.expect_navigation():
        await phone.click("#intake-form button[type=submit]")
    code = (await phone.inner_text("#intake-code")).strip()
    assert re.fullmatch(r"\d{6}-\d{4}-\d{6}", code)
    await fits(phone)
    async with phone.expect_navigation():
        await phone.click("#link-status")
    assert await phone.input_value("#reference") == code
    await phone.fill("#last4", "8765")
    async with phone.expect_navigation():
        await phone.click("#status-form button[type=submit]")
    assert (await phone.inner_text("#status-stage")).strip() == "已受理登记"
    assert "孙九" not in await phone.content()
    await fits(phone)
    await shot(phone, "status-phone-zh", full_page=True)

    # A wrong pair: the same answer as an unknown reference, and the page still fits.
    await phone.fill("#last4", "0000")
    async with phone.expect_navigation():
        await phone.click("#status-form button[type=submit]")
    assert "没有找到" in await phone.inner_text("#status-error")
    await fits(phone)

    # In English.
    await phone.goto(f"{base}/status?lang=en&ref={code}")
    await phone.fill("#last4", "8765")
    async with phone.expect_navigation():
        await phone.click("#status-form button[type=submit]")
    assert (await phone.inner_text("#status-stage")).strip() == "Received"
    await fits(phone)
    await shot(phone, "status-phone-en", full_page=True)
    await ctx.close()
