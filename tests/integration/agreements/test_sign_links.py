"""An agreement belongs to its case: any live session of the case lists and presents it, and staff give each
party a signing link (printed as a QR code, or sent by text) that needs no session invitation and leads
through the same identity check. Case data (ID numbers, the case code) survives the way into the agreement."""

from __future__ import annotations

import re
from typing import Any

from server import ledger_store
from server.services import services
from tests.conftest import login
from tests.integration.agreements.helpers import check_ticket, content, data_url, mediator_body, mediator_name
from tests.integration.agreements.test_agreement_cases import case_in_mediation
from tests.integration.test_pages import browser_login, csrf


async def frozen(client, h) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A frozen agreement without any session: 张三 (p1) has an ID number, 李四 (p2) is given none."""
    name = await mediator_name(client, h)
    c = content(mediator_name=name)
    c["parties"][1]["id_number"] = ""
    r = await client.post("/api/agreements", json={"content": c}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": 1}, headers=h)
    assert r.status == 200, await r.text()
    return await r.json()


async def make_link(client, h, aid: int, party: str, **body: Any) -> Any:  # type: ignore[no-untyped-def]
    return await client.post(f"/api/agreements/{aid}/sign-links", json={"party": party, **body}, headers=h)


def token_of(url: str) -> str:
    m = re.search(r"[?&]link=([^&]+)$", url)
    assert m, url
    return m.group(1)


async def sign_with_link(client, aid: int, link: str, answer: str, name: str) -> Any:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"link": link, "answer": answer})
    assert r.status == 200, await r.text()
    ticket = (await r.json())["ticket"]
    r = await client.post(f"/api/agreements/{aid}/party/text", json={"link": link, "ticket": ticket})
    assert r.status == 200, await r.text()
    t = await r.json()
    return await client.post(f"/api/agreements/{aid}/party/sign", json={
        "link": link, "ticket": ticket, "read_token": t["read_token"], "version": t["version"],
        "document_hash": t["document_hash"], "consent": True, "typed_name": name, "image": data_url(5)})


async def test_parties_sign_from_links_without_any_session(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    a = await frozen(client, h)
    aid = a["id"]
    r = await make_link(client, h, aid, "p1")
    assert r.status == 201, await r.text()
    zhang = await r.json()
    assert zhang["method"] == "id_last4" and zhang["code"] is None and zhang["name"] == "张三"
    # No CONCORD_PUBLIC_URL in the tests' config: the link is a path for the staff's browser, and the
    # text message says the public address is not configured (tests/integration/test_public_url.py).
    assert zhang["url"].startswith(f"/agreements/{aid}/sign?link=") and not zhang["public_url"]
    assert "未配置公开地址" in zhang["sms_text"]
    assert zhang["qr_svg"].startswith("<svg") and "张三您好" in zhang["sms_text"] and zhang["phone"]
    # 李四 has no ID in the agreement: his link checks a one-time code, shown once, never stored in clear.
    assert (await make_link(client, h, aid, "p2", method="id_last4")).status == 400
    r = await make_link(client, h, aid, "p2")
    li = await r.json()
    assert li["method"] == "code" and re.fullmatch(r"\d{6}", li["code"]) and li["code"] not in li["url"]

    # The page the QR code opens is served to anyone holding the link.
    r = await client.get(f"/agreements/{aid}/sign?link={token_of(zhang['url'])}")
    page = await r.text()
    assert r.status == 200 and 'data-link="' in page and 'data-check="id_last4"' in page
    # The link alone shows nothing of the agreement: the identity check comes first, as for signing.
    r = await client.get(f"/api/agreements/{aid}/party?link={token_of(zhang['url'])}")
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    assert "张三" not in await r.text()
    r = await client.get(f"/api/agreements/{aid}/party?link={token_of(zhang['url'])}&ticket=forged")
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    ticket = await check_ticket(client, aid, {"link": token_of(zhang["url"])}, "7774")
    view = await (await client.get(f"/api/agreements/{aid}/party?link={token_of(zhang['url'])}&ticket={ticket}")).json()
    assert view["party"] == "p1" and view["name"] == "张三" and view["check"] == "id_last4"
    # 张三's ticket does not open 李四's view.
    r = await client.get(f"/api/agreements/{aid}/party?link={token_of(li['url'])}&ticket={ticket}")
    assert r.status == 403

    # Wrong answers, a forged link, another agreement's link: refused.
    zl, ll = token_of(zhang["url"]), token_of(li["url"])
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"link": zl, "answer": "0000"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_check_failed"
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"link": zl[:-4] + "AAAA", "answer": "7774"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "invalid_link"
    other = await frozen(client, h)
    r = await client.post(f"/api/agreements/{other['id']}/party/check", json={"link": zl, "answer": "7774"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_a_signer"
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"link": ll, "answer": "7774"})
    assert r.status == 403  # 李四's link wants his code, not 张三's digits

    r = await sign_with_link(client, aid, zl, "7774", "张三")
    assert r.status == 201, await r.text()
    r = await sign_with_link(client, aid, ll, li["code"], "李四")
    assert r.status == 201, await r.text()
    got = await (await client.get(f"/api/agreements/{aid}", headers=h)).json()
    name = await mediator_name(client, h)
    assert (await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name),
                              headers=h)).status == 201
    r = await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None), headers=h)
    assert r.status == 201 and (await r.json())["state"] == "effective"
    # The party's copy comes from the same link once effective; no new links are made for it.
    r = await client.get(f"/api/agreements/{aid}/party/pdf?link={zl}")
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    ticket = await check_ticket(client, aid, {"link": zl}, "7774")
    r = await client.get(f"/api/agreements/{aid}/party/pdf?link={zl}&ticket={ticket}")
    assert r.status == 200 and (await r.read()).startswith(b"%PDF")
    assert (await make_link(client, h, aid, "p1")).status == 409
    async with services(client.app).db.session() as s:
        types = [e.type for e in await ledger_store.events(s, f"agreement:{aid}")]
    assert types.count("agreement.sign_link_created") == 2 and types.count("agreement.signed") == 4


async def test_links_are_for_staff_of_the_unit_and_known_parties(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    a = await frozen(client, h)
    assert (await make_link(client, h, a["id"], "p9")).status == 400
    assert (await make_link(client, h, a["id"], "p1", method="sms")).status == 400
    assert (await make_link(client, h, a["id"], "p1", ttl_days=90)).status == 400
    other_town = await login(client, "mediator_340321002")
    assert (await make_link(client, other_town, a["id"], "p1")).status == 404
    assert (await client.post(f"/api/agreements/{a['id']}/sign-links", json={"party": "p1"})).status == 401
    # Without a link or an invitation, the page and the API refuse clearly.
    r = await client.get(f"/agreements/{a['id']}/sign")
    assert r.status == 403 and "签署链接" in await r.text()
    r = await client.get(f"/api/agreements/{a['id']}/party")
    assert r.status == 400


async def test_an_expired_link_is_refused(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import time

    h = await login(client, "mediator")
    a = await frozen(client, h)
    link = token_of((await (await make_link(client, h, a["id"], "p1", ttl_days=1)).json())["url"])
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 2 * 86400)
    r = await client.get(f"/api/agreements/{a['id']}/party?link={link}")
    assert r.status == 403 and "expired" in (await r.json())["error"]["message"]
    # The signing page says so at once, without asking for the identity check.
    page = await (await client.get(f"/agreements/{a['id']}/sign?link={link}")).text()
    assert 'data-check=""' in page and 'data-problem=""' not in page


async def test_the_agreement_of_the_case_is_listed_in_every_session_of_the_case(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    case = await case_in_mediation(client)
    sessions = []
    for title in ("第一次调解", "第二次调解"):
        r = await client.post("/api/sessions", json={"kind": "mediation", "title": title, "unit": "340321001",
                                                     "case_id": case["id"]}, headers=h)
        sessions.append((await r.json())["id"])
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "别的案子", "unit": "340321001"},
                          headers=h)
    unrelated = (await r.json())["id"]
    r = await client.post("/api/agreements", json={"case_code": case["code"], "session_id": sessions[0]}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    for sid in sessions:
        listed = (await (await client.get(f"/api/agreements?for_session={sid}", headers=h)).json())["agreements"]
        assert [x["id"] for x in listed] == [a["id"]], sid
    listed = (await (await client.get(f"/api/agreements?for_session={unrelated}", headers=h)).json())["agreements"]
    assert listed == []
    assert (await client.get("/api/agreements?for_session=x", headers=h)).status == 400
    # Session B presents the draft made in session A.
    r = await client.post(f"/api/agreements/{a['id']}/present", json={"session_id": sessions[1]}, headers=h)
    assert r.status == 200, await r.text()
    assert (await r.json())["agreement"]["id"] == a["id"]


async def test_case_code_and_id_carried_into_the_draft_and_kept_on_save(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    case = await case_in_mediation(client)
    r = await client.post("/api/agreements", json={"case_code": "340321-2026-999999"}, headers=h)
    assert r.status == 404
    r = await client.post("/api/agreements", json={"case_code": case["code"], "case_id": case["id"] + 1}, headers=h)
    assert r.status == 400
    r = await client.post("/api/agreements", json={"case_code": case["code"]}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    assert a["case_id"] == case["id"] and a["content"]["case_ref"] == case["code"]
    assert a["content"]["parties"][0]["id_number"] == "110***********7774"
    assert "110101199003077774" not in a["text"] and "未提供" in a["text"]  # masked in views; 李四 gave none
    # The editor sends no case_ref (it is not an editable field): saving keeps it.
    body = {k: v for k, v in a["content"].items() if k != "case_ref"}
    body["parties"] = [dict(p, id_number="", keep_id=True) for p in a["content"]["parties"]]
    body["facts"] = "双方对地界有争议，经调解达成一致。"
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 1, "content": body}, headers=h)
    assert r.status == 200, await r.text()
    saved = await r.json()
    assert saved["version"] == 2 and saved["content"]["case_ref"] == case["code"] and case["code"] in saved["text"]
    assert saved["content"]["parties"][0]["id_number"] == "110***********7774"
    # An invalid ID is refused in the viewer's language.
    body["parties"][1] = dict(body["parties"][1], id_number="340321198512120019", keep_id=False)
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 2, "content": body},
                         headers={**h, "Accept-Language": "zh-CN"})
    err = (await r.json())["error"]
    assert r.status == 400 and err["field"] == "parties[1].id_number"
    assert err["message"].startswith("第2位当事人的公民身份号码：无效") and "校验码" in err["message"]
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 2, "content": body}, headers=h)
    assert "party 2's ID number" in (await r.json())["error"]["message"]


async def test_case_form_and_api_use_the_same_id_validator(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    bad = {"role": "applicant", "name": "张三", "id_number": "340321198512120019"}  # wrong check digit
    r = await client.post("/api/cases", json={"unit": "340321001", "title": "纠纷", "summary": "事实",
                                              "category": "disputes", "item": "land_boundary", "source": "walk_in",
                                              "parties": [bad]}, headers=h)
    assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_id_number"
    await browser_login(client, "mediator")
    for lang, words in (("zh-CN", "公民身份号码无效"), ("en", "Invalid resident ID number")):
        token = await csrf(client, f"/cases/new?lang={lang}")
        form = {"csrf_token": token, "unit": "340321001", "title": "纠纷", "summary": "事实", "source": "walk_in",
                "category_item": "disputes:land_boundary", "p1_name": "张三", "p1_role": "applicant",
                "p1_id": "340321198512120019"}
        r = await client.post("/cases/new", data=form, allow_redirects=False)
        page = await r.text()
        assert r.status == 400 and words in page, lang
    # A valid one, typed with a lower-case x, is accepted, and the draft carries it over in full.
    form["p1_id"] = "34032119800101108x"
    r = await client.post("/cases/new", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    code = r.headers["Location"].split("/cases/")[1].split("?")[0]
    case = await (await client.get(f"/api/cases/{code}", headers=h)).json()
    r = await client.post("/api/agreements", json={"case_code": code, "dispute_type": "land_boundary"}, headers=h)
    a = await r.json()
    assert r.status == 201 and a["case_id"] == case["id"]
    assert a["content"]["parties"][0]["id_number"] == "340***********108X"


async def test_drafting_form_offers_the_cases_by_code(client) -> None:  # type: ignore[no-untyped-def]
    case = await case_in_mediation(client)
    await browser_login(client, "mediator")
    r = await client.get(f"/agreements?case={case['code']}")
    page = await r.text()
    assert r.status == 200 and f'<option value="{case["code"]}">' in page
    assert f'value="{case["code"]}" placeholder' in page and 'id="new-draft" open' in page
    # Another township's mediator is not offered this case.
    client.session.cookie_jar.clear()
    await browser_login(client, "mediator_340321002")
    assert case["code"] not in await (await client.get("/agreements")).text()


def test_agreement_events_have_labels_in_the_case_timeline() -> None:
    from server.agreements.workflow import EVENT_LABELS
    from server.cases.labels import event_label

    for code in EVENT_LABELS:
        for lang in ("zh-CN", "en"):
            label = event_label(code, lang)
            assert label and "." not in label and "_" not in label, (code, lang)
    assert event_label("agreement.sign_link_created", "zh-CN") == "生成当事人签署链接"
    assert event_label("agreement.sign_link_created", "en") == "Signing link made for a party"
    assert all(k.startswith("agreement.") and zh and en for k, (zh, en) in EVENT_LABELS.items())


async def test_case_page_links_to_a_draft_prefilled_from_it(client) -> None:  # type: ignore[no-untyped-def]
    case = await case_in_mediation(client)
    await browser_login(client, "mediator")
    page = await (await client.get(f"/cases/{case['code']}")).text()
    assert f'href="/agreements?case={case["code"]}#new-draft"' in page
