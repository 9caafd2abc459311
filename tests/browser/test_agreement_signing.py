"""In Chromium: two parties sign on phone-sized screens from their own invitations, drawing with the mouse;
the mediator signs and applies the seal on a desktop; the downloaded PDF verifies offline. And: the
agreement page gives each party a signing link with its QR code, and the parties sign from those links."""

from __future__ import annotations

from typing import Any

import pytest

from server.agreements.keys import TrustedKeys
from server.agreements.verify import verify_pdf
from server.directory.demo import DEMO_PASSWORD
from server.services import services
from tests.browser.conftest import DESKTOP, PHONE, poll, shot
from tests.integration.agreements.helpers import content

pytestmark = [pytest.mark.browser]


async def draw(page: Any, selector: str, seed: int = 0) -> None:
    """A handwritten-looking stroke with the mouse across the canvas."""
    await page.locator(selector).scroll_into_view_if_needed()
    box = await page.locator(selector).bounding_box()
    x0, y0 = box["x"] + 20, box["y"] + box["height"] / 2
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    for i in range(1, 40):
        await page.mouse.move(x0 + i * (box["width"] - 40) / 40, y0 + ((-1) ** (i // 4 + seed)) * 25 * (i % 4) / 4)
    await page.mouse.up()


async def party_signs(browser: Any, base: str, aid: int, token: str, answer: str, name: str) -> None:
    await party_signs_at(browser, f"{base}/agreements/{aid}/sign?invitation={token}", answer, name)


async def party_signs_at(browser: Any, url: str, answer: str, name: str) -> None:
    ctx = await browser.new_context(**PHONE)
    page = await ctx.new_page()
    page.set_default_timeout(90_000)  # the 2-core machine is shared: generous, but every wait has a deadline
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        await page.goto(url)
        try:
            await poll(page, "() => !document.querySelector('#summary').textContent.includes('加载') || "
                             "!document.querySelector('#error').hidden", timeout_s=90)
        except AssertionError:
            raise AssertionError((errors, (await page.content())[-3000:])) from None
        assert not [e for e in errors if "404" not in e], errors
        await page.wait_for_selector("#summary:not(:has-text('加载'))")
        assert await page.locator("#submit").is_disabled()
        await page.fill("#answer", answer)
        await page.click("#check-form button[type=submit]")
        await page.wait_for_selector("#step-check.done")
        await page.click("#open-text")
        await page.wait_for_selector("#doc-text:not([hidden])")
        # Signing stays locked until the whole text has been scrolled through.
        assert await page.locator("#consent").is_disabled()
        await page.eval_on_selector("#doc-text", "el => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); }")
        await page.wait_for_selector("#consent:not([disabled])")
        await page.check("#consent")
        await page.fill("#typed", name)
        assert await page.locator("#submit").is_disabled()  # nothing drawn yet
        await draw(page, "#pad", seed=len(name))
        await page.wait_for_selector("#submit:not([disabled])")
        await shot(page, f"agreement-sign-{answer}")
        await page.click("#submit")
        await poll(page, "() => !document.querySelector('#done').hidden || !document.querySelector('#error').hidden",
                   timeout_s=90)
        assert await page.locator("#error").is_hidden(), await page.inner_text("#error")
        await shot(page, f"agreement-signed-{answer}")
    finally:
        await ctx.close()


async def test_parties_then_mediator_and_seal_in_the_browser(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    token = await live_server.login("mediator")
    me = await live_server.api("GET", "/api/auth/me", token)
    sess = await live_server.api("POST", "/api/sessions", token, {"kind": "mediation", "title": "工资纠纷",
                                                                     "unit": "340321001"})
    zhang = await live_server.api("POST", f"/api/sessions/{sess['id']}/invitations", token, {
        "role": "party", "name": "张三", "check": {"method": "id_last4", "value": "7774"}})
    li = await live_server.api("POST", f"/api/sessions/{sess['id']}/invitations", token, {
        "role": "party", "name": "李四", "check": {"method": "code"}})
    a = await live_server.api("POST", "/api/agreements", token, {
        "session_id": sess["id"], "content": content(mediator_name=me["name"])})
    await live_server.api("POST", f"/api/agreements/{a['id']}/freeze", token, {"version": 1})

    await party_signs(browser, live_server.url, a["id"], zhang["token"], "7774", "张三")
    await party_signs(browser, live_server.url, a["id"], li["token"], li["code"], "李四")

    # The mediator, logged in on a desktop, signs and applies the seal.
    ctx = await browser.new_context(**DESKTOP)
    page = await ctx.new_page()
    page.set_default_timeout(90_000)
    try:
        await page.goto(f"{live_server.url}/login?next=/agreements/{a['id']}")
        await page.fill("input[name=username]", "mediator")
        await page.fill("input[name=password]", DEMO_PASSWORD)
        await page.click("form button[type=submit]")
        await page.wait_for_selector("#mediator-form")
        await poll(page, "() => document.querySelectorAll('#signatures li').length === 2")
        await page.check("#mediator-form input[name=read]")
        await draw(page, "#mediator-pad")
        await page.fill("#m-name", me["name"])
        await page.fill("#m-pass", DEMO_PASSWORD)
        await page.check("#mediator-form input[name=consent]")
        async with page.expect_navigation():  # the page reloads once the signature is in
            await page.click("#mediator-form button[type=submit]")
        await page.wait_for_selector("#seal-form")
        await poll(page, "() => document.querySelectorAll('#signatures li').length === 3")
        await page.fill("#s-pass", DEMO_PASSWORD)
        await page.check("#seal-form input[name=consent]")
        await page.click("#seal-form button[type=submit]")
        await page.wait_for_selector("#performance")
        assert "已生效" in await page.inner_text("#state-badge")
        await shot(page, "agreement-effective", full_page=True)
    finally:
        await ctx.close()

    got = await live_server.api("GET", f"/api/agreements/{a['id']}", token)
    assert got["state"] == "effective" and [s["name"] for s in got["signatures"]] == ["张三", "李四", me["name"],
                                                                                     "龙亢镇"]
    from aiohttp import ClientSession

    async with ClientSession() as http:
        # The party's copy needs the identity check, as signing does.
        url = f"{live_server.url}/api/agreements/{a['id']}/party"
        async with http.get(f"{url}/pdf?invitation={zhang['token']}") as r:
            assert r.status == 403
        async with http.post(f"{url}/check", json={"invitation": zhang["token"], "answer": "7774"}) as r:
            ticket = (await r.json())["ticket"]
        async with http.get(f"{url}/pdf?invitation={zhang['token']}&ticket={ticket}") as r:
            assert r.status == 200
            pdf = await r.read()
    trusted = TrustedKeys.load(services(live_server.app).config.data_dir / "agreement_keys")
    result = verify_pdf(pdf, trusted)
    assert result.ok, result.failures
    signers = {s["name"]: s for s in result.signers}
    assert signers["张三"]["check"] == "id_last4" and signers["李四"]["check"] == "code"


async def test_parties_sign_from_the_links_the_agreement_page_gives(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    token = await live_server.login("mediator")
    me = await live_server.api("GET", "/api/auth/me", token)
    c = content(mediator_name=me["name"])
    c["parties"][1]["id_number"] = ""  # 李四 gets a one-time code instead
    a = await live_server.api("POST", "/api/agreements", token, {"content": c})  # no session at all
    await live_server.api("POST", f"/api/agreements/{a['id']}/freeze", token, {"version": 1})

    ctx = await browser.new_context(**DESKTOP)
    page = await ctx.new_page()
    page.set_default_timeout(90_000)
    links: dict[str, str] = {}
    try:
        await page.goto(f"{live_server.url}/login?next=/agreements/{a['id']}")
        await page.fill("input[name=username]", "mediator")
        await page.fill("input[name=password]", DEMO_PASSWORD)
        await page.click("form button[type=submit]")
        await page.wait_for_selector("#sign-links .sl-party[data-party=p2]")
        assert await page.locator(".sl-party[data-party=p2] option[value=id_last4]").is_disabled()
        for key in ("p1", "p2"):
            await page.click(f".sl-party[data-party={key}] .sl-make")
            card = f".sign-link-card[data-party={key}]"
            await page.wait_for_selector(f"{card} .qr svg")
            links[key] = await page.input_value(f"{card} .sl-url")
            assert links[key].startswith(f"{live_server.url}/agreements/{a['id']}/sign?link=")
            assert "有效期至" in await page.inner_text(card)
        code = (await page.inner_text(".sign-link-card[data-party=p2] .sl-code")).strip()
        assert len(code) == 6 and code.isdigit()
        assert "sms:13800000001?body=" in (await page.get_attribute(".sign-link-card[data-party=p2] .sl-sms", "href"))
        await shot(page, "agreement-sign-links", full_page=True)
    finally:
        await ctx.close()

    await party_signs_at(browser, links["p1"], "7774", "张三")
    await party_signs_at(browser, links["p2"], code, "李四")
    got = await live_server.api("GET", f"/api/agreements/{a['id']}", token)
    assert [s["name"] for s in got["signatures"]] == ["张三", "李四"]
    assert {s["check"] for s in got["signatures"]} == {"id_last4", "code"}
