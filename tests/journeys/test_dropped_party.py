"""Journey: a party's phone drops out of a mediation without leaving (its browser context is closed).

On the mediator's page the party never appears twice, in any list, at any moment (a watcher samples the
page every 50 ms through the whole drop and rejoin). The party's tile shows a reconnecting state; the party
opens the invitation link again and takes back the same place. After a second drop the tile stays,
reconnecting, until the grace period ends, then goes. Nothing ends the session: when the mediator's browser
drops too, the session is still live afterwards and the mediator joins it again from the pages.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.journeys.conftest import Journey, open_page, sign_in
from tests.journeys.room_steps import (
    MEDIA_TIMEOUT_MS,
    admit,
    in_lobby,
    in_room,
    invite,
    join_from_session_page,
    menu,
    pass_prejoin,
    sees_video_of,
)

# Several browsers with live video on a loaded 2-core machine: more than the default 300 s may be needed.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

GRACE_S = 12.0
PARTY, MEDIATOR = "钱八", "调解员张三"
TITLE = "钱八与孙九宅基地边界纠纷调解"


@pytest.fixture
def live_config() -> dict[str, Any]:
    return {"room_grace_s": GRACE_S}


# Samples every list of people on the page every 50 ms: keeps the largest count of the name seen in each, and
# a log of the party's tile as it changes ("none", "live" or "away", with the time in ms).
WATCH = """(name) => {
  const count = (sel) => [...document.querySelectorAll(sel)].filter((n) => n.textContent.trim() === name).length;
  const w = window.__watch = {max: {tiles: 0, people: 0, moderate: 0, waiting: 0}, samples: 0, tile: []};
  setInterval(() => {
    const seen = {tiles: count('#stage .tile:not(.local) .name'), people: count('#panel-people li[data-peer] .name'),
                  moderate: count('#mod-people li .name'),
                  waiting: count('#mod-people li .name') + count('#lobby-queue li[data-peer] .name')};
    for (const k of Object.keys(seen)) w.max[k] = Math.max(w.max[k], seen[k]);
    const tile = [...document.querySelectorAll('#stage .tile:not(.local)')]
      .find((t) => t.querySelector('.name')?.textContent.trim() === name);
    const state = !tile ? 'none' : tile.classList.contains('away') ? 'away' : 'live';
    if (!w.tile.length || w.tile[w.tile.length - 1][1] !== state) w.tile.push([Date.now(), state]);
    w.samples += 1;
  }, 50);
}"""


# A tile the page shows as reconnecting: marked away and saying so in words.
RECONNECTING = """(name) => {
  const tiles = [...document.querySelectorAll('#stage .tile:not(.local)')]
    .filter((t) => t.querySelector('.name')?.textContent.trim() === name);
  return tiles.length === 1 && tiles[0].classList.contains('away') && /重新连接/.test(tiles[0].innerText);
}"""
# The watcher's own log, not the page: waiting on the page could return before the watcher's next sample.
TILE_GONE = """() => { const t = window.__watch.tile; return t.length > 0 && t[t.length - 1][1] === 'none'; }"""


async def never_twice(page: Any) -> list[tuple[float, str]]:
    """Asserts the party was never listed twice so far; returns the log of its tile's states."""
    watch = await page.evaluate("window.__watch")
    assert watch["samples"] > 20, watch
    assert all(n <= 1 for n in watch["max"].values()), f"{PARTY} was listed twice: {watch}"
    return [(float(t), state) for t, state in watch["tile"]]


async def drop(party: Any) -> float:
    """The phone loses the page: its browser context closes without a 离开. Returns the time, in ms."""
    at = float(await party.evaluate("Date.now()"))
    await party.context.close()
    return at


async def test_dropped_party(live_server: Any, browser: Any, journey: Journey) -> None:
    base = live_server.url
    token = await live_server.login("mediator")
    await live_server.api("POST", "/api/sessions", token, {
        "kind": "mediation", "title": TITLE, "unit": "340321001",
        "scheduled_at": datetime.now(UTC).isoformat(timespec="seconds")})

    # The mediator opens the session from 视频会议, invites the party and joins.
    med = await sign_in(browser, base, "mediator")
    await menu(med, "/sessions")
    async with med.expect_navigation():
        await med.click(f"#sessions a:has-text('{TITLE}')")
    link = await invite(med, PARTY, "party")
    await join_from_session_page(med)
    await in_room(med)

    # The party joins on a phone and is admitted: video both ways.
    party = await open_page(browser, link, phone=True)
    await pass_prejoin(party)
    await in_lobby(party)
    await admit(med, PARTY)
    await in_room(party)
    await sees_video_of(med, PARTY)
    await sees_video_of(party, MEDIATOR)
    await med.evaluate(WATCH, PARTY)
    await journey.step(med, "party-in-room", full_page=False)

    # First drop: the tile shows the party reconnecting; the party opens the link again and is back in place.
    await drop(party)
    await med.wait_for_function(RECONNECTING, arg=PARTY, timeout=MEDIA_TIMEOUT_MS)
    await journey.step(med, "party-reconnecting", full_page=False)
    party = await open_page(browser, link, phone=True)
    await pass_prejoin(party)
    await in_room(party)
    await sees_video_of(med, PARTY)
    await sees_video_of(party, MEDIATOR)
    await journey.step(med, "party-back", full_page=False)
    log = await never_twice(med)
    assert "none" not in [state for _, state in log], f"the place was not kept while the party was away: {log}"

    # Second drop, for good: reconnecting until the grace period ends, then the tile goes.
    dropped_at = await drop(party)
    await med.wait_for_function(RECONNECTING, arg=PARTY, timeout=MEDIA_TIMEOUT_MS)
    await journey.step(med, "party-reconnecting-again", full_page=False)
    await med.wait_for_function(TILE_GONE, timeout=int(GRACE_S * 1000) + MEDIA_TIMEOUT_MS)
    log = [(t, state) for t, state in await never_twice(med) if t >= dropped_at]
    states = [state for _, state in log]
    assert states[-1] == "none" and "none" not in states[:-1] and "away" in states, log
    gone_after_s = (log[-1][0] - dropped_at) / 1000
    assert gone_after_s >= GRACE_S - 1, f"the tile went {gone_after_s:.1f}s after the drop, before the grace period"
    assert await med.is_visible("#screen-room") and not await med.is_visible("#screen-ended")
    await journey.step(med, "party-gone-session-goes-on", full_page=False)

    # The mediator's browser drops too: nobody is left. Once the mediator's place has lapsed (the session page
    # no longer lists anyone in the room) the session is still live, and the mediator joins it again.
    await med.context.close()
    med = await sign_in(browser, base, "mediator")
    await menu(med, "/sessions")
    async with med.expect_navigation():
        await med.click(f"#sessions a:has-text('{TITLE}')")
    deadline = time.monotonic() + GRACE_S + MEDIA_TIMEOUT_MS / 1000
    while await med.is_visible("section.live-now"):
        assert time.monotonic() < deadline, "the dropped mediator is still listed in the room"
        await asyncio.sleep(1)
        await med.reload()
    assert "进行中" in await med.inner_text(".page-head"), "the session ended when everybody dropped"
    await journey.step(med, "nobody-in-room-session-live")
    await join_from_session_page(med)
    await in_room(med)
    await journey.step(med, "mediator-back-in-live-session", full_page=False)
