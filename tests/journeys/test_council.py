"""Journey: a residents' council (居民议事会) decides on EV charging points, from a resident's proposal on a
phone to the completed task on the neighbourhood's public page. Pages only; every name is fictional.

1. The community's grid worker (the convenor) sets up the council and seats its members from the pages.
2. A resident, on a phone, goes from the site's front page to the help form and on to 提出议题, proposes
   "小区安装充电桩" and keeps the status link; two neighbours open it on their phones and support it (one
   household, one signature: the second try of the same phone is refused).
3. The convenor puts it on the agenda, calls a hybrid meeting (gallery open: a resident enters from the
   gallery link as their own observer), makes each member's invitation
   and code, opens the meeting, signs three members in at the table and enters the room; two members join
   from their phones with their link and code and are admitted. One raises a hand and the convenor gives the
   next turn from the room's 议事 panel, which counts down the time limit.
4. An open vote: the phone members vote from the room's 议事 panel, the table members on the shared tablet;
   the tally shows who voted what. A secret vote: the phones get a receipt, the meeting page shows no names.
5. Two tasks from the decision ("实地考察充电桩位置", "物业提交安装方案"); one is completed with a photo; the
   meeting is closed and its minutes published.
6. The resident opens the status link again and follows it to the public page: the decision, the totals, the
   completed task with its photo, and no phone number.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.journeys.conftest import Journey, open_page, sign_in
from tests.journeys.room_steps import beijing_minute, in_lobby, in_room
from tests.journeys.steps import (
    admit,
    go,
    menu,
    no_error_page,
    open_panel,
    page_text,
    prejoin,
    snap_all,
    watch,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

CONVENOR = "grid_340302001001"
COMMUNITY = "340302001001"
TABLE = ["测试党员甲", "测试居民乙", "测试物业丁"]        # at the table (the shared tablet)
PHONES = ["测试居民丙", "测试党员戊"]                   # on their phones (the room)
ROLES = {"测试党员甲": "party_rep", "测试居民乙": "resident_rep", "测试物业丁": "property",
         "测试居民丙": "resident_rep", "测试党员戊": "party_rep"}
TOPIC = "小区安装充电桩"
TASKS = [("实地考察充电桩位置", "测试党员甲"), ("物业提交安装方案", "测试物业丁")]
RESIDENT_PHONE = "13700001111"
NEIGHBOUR_PHONES = ["13700002222", "13700003333"]


@pytest.mark.timeout(600)
async def test_council_decides_on_charging_points(live_server: Any, browser: Any, journey: Journey,
                                                  tmp_path: Path) -> None:
    try:
        await council(live_server.url, browser, journey, tmp_path)
    except BaseException:
        await snap_all(browser, journey)
        raise


async def submit(page: Any, selector: str) -> None:
    """Press a form's button and wait for the page it answers with (its DOM: the room tabs of the same
    browser keep the load event of a page coming back to its own address waiting)."""
    async with page.expect_navigation(wait_until="domcontentloaded"):
        await page.click(selector)
    await no_error_page(page)


async def pick(select: Any, text: str) -> None:
    """Choose the option whose text contains ``text`` (as a person reads the list)."""
    value = await select.evaluate("(el, text) => [...el.options].find((o) => o.text.includes(text))?.value", text)
    assert value is not None, f"no option with {text}"
    await select.select_option(value)


def absolute(base: str, link: str) -> str:
    return link if link.startswith("http") else base + link


async def set_up_council(base: str, browser: Any, journey: Journey) -> tuple[Any, str]:
    desk = watch(await sign_in(browser, base, CONVENOR), "convenor")
    await menu(desk, "/councils")
    await desk.fill("#name", "幸福小区居民议事会")
    await desk.fill("#neighbourhood", "幸福小区")
    await submit(desk, "#create-council")
    await no_error_page(desk)
    council_url = desk.url.split("?")[0]
    # The convenor's own seat (a staff account), then the residents and the property company.
    await desk.click("#add-member > summary")
    await desk.fill("#mb-username", CONVENOR)
    await desk.select_option("#mb-role", "convenor")
    await submit(desk, "#add-member-submit")
    for name, role in ROLES.items():
        await desk.click("#add-member > summary")
        await desk.fill("#mb-name", name)
        await desk.select_option("#mb-role", role)
        if role == "property":
            await desk.fill("#mb-affiliation", "幸福物业服务有限公司")
        await submit(desk, "#add-member-submit")
        assert await desk.query_selector("#council-error") is None, await desk.inner_text("#council-error")
    members = await desk.inner_text("#member-table")
    for name in ROLES:
        assert name in members
    assert "党员代表" in members and "物业公司" in members and "召集人" in members
    await journey.step(desk, "council-members")
    return desk, council_url


async def resident_proposes(base: str, browser: Any, journey: Journey) -> str:
    phone = watch(await open_page(browser, base + "/", phone=True), "resident")
    await go(phone, "a[href^='/intake']")
    await go(phone, "#link-propose")
    assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await pick(phone.locator("#council"), "幸福小区居民议事会")
    await phone.fill("#title", TOPIC)
    await phone.fill("#body", "地下车库没有充电桩，电动车只能飞线充电，存在安全隐患，建议在小区安装充电桩。")
    await phone.fill("#name", "测试居民")
    await phone.fill("#phone", RESIDENT_PHONE)
    await journey.step(phone, "resident-proposes-on-phone")
    await go(phone, "#propose-submit")
    await no_error_page(phone)
    ref = (await phone.inner_text("#topic-ref")).strip()
    assert ref
    await go(phone, "#topic-status-link")
    status_url = phone.url
    text = await page_text(phone)
    assert TOPIC in text and "征集联署中" in text and RESIDENT_PHONE not in text
    await journey.step(phone, "resident-status-page")
    await phone.context.close()
    # Neighbours open the link the resident sent them and support it, once per household.
    for i, number in enumerate(NEIGHBOUR_PHONES):
        n = watch(await open_page(browser, status_url, phone=True), f"neighbour{i}")
        await n.fill("#support-name", f"邻居{'甲乙'[i]}")
        await n.fill("#support-phone", number)
        await go(n, "#support-submit")
        assert (await n.inner_text("#support-count")).strip() == str(i + 1)
        if i == 1:
            await n.fill("#support-name", "邻居乙")
            await n.fill("#support-phone", number)
            await go(n, "#support-submit")
            assert "每户一次" in await n.inner_text("#public-error")
            assert (await n.inner_text("#support-count")).strip() == "2"
            await journey.step(n, "neighbour-supports-once")
        await n.context.close()
    return status_url


async def tablet_vote(desk: Any, meeting_url: str, codes: dict[str, str], choices: dict[str, str],
                      secret: bool) -> None:
    tablet = await desk.context.new_page()
    await tablet.goto(meeting_url + "/tablet")
    for name in TABLE:
        await tablet.fill("#tablet-code", codes[name])
        await go(tablet, f"#tablet-{choices[name]}")
        await no_error_page(tablet)
        assert "已投票" in await tablet.inner_text("#tablet-ok")
        if secret:
            assert re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", await tablet.inner_text("#tablet-receipt"))
    await tablet.close()


async def phone_votes(page: Any, choice: str, secret: bool) -> str:
    await open_panel(page, "council")
    await page.wait_for_selector(f"#panel-council .cp-{choice}:not([disabled])", timeout=60_000)
    await page.click(f"#panel-council .cp-{choice}")
    await page.wait_for_function(
        "() => (document.querySelector('#panel-council .cp-voted')?.textContent || '').includes('已计入')",
        timeout=60_000)
    said = await page.inner_text("#panel-council .cp-voted")
    if secret:
        assert re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", said), said
    return said


async def council(base: str, browser: Any, journey: Journey, tmp_path: Path) -> None:
    desk, council_url = await set_up_council(base, browser, journey)
    status_url = await resident_proposes(base, browser, journey)

    # The convenor puts the topic on the agenda and calls the meeting.
    await desk.goto(council_url)
    await submit(desk, f"a.topic-link:has-text('{TOPIC}')")
    assert (await desk.inner_text("#topic-supports")).strip() == "2"
    await submit(desk, "#topic-accept")
    await no_error_page(desk)
    await desk.goto(council_url)
    await desk.click("#new-meeting > summary")
    await desk.fill("#mt-title", "幸福小区充电桩议事会")
    await desk.fill("#mt-when", beijing_minute())
    await desk.fill("#mt-place", "社区党群服务中心议事厅")
    await desk.check("#mt-gallery")
    await submit(desk, "#create-meeting")
    await no_error_page(desk)
    meeting_url = desk.url.split("?")[0]
    assert TOPIC in await desk.inner_text("#agenda")

    # Each member's invitation and code, shown once.
    await submit(desk, "#member-codes-button")
    codes: dict[str, str] = {}
    links: dict[str, str] = {}
    for row in await desk.query_selector_all("#member-codes .member-code"):
        name = await row.get_attribute("data-member")
        codes[name] = (await (await row.query_selector(".code")).inner_text()).strip()
        link = await row.query_selector(".invite-link")
        if link is not None:
            links[name] = await link.input_value()
    assert set(ROLES) <= set(codes) and set(PHONES) <= set(links), (codes, links)
    await journey.step(desk, "member-codes-and-links")
    await submit(desk, "#meeting-start")
    # Three members sign in at the table.
    for name in TABLE:
        await desk.check(f"#table-attendance label:has-text('{name}') input")
    await submit(desk, "#save-attendance")
    assert (await desk.inner_text("#attendance-count")).strip() == "3"

    # The convenor enters the room from the meeting page's video room.
    room = await desk.context.new_page()
    watch(room, "convenor-room")
    await room.goto(meeting_url)
    await go(room, "#meeting-session")
    await go(room, "#join-session")
    await prejoin(room)
    await in_room(room)

    # Two members on their phones: their link, their code, the lobby, admitted.
    phones: dict[str, Any] = {}
    for name in PHONES:
        p = watch(await open_page(browser, absolute(base, links[name]), phone=True), name)
        await prejoin(p, codes[name])
        await in_lobby(p)
        await admit(room, name)
        await in_room(p)
        phones[name] = p
    await journey.step(phones[PHONES[0]], "member-on-phone-in-room", full_page=False)
    # The meeting page's attendance refreshes by itself (council-meeting.js polls the room's live state).
    await desk.goto(meeting_url)
    await desk.wait_for_function(
        "() => Number(document.querySelector('#attendance-count').textContent.trim()) >= 5", timeout=60_000)
    assert "已达法定人数" in await desk.inner_text("#quorum")

    # The public gallery: a resident opens the meeting's shareable gallery link on a phone and waits in the
    # lobby as their own observer (旁听 1); admitted, they watch and listen.
    gallery_link = await desk.input_value("#gallery-link")
    gallery = watch(await open_page(browser, absolute(base, gallery_link), phone=True), "gallery")
    await prejoin(gallery)
    await in_lobby(gallery)
    await admit(room, "旁听 1")
    await in_room(gallery)
    await journey.step(gallery, "public-gallery-on-phone", full_page=False)

    # The speaking queue: a member on a phone raises a hand; the convenor gives the next turn from the 议事
    # panel, which counts down the turn's time limit.
    await phones[PHONES[0]].click("#btn-hand")
    await open_panel(room, "council")
    await room.wait_for_function(
        "(n) => (document.querySelector('#panel-council .cp-queue')?.textContent || '').includes(n)",
        arg=PHONES[0], timeout=60_000)
    await room.click("#panel-council .cp-next")
    await room.wait_for_function(
        "(n) => (document.querySelector('#panel-council .cp-speaker')?.textContent || '').includes(n + ' 发言中，剩余')",
        arg=PHONES[0], timeout=60_000)
    await journey.step(room, "speaking-queue-with-time-limit", full_page=False)
    # The room names council roles: a member's tile says 党员代表 (their own role), not 当事人.
    await room.wait_for_function(
        "() => [...document.querySelectorAll('#stage .role')].some((e) => e.textContent === '党员代表')",
        timeout=30_000)

    # Item 1: taken up, a view recorded, an open vote.
    await submit(desk, "#agenda .item-current")
    await desk.fill("#agenda .view-form input[name=text]", "物业同意配合，建议设在东侧地面车位，靠近配电房")
    await desk.select_option("#agenda .view-form select[name=member]", label="测试物业丁")
    await submit(desk, "#agenda .record-view")
    await desk.select_option("#agenda .vote-mode", "open")
    await desk.fill("#agenda .vote-form input[name=motion]", "同意在小区安装电动车充电桩")
    await submit(desk, "#agenda .start-vote")
    await no_error_page(desk)
    await open_panel(room, "council")
    await room.wait_for_function(
        "() => (document.querySelector('#panel-council .cp-item')?.textContent || '').includes('充电桩')",
        timeout=60_000)
    for name in PHONES:
        await phone_votes(phones[name], "agree", secret=False)
    await journey.step(phones[PHONES[0]], "phone-member-voted-open", full_page=False)
    await tablet_vote(desk, meeting_url, codes, {"测试党员甲": "agree", "测试居民乙": "agree", "测试物业丁": "abstain"},
                      secret=False)
    await desk.goto(meeting_url)
    await submit(desk, "#agenda .close-vote")
    open_block = await desk.inner_text("#agenda .vote-closed")
    assert "测试居民丙：同意" in open_block and "测试物业丁：弃权" in open_block and "通过" in open_block
    await room.wait_for_selector("#panel-council .cp-tally", timeout=60_000)
    await journey.step(room, "room-shows-open-tally", full_page=False)

    # A secret vote on the location.
    await desk.select_option("#agenda .vote-mode", "secret")
    await desk.fill("#agenda .vote-form input[name=motion]", "充电桩设在东侧地面车位")
    await submit(desk, "#agenda .start-vote")
    for name in PHONES:
        await phone_votes(phones[name], "agree", secret=True)
    await journey.step(phones[PHONES[1]], "phone-member-secret-receipt", full_page=False)
    await tablet_vote(desk, meeting_url, codes, {"测试党员甲": "agree", "测试居民乙": "against", "测试物业丁": "agree"},
                      secret=True)
    await desk.goto(meeting_url)
    secret_vote = desk.locator("#agenda .vote[data-secret=yes]")
    await submit(desk, "#agenda .vote[data-secret=yes] .close-vote")
    secret_text = await secret_vote.inner_text()
    assert "同意" in secret_text and "通过" in secret_text
    for name in ROLES:
        assert f"{name}：" not in secret_text, secret_text
    await journey.step(desk, "meeting-page-both-votes")

    # Tasks from the decision; one done with a photo.
    deadline = beijing_minute()[:10]
    for title, owner in TASKS:
        form = desk.locator("#agenda .vote[data-secret=no] .task-form")
        if not await form.is_visible():
            await desk.click("#agenda .vote[data-secret=no] .decision-form > summary")
        await form.locator("input[name=task]").fill(title)
        await pick(form.locator("select[name=owner]"), owner)
        await form.locator("input[name=deadline]").fill(deadline)
        async with desk.expect_navigation(wait_until="domcontentloaded"):
            await form.locator("button.add-task").click()
        await no_error_page(desk)
    photo = tmp_path / "site.png"
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 120, 200)).save(buf, "PNG")
    photo.write_bytes(buf.getvalue())
    await desk.goto(council_url + "#tasks")
    task = desk.locator("#tasks li.task", has_text=TASKS[0][0])
    await task.locator(".task-complete > summary").click()
    await task.locator("textarea[name=note]").fill("已与物业、党员代表现场查看东侧车位，具备安装条件")
    await task.locator("input[name=photo]").set_input_files(str(photo))
    async with desk.expect_navigation(wait_until="domcontentloaded"):
        await task.locator("button[type=submit]").click()
    await no_error_page(desk)
    assert "已完成" in await desk.locator("#tasks li.task", has_text=TASKS[0][0]).inner_text()

    # The meeting ends; the minutes are published.
    await desk.goto(meeting_url)
    await submit(desk, "#meeting-end")
    await desk.fill("#minutes", "本次议事会应到6人，实到6人。会议同意在小区安装电动车充电桩，位置设在东侧地面车位；"
                                "由党员代表实地考察，物业公司提交安装方案。")
    await submit(desk, "#publish-submit")
    await no_error_page(desk)
    assert await desk.is_visible("#published")
    await journey.step(desk, "published")
    notice = await desk.context.new_page()
    await notice.goto(meeting_url)
    await go(notice, "#meeting-notice")
    assert "实地考察充电桩位置" in await notice.inner_text("#council-notice")
    await journey.step(notice, "printable-notice")

    # The resident comes back on the phone: the topic, followed to the completed task, and the public page.
    resident = watch(await open_page(browser, status_url, phone=True), "resident-again")
    text = await page_text(resident)
    assert "已形成决议" in text and "实地考察充电桩位置" in text and "已完成" in text, text
    await journey.step(resident, "resident-sees-progress")
    await go(resident, "#council-public-link")
    pub = await page_text(resident)
    assert "会议同意在小区安装电动车充电桩" in pub and "物业提交安装方案" in pub
    assert "无记名表决" in pub and "测试居民乙（" not in pub
    assert RESIDENT_PHONE not in pub and not re.search(r"1[3-9]\d{9}", pub)
    assert await resident.locator("img.task-photo").count() >= 1
    await journey.step(resident, "resident-public-page")
