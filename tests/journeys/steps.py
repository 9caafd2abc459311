"""Steps that several journeys share: what a user does on one page, done by clicking and typing only.

Every wait is on a state the page shows (a selector, a value), with the generous deadline of the
journey contexts; nothing sleeps for correctness. Room checks reuse the browser tests' media probes.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from typing import Any

from server.clock import BEIJING
from tests.browser.test_agreement_signing import draw
from tests.browser.test_room_browser import FRAMES_DECODED

TZ = BEIJING
MEDIA_TIMEOUT_MS = 120_000  # live video on a loaded 2-core machine: slow, but every wait has a deadline

REMOTE_VIDEO_PLAYING = """() => {
  const vids = [...document.querySelectorAll('#stage .tile:not(.local) video')];
  return vids.length > 0 && vids.every((v) => v.videoWidth > 0 && v.videoHeight > 0 && !v.paused);
}"""


_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def resident_id(first17: str) -> str:
    """A well-formed 18-character resident ID number (GB 11643 check character) for a fictional person."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def local_input(delta: timedelta = timedelta(0)) -> str:
    """A ``datetime-local`` value on the Beijing clock, as a user in Anhui types it."""
    return (datetime.now(TZ) + delta).strftime("%Y-%m-%dT%H:%M")


async def go(page: Any, selector: str) -> None:
    """Click a link (or a submit button) and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.click(selector)


async def menu(page: Any, href: str) -> None:
    """Follow an entry of the top menu."""
    await go(page, f"nav.mainnav a[href='{href}']")


async def no_error_page(page: Any) -> None:
    """The page is not the HTML error page (a 500 shows "服务器内部错误")."""
    text = await page.inner_text("body")
    assert "服务器内部错误" not in text and "Internal server error" not in text, (page.url, text[:500])


async def case_action(page: Any, action: str, fill: dict[str, str] | None = None,
                      select: dict[str, str | list[str]] | None = None) -> None:
    """Open the action's panel on the case page, fill it in and submit; the page must come back clean."""
    form = f"form[data-action='{action}']"
    if not await page.is_visible(form):
        await page.click(f"details:has({form}) > summary")
    for sel, value in (select or {}).items():
        await page.select_option(f"{form} {sel}", value)
    for sel, value in (fill or {}).items():
        await page.fill(f"{form} {sel}", value)
    await go(page, f"{form} button[type=submit]")
    error = await page.query_selector("#form-error")
    assert error is None, await error.inner_text()


async def case_status(page: Any) -> str:
    return (await page.inner_text("#case-status")).strip()


async def invite(page: Any, name: str, check: str = "none", id_last4: str = "") -> tuple[str, str | None]:
    """On the session page: invite someone as a party; returns the join link and the one-time check code
    exactly as the page shows them (the mediator hands both over)."""
    await page.fill("#i-name", name)
    await page.select_option("#i-role", "party")
    await page.check(f"#invite-form input[name=check][value={check}]")
    if check == "id_last4":
        await page.fill("#i-last4", id_last4)
    await go(page, "#invite-form button[type=submit]")
    await page.wait_for_selector("#new-invitation")
    assert name in await page.inner_text("#new-invitation h2")
    link = await page.input_value("#new-link")
    code = (await page.inner_text("#new-code")).strip() if check == "code" else None
    return link, code


async def prejoin(page: Any, answer: str | None = None) -> None:
    """The pre-join check: the fake camera and microphone are found (the preview plays), the identity
    question is answered when asked, then 进入会议."""
    await page.wait_for_function("document.querySelector('#device-status').dataset.kind === 'ok'",
                                 timeout=MEDIA_TIMEOUT_MS)
    await page.wait_for_function("(() => { const v = document.querySelector('#preview'); "
                                 "return v && v.videoWidth > 0; })()", timeout=MEDIA_TIMEOUT_MS)
    if answer is not None:
        await page.fill("#check-answer", answer)
    await page.click("#join-button")


async def staff_enters_room(desk: Any) -> Any:
    """From the session page open in ``desk``, the staff member enters the room in a second tab of the same
    browser (the session page stays open for invitations and the agreement)."""
    room = await desk.context.new_page()
    session_page = re.sub(r"(/sessions/\d+).*$", r"\1", desk.url)
    assert session_page.rstrip("/").split("/")[-2] == "sessions", desk.url
    await room.goto(session_page)  # the same session page, in a new tab
    await go(room, "#join-session")
    await no_error_page(room)
    assert "/join/" in room.url
    await prejoin(room)
    await room.wait_for_selector("#screen-room:not([hidden])", timeout=MEDIA_TIMEOUT_MS)
    return room


async def open_panel(page: Any, panel: str) -> None:
    """Open a side panel of the room (``moderate``, ``agreement``, ...); on a phone the panel buttons fold
    into 更多, whose sheet has a tab per panel."""
    button = "#btn-mod" if panel == "moderate" else f"#btn-{panel}"
    if await page.is_visible("#side") and await page.is_visible(f"#side .tab[data-panel={panel}]"):
        await page.click(f"#side .tab[data-panel={panel}]")
    elif await page.is_visible(button):
        await page.click(button)
    else:
        await page.click("#btn-more")
        await page.click(f"#side .tab[data-panel={panel}]")


