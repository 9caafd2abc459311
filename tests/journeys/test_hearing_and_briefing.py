"""Journeys: a 视频信访 hearing and a 视频调度 briefing, each held with its floor rules (server/sessions/kinds.py).

- Hearing: the petition officer schedules it from the petition's case page and hosts it; the petitioner joins
  from the link handed over, waits in the lobby, and speaks only when given the floor (raise hand → floor).
- Briefing: the county centre briefs; two township centres find it under 视频会议 and enter directly, muted;
  one raises a hand and gets the floor while the other stays muted.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.journeys.conftest import Journey, open_page, sign_in
from tests.journeys.room_steps import (
    admit,
    beijing_minute,
    in_lobby,
    in_room,
    invite,
    join_from_session_page,
    menu,
    mic_open,
    mic_state,
    mod_row,
    open_case,
    open_panel,
    pass_prejoin,
    sees_video_of,
    wait_flags,
)

# Several browsers with live video on a loaded 2-core machine: more than the default 300 s may be needed.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

MUTED, FLOOR, HAND = "已静音", "发言中", "举手"


async def my_name(page: Any) -> str:
    """The signed-in person's name, as the top bar shows it."""
    return (await page.inner_text("header .usermenu .who")).strip()


async def raise_hand_and_get_floor(host: Any, speaker: Any, name: str, journey: Journey, label: str) -> None:
    """The speaker raises a hand; the host sees it and gives the floor; the speaker's microphone opens."""
    await speaker.click("#btn-hand")
    await wait_flags(host, name, HAND)
    await open_panel(host, "moderate")
    row = mod_row(host, name)
    await row.locator(".hand").wait_for()
    await journey.step(host, f"{label}-hand-raised", full_page=False)
    await row.locator("button.floor").click()
    await mic_open(speaker, True)
    assert not (await mic_state(speaker))["barred"]
    await wait_flags(host, name, FLOOR)
    await wait_flags(host, name, MUTED, present=False)
    await wait_flags(host, name, HAND, present=False)  # the floor answers the hand
    await wait_flags(speaker, None, FLOOR)
    await journey.step(speaker, f"{label}-has-floor", full_page=False)


async def take_floor_back(host: Any, speaker: Any, name: str) -> None:
    await mod_row(host, name).locator("button.floor.on").click()
    await mic_open(speaker, False)
    assert (await mic_state(speaker))["barred"]
    await wait_flags(host, name, MUTED)
    await wait_flags(host, name, FLOOR, present=False)


async def barred(page: Any) -> None:
    """A person without the floor: microphone off and barred; pressing it does not open it."""
    await mic_open(page, False)
    assert (await mic_state(page))["barred"]
    # Toasts go after 4 s; a loaded machine may take longer to return from the click, so collect them.
    await page.evaluate("""() => { window.__toasts = [];
      new MutationObserver(() => document.querySelectorAll('#toasts .toast')
        .forEach((t) => window.__toasts.push(t.textContent))).observe(document.querySelector('#toasts'), {childList: true});
    }""")
    await page.click("#btn-mic")
    await page.wait_for_function("window.__toasts.some((t) => t.includes('请等待主持人给予发言权'))")
    assert (await mic_state(page))["muted"]


