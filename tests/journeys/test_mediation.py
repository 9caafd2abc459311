"""Mediation, end to end, through the pages only.

The 龙亢镇 mediator registers a resident's request, triages and assigns it, and schedules a video
mediation with a start time. Two villagers (张三 on a phone) join from the invitation links the session
page shows: the pre-join check, the lobby, admission, video both ways; a private sub-room (背靠背), then
recording with consent. The agreement is drafted from the case (ID number and case code carried over),
presented in a second session of the case and signed by each party from the link the agreement page
gives; the mediator signs, the seal is applied, the PDF downloaded from the page passes /verify and a copy
with a flipped byte inside its signed range does not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from server.directory.demo import DEMO_PASSWORD
from tests.journeys.conftest import Journey, open_page, sign_in
from tests.journeys.steps import (
    MEDIA_TIMEOUT_MS,
    admit,
    case_action,
    case_status,
    draw,
    flip_inside_signed_range,
    go,
    invite,
    local_input,
    make_signing_link,
    menu,
    no_error_page,
    open_panel,
    party_signs,
    prejoin,
    resident_id,
    snap_all,
    staff_enters_room,
    submit_signature,
    video_flows,
    watch,
)

ZHANG, LI = "张三", "李四"
ZHANG_ID = resident_id("34032119800101123")
LI_ID = resident_id("34032119750615456")
MEDIATOR_NAME = "调解员张三"


async def register_case(med: Any, journey: Journey) -> str:
    """At the counter: the resident's request is registered with both parties and their ID numbers."""
    await menu(med, "/cases")
    await go(med, "a[href='/cases/new']")
    await med.select_option("#unit", "340321001")
    await med.select_option("#source", "resident_request")
    await med.fill("#title", "张三与李四宅基地边界纠纷")
    await med.fill("#summary", "李四扩建围墙占用张三家宅基地约半米，双方协商未果，张三来访请求调解。")
    await med.select_option("#category_item", "disputes:land_boundary")
    await med.fill("#p1_name", ZHANG)
    await med.fill("#p1_phone", "13812345678")
    await med.fill("#p2_name", LI)
    await med.fill("#p2_id", LI_ID)
    # A mistyped ID number (wrong check character) is refused here, in Chinese, not later in the agreement.
    await med.fill("#p1_id", ZHANG_ID[:-1] + ("1" if ZHANG_ID[-1] != "1" else "2"))
    await go(med, "#case-new button[type=submit]")
    assert med.url.endswith("/cases/new"), f"a wrong ID number was accepted: {med.url}"
    error = await med.inner_text(".alert-error")
    assert "身份" in error and not re.search(r"[A-Za-z]{4,}", error), error
    # The refused form keeps everything typed: only the wrong number needs mending.
    assert await med.input_value("#p2_id") == LI_ID and await med.input_value("#p1_phone") == "13812345678"
    await journey.step(med, "case-form-refuses-a-bad-id")
    await med.fill("#p1_id", ZHANG_ID)
    await go(med, "#case-new button[type=submit]")
    await no_error_page(med)
    code = (await med.inner_text("#case-code")).strip()
    assert re.fullmatch(r"340321-\d{4}-\d{6}", code), code
    assert await case_status(med) == "已登记"
    await journey.step(med, "case-registered")
    return code


async def triage_and_assign(med: Any, journey: Journey) -> None:
    # Nothing is preselected for the risk grade: the mediator chooses it.
    if not await med.is_visible("form[data-action='triage']"):
        await med.click("details:has(form[data-action='triage']) > summary")
    assert await med.eval_on_selector("#triage_grade", "s => s.value") == ""
    await case_action(med, "triage", select={"select[name=category_item]": "disputes:land_boundary",
                                             "select[name=grade]": "yellow"})
    assert await case_status(med) == "已分流"
    await case_action(med, "accept")
    await case_action(med, "assign", select={"select[name=assignees]": ["mediator"]})
    assert await case_status(med) == "已指派"
    await case_action(med, "start_mediation")
    await journey.step(med, "case-triaged-assigned")


