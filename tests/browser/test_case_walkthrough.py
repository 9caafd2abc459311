"""A case walked through the closed loop in Chromium, across tiers, by the people who do it:

resident intake on a phone (no login) → village grid worker reports up → township mediator triages,
accepts, assigns → county supervises (督办) and the township answers → county land expert consulted
(accepts, gets a timed grant, gives an opinion) → mediation, agreement, obligation, follow-up visit,
closure → the timeline shows every step and the hash chain verifies.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from server import ledger, ledger_store
from server.clock import BEIJING
from server.directory.demo import DEMO_PASSWORD
from server.services import services
from tests.browser.conftest import DESKTOP, PHONE, shot, watch_csp

pytestmark = [pytest.mark.browser]
TZ = BEIJING
TIMEOUT_MS = 60_000
# Every page of the walk reports here what the Content-Security-Policy refused: nothing, it must stay empty.
CSP_REFUSED: list[str] = []


async def staff_page(browser: Any, base: str, username: str) -> Any:
    ctx = await browser.new_context(**DESKTOP)
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    watch_csp(page, CSP_REFUSED)
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(re.compile(r".*/$"))
    return page


async def take(page: Any, action: str, fill: dict[str, str] | None = None,
               select: dict[str, str | list[str]] | None = None) -> None:
    """Open the action's panel on the case page, fill it in and submit; wait for the page to come back."""
    form = f"form[data-action='{action}']"
    if not await page.is_visible(form):
        await page.click(f"details:has({form}) > summary")
    for sel, value in (select or {}).items():
        await page.select_option(f"{form} {sel}", value)
    for sel, value in (fill or {}).items():
        await page.fill(f"{form} {sel}", value)
    async with page.expect_navigation():
        await page.click(f"{form} button[type=submit]")
    error = await page.query_selector("#form-error")
    assert error is None, await error.inner_text()


async def status(page: Any) -> str:
    return (await page.inner_text("#case-status")).strip()


def local_input(delta: timedelta) -> str:
    return (datetime.now(TZ) + delta).strftime("%Y-%m-%dT%H:%M")


