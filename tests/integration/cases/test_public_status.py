"""The resident's status page: reference number + last 4 phone digits shows progress, the handling unit and,
once closed, the closing note and photo; nothing else. Wrong pairs look like unknown references; guessing
is rate-limited; the form needs its CSRF token."""

from __future__ import annotations

import re

import aiohttp

from server.services import services
from tests.integration.cases.helpers import act, hdr
from tests.integration.cases.test_case_intake import TOKEN, good, token_for
from tests.integration.cases.test_case_pages import page_login

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


async def intake(client) -> str:  # type: ignore[no-untyped-def]
    """A resident's request through the public form; returns the reference shown to them."""
    r = await client.post("/intake", data=good(await token_for(client)))
    html = await r.text()
    assert r.status == 200, html
    # The confirmation links to the status page with the reference filled in.
    code = re.search(r'id="intake-code">([^<]+)<', html).group(1)
    assert f'href="/status?ref={code}"' in html
    return code


async def look_up(client, reference: str, last4: str, lang: str = "") -> aiohttp.ClientResponse:  # type: ignore[no-untyped-def]
    r = await client.get("/status" + (f"?lang={lang}" if lang else ""))
    assert r.status == 200
    token = TOKEN.search(await r.text()).group(1)
    return await client.post("/status", data={"csrf_token": token, "reference": reference, "last4": last4})


def reset_limits(client) -> None:  # type: ignore[no-untyped-def]
    for name in ("status_ip_attempts", "status_ref_attempts"):
        getattr(services(client.app), name)._limiter._hits.clear()


async def test_reference_and_phone_show_progress_and_nothing_else(client) -> None:
    code = await intake(client)
    r = await look_up(client, code, "5678")  # the phone was 13812345678
    html = await r.text()
    assert r.status == 200, html
    result = html.split('id="status-result"')[1]
    assert code in result and 'data-stage="received"' in result and "已受理登记" in result
    assert re.search(r'id="status-unit">[^<]+村<', result)
    # Nothing about the resident or the matter: no name, phone, description or title.
    for private in ("钱八", "13812345678", "邻居家装修", "群众求助："):
        assert private not in html
    # In English too, with the stage label in English; spaces in the typed reference are forgiven.
    client.session.cookie_jar.clear()
    r = await look_up(client, f" {code} ", "5678", lang="en")
    assert r.status == 200 and "Received" in await r.text()


async def test_wrong_pair_and_unknown_reference_look_the_same(client) -> None:
    code = await intake(client)
    wrong = await look_up(client, code, "0000")
    unknown = await look_up(client, "340321-2026-999999", "5678")
    garbage = await look_up(client, "not-a-code", "5678")
    bodies = []
    for r in (wrong, unknown, garbage):
        assert r.status == 404
        html = await r.text()
        bodies.append(re.search(r'id="status-error">([^<]+)<', html).group(1))
        assert 'id="status-result"' not in html
    assert bodies[0] == bodies[1] == bodies[2] == "没有找到与该受理编号和手机号相符的求助，请核对后重试。"
    # The respondent's side never opens a case: only the resident's own phone does.
    h = await hdr(client, "mediator")
    r = await client.post("/api/cases", headers=h, json={
        "unit": "340321001", "title": "邻里纠纷", "category": "disputes", "item": "neighbourhood", "source": "walk_in",
        "parties": [{"role": "applicant", "name": "甲", "phone": "13800001111"},
                    {"role": "respondent", "name": "乙", "phone": "13900002222"}]})
    staff_code = (await r.json())["code"]
    reset_limits(client)
    assert (await look_up(client, staff_code, "2222")).status == 404
    assert (await look_up(client, staff_code, "1111")).status == 200


async def test_bad_input_csrf_and_rate_limits(client) -> None:
    code = await intake(client)
    for last4 in ("12a4", "123", ""):
        r = await look_up(client, code, last4)
        assert r.status == 400 and "手机号后4位" in await r.text()
    r = await client.post("/status", data={"csrf_token": "forged", "reference": code, "last4": "5678"})
    assert r.status == 403 and 'id="status-result"' not in await r.text()
    # Five wrong guesses at one reference: then even the right pair is refused for a while.
    for _ in range(5):
        assert (await look_up(client, code, "1234")).status == 404
    r = await look_up(client, code, "5678")
    assert r.status == 429 and 'id="status-result"' not in await r.text()
    # Ten wrong pairs from one address (over any references) block that address.
    reset_limits(client)
    for i in range(10):
        assert (await look_up(client, f"340321-2026-{i:06d}", "1234")).status == 404
    assert (await look_up(client, code, "5678")).status == 429
    reset_limits(client)
    assert (await look_up(client, code, "5678")).status == 200


async def test_closed_case_shows_the_closing_note_and_photo(client) -> None:
    code = await intake(client)
    for action, extra in [("triage", {"grade": "blue", "category": "disputes", "item": "neighbourhood"}),
                          ("accept", {}), ("assign", {"assignees": ["mediator"]}), ("start_mediation", {}),
                          ("begin_signing", {}), ("make_effective", {}), ("begin_follow_up", {})]:
        await act(client, "mediator", code, action, **extra)
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/follow-ups", headers=h,
                          json={"method": "phone", "satisfaction": 5, "recurrence_risk": "low"})
    assert r.status == 201, await r.text()
    token = await page_login(client, "mediator")
    # The closing photo is uploaded on the case page, marked as such; then the case is closed with a note.
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("kind", "closing")
    form.add_field("file", PNG, filename="修好了.png", content_type="image/png")
    r = await client.post(f"/cases/{code}/upload", data=form, allow_redirects=False)
    assert r.status == 303 and "ok=" in r.headers["Location"], r.headers["Location"]
    r = await client.post(f"/cases/{code}/transition", allow_redirects=False,
                          data={"csrf_token": token, "action": "close", "note": "井盖已更换，感谢您的反映。"})
    assert r.status == 303 and "ok=" in r.headers["Location"], r.headers["Location"]
    client.session.cookie_jar.clear()  # the resident has no account
    r = await look_up(client, code, "5678")
    html = await r.text()
    assert r.status == 200 and 'data-stage="closed"' in html and "已办结" in html
    assert "井盖已更换，感谢您的反映。" in html
    photo = re.search(r'<img src="(/status/photo/[^"]+)"', html).group(1)
    r = await client.get(photo)
    assert r.status == 200 and r.headers["Content-Type"] == "image/png" and await r.read() == PNG
    assert r.headers["Cache-Control"] == "private, no-store"
    # A forged or altered link shows nothing.
    for bad in (photo[:-3] + "abc", "/status/photo/x.y", "/status/photo/nothing"):
        assert (await client.get(bad)).status == 404


async def test_public_pages_lead_to_intake_and_status(client) -> None:
    html = await (await client.get("/login")).text()
    assert 'href="/intake"' in html and 'href="/status"' in html
    html = await (await client.get("/intake")).text()
    assert 'href="/status"' in html
    await page_login(client, "mediator")
    html = await (await client.get("/cards/units/340321001")).text()
    # No CONCORD_PUBLIC_URL in the tests: the printed link says so, the on-screen one is a path.
    assert 'href="/intake?unit=340321001"' in html and "未配置公开地址" in html and 'href="/status"' in html
    html = await (await client.get("/units/340321001")).text()
    assert 'href="/cards/units/340321001"' in html
