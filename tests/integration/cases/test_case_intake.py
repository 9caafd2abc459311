"""Resident intake (public, CSRF, rate limit, validation) and printable contact cards with QR codes."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.directory.models import Staff
from server.services import services
from tests.integration.cases.helpers import get, hdr
from tests.integration.cases.test_case_pages import page_login

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def token_for(client, path: str = "/intake?unit=340321001001") -> str:  # type: ignore[no-untyped-def]
    r = await client.get(path)
    assert r.status == 200
    return TOKEN.search(await r.text()).group(1)


def good(token: str, **kw: str) -> dict[str, str]:
    form = {"csrf_token": token, "unit": "340321001001", "name": "钱八", "phone": "13812345678",
            "category_item": "disputes:neighbourhood", "description": "邻居家装修噪音持续到深夜，多次沟通无果。",
            "wants_video": "on", "preferred_time": "工作日晚上"}
    form.update(kw)
    return form


async def test_intake_creates_a_registered_case(client) -> None:
    r = await client.get("/intake?unit=340321001001")
    html = await r.text()
    assert r.status == 200 and "群众求助" in html and 'value="340321001001" selected' in html
    token = TOKEN.search(html).group(1)
    r = await client.post("/intake", data=good(token))
    html = await r.text()
    assert r.status == 200, html
    code = re.search(r'id="intake-code">([^<]+)<', html).group(1)
    d = await get(client, "mediator", code)  # the township above the village sees it
    assert d["status"] == "registered" and d["source"] == "resident_request" and d["unit"]["code"] == "340321001001"
    assert d["parties"][0]["name"] == "钱八" and "希望视频" in d["title"]
    r = await client.get("/api/notifications", headers=await hdr(client, "mediator"))
    # The village has no handler on staff, so its township is told.
    assert any(n["kind"] == "case.intake" for n in (await r.json())["notifications"])
    log = await (await client.get(f"/api/cases/{code}/log", headers=await hdr(client, "mediator"))).json()
    assert log["events"][0]["data"]["by"] == {"public": True}
    assert "13812345678" not in str(log)


async def test_intake_refuses_bad_input_without_csrf_and_when_flooded(client) -> None:
    token = await token_for(client)
    r = await client.post("/intake", data={**good(token), "csrf_token": "nope"})
    assert r.status == 403
    for bad in ({"phone": "12345"}, {"name": ""}, {"description": "太短"}, {"unit": "340300"},
                {"unit": "340321"}, {"category_item": "policing:fraud"}, {"name": "<script>x</script>" * 10}):
        services(client.app).intake_limiter.reset("ip:127.0.0.1")
        r = await client.post("/intake", data=good(token, **bad))
        assert r.status == 400, bad
        assert "<script>x</script>" not in await r.text()
    # Ten attempts from one address in an hour: the next is refused even if valid.
    services(client.app).intake_limiter.reset("ip:127.0.0.1")
    for _ in range(10):
        r = await client.post("/intake", data=good(token, phone="12"))
        assert r.status == 400
    r = await client.post("/intake", data=good(token))
    assert r.status == 429
    # Nothing was registered by the refused attempts.
    r = await client.get("/api/cases", headers=await hdr(client, "admin"))
    assert (await r.json())["total"] == 0


async def test_intake_honeypot_and_per_phone_limit(client) -> None:
    token = await token_for(client)
    r = await client.post("/intake", data=good(token, website="http://spam"))
    assert r.status == 400
    services(client.app).intake_limiter.reset("ip:127.0.0.1")
    for _ in range(3):
        r = await client.post("/intake", data=good(token))
        assert r.status == 200
    services(client.app).intake_limiter.reset("ip:127.0.0.1")
    r = await client.post("/intake", data=good(token))
    assert r.status == 429  # the same phone number, a fourth time today


async def test_dv_intake_is_restricted_to_the_handlers(client) -> None:
    token = await token_for(client)
    r = await client.post("/intake", data=good(token, domestic_violence="on", category_item=""))
    code = re.search(r'id="intake-code">([^<]+)<', await r.text()).group(1)
    d = await get(client, "mediator", code)
    assert d["restricted"] and d["parties"][0]["role"] == "victim" and d["parties"][0]["phone_confidential"]
    await get(client, "mediator_340321", code, 404)
    await get(client, "grid_340321001001", code, 404)


async def test_contact_cards_with_qr(client) -> None:
    await page_login(client, "mediator")
    r = await client.get("/cards/units/340321001")
    html = await r.text()
    assert r.status == 200 and "<svg" in html and "/intake?unit=340321001" in html and "龙亢镇" in html
    assert "/cards/staff/mediator" in html
    r = await client.get("/cards/staff/mediator")
    html = await r.text()
    assert r.status == 200 and "/intake?unit=340321001&amp;staff=mediator" in html and "调解员张三" in html
    # Outside one's subtree: not found.
    assert (await client.get("/cards/units/340322")).status == 404
    assert (await client.get("/cards/staff/mediator_340322")).status == 404
    # The card's link opens the intake form with the mediator as contact.
    client.session.cookie_jar.clear()
    r = await client.get("/intake?unit=340321001&staff=mediator")
    html = await r.text()
    assert 'name="staff" value="mediator"' in html and "调解员张三" not in html


async def test_public_intake_never_shows_a_staff_name(client) -> None:  # type: ignore[no-untyped-def]
    """Anyone can put any username in ?staff=: the page shows role and unit, not who the person is."""
    contact = re.compile(r'<div class="alert alert-info" id="intake-contact">([^<]*)</div>')
    async with services(client.app).db.session() as s:
        names = {u: n for u, n in (await s.execute(select(Staff.username, Staff.name))).all()}
    for username, role in (("admin", "管理员"), ("mediator", "调解员")):
        html = await (await client.get(f"/intake?staff={username}")).text()
        shown = contact.search(html)
        assert shown and role in shown.group(1), html
        assert names[username] not in html
    html = await (await client.get("/intake?staff=admin&lang=en")).text()
    assert names["admin"] not in html and "Administrator" in contact.search(html).group(1)