async def test_intake_to_closure_across_tiers(live_server: Any, browser: Any) -> None:
    base = live_server.url

    # 1. A resident asks for help from a phone, without logging in.
    ctx = await browser.new_context(**PHONE)
    ctx.set_default_timeout(TIMEOUT_MS)
    phone = await ctx.new_page()
    watch_csp(phone, CSP_REFUSED)
    await phone.goto(f"{base}/intake?unit=340321001001")
    await phone.fill("#name", "钱八")
    await phone.fill("#phone", "13812345678")
    await phone.select_option("#category_item", "disputes:land_boundary")
    await phone.fill("#description", "邻居扩建围墙占用我家宅基地约半米，协商未果，希望调解。")
    await phone.check("input[name=wants_video]")
    async with phone.expect_navigation():
        await phone.click("#intake-form button[type=submit]")
    code = (await phone.inner_text("#intake-code")).strip()
    assert re.fullmatch(r"340321-\d{4}-\d{6}", code)
    await shot(phone, "case-1-intake-done")
    await ctx.close()

    # 2. The village grid worker reports it up to the township (上报).
    grid = await staff_page(browser, base, "grid_340321001001")
    await grid.goto(f"{base}/cases/{code}")
    assert await status(grid) == "已登记"
    await take(grid, "escalate", fill={"textarea[name=reason]": "涉及宅基地权属，村级无法化解"},
               select={"select[name=unit]": "340321001"})
    assert await status(grid) == "已流转"

    # 3. The township mediator triages, accepts and assigns.
    med = await staff_page(browser, base, "mediator")
    await med.goto(f"{base}/notifications")
    assert code in await med.inner_text("#notifications")
    await med.goto(f"{base}/cases/{code}")
    await take(med, "triage", select={"select[name=category_item]": "disputes:land_boundary",
                                      "select[name=grade]": "orange"})
    assert await status(med) == "已分流"
    await take(med, "accept")
    await take(med, "assign", select={"select[name=assignees]": ["mediator"]})
    assert await status(med) == "已指派"

    # 4. The county supervises (督办); the township answers.
    county = await staff_page(browser, base, "mediator_340321")
    await county.goto(f"{base}/cases/{code}")
    await county.fill("#instruction", "请两日内组织调解并报告进展")
    await county.fill("#sup_due", local_input(timedelta(days=2)))
    async with county.expect_navigation():
        await county.click("form[action$='/supervise'] button[type=submit]")
    await med.goto(f"{base}/cases/{code}")
    await med.fill("form[action$='/respond'] input[name=response]", "已联系双方，定于明日视频调解")
    async with med.expect_navigation():
        await med.click("form[action$='/respond'] button[type=submit]")

    # 5. Remote guidance from the county land expert.
    await med.select_option("#specialty", "land")
    await med.select_option("#expert", "expert")
    await med.fill("#question", "宅基地界址以哪份资料为准？")
    async with med.expect_navigation():
        await med.click("form[action$='/consult'] button[type=submit]")
    expert = await staff_page(browser, base, "expert")
    await expert.goto(f"{base}/cases/{code}")
    assert "没有这个案件" in await expert.content() or "404" in await expert.content()  # no grant yet
    await expert.goto(f"{base}/consultations")
    async with expert.expect_navigation():
        await expert.click("button[name=decision][value=accept]")
    assert code in expert.url
    await expert.fill("#opinion", "以1998年宅基地确权登记图为准，建议现场复测界桩。")
    async with expert.expect_navigation():
        await expert.click("form[action$='/opinion'] button[type=submit]")
    assert "确权登记图" in await expert.inner_text("#consultations")
    await shot(expert, "case-2-expert")

    # 6. Mediation, agreement, obligation, follow-up, closure.
    await med.goto(f"{base}/cases/{code}")
    await take(med, "start_mediation")
    await med.fill("#sessions input[name=title]", "宅基地边界视频调解")
    async with med.expect_navigation():
        await med.click("form[action$='/session'] button[type=submit]")
    await take(med, "begin_signing")
    await med.click("details:has(form[action$='/obligation']) > summary")
    await med.fill("#obligor", "李四")
    await med.fill("#obligee", "钱八")
    await med.fill("#ob_content", "拆除越界围墙并恢复原界桩")
    await med.fill("#ob_due", local_input(timedelta(days=15)))
    async with med.expect_navigation():
        await med.click("form[action$='/obligation'] button[type=submit]")
    await take(med, "make_effective")
    assert "绿色" in await med.inner_text("#case-grade")
    await take(med, "start_performance")
    await take(med, "begin_follow_up")
    await med.select_option("#method", "video")
    await med.select_option("#satisfaction", "5")
    ob = await med.query_selector("#followup-form select[id^=ob_]")
    await ob.select_option("performed")
    await med.fill("#fu_notes", "围墙已拆除，双方满意")
    async with med.expect_navigation():
        await med.click("#followup-form button[type=submit]")
    await take(med, "close")
    assert await status(med) == "已结案"
    timeline = await med.inner_text("#timeline")
    for label in ("登记", "上报", "分流研判", "受理", "指派", "督办", "督办回复", "请求远程指导", "专家接受", "专家意见",
                  "开始调解", "安排视频会议", "协议生效", "回访", "结案"):
        assert label in timeline, label
    assert "哈希链完整" in await med.inner_text("#chain-status")
    await shot(med, "case-3-closed", full_page=True)

    # The county above sees the resolved (green) case in its list.
    await county.goto(f"{base}/cases?unit=340321001")
    assert code in await county.inner_text("#cases")

    # The case chain verifies, as `concord verify-log --case` would.
    async with services(live_server.app).db.session() as s:
        from sqlalchemy import select

        from server.cases.models import Case
        case_id = (await s.execute(select(Case.id).where(Case.code == code))).scalar_one()
        result = await ledger_store.verify_chain(s, ledger.case_chain(case_id))
    assert result.ok and result.count >= 18, result
    assert not CSP_REFUSED, CSP_REFUSED
