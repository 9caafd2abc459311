"""Network, unit and expert pages and APIs: scope by tier, 401/403/404, staff creation, hostile input."""

from __future__ import annotations

import re
import time

from server.directory.http.signin import LOGIN_ADDRESS_LIMIT
from server.security import tokens
from server.services import services
from tests.conftest import login
from tests.integration.test_pages import TOKEN, browser_login

# ---- network browser -------------------------------------------------------------------------------


async def test_network_page_requires_login(client) -> None:
    r = await client.get("/network?expand=all", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login?next=")
    assert "network" in r.headers["Location"]


async def test_network_city_sees_every_county_with_counts(client) -> None:
    await browser_login(client, "admin")
    page = await (await client.get("/network")).text()
    for county in ("龙子湖区", "蚌山区", "禹会区", "淮上区", "怀远县", "五河县", "固镇县"):
        assert county in page
    assert page.count("<li data-code=") >= 90
    # 怀远县: 3 townships, 12 units below, staff counted bottom-up.
    li = re.search(r'<li data-code="340321">.*?<span class="counts">(.*?)</span>', page, re.S).group(1)
    assert "下级 3" in li and "共 12" in li


async def test_network_township_sees_only_its_subtree(client) -> None:
    await browser_login(client, "mediator")  # 龙亢镇
    page = await (await client.get("/network?lang=en")).text()
    codes = set(re.findall(r'<li data-code="(\d+)"', page))
    assert codes == {"340321001", "340321001001", "340321001002", "340321001003"}
    assert "榴城镇" not in page and "怀远县" not in page and "蚌埠市" not in page


# ---- unit page -------------------------------------------------------------------------------------


async def test_unit_page_lists_staff_and_subunits(client) -> None:
    await browser_login(client, "mediator")
    r = await client.get("/units/340321001")
    assert r.status == 200
    page = await r.text()
    assert "调解员张三" in page and "调解员" in page
    assert "/units/340321001001" in page
    # Breadcrumbs stop at the actor's own unit.
    assert "/units/340321\"" not in page


async def test_unit_page_out_of_scope_403_unknown_404(client) -> None:
    await browser_login(client, "mediator")
    assert (await client.get("/units/340321002")).status == 403  # sibling township
    assert (await client.get("/units/340321")).status == 403  # own county (ancestor)
    r = await client.get("/units/999999")
    assert r.status == 404 and r.content_type == "text/html"
    r = await client.get("/units/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status == 404
    assert "<script>alert(1)" not in await r.text()


async def test_admin_adds_staff_through_unit_page(client) -> None:
    await browser_login(client, "admin_340321")
    page = await (await client.get("/units/340321001")).text()
    token = TOKEN.search(page).group(1)
    assert 'id="add-staff"' in page
    r = await client.post("/units/340321001/staff", data={
        "csrf_token": token, "username": "mediator_new", "name": "<b>调解员丁一</b>", "role": "mediator",
        "password": "long-enough-pw"}, allow_redirects=False)
    assert r.status == 302, await r.text()
    page = await (await client.get(r.headers["Location"])).text()
    assert "&lt;b&gt;调解员丁一&lt;/b&gt;" in page and "<b>调解员丁一" not in page
    # A bad form re-renders with the reason and keeps what was typed (never the password).
    r = await client.post("/units/340321001/staff", data={
        "csrf_token": token, "username": "mediator_new", "name": "x", "role": "mediator", "password": "long-enough-pw"})
    assert r.status == 409
    assert "用户名 mediator_new 已被使用" in await r.text()  # the viewer's language, not the API's English
    r = await client.post("/units/340321001/staff", data={
        "csrf_token": token, "username": "x1", "role": "mediator", "password": "short"})
    assert r.status == 400
    assert "密码至少需要 8 位" in await r.text()
    # Without CSRF: refused.
    r = await client.post("/units/340321001/staff", data={"username": "x2", "role": "mediator", "password": "long-enough-pw"})
    assert r.status == 403


async def test_non_admin_sees_no_staff_form_and_cannot_post(client) -> None:
    await browser_login(client, "mediator")
    page = await (await client.get("/units/340321001")).text()
    assert 'id="add-staff"' not in page
    token = TOKEN.search(page).group(1)
    r = await client.post("/units/340321001/staff", data={
        "csrf_token": token, "username": "sneaky", "role": "admin", "password": "long-enough-pw"})
    assert r.status == 403


# ---- unit API --------------------------------------------------------------------------------------


async def test_unit_api_401_403_404(client) -> None:
    h = await login(client, "mediator")
    assert (await client.get("/api/units/340321001", headers=h)).status == 200
    r = await client.get("/api/units/340302", headers=h)
    assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"
    r = await client.get("/api/units/000000", headers=h)
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
    assert (await client.get("/api/units?under=340321002", headers=h)).status == 403
    assert (await client.get("/api/units?under=nope", headers=h)).status == 404
    assert (await client.get("/api/units/340321001")).status == 401


async def test_unit_api_tier_filter(client) -> None:
    h = await login(client, "admin")
    counties = (await (await client.get("/api/units?tier=county", headers=h)).json())["units"]
    assert len(counties) == 7 and all(u["parent"] == "340300" for u in counties)
    r = await client.get("/api/units?tier=planet", headers=h)
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_filter"
    under = (await (await client.get("/api/units?under=340321&tier=village", headers=h)).json())["units"]
    assert len(under) == 9 and all(u["code"].startswith("340321") for u in under)


async def test_expired_and_wrong_purpose_tokens_are_401(client) -> None:
    h = await login(client, "admin")
    me = await (await client.get("/api/auth/me", headers=h)).json()
    secret = services(client.app).config.secret_key
    expired = tokens.sign(secret, "api", {"sub": me["id"]}, 3600, now=time.time() - 7200)
    r = await client.get("/api/units", headers={"Authorization": f"Bearer {expired}"})
    assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
    session_token = tokens.sign(secret, "session", {"sub": me["id"]}, 3600)
    assert (await client.get("/api/units", headers={"Authorization": f"Bearer {session_token}"})).status == 401
    forged = tokens.sign(b"some-other-key", "api", {"sub": me["id"]}, 3600)
    assert (await client.get("/api/units", headers={"Authorization": f"Bearer {forged}"})).status == 401
    for junk in ("", "x", "a.b.c", "!!!.???", "e30." + "A" * 5000):
        assert (await client.get("/api/units", headers={"Authorization": f"Bearer {junk}"})).status == 401


# ---- staff API -------------------------------------------------------------------------------------


async def test_staff_filters_and_hostile_strings(client) -> None:
    h = await login(client, "admin")
    r = await client.get("/api/staff?role=expert", headers=h)
    assert r.status == 200
    experts = (await r.json())["staff"]
    assert experts and all(s["role"] == "expert" for s in experts)
    land = (await (await client.get("/api/staff?specialty=land", headers=h)).json())["staff"]
    assert land and all("land" in s["specialties"] for s in land)
    for hostile in ("' OR '1'='1", "%", "_", "\\", "<script>alert(1)</script>", "'; DROP TABLE staff; --"):
        r = await client.get("/api/staff", params={"q": hostile}, headers=h)
        assert r.status == 200, hostile
        assert (await r.json())["staff"] == [], hostile
        r = await client.get("/api/staff", params={"role": hostile}, headers=h)
        assert r.status == 400, hostile
        r = await client.get("/api/staff", params={"unit": hostile}, headers=h)
        assert r.status == 404, hostile
    # The table is still there.
    assert len((await (await client.get("/api/staff", headers=h)).json())["staff"]) > 50


async def test_staff_of_other_branch_is_403(client) -> None:
    h = await login(client, "mediator")
    assert (await client.get("/api/staff?unit=340302", headers=h)).status == 403
    mine = (await (await client.get("/api/staff", headers=h)).json())["staff"]
    assert mine and all(s["unit"].startswith("340321001") for s in mine)


async def test_create_staff_api(client) -> None:
    h = await login(client, "admin_340321")
    body = {"username": "expert_new", "name": "专家丙二", "role": "expert", "unit": "340321001",
            "password": "long-enough-pw", "specialties": ["labour", "land"]}
    r = await client.post("/api/staff", json=body, headers=h)
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["unit"] == "340321001" and made["specialties"] == ["land", "labour"]
    # The new account logs in.
    await login(client, "expert_new", "long-enough-pw")
    assert (await client.post("/api/staff", json=body, headers=h)).status == 409
    # Outside the admin's county: 403; unknown unit: 404.
    assert (await client.post("/api/staff", json={**body, "username": "a1", "unit": "340302"}, headers=h)).status == 403
    assert (await client.post("/api/staff", json={**body, "username": "a2", "unit": "999"}, headers=h)).status == 404
    # Bad input: 400 with a reason.
    for bad in ({**body, "role": "emperor"}, {**body, "password": "short"}, {**body, "username": "bad name!"},
                {**body, "specialties": ["astrology"]}, {**body, "specialties": "land"},
                {**body, "role": "mediator", "specialties": ["land"]}, {**body, "username": 7},
                {k: v for k, v in body.items() if k != "unit"}):
        r = await client.post("/api/staff", json={**bad, "username": bad.get("username", "x9")}
                              if "username" in bad else bad, headers=h)
        assert r.status == 400, (bad, await r.text())
        assert set((await r.json())["error"]) >= {"code", "message"}
    r = await client.post("/api/staff", data=b"{oops", headers={**h, "Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"
    r = await client.post("/api/staff", data=b"[1,2]", headers={**h, "Content-Type": "application/json"})
    assert r.status == 400
    r = await client.post("/api/staff", data=b"x" * 20000, headers={**h, "Content-Type": "application/json"})
    assert r.status == 413


async def test_create_staff_needs_admin(client) -> None:
    body = {"username": "zz", "role": "admin", "unit": "340321001", "password": "long-enough-pw"}
    for user in ("mediator", "expert", "observer", "supervisor"):
        h = await login(client, user)
        assert (await client.post("/api/staff", json=body, headers=h)).status == 403, user
    assert (await client.post("/api/staff", json=body)).status == 401


async def test_cookie_api_change_needs_csrf_header(client) -> None:
    await browser_login(client, "admin")
    token = TOKEN.search(await (await client.get("/")).text()).group(1)
    body = {"username": "via_cookie", "role": "observer", "unit": "340300", "password": "long-enough-pw"}
    r = await client.post("/api/staff", json=body)
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf"
    r = await client.post("/api/staff", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status == 403
    r = await client.post("/api/staff", json=body, headers={"X-CSRF-Token": token})
    assert r.status == 201


# ---- experts ---------------------------------------------------------------------------------------


async def test_experts_scope_is_own_branch_and_ancestors(client) -> None:
    h = await login(client, "mediator")  # 龙亢镇, under 怀远县
    experts = (await (await client.get("/api/experts", headers=h)).json())["experts"]
    units = {e["unit"] for e in experts}
    assert units == {"340321"}  # the county's experts; none from other counties
    names = {e["name"] for e in experts}
    assert "土地专家李四" in names
    h = await login(client, "admin")
    everyone = (await (await client.get("/api/experts", headers=h)).json())["experts"]
    assert len({e["unit"] for e in everyone}) == 7


async def test_expert_filters(client) -> None:
    h = await login(client, "admin")
    land = (await (await client.get("/api/experts?specialty=land", headers=h)).json())["experts"]
    assert land and all("land" in e["specialties"] for e in land)
    assert (await (await client.get("/api/experts?tier=city", headers=h)).json())["experts"] == []
    county = (await (await client.get("/api/experts?tier=county&specialty=medical", headers=h)).json())["experts"]
    assert county and all(e["tier"] == "county" and "medical" in e["specialties"] for e in county)
    assert (await client.get("/api/experts?specialty=' OR 1=1 --", headers=h)).status == 400
    assert (await client.get("/api/experts?tier=<b>", headers=h)).status == 400
    r = await client.get("/api/experts", params={"q": "' OR 1=1 --"}, headers=h)
    assert r.status == 200 and (await r.json())["experts"] == []


async def test_experts_page_chinese_labels_and_hostile_filters(client) -> None:
    await browser_login(client, "mediator")
    page = await (await client.get("/experts?specialty=land")).text()
    assert "土地纠纷" in page and "土地专家李四" in page and "县（区）级" in page
    assert "婚姻家庭" in page  # the filter's options carry every specialty label
    r = await client.get("/experts", params={"q": "<script>alert(1)</script>", "specialty": "' OR 1=1 --",
                                             "tier": "\"><img src=x onerror=alert(1)>"})
    assert r.status == 200
    body = await r.text()
    assert "<script>alert(1)" not in body and "onerror=alert" not in body.replace("&#34;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    page = await (await client.get("/experts?lang=en")).text()
    assert "Land" in page and "County/district" in page


# ---- login limit behind a proxy --------------------------------------------------------------------


async def test_login_limit_per_client_behind_trusted_proxy(aiohttp_client, config) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from server.app import create_app
    from server.directory.demo import seed
    from server.security.clientip import parse_networks

    app = create_app(replace(config, trusted_proxies=parse_networks("127.0.0.0/8")))
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)

    async def attempt(user: str, xff: str) -> int:
        r = await c.post("/api/auth/login", json={"username": user, "password": "wrong-password"},
                         headers={"X-Forwarded-For": xff})
        return r.status

    # One client behind the proxy hammers many accounts: its address gets blocked (LOGIN_ADDRESS_LIMIT)...
    n = LOGIN_ADDRESS_LIMIT
    assert [await attempt(f"user{i % 10}", "198.51.100.1") for i in range(n)] == [401] * n
    assert await attempt("user9", "198.51.100.1") == 429
    # ...but not everyone else behind the same proxy.
    assert await attempt("user9", "198.51.100.2") == 401


async def test_spoofed_forwarded_for_does_not_dodge_the_limit(client) -> None:
    statuses = []
    for i in range(LOGIN_ADDRESS_LIMIT + 1):
        r = await client.post("/api/auth/login", json={"username": f"u{i % 10}", "password": "wrong-password"},
                              headers={"X-Forwarded-For": f"203.0.113.{i}"})
        statuses.append(r.status)
    assert statuses[-1] == 429


async def test_deactivated_account_loses_access(client) -> None:
    from sqlalchemy import update

    from server.directory.models import Staff

    h = await login(client, "mediator")
    assert (await client.get("/api/auth/me", headers=h)).status == 200
    async with services(client.app).db.session() as s:
        await s.execute(update(Staff).where(Staff.username == "mediator").values(active=False))
    services(client.app).actor_cache.forget()  # what the node that changes an account does
    r = await client.get("/api/auth/me", headers=h)
    assert r.status == 401


async def test_large_json_body_read_completely_when_it_arrives_in_pieces(client) -> None:
    """A body that arrives in several TCP reads is parsed whole (and the limit still applies)."""
    import asyncio
    import json

    h = await login(client, "admin_340321")
    body = json.dumps({"username": "chunked_user", "role": "observer", "unit": "340321",
                       "password": "long-enough-pw", "name": "观察员" + " " * 12000}).encode()

    async def trickle():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]
            await asyncio.sleep(0.005)

    r = await client.post("/api/staff", data=trickle(), headers={**h, "Content-Type": "application/json"})
    # Parsed completely: the name is then refused for its length, not the body for being "invalid JSON".
    assert r.status == 400 and (await r.json())["error"]["field"] == "name", await r.text()
