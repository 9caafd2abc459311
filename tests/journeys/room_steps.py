"""Steps shared by the room journeys (consultation, hearing, briefing, dropped party): what a person clicks in
the menu, on a session page and in the live room, and what they see there.

Everything here acts through the pages. The only exception is ``setup_*``: demo data that the journey is
not about (a case that came in through intake), made through the JSON API before the first click.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from server.clock import BEIJING
from tests.journeys.conftest import TIMEOUT_MS

MEDIA_TIMEOUT_MS = 60_000

TILE_BY_NAME = """(name) => [...document.querySelectorAll('#stage .tile:not(.local)')]
  .filter((t) => (t.querySelector('.name')?.textContent || '').trim() === name)"""

REMOTE_VIDEO_OF = f"""(name) => {{
  const tiles = ({TILE_BY_NAME})(name);
  if (tiles.length !== 1) return false;
  const v = tiles[0].querySelector('video');
  const r = v.getBoundingClientRect();
  return v.videoWidth > 0 && v.videoHeight > 0 && !v.paused && v.readyState >= 2 && r.width > 0 && r.height > 0;
}}"""


def beijing_minute(delta: timedelta = timedelta()) -> str:
    """A value for a ``datetime-local`` input: forms take Beijing time, to the minute."""
    return (datetime.now(BEIJING) + delta).strftime("%Y-%m-%dT%H:%M")


# ---- setup through the API (data the journey is not about) ------------------------------------------------

async def setup_assigned_case(server: Any, title: str, applicant: str, respondent: str) -> str:
    """A land-boundary case as it arrives from the public intake at 龙亢镇, triaged, accepted and assigned to
    the township mediator. Returns the case code."""
    token = await server.login("mediator")
    case = await server.api("POST", "/api/cases", token, {
        "unit": "340321001", "title": title, "summary": "邻居扩建围墙占用宅基地约半米，协商未果，希望调解。",
        "category": "disputes", "item": "land_boundary", "source": "resident_request",
        "parties": [{"role": "applicant", "name": applicant, "phone": "13812345678"},
                    {"role": "respondent", "name": respondent, "phone": "13987654321"}]})
    code = case["code"]
    for action, extra in (("triage", {"grade": "yellow"}), ("accept", {}), ("assign", {"assignees": ["mediator"]})):
        await server.api("POST", f"/api/cases/{code}/transitions", token, {"action": action, **extra})
    return code


# ---- menu and pages -----------------------------------------------------------------------------------------

async def menu(page: Any, href: str) -> None:
    """Click an entry of the top menu (through the burger on a phone)."""
    link = page.locator(f"nav.mainnav a[href='{href}']")
    assert await link.count() == 1, f"the top menu has no entry for {href}"
    if not await link.is_visible() and await page.locator("label.nav-burger").is_visible():
        await page.click("label.nav-burger")
    async with page.expect_navigation():
        await link.click()


async def open_case(page: Any, code: str) -> None:
    """From the top menu's 案件 list to the case page."""
    await menu(page, "/cases")
    async with page.expect_navigation():
        await page.click(f"#cases a[href='/cases/{code}'], a[href='/cases/{code}']")


async def join_from_session_page(page: Any) -> None:
    """The session page's 进入会议室 button, then the device check; returns on the join page's next screen."""
    # The room page keeps loading media; its DOM is what the device check needs.
    async with page.expect_navigation(wait_until="domcontentloaded"):
        await page.click("#join-session")
    await page.wait_for_url("**/join/**", wait_until="domcontentloaded")
    await pass_prejoin(page)


async def pass_prejoin(page: Any) -> None:
    """Wait until the device check found the (fake) camera and microphone, then press 进入会议."""
    assert "服务器内部错误" not in await page.content()
    await page.wait_for_function("document.querySelector('#device-status')?.dataset.kind === 'ok'",
                                 timeout=MEDIA_TIMEOUT_MS)
    await page.click("#join-button")


async def in_room(page: Any) -> None:
    await page.wait_for_selector("#screen-room:not([hidden])", timeout=MEDIA_TIMEOUT_MS)


async def in_lobby(page: Any) -> None:
    await page.wait_for_selector("#screen-lobby:not([hidden])", timeout=MEDIA_TIMEOUT_MS)


async def invite(page: Any, name: str, role: str = "party", username: str = "") -> str:
    """Fill the session page's 邀请参会人 form; returns the join link the page shows to hand over."""
    await page.fill("#i-name", name)
    await page.select_option("#i-role", role)
    if username:
        await page.fill("#i-username", username)
    async with page.expect_navigation():
        await page.click("#invite-form button[type=submit]")
    await page.wait_for_selector("#new-invitation")
    return str(await page.input_value("#new-link"))


# ---- in the room --------------------------------------------------------------------------------------------

async def open_panel(page: Any, panel: str) -> None:
    """Open a side panel (moderate, people, chat) unless it is already open."""
    if not await page.is_visible(f"#panel-{panel}"):
        await page.click(f"#side .tab[data-panel={panel}]" if await page.is_visible("#side") else
                         f"[data-open-panel={panel}]")
    await page.wait_for_selector(f"#panel-{panel}:not([hidden])")


async def admit(host: Any, name: str) -> None:
    """The moderator admits ``name`` from the lobby queue of the 主持 panel."""
    await open_panel(host, "moderate")
    row = host.locator("#lobby-queue li", has=host.locator(".name", has_text=name))
    await row.locator("button.admit").click(timeout=MEDIA_TIMEOUT_MS)


def mod_row(page: Any, name: str) -> Any:
    """A person's row in the moderator panel's people list."""
    return page.locator("#mod-people li", has=page.locator(".name", has_text=name))


async def sees_video_of(page: Any, name: str) -> None:
    """Exactly one tile for ``name``, its video playing at a real size."""
    await page.wait_for_function(REMOTE_VIDEO_OF, arg=name, timeout=MEDIA_TIMEOUT_MS)


async def wait_flags(page: Any, name: str | None, has: str, present: bool = True) -> None:
    """Wait until the tile of ``name`` (our own when None) does (or does not) show ``has``."""
    js = ("(a) => { const f = document.querySelector('#stage .tile.local .flags'); "
          "return !!f && f.textContent.includes(a.has) === a.present; }") if name is None else (
        f"(a) => {{ const t = ({TILE_BY_NAME})(a.name); "
        "return t.length === 1 && t[0].querySelector('.flags').textContent.includes(a.has) === a.present; }")
    await page.wait_for_function(js, arg={"name": name, "has": has, "present": present}, timeout=TIMEOUT_MS)


async def mic_state(page: Any) -> dict[str, Any]:
    """What the microphone button says: pressed (muted), barred (no floor), its label."""
    return dict(await page.evaluate("""() => { const b = document.querySelector('#btn-mic');
      return {muted: b.getAttribute('aria-pressed') === 'true', barred: b.classList.contains('no-floor'),
              label: b.querySelector('.label').textContent}; }"""))


async def mic_open(page: Any, on: bool) -> None:
    """Wait until our microphone is (not) live, as the mic button shows it."""
    await page.wait_for_function(
        "(on) => document.querySelector('#btn-mic').getAttribute('aria-pressed') === (on ? 'false' : 'true')",
        arg=on, timeout=TIMEOUT_MS)
