"""Review in the live session, in Chromium: the mediator presents the draft and the party's room page (on a
phone-sized screen) shows the same version and check code, from which the party comments on a clause. The
draft was made in the case's first session and is presented in its second: an agreement is the case's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, LiveServer, poll, shot
from tests.browser.test_room_browser import MEDIA_TIMEOUT_MS, new_page, pass_prejoin, staff_login

pytestmark = [pytest.mark.browser]


async def open_agreement_panel(page: Any) -> None:
    if await page.is_visible("#btn-agreement"):
        await page.click("#btn-agreement")
    else:  # phones: panel buttons fold into "more"; its sheet has a tab per panel
        await page.click("#btn-more")
        await page.click("#side .tab[data-panel=agreement]")
    await page.wait_for_selector(".agreement-panel", timeout=MEDIA_TIMEOUT_MS)


async def test_presented_draft_shows_the_same_check_code(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    token = await live_server.login("mediator")
    me = await live_server.api("GET", "/api/auth/me", token)
    case = await live_server.api("POST", "/api/cases", token, {
        "unit": me["unit"], "title": "张三与李四宅基地边界纠纷", "summary": "两家因地界发生争执", "category": "disputes",
        "item": "land_boundary", "source": "walk_in",
        "parties": [{"role": "applicant", "name": "张三", "id_number": "110101199003077774"},
                    {"role": "respondent", "name": "李四"}]})
    first, sess = [await live_server.api("POST", "/api/sessions", token, {
        "kind": "mediation", "title": title, "unit": me["unit"], "case_id": case["id"]})
        for title in ("第一次调解", "第二次调解")]
    a = await live_server.api("POST", "/api/agreements", token, {"case_code": case["code"],
                                                                 "session_id": first["id"]})
    inv = await live_server.api("POST", f"/api/sessions/{sess['id']}/invitations", token,
                                {"role": "party", "name": "李四"})
    host = await new_page(browser, DESKTOP, errors)
    await staff_login(host, live_server, "mediator")
    staff = await live_server.api("POST", f"/api/sessions/{sess['id']}/join-token", token)
    await host.goto(f"{live_server.url}/join/{staff['token']}")
    await pass_prejoin(host)
    party = await new_page(browser, PHONE, errors)
    await party.goto(live_server.url + inv["url"])
    await pass_prejoin(party)
    await host.click("#btn-mod")
    await host.click("#lobby-queue button.admit", timeout=MEDIA_TIMEOUT_MS)

    # In the second session, the mediator presents the draft of the first from the room's agreement panel.
    await open_agreement_panel(host)
    await poll(host, f"() => document.querySelector('.ag-list').textContent.includes({a['number']!r})", timeout_s=30)
    await host.click(".ag-present", timeout=MEDIA_TIMEOUT_MS)
    await open_agreement_panel(party)
    for page in (host, party):
        code = await poll(page, "() => { const c = document.querySelector('.ag-code'); "
                                "return c && c.textContent.trim(); }", timeout_s=30)
        assert code == a["short_hash"]
        await poll(page, "() => document.querySelector('.ag-text').textContent.includes('人民调解协议书')")
    await shot(party, "agreement-room-phone")
    # The party comments on a clause; the mediator's panel shows it.
    await party.select_option(".ag-comment select", "facts")
    assert await party.inner_text(".ag-comment select option[value=facts]") == "纠纷事实"  # a label, not the code
    await party.fill(".ag-comment input[name=text]", "希望延期一个月")
    await party.click(".ag-comment button[type=submit]")
    await poll(host, "() => document.querySelector('.ag-comments').textContent.includes('希望延期一个月')")
    got = await live_server.api("GET", f"/api/agreements/{a['id']}", token)
    assert got["comments"][0]["author"] == "李四" and got["comments"][0]["clause"] == "facts"
    assert errors == []
