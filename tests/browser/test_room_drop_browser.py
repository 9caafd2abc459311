"""A party reopens their invitation (the closed browser's reconnecting tile and its expiry are walked in
tests/journeys/test_dropped_party.py); the side panel's tabs at
1366x768 and on a phone; the minutes (笔录) panel only for those who may read it (issue 9, rooms).

The host page is watched by a MutationObserver for the whole test: at no moment may it show a person's
name twice (tiles, people list, moderator list) or a second tile for one person.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, LiveServer, poll, shot
from tests.browser.test_room_browser import (
    MEDIA_TIMEOUT_MS,
    REMOTE_VIDEO_PLAYING,
    host_joins,
    join_pair,
    new_page,
    pass_prejoin,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GRACE_S = 8.0
LAPTOP = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}


@pytest.fixture
def live_config() -> dict[str, Any]:
    return {"room_grace_s": GRACE_S}


# Records every moment the page shows one name twice, in any list, or more than one tile per peer id.
WATCH_DUPLICATES = """() => {
  window.__dupes = [];
  const lists = {
    tiles: () => [...document.querySelectorAll('#stage .tile:not(.local) .name')],
    people: () => [...document.querySelectorAll('#panel-people .people li[data-peer] .name')],
    moderator: () => [...document.querySelectorAll('#mod-people li .name')],
  };
  const check = () => {
    for (const [where, get] of Object.entries(lists)) {
      const names = get().map((n) => n.textContent);
      if (new Set(names).size !== names.length) window.__dupes.push([where, names]);
    }
    const ids = [...document.querySelectorAll('#stage .tile:not(.local)')].map((t) => t.dataset.peer);
    if (new Set(ids).size !== ids.length) window.__dupes.push(['tile-ids', ids]);
  };
  new MutationObserver(check).observe(document.querySelector('#concord-room'),
    { childList: true, subtree: true, characterData: true });
  check();
}"""

PARTY_TILE = "document.querySelector('#stage .tile:not(.local)')"


async def dupes(page: Any) -> list:
    return await page.evaluate("window.__dupes")


async def test_party_reopens_the_invitation_and_takes_their_place(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    host, party = await join_pair(live_server, browser, errors)
    url = party.url
    peer_id = await party.evaluate("window.concord.me.id")
    await host.click("#side .tab[data-panel=moderate]")
    await host.evaluate(WATCH_DUPLICATES)

    await party.context.close()
    await poll(host, f"() => {PARTY_TILE} && {PARTY_TILE}.classList.contains('away')", timeout_s=15)

    # A new browser (no resume token kept): the same link, straight back into the room, same place.
    again = await new_page(browser, DESKTOP, errors)
    await again.goto(url)
    await pass_prejoin(again)
    await again.wait_for_selector("#screen-room:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    assert await again.evaluate("window.concord.me.id") == peer_id
    for page in (host, again):
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=MEDIA_TIMEOUT_MS)
    assert await host.evaluate(f"{PARTY_TILE}.dataset.peer") == peer_id
    assert not await host.evaluate(f"{PARTY_TILE}.classList.contains('away')")
    assert await host.evaluate("document.querySelectorAll('#stage .tile').length") == 2
    assert await dupes(host) == []
    assert errors == []


TABS_VISIBLE = """() => {
  const side = document.querySelector('#side').getBoundingClientRect();
  const out = [];
  for (const tab of document.querySelectorAll('#side-tabs .tab')) {
    if (tab.hidden) continue;
    const r = tab.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const inside = r.width > 0 && r.left >= side.left - 1 && r.right <= side.right + 1
      && r.right <= window.innerWidth + 1 && r.bottom <= window.innerHeight + 1;
    out.push([tab.textContent, inside && !!hit && tab.contains(hit)]);
  }
  return out;
}"""


async def test_side_tabs_fit_and_minutes_only_for_readers(live_server: LiveServer, browser: Any) -> None:
    errors: list[str] = []
    token = await live_server.login("mediator")
    me = await live_server.api("GET", "/api/auth/me", token)
    sess = await live_server.api("POST", "/api/sessions", token, {"kind": "mediation", "title": "邻里纠纷调解",
                                                                  "unit": me["unit"]})
    inv = await live_server.api("POST", f"/api/sessions/{sess['id']}/invitations", token,
                                {"role": "party", "name": "李四"})
    host = await new_page(browser, LAPTOP, errors)
    await host_joins(host, live_server, sess["id"])  # logged in: the mediator may write the minutes
    party = await new_page(browser, PHONE, errors)
    asked: list[tuple[str, int]] = []
    party.on("response", lambda r: asked.append((r.url, r.status)) if r.url.endswith("/minutes") else None)
    await party.goto(live_server.url + inv["url"])
    await pass_prejoin(party)
    await party.wait_for_selector("#screen-lobby:not([hidden])")
    await host.click("#btn-mod")
    await host.wait_for_function("window.concord.lobby.size === 1", timeout=MEDIA_TIMEOUT_MS)
    # Waiting in the lobby, the party may not read the minutes: nothing is asked for.
    assert asked == []

    # The host at 1366x768: every tab of the side panel is on screen and clickable.
    await host.wait_for_selector("#side .tab[data-panel=minutes]:not([hidden])")
    tabs = await host.evaluate(TABS_VISIBLE)
    names = [name for name, _ in tabs]
    assert {"主持", "参会人员", "文字交流", "笔录", "协议"} <= set(names), names
    assert all(ok for _, ok in tabs), tabs
    await shot(host, "side-tabs-1366")

    # The host writes the minutes in a styled editor.
    await host.click("#side .tab[data-panel=minutes]")
    editor = host.locator("#minutes-edit")
    assert await editor.is_visible()
    style = await editor.evaluate("(e) => { const s = getComputedStyle(e); return [s.borderRadius, s.fontSize]; }")
    assert style == ["8px", "16px"]
    await editor.fill("双方同意先行测量地界。")
    await host.click("#panel-minutes .minutes-save")
    await host.wait_for_function("document.querySelector('#panel-minutes .minutes-status').textContent.includes('v1')")

    # Admitted, the party reads them (read-only) from the phone sheet, where every tab fits too.
    await host.click("#side .tab[data-panel=moderate]")
    await host.click("#lobby-queue button.admit")
    await party.wait_for_selector("#screen-room:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    await party.click("#btn-more")
    await party.wait_for_selector("#side .tab[data-panel=minutes]:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    tabs = await party.evaluate(TABS_VISIBLE)
    assert "主持" not in [n for n, _ in tabs] and all(ok for _, ok in tabs), tabs
    await party.click("#side .tab[data-panel=minutes]")
    assert await party.inner_text("#minutes-view") == "双方同意先行测量地界。"
    assert not await party.is_visible("#minutes-edit") and not await party.is_visible("#panel-minutes .minutes-save")
    assert asked and all(status == 200 for _, status in asked), asked
    await shot(party, "minutes-phone-party")

    # Withdrawn invitation: the minutes are refused, so the tab and its button go and the polling stops.
    await live_server.api("DELETE", f"/api/sessions/{sess['id']}/invitations/{inv['id']}", token)
    await party.evaluate("() => document.querySelector('#panel-minutes .minutes-refresh').click()")
    await party.wait_for_selector("#side .tab[data-panel=minutes]", state="hidden", timeout=MEDIA_TIMEOUT_MS)
    assert await party.is_hidden("#btn-minutes")
    refused = len(asked)
    await party.wait_for_timeout(16_000)
    assert len(asked) == refused, asked[refused:]
    assert errors == []
