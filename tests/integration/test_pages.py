"""The web shell: login/logout with CSRF and a session cookie, home page, language switch, error pages."""

from __future__ import annotations

import re

from server.directory.demo import DEMO_PASSWORD

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf(client, path: str = "/login") -> str:  # type: ignore[no-untyped-def]
    r = await client.get(path)
    assert r.status == 200
    m = TOKEN.search(await r.text())
    assert m, "page has no CSRF field"
    return m.group(1)


async def browser_login(client, username: str = "admin", password: str = DEMO_PASSWORD):  # type: ignore[no-untyped-def]
    token = await csrf(client)
    return await client.post("/login", data={"csrf_token": token, "username": username, "password": password,
                                             "next": "/"}, allow_redirects=False)


async def test_home_redirects_to_login(client) -> None:
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login"


async def test_login_sets_httponly_lax_cookie_and_home_shows_user(client) -> None:
    r = await browser_login(client)
    assert r.status == 302 and r.headers["Location"] == "/"
    cookie = [c for c in r.headers.getall("Set-Cookie") if c.startswith("concord_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    page = await (await client.get("/")).text()
    assert "系统管理员" in page and "蚌埠市" in page
    for href in ("/sessions", "/cases", "/agreements", "/dashboard", "/network", "/experts"):
        assert f'href="{href}"' in page
    assert 'name="viewport"' in page and 'name="csrf-token"' in page


async def test_login_form_without_csrf_is_refused(client) -> None:
    r = await client.post("/login", data={"username": "admin", "password": DEMO_PASSWORD}, allow_redirects=False)
    assert r.status == 403
    assert "concord_session" not in r.cookies
    r = await client.post("/login", data={"csrf_token": "forged", "username": "admin", "password": DEMO_PASSWORD},
                          allow_redirects=False)
    assert r.status == 403


async def test_wrong_password_same_page_for_unknown_user(client) -> None:
    a = await browser_login(client, "admin", "wrong-password")
    b = await browser_login(client, "nobody_here", "wrong-password")
    assert a.status == b.status == 401
    msg = re.compile(r'<div class="alert alert-error" role="alert">(.*?)</div>')
    assert msg.search(await a.text()).group(1) == msg.search(await b.text()).group(1)


async def test_login_form_rate_limited(client) -> None:
    statuses = [(await browser_login(client, "mediator", f"wrong-{i}")).status for i in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429
    # Even the right password is refused while blocked.
    assert (await browser_login(client, "mediator")).status == 429


async def test_login_does_not_redirect_off_site(client) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        token = await csrf(client)
        r = await client.post("/login", data={"csrf_token": token, "username": "admin", "password": DEMO_PASSWORD,
                                              "next": target}, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/", target
        client.session.cookie_jar.clear_domain("127.0.0.1")
    token = await csrf(client)
    r = await client.post("/login", data={"csrf_token": token, "username": "admin", "password": DEMO_PASSWORD,
                                          "next": "/network"}, allow_redirects=False)
    assert r.headers["Location"] == "/network"


async def test_hostile_username_is_escaped_in_form(client) -> None:
    r = await browser_login(client, "<script>alert(1)</script>' OR 1=1 --", "x" * 10)
    assert r.status == 401
    body = await r.text()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body


async def test_overlong_login_fields_are_400(client) -> None:
    r = await browser_login(client, "a" * 65, "x")
    assert r.status == 400


async def test_logout_needs_csrf_and_clears_cookie(client) -> None:
    await browser_login(client)
    r = await client.post("/logout", data={}, allow_redirects=False)
    assert r.status == 403
    token = TOKEN.search(await (await client.get("/")).text()).group(1)
    r = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login"
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302


async def test_logout_revokes_a_copied_cookie(client) -> None:
    r = await browser_login(client)
    stolen = [c for c in r.headers.getall("Set-Cookie") if c.startswith("concord_session=")][0]
    stolen = stolen.split(";")[0].split("=", 1)[1]
    token = TOKEN.search(await (await client.get("/")).text()).group(1)
    await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    client.session.cookie_jar.clear()
    r = await client.get("/", headers={"Cookie": f"concord_session={stolen}"}, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")


async def test_language_switch(client) -> None:
    await browser_login(client)
    page = await (await client.get("/?lang=en")).text()
    assert '<html lang="en">' in page and "Log out" in page and "Hello" in page
    # Remembered in a cookie for the next page.
    page = await (await client.get("/")).text()
    assert "Log out" in page
    assert 'href="/?lang=zh-CN"' in page
    page = await (await client.get("/?lang=zh-CN")).text()
    assert "退出" in page


async def test_html_error_page_and_json_errors(client) -> None:
    r = await client.get("/no/such/page")
    assert r.status == 404
    assert r.content_type == "text/html"
    assert "页面不存在" in await r.text()
    r = await client.get("/api/no/such/thing")
    assert r.status == 404
    assert (await r.json())["error"]["code"] == "not_found"


async def test_cookie_session_works_for_api_reads(client) -> None:
    await browser_login(client, "mediator")
    r = await client.get("/api/auth/me")
    assert r.status == 200 and (await r.json())["username"] == "mediator"


async def test_static_css_served(client) -> None:
    r = await client.get("/static/css/concord.css")
    assert r.status == 200
    assert "@media (max-width" in await r.text()


async def test_login_failure_is_in_one_language(client) -> None:
    r = await browser_login(client, "admin", "not-the-password")
    html = await r.text()
    assert r.status == 401 and "用户名或密码错误。" in html and "wrong username" not in html.lower()
    client.session.cookie_jar.update_cookies({"concord_lang": "en"})
    r = await browser_login(client, "admin", "not-the-password")
    html = await r.text()
    assert r.status == 401 and "Wrong username or password." in html and "用户名或密码错误" not in html
    for lang, want in (("zh-CN", "用户名或密码错误"), ("en", "wrong username or password")):
        r = await client.post("/api/auth/login", json={"username": "admin", "password": "nope"},
                              headers={"X-Concord-Lang": lang})
        assert r.status == 401 and (await r.json())["error"]["display"] == want
