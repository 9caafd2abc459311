"""Session pages: list and create (CSRF), invite (link, QR, one-time code), withdraw, staff join, and the
join page for good and bad invitation links. Runs on SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import json
import re

from server.services import services
from tests.conftest import login
from tests.integration.test_pages import browser_login

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIG = re.compile(r'<script type="application/json" id="room-config">(.*?)</script>', re.S)


async def page_csrf(client, path: str) -> str:  # type: ignore[no-untyped-def]
    r = await client.get(path)
    assert r.status == 200, await r.text()
    m = CSRF.search(await r.text())
    assert m, f"{path} has no CSRF field"
    return m.group(1)


async def create_via_form(client, title: str = "张三与李四宅基地纠纷调解", **extra: str):  # type: ignore[no-untyped-def]
    token = await page_csrf(client, "/sessions")
    data = {"csrf_token": token, "title": title, "kind": "mediation", "unit": "340321001", **extra}
    return await client.post("/sessions", data=data, allow_redirects=False)


async def test_sessions_page_needs_login(client) -> None:
    r = await client.get("/sessions", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    r = await client.get("/sessions/1", allow_redirects=False)
    assert r.status == 302


async def test_create_session_with_the_form(client) -> None:
    await browser_login(client, "mediator")
    r = await create_via_form(client, scheduled_at="2026-12-01T09:30")
    assert r.status == 303, await r.text()
    location = r.headers["Location"]
    assert re.fullmatch(r"/sessions/\d+", location)
    page = await (await client.get(location)).text()
    assert "张三与李四宅基地纠纷调解" in page and "视频调解" in page and "2026-12-01 09:30" in page
    listing = await (await client.get("/sessions")).text()
    assert location in listing and "未开始" in listing


async def test_create_form_refuses_missing_csrf_and_bad_input(client) -> None:
    await browser_login(client, "mediator")
    r = await client.post("/sessions", data={"title": "x", "kind": "mediation", "unit": "340321001"},
                          allow_redirects=False)
    assert r.status == 403
    r = await create_via_form(client, title="   ")
    assert r.status == 400 and "请填写会议名称" in await r.text()
    r = await create_via_form(client, case_id="abc")
    assert r.status == 400 and "案件编号" in await r.text()
    r = await create_via_form(client, kind="party")
    assert r.status == 400
    r = await create_via_form(client, scheduled_at="not a time")
    assert r.status == 400
    # A unit outside the mediator's township is not theirs to host.
    r = await create_via_form(client, unit="340302")
    assert r.status == 404 and "辖区" in await r.text()


async def test_observer_cannot_create(client) -> None:
    await browser_login(client, "observer")
    page = await (await client.get("/sessions")).text()
    assert 'action="/sessions"' not in page.replace('action="/sessions" role', "")  # only the filter form
    token = await page_csrf(client, "/sessions")
    r = await client.post("/sessions", data={"csrf_token": token, "title": "x", "kind": "mediation",
                                             "unit": "340300"}, allow_redirects=False)
    assert r.status == 403


async def test_invite_shows_link_qr_and_one_time_code(client) -> None:
    await browser_login(client, "mediator")
    sid = (await create_via_form(client)).headers["Location"].rsplit("/", 1)[1]
    token = await page_csrf(client, f"/sessions/{sid}")
    r = await client.post(f"/sessions/{sid}/invitations", data={
        "csrf_token": token, "name": "张三", "role": "party", "check": "code"})
    assert r.status == 201, await r.text()
    page = await r.text()
    code = re.search(r'id="new-code">(\d{6})<', page)
    assert code, "the 6-digit code is shown once"
    # No CONCORD_PUBLIC_URL here: the link is a path, completed by the page's script from the browser's
    # own address (tests/integration/test_public_url.py covers a configured one).
    link = re.search(r'id="new-link" class="mono" readonly value="(/join/[^"]+)" data-path', page)
    assert link
    # Shown once: the session page afterwards lists the invitation but not the code.
    again = await (await client.get(f"/sessions/{sid}")).text()
    assert code.group(1) not in again and "6位核验码" in again
    inv_id = re.search(rf"/sessions/{sid}/invitations/(\d+)/qr.svg", page).group(1)
    qr = await client.get(f"/sessions/{sid}/invitations/{inv_id}/qr.svg")
    assert qr.status == 200 and qr.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in await qr.read()

    # The link opens the join page with the check asked for.
    path = "/join/" + link.group(1).split("/join/", 1)[1]
    join = await client.get(path)
    assert join.status == 200
    assert join.headers["Referrer-Policy"] == "no-referrer"
    html = await join.text()
    config = json.loads(CONFIG.search(html).group(1))
    assert config["check"] == "code" and config["role"] == "party" and config["name"] == "张三"
    assert config["session_id"] == int(sid)
    assert "6位核验码" in html and "设备检查" in html and "/static/js/join.js" in html


async def test_invite_form_errors(client) -> None:
    await browser_login(client, "mediator")
    sid = (await create_via_form(client)).headers["Location"].rsplit("/", 1)[1]
    token = await page_csrf(client, f"/sessions/{sid}")
    r = await client.post(f"/sessions/{sid}/invitations", data={"csrf_token": token, "name": "", "role": "party"})
    assert r.status == 400 and "姓名" in await r.text()
    r = await client.post(f"/sessions/{sid}/invitations", data={
        "csrf_token": token, "name": "张三", "role": "party", "check": "id_last4", "id_last4": "12"})
    assert r.status == 400 and "身份证后4位" in await r.text()
    r = await client.post(f"/sessions/{sid}/invitations", data={"csrf_token": token, "name": "张三", "role": "king"})
    assert r.status == 400
    r = await client.post(f"/sessions/{sid}/invitations", data={"name": "张三", "role": "party"})
    assert r.status == 403  # no CSRF token


async def test_withdrawn_invitation_link_says_so(client) -> None:
    await browser_login(client, "mediator")
    sid = (await create_via_form(client)).headers["Location"].rsplit("/", 1)[1]
    token = await page_csrf(client, f"/sessions/{sid}")
    page = await (await client.post(f"/sessions/{sid}/invitations", data={
        "csrf_token": token, "name": "张三", "role": "party", "check": "none"})).text()
    path = "/join/" + re.search(r'value="/join/([^"]+)" data-path', page).group(1)
    inv_id = re.search(rf"/sessions/{sid}/invitations/(\d+)/revoke", page).group(1)
    r = await client.post(f"/sessions/{sid}/invitations/{inv_id}/revoke", data={"csrf_token": token},
                          allow_redirects=False)
    assert r.status == 303
    r = await client.get(path)
    assert r.status == 403 and "撤回" in await r.text()


async def test_bad_join_links(client) -> None:
    for path, status in (("/join/garbage", 401), ("/join/" + "a" * 5000, 401), ("/join/eyJ4IjoxfQ.AAAA", 401)):
        r = await client.get(path)
        assert r.status == status, (path, r.status)
        text = await r.text()
        assert "邀请链接无效" in text and "Traceback" not in text
    r = await client.get("/join/garbage?lang=en")
    assert "not valid" in await r.text()


async def test_staff_join_button_and_cancel(client) -> None:
    await browser_login(client, "mediator")
    sid = (await create_via_form(client)).headers["Location"].rsplit("/", 1)[1]
    token = await page_csrf(client, f"/sessions/{sid}")
    r = await client.post(f"/sessions/{sid}/join", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/join/")
    html = await (await client.get(r.headers["Location"])).text()
    config = json.loads(CONFIG.search(html).group(1))
    assert config["role"] == "host" and config["name"] == "调解员张三" and config["check"] == "none"
    r = await client.post(f"/sessions/{sid}/join", data={}, allow_redirects=False)
    assert r.status == 403
    r = await client.post(f"/sessions/{sid}/cancel", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303
    assert "已取消" in await (await client.get(f"/sessions/{sid}")).text()
    # A cancelled session: no join, and old links say it was cancelled.
    r = await client.post(f"/sessions/{sid}/join", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 409


async def test_other_units_sessions_are_hidden(client) -> None:
    headers = await login(client, "mediator")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "龙亢镇调解", "unit": "340321001"},
                          headers=headers)
    sid = (await r.json())["id"]
    # A township mediator elsewhere sees neither the page nor the QR of the invitations.
    await browser_login(client, "mediator_340302001")
    assert (await client.get(f"/sessions/{sid}")).status == 404
    assert (await client.get(f"/sessions/{sid}/invitations/1/qr.svg")).status == 404
    assert "龙亢镇调解" not in await (await client.get("/sessions")).text()
    assert (await client.get("/sessions/abc")).status == 404


# ---- sessions with a start time (issue 9 item 1: the join page was a 500) --------------------------

SCHEDULED_UTC = "2026-12-01T01:30:00Z"
SCHEDULED_LOCAL = "2026-12-01 09:30"  # the same instant in Beijing time


async def invitation_path(client, sid: str, name: str) -> str:  # type: ignore[no-untyped-def]
    token = await page_csrf(client, f"/sessions/{sid}")
    r = await client.post(f"/sessions/{sid}/invitations", data={
        "csrf_token": token, "name": name, "role": "party", "check": "none"})
    assert r.status == 201, await r.text()
    return "/join/" + re.search(r'value="/join/([^"]+)" data-path', await r.text()).group(1)


async def staff_join_page(client, sid: int | str) -> str:  # type: ignore[no-untyped-def]
    token = await page_csrf(client, f"/sessions/{sid}")
    r = await client.post(f"/sessions/{sid}/join", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303, await r.text()
    page = await client.get(r.headers["Location"])
    text = await page.text()
    assert page.status == 200, text
    return text


async def test_scheduled_session_opens_for_host_and_parties(client) -> None:
    headers = await login(client, "mediator")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "定时调解", "unit": "340321001",
                                                 "scheduled_at": SCHEDULED_UTC}, headers=headers)
    assert r.status == 201, await r.text()
    sid = str((await r.json())["id"])
    await browser_login(client, "mediator")
    # Every page that shows the session shows Beijing time.
    assert SCHEDULED_LOCAL in await (await client.get("/sessions")).text()
    assert SCHEDULED_LOCAL in await (await client.get(f"/sessions/{sid}")).text()
    host = await staff_join_page(client, sid)
    assert SCHEDULED_LOCAL in host and "预定时间" in host
    for name in ("张三", "李四"):
        path = await invitation_path(client, sid, name)
        party = await client.get(path)
        html = await party.text()
        assert party.status == 200, html
        assert SCHEDULED_LOCAL in html and json.loads(CONFIG.search(html).group(1))["name"] == name
    en = await client.get(path + "?lang=en")
    assert en.status == 200 and "Scheduled" in await en.text()


async def test_session_without_start_time_shows_none(client) -> None:
    await browser_login(client, "mediator")
    sid = (await create_via_form(client)).headers["Location"].rsplit("/", 1)[1]
    html = await staff_join_page(client, sid)
    assert "预定时间" not in html


async def test_accepted_consultation_can_be_joined(client) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.integration.cases.helpers import act, create, hdr

    t0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    services(client.app).clock.set(t0)
    for when, shown in (((t0 + timedelta(hours=2)).isoformat(), "2026-11-30 11:00"), (None, "2026-11-30 09:00")):
        code = (await create(client))["code"]
        for a, extra in [("triage", {"grade": "yellow"}), ("accept", {}), ("assign", {"assignees": ["mediator"]})]:
            await act(client, "mediator", code, a, **extra)
        r = await client.post(f"/api/cases/{code}/consultations", headers=await hdr(client, "mediator"),
                              json={"specialty": "land", "question": "宅基地边界如何认定？"})
        assert r.status == 201, await r.text()
        body = {} if when is None else {"scheduled_at": when}  # no time chosen: "now"
        r = await client.post(f"/api/consultations/{(await r.json())['id']}/accept",
                              headers=await hdr(client, "expert"), json=body)
        assert r.status == 200, await r.text()
        sid = (await r.json())["session_id"]
        for who in ("expert", "mediator"):
            await browser_login(client, who)
            assert shown in await (await client.get(f"/sessions/{sid}")).text()
            html = await staff_join_page(client, sid)
            assert shown in html, who
