"""Journey: 远程指导. The township mediator asks the county land expert about a case; the expert finds the request
in the menu, accepts it with a start time, and at that time both join from the pages and see each other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.journeys.conftest import Journey, sign_in
from tests.journeys.room_steps import (
    beijing_minute,
    in_room,
    join_from_session_page,
    menu,
    open_case,
    sees_video_of,
    setup_assigned_case,
)

# Several browsers with live video on a loaded 2-core machine: more than the default 300 s may be needed.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

EXPERT, MEDIATOR = "土地专家李四", "调解员张三"


async def test_consultation(live_server: Any, browser: Any, journey: Journey) -> None:
    base = live_server.url
    code = await setup_assigned_case(live_server, "钱八与孙九宅基地边界纠纷", "钱八", "孙九")

    # The mediator asks for a land expert from the case page.
    med = await sign_in(browser, base, "mediator")
    await open_case(med, code)
    await journey.step(med, "mediator-opens-case")
    await med.select_option("#specialty", "land")
    await med.select_option("#expert", "expert")
    await med.fill("#question", "围墙越界约半米，宅基地界址以1998年确权图还是现场界桩为准？")
    await journey.step(med, "mediator-asks-expert")
    async with med.expect_navigation():
        await med.click("form[action$='/consult'] button[type=submit]")
    assert "待接受" in await med.inner_text("#consultations")

    # The expert finds the request from the menu (the consultation inbox) and accepts it for now.
    expert = await sign_in(browser, base, "expert")
    await menu(expert, "/consultations")
    card = expert.locator("article.card", has_text=code)
    await card.wait_for()
    await journey.step(expert, "expert-inbox")
    start = beijing_minute()
    await card.locator("input[name=scheduled_at]").fill(start)
    async with expert.expect_navigation():
        await card.locator("button[name=decision][value=accept]").click()
    assert code in expert.url
    shown = start.replace("T", " ")
    consultations = await expert.inner_text("#consultations")
    assert EXPERT in consultations
    await journey.step(expert, "expert-accepted")

    # At the start time the expert goes to the consultation's session and joins (as its host).
    async with expert.expect_navigation():
        await expert.click("#consultations a[href^='/sessions/']")
    assert shown in await expert.inner_text("main"), "the session page shows the start time in Beijing time"
    await journey.step(expert, "expert-session-page")
    await join_from_session_page(expert)
    await in_room(expert)
    await journey.step(expert, "expert-in-room", full_page=False)

    # The mediator's bell tells of the acceptance; its notification leads to the case, and from there to the
    # same session.
    async with med.expect_navigation():
        await med.click("#nav-bell")
    notice = med.locator("#notifications li", has_text="专家已接受").filter(has_text=code)
    await journey.step(med, "mediator-notified")
    async with med.expect_navigation():
        await notice.locator("a").first.click()
    assert EXPERT in await med.inner_text("#consultations")
    async with med.expect_navigation():
        await med.click("#consultations a[href^='/sessions/']")
    assert shown in await med.inner_text("main")
    await join_from_session_page(med)
    await in_room(med)

    # Both see each other's video, playing at a real size.
    await sees_video_of(med, EXPERT)
    await sees_video_of(expert, MEDIATOR)
    await journey.step(med, "mediator-sees-expert", full_page=False)
    await journey.step(expert, "expert-sees-mediator", full_page=False)
