"""Messages on pages speak the viewer's language only: validation errors, success notes, error pages and
the text the page scripts show for API errors (server/i18n.py)."""

from __future__ import annotations

import re

from server.i18n import has_cjk
from server.services import services
from tests.integration.cases.helpers import create, hdr
from tests.integration.cases.test_case_intake import good, token_for
from tests.integration.cases.test_case_pages import page_login

ALERTS = re.compile(r'<div class="(?:alert alert-\w+|error)"[^>]*>([^<]*)</div>')


async def test_intake_errors_are_in_one_language(client) -> None:  # type: ignore[no-untyped-def]
    token = await token_for(client)
    r = await client.post("/intake", data=good(token, name=""))
    assert r.status == 400
    shown = ALERTS.findall(await r.text())
    assert any(s.startswith("请填写姓名") for s in shown), shown
    assert not any("Enter your name" in s for s in shown)

    services(client.app).intake_limiter.reset("ip:127.0.0.1")
    token = await token_for(client, "/intake?unit=340321001001&lang=en")
    r = await client.post("/intake", data=good(token, name=""))
    shown = ALERTS.findall(await r.text())
    assert any(s.startswith("Enter your name") for s in shown), shown
    assert not any(has_cjk(s) for s in shown), shown


async def test_success_note_and_refusal_on_the_case_page_are_in_one_language(client) -> None:  # type: ignore[no-untyped-def]
    case = await create(client)
    token = await page_login(client, "mediator")
    d = {"csrf_token": token, "action": "triage", "category_item": "disputes:neighbourhood", "grade": "blue"}
    r = await client.post(f"/cases/{case['code']}/transition", data=d)
    assert r.status == 200
    html = await r.text()
    assert '<div class="alert alert-ok" role="status">已分流研判</div>' in html and "/ done" not in html
    # A bilingual note, however it comes, shows one side.
    r = await client.get(f"/cases/{case['code']}?ok=已办理 / done")
    assert '<div class="alert alert-ok" role="status">已办理</div>' in await r.text()
    r = await client.get(f"/cases/{case['code']}?lang=en&ok=已办理 / done")
    assert '<div class="alert alert-ok" role="status">done</div>' in await r.text()


async def test_error_page_for_an_english_api_message_is_chinese_on_a_chinese_page(client) -> None:  # type: ignore[no-untyped-def]
    await page_login(client, "mediator")
    r = await client.get("/cases/340321-2099-999999")
    html = await r.text()
    assert r.status == 404 and "no such case" not in html
    r = await client.get("/cases/340321-2099-999999?lang=en")
    html = await r.text()
    assert r.status == 404 and "没有这个案件" not in html


async def test_api_errors_carry_display_text_in_the_page_language(client) -> None:  # type: ignore[no-untyped-def]
    headers = await hdr(client, "mediator")
    r = await client.post("/api/cases", json={"title": "x"}, headers={**headers, "X-Concord-Lang": "zh-CN"})
    err = (await r.json())["error"]
    assert r.status == 400 and has_cjk(err["display"]) and not has_cjk(err["message"])
    r = await client.post("/api/cases", json={"title": "x"}, headers={**headers, "X-Concord-Lang": "en"})
    err = (await r.json())["error"]
    assert err["display"] == err["message"]
    # Other API clients get the documented shape unchanged.
    r = await client.post("/api/cases", json={"title": "x"}, headers=headers)
    assert "display" not in (await r.json())["error"]