async def session_a(chrome: Any, base: str, med: Any, journey: Journey, code: str) -> None:
    """Scheduled from the case page, with a start time; two parties, sub-room, recording."""
    await med.fill("#sessions input[name=title]", "宅基地边界视频调解（第一次）")
    await med.fill("#sessions input[name=scheduled_at]", local_input())
    await go(med, "#sessions form[action$='/session'] button[type=submit]")
    await no_error_page(med)
    await go(med, "#sessions a:has-text('进入') >> nth=-1")
    await no_error_page(med)
    assert await med.query_selector(".page-head a[href^='/cases/']"), "the session names its case"
    await journey.step(med, "session-a-page")
    zhang_link, _ = await invite(med, ZHANG, "id_last4", ZHANG_ID[-4:])
    await journey.step(med, "session-a-invitation-zhang")
    li_link, li_code = await invite(med, LI, "code")
    assert li_code and re.fullmatch(r"\d{6}", li_code)

    host = watch(await staff_enters_room(med), "host")
    await journey.step(host, "session-a-host-in-room", full_page=False)
    zhang = watch(await open_page(chrome, zhang_link, phone=True), "张三")
    await no_error_page(zhang)
    await zhang.wait_for_selector("#identity-check")
    await journey.step(zhang, "session-a-zhang-prejoin-phone")
    await prejoin(zhang, ZHANG_ID[-4:].lower())
    await zhang.wait_for_selector("#screen-lobby:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    await journey.step(zhang, "session-a-zhang-lobby-phone")
    li = watch(await open_page(chrome, li_link), "李四")
    await no_error_page(li)
    await prejoin(li, li_code)
    await li.wait_for_selector("#screen-lobby:not([hidden])", timeout=MEDIA_TIMEOUT_MS)

    # One at a time, as a mediator does: greet the first before letting the second in.
    await admit(host, ZHANG)
    await video_flows(host, 1)
    await video_flows(zhang, 1)
    await admit(host, LI)
    await journey.step(host, "session-a-admitted", full_page=False)
    for page in (host, li, zhang):
        await video_flows(page, 2)
    await journey.step(zhang, "session-a-video-phone", full_page=False)
    await journey.step(host, "session-a-video-host", full_page=False)

    # 背靠背: 李四 waits in a private room; the mediator talks with 张三 alone, then walks over to 李四.
    await open_panel(host, "moderate")
    # (no_wait_after: a modal dialog opens, nothing navigates; a busy page must not stall the click)
    await host.click(f"#mod-people li:has-text('{LI}') button.move", no_wait_after=True)
    await host.wait_for_selector("dialog.move-dialog[open]")
    await host.fill("dialog.move-dialog input[name=subroom]", "背靠背一")
    await host.click("dialog.move-dialog button[value=ok]", no_wait_after=True)
    await li.wait_for_function("document.querySelector('#room-subroom').textContent.includes('背靠背一')",
                               timeout=MEDIA_TIMEOUT_MS)
    await video_flows(zhang, 1, frames=False)
    await video_flows(host, 1, frames=False)
    await host.click(".mod-goto button.goto", no_wait_after=True)
    await video_flows(li, 1, frames=False)
    await journey.step(li, "session-a-private-room", full_page=False)
    # Everyone back in the main room.
    await host.click(f"#mod-people li:has-text('{LI}') button.back", no_wait_after=True)
    await host.click(".mod-goto button.back", no_wait_after=True)
    await host.wait_for_function("document.querySelector('#room-subroom').textContent.includes('主会议室')",
                                 timeout=MEDIA_TIMEOUT_MS)
    for page in (host, zhang, li):
        await video_flows(page, 2, frames=False)

    # Recording, with each person's consent.
    await host.click(".mod-controls button.rec", no_wait_after=True)
    for page in (host, zhang, li):
        await page.wait_for_selector("#consent-dialog[open]", timeout=MEDIA_TIMEOUT_MS)
    await journey.step(zhang, "session-a-consent-phone", full_page=False)
    for page in (host, zhang, li):
        await page.click("#consent-yes", no_wait_after=True)
    for page in (host, zhang, li):
        await page.wait_for_selector("#rec-indicator:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    await host.wait_for_function("""() => {
      const c = window.concord;
      const rec = [...c.peers.values()].find((p) => p.role === 'recorder');
      const link = rec && c.mesh.links.get(rec.id);
      return link && link.pc.connectionState === 'connected';
    }""", timeout=MEDIA_TIMEOUT_MS)
    await journey.step(host, "session-a-recording", full_page=False)
    await host.click(".mod-controls button.rec", no_wait_after=True)
    for page in (host, zhang, li):
        await page.wait_for_selector("#rec-indicator", state="hidden", timeout=MEDIA_TIMEOUT_MS)
    for page in (zhang, li):
        await page.context.close()
    await host.close()


async def draft_agreement(med: Any, journey: Journey, code: str) -> None:
    """Drafted from the case: its parties' ID numbers and the case code come along and survive saving."""
    await menu(med, "/agreements")
    await med.click("details:has(#new-agreement) > summary")
    await med.fill("#na-case", code)  # the case code, as shown everywhere
    await med.select_option("#na-type", "land_boundary")
    await go(med, "#new-agreement button[type=submit]")
    await no_error_page(med)
    await med.wait_for_selector("#draft-form[data-filled]")
    text = await med.inner_text("#doc-text")
    assert f"案件编号：{code}" in text, text[:600]
    for pid in (ZHANG_ID, LI_ID):
        assert re.search(re.escape(pid[:3]) + r"\*+" + re.escape(pid[-4:]), text), (pid, text[:800])
    assert "公民身份号码：未提供" not in text
    await journey.step(med, "agreement-drafted-from-case")

    # The mediator writes the terms and saves a new version: the case code stays.
    await med.click("#add-obligation")
    row = "#obligations tbody tr:last-child"
    await med.select_option(f"{row} select[name=kind]", "action")  # 履行行为: phrased without 向…
    await med.select_option(f"{row} select[name=obligor]", label=LI)
    await med.select_option(f"{row} select[name=obligee]", label=ZHANG)
    await med.fill(f"{row} input[name=action]", "拆除越界围墙并恢复原界桩")
    await med.fill(f"{row} input[name=place]", "龙亢镇新华村")
    await med.fill(f"{row} input[name=deadline]", local_input()[:10])
    await med.fill("#d-place", "龙亢镇人民调解委员会")
    await med.fill("#d-note", "写明履行条款")
    version = await med.inner_text("#version-no")
    await med.click("#draft-form button[type=submit]")
    await med.wait_for_function(f"document.querySelector('#version-no').textContent.trim() !== {version!r}")
    assert await med.is_hidden("#error"), await med.inner_text("#error")
    text = await med.inner_text("#doc-text")
    assert f"案件编号：{code}" in text and "拆除越界围墙" in text and f"向{ZHANG}拆除" not in text
    await journey.step(med, "agreement-saved")
    async with med.expect_navigation():
        await med.click("#freeze")
    await med.wait_for_selector("#signing")
    await journey.step(med, "agreement-frozen")


async def session_b(chrome: Any, med: Any, journey: Journey, code: str) -> tuple[Any, Any, Any, str, str]:
    """The second session of the case, created on the sessions page with the case code and a start time;
    the mediator presents the agreement; both parties see the same check code."""
    await menu(med, "/sessions")
    await med.fill("#n-title", "宅基地边界视频调解（第二次·签署）")
    await med.select_option("#n-kind", "mediation")
    await med.select_option("#n-unit", "340321001")
    await med.fill("#n-when", local_input())
    await med.fill("#n-case", code)
    await go(med, "#new-session button[type=submit]")
    await no_error_page(med)
    assert re.search(r"/sessions/\d+$", med.url), med.url
    assert await med.query_selector(".page-head a[href^='/cases/']"), "the session is linked to the case"
    await journey.step(med, "session-b-page")
    zhang_link, _ = await invite(med, ZHANG, "id_last4", ZHANG_ID[-4:])
    li_link, li_code = await invite(med, LI, "code")
    assert li_code
    host = await staff_enters_room(med)
    zhang = await open_page(chrome, zhang_link, phone=True)
    await prejoin(zhang, ZHANG_ID[-4:])
    li = await open_page(chrome, li_link)
    await prejoin(li, li_code)
    for page in (zhang, li):
        await page.wait_for_selector("#screen-lobby:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    await admit(host, ZHANG)
    await video_flows(zhang, 1, frames=False)
    await admit(host, LI)
    for page in (host, zhang, li):
        await video_flows(page, 2, frames=False)

    # The agreement drafted from the case is offered in this session's 协议 panel.
    await open_panel(host, "agreement")
    await host.click(".ag-present", timeout=MEDIA_TIMEOUT_MS, no_wait_after=True)
    codes = []
    for page in (host, zhang, li):
        await open_panel(page, "agreement")
        await page.wait_for_function("(() => { const c = document.querySelector('.ag-code'); "
                                     "return c && c.textContent.trim().length > 0; })()", timeout=MEDIA_TIMEOUT_MS)
        codes.append((await page.inner_text(".ag-code")).strip())
    assert len(set(codes)) == 1, codes
    await journey.step(zhang, "session-b-agreement-presented-phone", full_page=False)
    await journey.step(host, "session-b-agreement-presented-host", full_page=False)
    return host, zhang, li, li_code, codes[0]


@pytest.mark.timeout(900)  # a shared 2-core machine: three browsers with live video, twice
async def test_mediation_end_to_end(live_server: Any, browser: Any, journey: Journey, tmp_path: Path) -> None:
    try:
        await mediation(live_server.url, browser, journey, tmp_path)
    except BaseException:
        await snap_all(browser, journey)
        raise


async def mediation(base: str, browser: Any, journey: Journey, tmp_path: Path) -> None:
    med = await sign_in(browser, base, "mediator")
    await journey.step(med, "mediator-home")
    code = await register_case(med, journey)
    await triage_and_assign(med, journey)
    case_url = med.url
    await session_a(browser, base, med, journey, code)

    await med.goto(case_url)  # back to the case page (the tab's history)
    await draft_agreement(med, journey, code)
    agreement_url = med.url
    host, zhang, li, _, shown = await session_b(browser, med, journey, code)

    # Each party signs on their own device from the link the agreement page gives.
    await med.goto(agreement_url)
    await med.wait_for_selector("#signing")
    assert (await med.inner_text("#short-hash")).strip() == shown  # the same check code as in the room
    await journey.step(med, "agreement-signing-links")
    for name, page, method, answers in ((ZHANG, zhang, "id_last4", {"id_last4": ZHANG_ID[-4:]}),
                                        (LI, li, "code", {})):
        url, code_told = await make_signing_link(med, name, method)
        if code_told:
            answers = {"code": code_told}
        await journey.step(med, f"agreement-signing-link-{name}")
        sign = await page.context.new_page()  # the party opens the link on their own device
        await sign.goto(url)
        await party_signs(sign, name, answers)
        await journey.step(sign, f"party-signs-{name}")
        await submit_signature(sign)
        await journey.step(sign, f"party-signed-{name}")
    await med.reload()
    await med.wait_for_function("document.querySelectorAll('#signatures li').length === 2")

    # The mediator signs, then the seal makes it effective.
    await med.check("#mediator-form input[name=read]")
    await draw(med, "#mediator-pad")
    await med.fill("#m-name", MEDIATOR_NAME)
    await med.fill("#m-pass", DEMO_PASSWORD)
    await med.check("#mediator-form input[name=consent]")
    await med.click("#mediator-form button[type=submit]")
    await med.wait_for_selector("#seal-form")
    await med.wait_for_function("document.querySelectorAll('#signatures li').length === 3")
    await med.fill("#s-pass", DEMO_PASSWORD)
    await med.check("#seal-form input[name=consent]")
    await med.click("#seal-form button[type=submit]")
    await med.wait_for_selector("#performance")
    assert "已生效" in await med.inner_text("#state-badge")
    await journey.step(med, "agreement-effective")
    for page in (zhang, li):
        await page.context.close()
    await host.close()

    # The PDF, saved from the page's 下载 PDF link ("save link as": Chromium would open it in its viewer).
    href = await med.get_attribute("#pdf-link", "href")
    response = await med.context.request.get(urljoin(med.url, href))
    assert response.status == 200, response.status
    pdf = await response.body()
    assert pdf.startswith(b"%PDF"), pdf[:20]
    pdf_path = tmp_path / "agreement.pdf"
    pdf_path.write_bytes(pdf)
    bad_path = tmp_path / "agreement-tampered.pdf"
    bad_path.write_bytes(flip_inside_signed_range(pdf))

    # /verify, reached by its link: the file passes, the tampered copy does not.
    await go(med, "nav.crumbs a[href='/agreements']")
    await go(med, "a[href='/verify']")
    await med.set_input_files("#file", str(pdf_path))
    await go(med, "form[action='/verify'] button[type=submit]")
    await med.wait_for_selector("#verify-result")
    assert await med.get_attribute("#verify-result", "data-ok") == "true", await med.inner_text("#verify-result")
    assert "核验通过" in await med.inner_text("#verify-result")
    await journey.step(med, "verify-passes")
    await med.set_input_files("#file", str(bad_path))
    await go(med, "form[action='/verify'] button[type=submit]")
    await med.wait_for_selector("#verify-result")
    result = await med.inner_text("#verify-result")
    assert await med.get_attribute("#verify-result", "data-ok") == "false", result
    assert "核验通过" not in result and "核验未通过" in result
    assert await med.get_attribute("#verify-result", "data-check")
    await journey.step(med, "verify-rejects-flipped-byte")