async def test_petition_hearing(live_server: Any, browser: Any, journey: Journey) -> None:
    base = live_server.url
    petitioner = "周十"
    token = await live_server.login("petition")
    case = await live_server.api("POST", "/api/petitions", token, {
        "unit": "340321001", "title": "龙亢镇征地补偿款发放信访", "subject": "反映征地补偿款迟迟未发放到户，请求核查。",
        "category": "disputes", "item": "land_boundary", "petitioners": 1,
        "parties": [{"role": "applicant", "name": petitioner, "phone": "13700001234"}]})
    code = case["code"]

    # The petition officer schedules the hearing for now from the case page, then opens its session.
    officer = await sign_in(browser, base, "petition")
    host_name = await my_name(officer)
    await open_case(officer, code)
    await officer.select_option("#panel", ["petition", "mediator_340321"])
    await officer.fill("#hearing_at", beijing_minute())
    await journey.step(officer, "officer-schedules-hearing")
    async with officer.expect_navigation():
        await officer.click("form[action$='/petition'] button[type=submit]")
    async with officer.expect_navigation():
        await officer.click("#sessions a[href^='/sessions/']:not([href$='/record'])")
    link = await invite(officer, petitioner, "party")
    await journey.step(officer, "officer-invites-petitioner")
    await join_from_session_page(officer)
    await in_room(officer)

    # The petitioner opens the link on a phone and waits in the lobby until admitted.
    resident = await open_page(browser, link, phone=True)
    await journey.step(resident, "petitioner-join-page")
    await pass_prejoin(resident)
    await in_lobby(resident)
    await journey.step(resident, "petitioner-lobby", full_page=False)
    await admit(officer, petitioner)
    await in_room(resident)
    await sees_video_of(officer, petitioner)
    await sees_video_of(resident, host_name)

    # Staff speak freely; the petitioner is muted until given the floor, and cannot unmute alone.
    assert not (await mic_state(officer))["barred"]
    await mic_open(officer, True)
    await barred(resident)
    await wait_flags(officer, petitioner, MUTED)
    await journey.step(officer, "petitioner-muted", full_page=False)
    await journey.step(resident, "petitioner-no-floor", full_page=False)

    await raise_hand_and_get_floor(officer, resident, petitioner, journey, "petitioner")
    await take_floor_back(officer, resident, petitioner)
    await journey.step(resident, "petitioner-floor-taken-back", full_page=False)


async def test_dispatch_briefing(live_server: Any, browser: Any, journey: Journey) -> None:
    base = live_server.url

    # The county centre creates the briefing from 视频会议 and invites two township centres by account.
    county = await sign_in(browser, base, "mediator_340321")
    host_name = await my_name(county)
    await menu(county, "/sessions")
    await county.fill("#n-title", "怀远县防汛工作视频调度会")
    await county.select_option("#n-kind", "dispatch")
    await county.select_option("#n-unit", "340321")
    await county.fill("#n-when", beijing_minute())
    await journey.step(county, "county-creates-briefing")
    async with county.expect_navigation():
        await county.click("#new-session button[type=submit]")
    await journey.step(county, "county-briefing-page")
    for username in ("mediator", "mediator_340321002"):
        await invite(county, "", "observer", username)
    await journey.step(county, "county-invited-centres")
    await join_from_session_page(county)
    await in_room(county)

    # Each township centre finds the briefing under 视频会议 and enters directly, without a lobby.
    centres = []
    for username in ("mediator", "mediator_340321002"):
        page = await sign_in(browser, base, username)
        name = await my_name(page)
        await menu(page, "/sessions")
        async with page.expect_navigation():
            await page.click("#sessions a:has-text('防汛工作视频调度会')")
        await join_from_session_page(page)
        await in_room(page)
        centres.append((page, name))
    (longkang, longkang_name), (liucheng, liucheng_name) = centres
    for page, _ in centres:
        await sees_video_of(page, host_name)
    for _, name in centres:
        await sees_video_of(county, name)
    await journey.step(county, "county-briefs-centres", full_page=False)

    # The county speaks; the centres listen, muted.
    assert not (await mic_state(county))["barred"]
    await mic_open(county, True)
    for page, name in centres:
        await barred(page)
        await wait_flags(county, name, MUTED)
    await journey.step(longkang, "centre-listens-muted", full_page=False)

    # 龙亢镇 raises a hand to report and gets the floor; 榴城镇 stays muted.
    await raise_hand_and_get_floor(county, longkang, longkang_name, journey, "longkang")
    await wait_flags(liucheng, longkang_name, FLOOR)
    assert (await mic_state(liucheng))["barred"]
    await wait_flags(county, liucheng_name, MUTED)
    await journey.step(liucheng, "other-centre-sees-floor", full_page=False)
    await take_floor_back(county, longkang, longkang_name)