async def admit(host: Any, name: str) -> None:
    """The moderator admits ``name`` from the lobby queue of the moderation panel."""
    if not await host.is_visible("#lobby-queue"):
        await open_panel(host, "moderate")
    await host.click(f"#lobby-queue li:has-text('{name}') button.admit", timeout=MEDIA_TIMEOUT_MS, no_wait_after=True)


async def video_flows(page: Any, tiles: int, frames: bool = True) -> None:
    """``tiles`` remote pictures play with a real size; with ``frames``, their decoded frame count keeps
    rising too (a moving picture, not one frozen frame)."""
    await page.wait_for_function(
        f"document.querySelectorAll('#stage .tile:not(.local) video').length === {tiles}", polling=250,
        timeout=MEDIA_TIMEOUT_MS)
    await page.wait_for_function(REMOTE_VIDEO_PLAYING, polling=250, timeout=MEDIA_TIMEOUT_MS)
    if not frames:
        return
    first = now = await page.evaluate(FRAMES_DECODED)
    deadline = time.monotonic() + MEDIA_TIMEOUT_MS / 1000
    while now <= first + 5:
        assert time.monotonic() < deadline, f"decoded frames stuck at {first} → {now} on {page.url}"
        await asyncio.sleep(0.25)
        now = await page.evaluate(FRAMES_DECODED)


async def make_signing_link(page: Any, party: str, method: str) -> tuple[str, str | None]:
    """On the agreement page, make ``party``'s signing link (with its QR code); returns the link as the page
    shows it and the one-time code when the check is a code the mediator tells the party separately."""
    row = f"#sign-link-parties li.sl-party:has(strong:text-is('{party}'))"
    await page.select_option(f"{row} select.sl-method", method)
    await page.click(f"{row} button.sl-make")
    await page.wait_for_selector(f"{row} .sign-link-card .qr svg")
    url = await page.input_value(f"{row} input.sl-url")
    code = (await page.inner_text(f"{row} .sl-code")).strip() if method == "code" else None
    return url, code


async def party_signs(page: Any, name: str, answers: dict[str, str]) -> None:
    """A party on the signing page: identity check, the full text read to the end, consent, a handwritten
    signature and the typed name. ``answers`` holds what the party knows: ``id_last4`` and/or ``code``."""
    await page.wait_for_selector("#summary:not(:has-text('加载'))")
    await no_error_page(page)
    label = await page.inner_text("#answer-label")
    answer = answers["id_last4"] if "身份证" in label else answers["code"]
    await page.fill("#answer", answer)
    await page.click("#check-form button[type=submit]")
    await page.wait_for_selector("#step-check.done")
    await page.click("#open-text")
    await page.wait_for_selector("#doc-text:not([hidden])")
    await page.eval_on_selector("#doc-text", "el => { el.scrollTop = el.scrollHeight; "
                                             "el.dispatchEvent(new Event('scroll')); }")
    await page.wait_for_selector("#consent:not([disabled])")
    await page.check("#consent")
    await page.fill("#typed", name)
    await draw(page, "#pad", seed=len(name))
    await page.wait_for_selector("#submit:not([disabled])")


async def submit_signature(page: Any) -> None:
    await page.click("#submit")
    await page.wait_for_selector("#done:not([hidden]), #error:not([hidden])")
    assert await page.is_hidden("#error"), await page.inner_text("#error")


def flip_inside_signed_range(pdf: bytes) -> bytes:
    """A copy with one byte flipped inside the PDF signature's signed byte range, somewhere a PDF reader
    still opens the file: the binary comment on the second line when there is one, else mid-range."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m, "the exported PDF carries a PDF signature"
    start, length = int(m.group(1)), int(m.group(2))
    header = re.match(rb"%PDF-\d\.\d\r?\n%([\x80-\xff]{4})", pdf)
    pos = header.start(1) + 1 if header else start + length // 2
    assert start <= pos < start + length
    out = bytearray(pdf)
    out[pos] ^= 0x01
    return bytes(out)


async def page_text(page: Any) -> str:
    return re.sub(r"\s+", " ", await page.inner_text("body"))


CONSOLE: list[str] = []


def watch(page: Any, who: str) -> Any:
    """Keep ``who``'s page errors and console warnings, printed when the journey fails."""
    page.on("pageerror", lambda e: CONSOLE.append(f"{who} pageerror: {e}"))
    page.on("console", lambda m: CONSOLE.append(f"{who} {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    return page


async def snap_all(chrome: Any, journey: Any) -> None:
    """On failure: a screenshot of every page still open, to see where each user got stuck, and what the
    pages logged."""
    print("\n".join(CONSOLE[-60:]), flush=True)
    for ci, ctx in enumerate(chrome.contexts):
        for pi, page in enumerate(ctx.pages):
            try:
                await journey.step(page, f"failed-ctx{ci}-page{pi}", full_page=False)
            except Exception:  # noqa: BLE001 - a closed or crashed page has nothing to show
                pass
