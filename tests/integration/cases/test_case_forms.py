"""Case forms as a user meets them: no harmful defaults, units offered only where an action may go, refusals
in the page's language, the case code wherever a case is named, labels instead of codes (exports, timeline,
notifications), and what a user must find from the menu (bell, expert inbox, expert suggestions)."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote_plus

from server.cases.labels import EVENT_LABELS, event_label, notification_title
from server.services import services
from tests.integration.cases.helpers import act, create, hdr
from tests.integration.cases.test_case_intake import good, token_for
from tests.integration.cases.test_case_pages import page_login


def options(html: str, select_id: str) -> list[tuple[str, bool]]:
    """(value, selected) of each option of the select with this id."""
    body = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [(m.group(1), " selected" in m.group(0)) for m in re.finditer(r'<option value="([^"]*)"[^>]*>', body)]


def error_of(location: str) -> str:
    return unquote_plus(re.search(r"error=([^&#]+)", location).group(1))


async def test_triage_preselects_no_grade_and_refuses_without_one(client) -> None:
    case = await create(client)
    token = await page_login(client, "mediator")
    html = await (await client.get(f"/cases/{case['code']}")).text()
    grades = options(html, "triage_grade")
    assert grades[0] == ("", True) and not any(sel for value, sel in grades[1:])
    data = {"csrf_token": token, "action": "triage", "category_item": "disputes:land_boundary"}
    r = await client.post(f"/cases/{case['code']}/transition", data=data, allow_redirects=False)
    assert r.status == 303 and error_of(r.headers["Location"]) == "请选择风险等级。"
    r = await client.post(f"/cases/{case['code']}/transition?lang=en", data=data, allow_redirects=False)
    assert error_of(r.headers["Location"]) == "choose a risk grade"
    r = await client.post(f"/cases/{case['code']}/transition", data={**data, "grade": "yellow"}, allow_redirects=False)
    assert "ok=" in r.headers["Location"]
    assert unquote_plus(r.headers["Location"].split("ok=")[1].split("#")[0]) == "已分流研判"


async def test_dispatch_offers_only_units_below_and_refuses_in_the_page_language(client) -> None:
    case = await create(client)  # at 龙亢镇 (340321001), a township
    code = case["code"]
    await act(client, "mediator", code, "triage", grade="blue")
    token = await page_login(client, "mediator")
    html = await (await client.get(f"/cases/{code}")).text()
    dispatch = options(html, "unit_dispatch")
    assert dispatch[0] == ("", True)  # a prompt, nothing chosen for the user
    units = [v for v, _ in dispatch[1:]]
    assert units and all(u.startswith("340321001") and u != "340321001" for u in units)  # only its villages
    escalate = [v for v, _ in options(html, "unit_escalate")[1:]]
    assert "340321" in escalate and not any(u.startswith("340321001") for u in escalate)
    # A forged target above: refused in Chinese on a Chinese page, in English on an English one.
    data = {"csrf_token": token, "action": "dispatch", "unit": "340300", "reason": "请下级处理"}
    r = await client.post(f"/cases/{code}/transition", data=data, allow_redirects=False)
    msg = error_of(r.headers["Location"])
    assert msg == "您不能将此案件下派至蚌埠市。" and not re.search(r"[A-Za-z]", msg)
    r = await client.post(f"/cases/{code}/transition?lang=en", data=data, allow_redirects=False)
    assert error_of(r.headers["Location"]) == "you may not dispatch this case to 340300"
    # A workflow refusal (a sibling township is not below) also reads in Chinese.
    r = await client.post(f"/cases/{code}/transition", data={**data, "action": "accept", "unit": ""},
                          allow_redirects=False)
    assert "ok=" in r.headers["Location"]
    r = await client.post(f"/cases/{code}/transition", data={"csrf_token": token, "action": "close"},
                          allow_redirects=False)
    assert error_of(r.headers["Location"]) == "案件当前为“已受理”，不能结案。"
    r = await client.post(f"/cases/{code}/transition", data={**data, "unit": units[0]}, allow_redirects=False)
    assert "ok=" in r.headers["Location"]
    timeline = (await (await client.get(f"/cases/{code}")).text()).split('id="timeline"')[1]
    assert "龙亢镇 → " in timeline and "340321001 → " not in timeline  # unit names, not codes
    # The wrong role: an observer gets no form and a refusal in Chinese.
    token = await page_login(client, "observer")
    r = await client.post(f"/cases/{code}/transition", data={"csrf_token": token, "action": "accept"},
                          allow_redirects=False)
    assert r.status == 303 and not re.search(r"[A-Za-z]", error_of(r.headers["Location"]))


async def test_sessions_form_takes_the_case_code(client) -> None:
    case = await create(client)
    other = await create(client, "mediator_340302", unit="340302")  # another district: not the mediator's
    token = await page_login(client, "mediator")
    html = await (await client.get("/sessions")).text()
    assert f'<option value="{case["code"]}">' in html and other["code"] not in html  # the picker
    form = {"csrf_token": token, "kind": "mediation", "title": "调解会", "unit": "340321001", "scheduled_at": ""}
    r = await client.post("/sessions", data={**form, "case_id": case["code"]}, allow_redirects=False)
    assert r.status == 303, await r.text()
    sid = r.headers["Location"].rsplit("/", 1)[1]
    s = await (await client.get(f"/api/sessions/{sid}", headers=await hdr(client, "mediator"))).json()
    assert s["case_id"] == case["id"]
    for bad in (other["code"], "340321-2026-999999", "宅基地", "9999999"):
        r = await client.post("/sessions", data={**form, "case_id": bad})
        html = await r.text()
        assert r.status == 400 and "没有这个案件编号，或您无权查看该案件。" in html, bad
    # An old link by internal number lands on the case's code; another's case stays hidden.
    r = await client.get(f"/cases/{case['id']}", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == f"/cases/{case['code']}"
    assert (await client.get(f"/cases/{other['id']}", allow_redirects=False)).status == 404


async def test_session_pages_name_the_case_by_its_code(client) -> None:
    case = await create(client)
    token = await page_login(client, "mediator")
    form = {"csrf_token": token, "kind": "mediation", "title": "调解会", "unit": "340321001", "scheduled_at": "",
            "case_id": case["code"]}
    r = await client.post("/sessions", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    link = f'<a class="case-link mono" href="/cases/{case["code"]}">{case["code"]}</a>'
    detail = await (await client.get(r.headers["Location"])).text()
    listing = await (await client.get("/sessions")).text()
    for html in (detail, listing):
        assert f'href="/cases/{case["code"]}">{case["code"]}</a>' in html
        assert f"#{case['id']}<" not in html and f"#{case['id']} " not in html
    assert link in listing and 'id="session-case"' in detail
    assert (await client.get(f"/cases/{case['code']}")).status == 200


async def test_case_export_shows_labels_not_codes(client) -> None:
    case = await create(client)
    await act(client, "mediator", case["code"], "triage", grade="orange")
    await page_login(client, "mediator")
    text = (await (await client.get("/cases/export.csv")).text()).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    row = dict(zip(rows[0], next(r for r in rows if r[0] == case["code"]), strict=True))
    assert (row["类别"], row["事项"], row["等级"], row["状态"], row["来源"]) == \
        ("矛盾纠纷", "土地权属与地界", "橙色", "已分流", "来访登记")
    text = (await (await client.get("/cases/export.csv?lang=en")).text()).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    row = dict(zip(rows[0], next(r for r in rows if r[0] == case["code"]), strict=True))
    assert (row["Grade"], row["Source"]) == ("Orange", "Walk-in")
    for code in ("disputes", "land_boundary", "orange", "triaged", "walk_in"):
        assert code not in text


def test_every_event_type_has_a_label_in_both_languages() -> None:
    agreement_events = ["created", "version_saved", "frozen", "presented", "text_opened", "identity_check", "signed",
                        "effective", "withdrawn", "reopened", "superseded", "amendment_started", "performance",
                        "comment", "case_note", "handed_to_case"]
    for name in agreement_events:
        for lang in ("zh-CN", "en"):
            assert "." not in event_label(f"agreement.{name}", lang) and "_" not in event_label(f"agreement.{name}", lang)
    assert all(zh and en and "_" not in en for zh, en in EVENT_LABELS.values())
    # One table for agreement events, the agreements module's: the case labels hold none of their own.
    from server.agreements.workflow import EVENT_LABELS as AGREEMENT_EVENTS

    assert not [k for k in EVENT_LABELS if k.startswith("agreement.")]
    assert all(event_label(k, "zh-CN") == zh and event_label(k, "en") == en for k, (zh, en) in AGREEMENT_EVENTS.items())
    assert event_label("agreement.sign_link_created", "en") == "Signing link made for a party"
    # A type added later still reads as its family, never as the code.
    assert event_label("agreement.something_new", "zh-CN") == "调解协议"
    assert event_label("whatever.else", "en") == "Other event"
    assert event_label("case.dispatch", "zh-CN") == "下派"
    assert notification_title("case.intake", "群众求助（视频）：340321-2026-000001", "en") == \
        "Resident request: 340321-2026-000001"


async def test_notifications_bell_and_labels(client) -> None:
    r = await client.post("/intake", data=good(await token_for(client)))
    assert r.status == 200
    await page_login(client, "mediator")
    html = await (await client.get("/")).text()
    assert 'id="nav-bell" href="/notifications"' in html
    assert re.search(r'id="nav-unread"[^>]*>1<', html)
    assert 'id="nav-consultations"' not in html  # the expert's inbox is for experts
    html = await (await client.get("/notifications")).text()
    assert "case.intake" not in html.replace('data-kind="case.intake"', "") and ">群众求助<" in html
    html = await (await client.get("/notifications?lang=en")).text()
    assert ">Resident request<" in html and "Resident request: " in html
    token = await page_login(client, "mediator")
    await client.post("/notifications/read", data={"csrf_token": token})
    assert 'id="nav-unread"' not in await (await client.get("/")).text()
    # Logged out: no bell.
    client.session.cookie_jar.clear()
    assert 'id="nav-bell"' not in await (await client.get("/login")).text()


async def test_expert_finds_the_inbox_from_the_menu(client) -> None:
    await page_login(client, "expert")
    html = await (await client.get("/")).text()
    assert 'href="/consultations" id="nav-consultations"' in html
    html = await (await client.get("/consultations")).text()
    assert 'id="nav-consultations" class="active"' in html


async def test_home_and_directory_count_the_same_experts(client) -> None:
    for user in ("mediator", "admin", "mediator_340302"):
        await page_login(client, user)
        home = await (await client.get("/")).text()
        on_home = int(re.search(r'stat-num">(\d+)</span><span class="stat-label">专家', home).group(1))
        directory = await (await client.get("/experts")).text()
        listed = int(re.search(r"共 (\d+) 位专家", directory).group(1))
        assert on_home == listed, user


async def test_expert_picker_suggests_by_specialty_and_tier(client) -> None:
    case = await create(client)  # a land boundary dispute at 龙亢镇
    token = await page_login(client, "mediator")
    html = await (await client.get(f"/cases/{case['code']}")).text()
    suggested = re.search(r'id="experts-suggested">(.*?)</optgroup>', html, re.S).group(1)
    assert "土地专家李四" in suggested
    other = re.search(r'id="experts-other">(.*?)</optgroup>', html, re.S)
    assert other is None or "土地专家李四" not in other.group(1)
    assert html.index('id="experts-suggested"') < (html.index('id="experts-other"') if other else len(html))
    assert re.search(r'<option value="land" selected>', html)
    # Naming an expert from the other group asks them in their own field rather than failing.
    if other:
        username = re.search(r'<option value="([^"]+)"', other.group(1)).group(1)
        r = await client.post(f"/cases/{case['code']}/consult", allow_redirects=False, data={
            "csrf_token": token, "specialty": "land", "expert": username, "question": "界址如何认定？",
            "grant_hours": "24"})
        assert "ok=" in r.headers["Location"], r.headers["Location"]


async def test_intake_errors_speak_one_language(client) -> None:
    token = await token_for(client)
    html = await (await client.post("/intake", data=good(token, phone="12"))).text()
    assert "请填写有效的手机号或座机号" in html and "Enter a valid phone number" not in html
    services(client.app).intake_limiter.reset("ip:127.0.0.1")
    token = await token_for(client, "/intake?unit=340321001001&lang=en")
    html = await (await client.post("/intake", data=good(token, phone="12", unit=""))).text()
    assert "Enter a valid phone number" in html and "Choose your village or township" in html
    assert "请填写有效的手机号" not in html
