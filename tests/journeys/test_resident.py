"""A resident, on a phone, through the public pages only.

From the site's front page the resident follows the link to the help form (/intake), files a request
and keeps the reference number. The status page (reference + last 4 digits of the phone) shows the
progress and the unit handling it, and nothing more; a wrong phone gets a clear refusal. The 龙亢镇
mediator then takes the case on through the pages, and the resident, coming back, sees the new status.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.journeys.conftest import Journey, open_page, sign_in
from tests.journeys.steps import case_action, case_status, go, menu, no_error_page, page_text, snap_all

NAME, PHONE_NO = "钱八", "13912345678"


async def open_status(page: Any, code: str, last4: str) -> None:
    """On the status page: the reference number and the phone's last 4 digits, then look it up."""
    await page.fill("#reference", code)
    await page.fill("#last4", last4)
    await go(page, "#status-form button[type=submit]")
    await no_error_page(page)


@pytest.mark.timeout(300)
async def test_resident_files_and_follows_up(live_server: Any, browser: Any, journey: Journey) -> None:
    try:
        await resident(live_server.url, browser, journey)
    except BaseException:
        await snap_all(browser, journey)
        raise


async def resident(base: str, browser: Any, journey: Journey) -> None:
    # The front page of the site (the staff login for anyone not signed in) links to the help form.
    phone = await open_page(browser, base + "/", phone=True)
    await journey.step(phone, "front-page-phone")
    await go(phone, "a[href^='/intake']")
    assert "/intake" in phone.url
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    await journey.step(phone, "intake-form-phone")

    # A missing description is refused with a clear message, in Chinese only, and nothing is lost.
    await phone.select_option("#unit", "340321001")
    await phone.fill("#name", NAME)
    await phone.fill("#phone", PHONE_NO)
    await phone.select_option("#category_item", "disputes:land_boundary")
    await go(phone, "#intake-form button[type=submit]")
    errors = await phone.inner_text("#intake-form")
    assert "情况" in errors or "说明" in errors, errors
    assert not re.search(r"[A-Za-z]{4,}", await phone.inner_text("#intake-form .error")), errors
    assert await phone.input_value("#name") == NAME
    await journey.step(phone, "intake-refuses-missing-description")

    await phone.fill("#description", "邻居扩建围墙占用我家宅基地约半米，协商未果，希望调解。")
    await phone.check("input[name=wants_video]")
    await go(phone, "#intake-form button[type=submit]")
    code = (await phone.inner_text("#intake-code")).strip()
    assert re.fullmatch(r"340321-\d{4}-\d{6}", code), code
    await journey.step(phone, "intake-reference-number")

    # The confirmation leads to the status page; a wrong phone shows nothing about the case.
    await go(phone, "main a[href^='/status']")
    assert await phone.input_value("#reference") == code  # the link carries the reference
    await journey.step(phone, "status-form-phone")
    await open_status(phone, code, "0000")
    text = await page_text(phone)
    assert await phone.is_visible("#status-error") and not await phone.query_selector("#status-result"), text
    assert NAME not in text and "龙亢镇" not in text, text
    await journey.step(phone, "status-refuses-wrong-phone")
    await open_status(phone, code, PHONE_NO[-4:])
    first = await page_text(phone)
    assert await phone.get_attribute("#status-stage", "data-stage") == "received", first
    assert "龙亢镇" in await phone.inner_text("#status-unit") and code in first
    assert PHONE_NO not in first and NAME not in first  # progress only, never the contact details
    await journey.step(phone, "status-registered")

    # The township mediator finds the request and takes it on.
    med = await sign_in(browser, base, "mediator")
    await menu(med, "/cases")
    await go(med, f"#cases a:has-text('{code}')")
    assert await case_status(med) == "已登记"
    await case_action(med, "triage", select={"select[name=category_item]": "disputes:land_boundary",
                                             "select[name=grade]": "blue"})
    await case_action(med, "accept")
    await case_action(med, "assign", select={"select[name=assignees]": ["mediator"]})
    await case_action(med, "start_mediation")
    assert await case_status(med) == "调解中"
    await journey.step(med, "mediator-takes-it-on")
    await med.context.close()

    # Another day: the resident comes back through the front page and sees the new status.
    await phone.context.close()
    phone = await open_page(browser, base + "/", phone=True)
    await go(phone, "a[href^='/status']")
    await open_status(phone, code, PHONE_NO[-4:])
    now = await page_text(phone)
    assert await phone.get_attribute("#status-stage", "data-stage") == "handling", now
    assert "正在办理" in await phone.inner_text("#status-stage")
    assert "龙亢镇" in await phone.inner_text("#status-unit")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await journey.step(phone, "status-in-mediation")
    await phone.context.close()
