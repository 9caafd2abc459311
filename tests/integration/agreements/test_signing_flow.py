"""The full signing flow in the API: two parties on their own invitations, the mediator, the seal; then the
export verifies offline, and every refusal on the way is clear."""

from __future__ import annotations

import io
from typing import Any

from server import ledger_store
from server.agreements.keys import TrustedKeys
from server.agreements.verify import verify_pdf
from server.services import services
from tests.conftest import login
from tests.integration.agreements.helpers import check_ticket, content, data_url, mediator_body, mediator_name
from tests.integration.cases.helpers import act
from tests.integration.cases.helpers import create as create_case
from tests.integration.cases.helpers import get as get_case


async def session_with_invitations(client, h, case_id: int | None = None) -> tuple[int, dict, dict]:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"kind": "mediation", "title": "工资纠纷调解", "unit": "340321001"}
    if case_id:
        body["case_id"] = case_id
    r = await client.post("/api/sessions", json=body, headers=h)
    assert r.status == 201, await r.text()
    sid = (await r.json())["id"]
    r = await client.post(f"/api/sessions/{sid}/invitations", json={
        "role": "party", "name": "张三", "check": {"method": "id_last4", "value": "7774"}}, headers=h)
    assert r.status == 201, await r.text()
    zhang = await r.json()
    r = await client.post(f"/api/sessions/{sid}/invitations", json={
        "role": "party", "name": "李四", "check": {"method": "code"}}, headers=h)
    assert r.status == 201, await r.text()
    li = await r.json()
    return sid, zhang, li


async def party_sign(client, aid: int, inv: dict, answer: str, **over: Any) -> Any:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": inv["token"], "answer": answer})
    assert r.status == 200, await r.text()
    ticket = (await r.json())["ticket"]
    r = await client.post(f"/api/agreements/{aid}/party/text", json={"invitation": inv["token"], "ticket": ticket})
    assert r.status == 200, await r.text()
    t = await r.json()
    body = {"invitation": inv["token"], "ticket": ticket, "read_token": t["read_token"], "version": t["version"],
            "document_hash": t["document_hash"], "consent": True, "typed_name": over.pop("name"),
            "image": data_url(3)}
    body.update(over)
    return await client.post(f"/api/agreements/{aid}/party/sign", json=body,
                             headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile"})


async def test_two_parties_mediator_and_seal(client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    sid, zhang, li = await session_with_invitations(client, h)
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content(mediator_name=name)},
                          headers=h)
    a = await r.json()
    aid = a["id"]
    # Before freezing: parties can see (after the identity check) and comment, but not sign.
    r = await client.get(f"/api/agreements/{aid}/party?invitation={zhang['token']}")
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    ticket = await check_ticket(client, aid, {"invitation": zhang["token"]}, "7774")
    r = await client.get(f"/api/agreements/{aid}/party?invitation={zhang['token']}&ticket={ticket}")
    assert r.status == 200
    view = await r.json()
    assert view["party"] == "p1" and view["check"] == "id_last4" and not view["signed"]
    r = await client.post(f"/api/agreements/{aid}/party/comments", json={
        "invitation": li["token"], "version": 1, "clause": "t1", "text": "希望分两期支付"})
    assert r.status == 201 and (await r.json())["author"] == "李四"
    r = await client.post(f"/api/agreements/{aid}/freeze", json={"version": 1}, headers=h)
    assert r.status == 200

    # Refusals on the way.
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": zhang["token"], "answer": "0000"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_check_failed"
    r = await client.post(f"/api/agreements/{aid}/party/check",
                          json={"invitation": zhang["token"][:-4] + "AAAA", "answer": "7774"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "invalid_invitation"  # forged
    r = await client.post(f"/api/agreements/{aid}/party/sign", json={
        "invitation": zhang["token"], "ticket": "x", "read_token": "y", "version": 1,
        "document_hash": a["document_hash"], "consent": True, "typed_name": "张三", "image": data_url()})
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    r = await party_sign(client, aid, zhang, "7774", name="张三", document_hash="0" * 64)
    assert r.status == 409 and (await r.json())["error"]["code"] == "stale_version"
    r = await party_sign(client, aid, zhang, "7774", name="张三丰")
    assert r.status == 400 and (await r.json())["error"]["code"] == "typed_name_mismatch"
    r = await party_sign(client, aid, zhang, "7774", name="张三", image="data:image/png;base64,AAAA")
    assert r.status == 400

    # 张三 signs with the last 4 of his ID, 李四 with the one-time code.
    r = await party_sign(client, aid, zhang, "7774", name="张三")
    assert r.status == 201, await r.text()
    r = await party_sign(client, aid, zhang, "7774", name="张三")
    assert r.status == 409 and (await r.json())["error"]["code"] == "already_signed"
    r = await party_sign(client, aid, li, li["code"], name="李四")
    assert r.status == 201, await r.text()

    # The mediator, then the seal: effective.
    got = await (await client.get(f"/api/agreements/{aid}", headers=h)).json()
    r = await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name), headers=h)
    assert r.status == 201, await r.text()
    r = await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name), headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "already_signed"
    admin = await login(client, "admin")  # the city admin is not of the mediating unit: no seal
    r = await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None), headers=admin)
    assert r.status == 403
    r = await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None), headers=h)
    assert r.status == 201, await r.text()
    done = await r.json()
    assert done["state"] == "effective" and [s["seq"] for s in done["signatures"]] == [1, 2, 3, 4]
    r = await client.put(f"/api/agreements/{aid}/draft", json={"base_version": 1, "content": content()}, headers=h)
    assert r.status == 409

    # The export verifies offline with this server's keyring, for staff and for a party.
    r = await client.get(f"/api/agreements/{aid}/pdf", headers=h)
    pdf = await r.read()
    trusted = TrustedKeys.load(services(client.app).config.data_dir / "agreement_keys")
    result = verify_pdf(pdf, trusted, check_pades=True)
    assert result.ok, result.failures
    assert [s["name"] for s in result.signers] == ["张三", "李四", name, "龙亢镇"]
    assert result.pdf_signature == "intact"
    r = await client.get(f"/api/agreements/{aid}/party/pdf?invitation={li['token']}")
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_not_checked"
    ticket = await check_ticket(client, aid, {"invitation": li["token"]}, li["code"])
    r = await client.get(f"/api/agreements/{aid}/party/pdf?invitation={li['token']}&ticket={ticket}")
    assert r.status == 200 and verify_pdf(await r.read(), trusted).ok
    r = await client.post("/api/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    assert r.status == 200 and (await r.json())["ok"]
    # A flipped byte is refused by the public endpoint with the reason.
    bad = bytearray(pdf)
    bad[bad.index(b"stream\n") + 80] ^= 1
    r = await client.post("/api/verify", data=bytes(bad), headers={"Content-Type": "application/pdf"})
    assert r.status == 422 and (await r.json())["error"]["code"] == "text_changed"
    # The same through the HTML page (multipart upload).
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(bytes(bad)), filename="a.pdf", content_type="application/pdf")
    r = await client.post("/verify", data=form)
    assert r.status == 422 and "文本已被改动" in await r.text()

    # The judicial confirmation application, and the ledger.
    r = await client.get(f"/api/agreements/{aid}/judicial-application.pdf?court=怀远县人民法院", headers=h)
    assert r.status == 200 and (await r.read()).startswith(b"%PDF")
    async with services(client.app).db.session() as s:
        events = await ledger_store.events(s, f"agreement:{aid}")
        ok = await ledger_store.verify_chain(s, f"agreement:{aid}")
    types = [e.type for e in events]
    assert ok.ok and types.count("agreement.signed") == 4 and "agreement.effective" in types
    assert types.count("agreement.identity_check") >= 3  # failed attempts are ledgered too

    # Performance of an obligation, with proof.
    r = await client.post(f"/api/agreements/{aid}/obligations/t1/performance",
                          json={"status": "performed", "note": "银行转账回单已核对", "proof_sha256": "a" * 64},
                          headers=h)
    assert r.status == 400  # no such evidence (this agreement has no case to hold it)
    r = await client.post(f"/api/agreements/{aid}/obligations/t1/performance",
                          json={"status": "performed", "note": "银行转账回单已核对"}, headers=h)
    assert r.status == 201
    obs = (await (await client.get(f"/api/agreements/{aid}/obligations", headers=h)).json())["obligations"]
    assert obs[0]["status"] == "performed" and obs[1]["status"] == "pending"
    r = await client.post(f"/api/agreements/{aid}/obligations/t9/performance", json={"status": "performed",
                                                                                     "note": "x"}, headers=h)
    assert r.status == 400


async def test_invitation_of_someone_else(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    sid, zhang, li = await session_with_invitations(client, h)
    r = await client.post(f"/api/sessions/{sid}/invitations", json={
        "role": "party", "name": "王五", "check": {"method": "code"}}, headers=h)
    wang = await r.json()
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"role": "party", "name": "张三"}, headers=h)
    unchecked = await r.json()
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content(mediator_name=name)},
                          headers=h)
    aid = (await r.json())["id"]
    await client.post(f"/api/agreements/{aid}/freeze", json={"version": 1}, headers=h)
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": wang["token"],
                                                                      "answer": wang["code"]})
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_a_signer"
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": unchecked["token"],
                                                                      "answer": "7774"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_check_required"
    # An invitation of another session does not reach this agreement.
    sid2, zhang2, _ = await session_with_invitations(client, h)
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": zhang2["token"],
                                                                      "answer": "7774"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "not_a_signer"
    # Too many wrong answers lock the check.
    for _ in range(5):
        await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": li["token"], "answer": "000000"})
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": li["token"], "answer": li["code"]})
    assert r.status == 429


async def test_case_moves_to_effective_with_obligations(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    case = await create_case(client, "mediator", item="labour_wages", parties=[
        {"role": "applicant", "name": "张三", "id_number": "110101199003077774"},
        {"role": "respondent", "name": "李四"}])
    code = case["code"]
    for action, extra in [("triage", {"grade": "yellow"}), ("accept", {}), ("assign", {"assignees": ["mediator"]}),
                          ("start_mediation", {})]:
        await act(client, "mediator", code, action, **extra)
    sid, zhang, li = await session_with_invitations(client, h, case_id=case["id"])
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"case_id": case["id"], "content": content(mediator_name=name)},
                          headers=h)
    assert r.status == 201, await r.text()
    aid = (await r.json())["id"]
    await client.post(f"/api/agreements/{aid}/freeze", json={"version": 1}, headers=h)
    assert (await get_case(client, "mediator", code))["status"] == "agreement_signing"
    assert (await party_sign(client, aid, zhang, "7774", name="张三")).status == 201
    assert (await party_sign(client, aid, li, li["code"], name="李四")).status == 201
    got = await (await client.get(f"/api/agreements/{aid}", headers=h)).json()
    assert (await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name),
                              headers=h)).status == 201
    assert (await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None),
                              headers=h)).status == 201
    c = await get_case(client, "mediator", code)
    assert c["status"] == "agreement_effective"
    async with services(client.app).db.session() as s:
        chain = f"case:{case['id']}"
        ok = await ledger_store.verify_chain(s, chain)
        types = [e.type for e in await ledger_store.events(s, chain)]
    assert ok.ok and "agreement.effective" in types and "obligations.added" in types
    # Proof of performance: an evidence upload of the case, named by its hash; the case's obligation follows.
    import hashlib

    import aiohttp

    receipt = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    form = aiohttp.FormData()
    form.add_field("file", receipt, filename="转账回单.pdf", content_type="application/pdf")
    r = await client.post(f"/api/cases/{code}/documents", data=form, headers=h)
    assert r.status == 201, await r.text()
    r = await client.post(f"/api/agreements/{aid}/obligations/t1/performance", headers=h, json={
        "status": "performed", "note": "已转账", "proof_sha256": hashlib.sha256(receipt).hexdigest()})
    assert r.status == 201, await r.text()
    c = await get_case(client, "mediator", code)
    statuses = {o["content"][:12]: o["status"] for o in c["obligations"]}
    assert list(statuses.values()).count("performed") == 1, c["obligations"]


async def sign_all(client, h, aid: int, zhang: dict, li: dict, name: str) -> dict:  # type: ignore[no-untyped-def]
    assert (await party_sign(client, aid, zhang, "7774", name="张三")).status == 201
    assert (await party_sign(client, aid, li, li["code"], name="李四")).status == 201
    got = await (await client.get(f"/api/agreements/{aid}", headers=h)).json()
    assert (await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name),
                              headers=h)).status == 201
    r = await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None), headers=h)
    assert r.status == 201
    return await r.json()


async def test_amendment_supersedes_and_void_needs_a_reason(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    sid, zhang, li = await session_with_invitations(client, h)
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content(mediator_name=name)},
                          headers=h)
    a = await r.json()
    await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": 1}, headers=h)
    assert (await sign_all(client, h, a["id"], zhang, li, name))["state"] == "effective"
    # The public verification page knows the document by its hash (the QR code's link).
    r = await client.get(f"/verify?h={a['document_hash']}")
    assert r.status == 200 and a["number"] in await r.text()
    # An amendment: a new agreement referencing this one; the old stays in force until it takes effect.
    r = await client.post(f"/api/agreements/{a['id']}/amend", headers=h)
    assert r.status == 201, await r.text()
    b = await r.json()
    assert b["amends_id"] == a["id"] and b["number"] == a["number"] + "-变更1" and b["state"] == "draft"
    changed = content(mediator_name=name)
    changed["obligations"][0]["deadline"] = "2026-12-31"
    r = await client.put(f"/api/agreements/{b['id']}/draft", json={"base_version": 1, "content": changed},
                         headers=h)
    assert r.status == 200, await r.text()
    await client.post(f"/api/agreements/{b['id']}/freeze", json={"version": 2}, headers=h)
    assert (await (await client.get(f"/api/agreements/{a['id']}", headers=h)).json())["state"] == "effective"
    await sign_all(client, h, b["id"], zhang, li, name)
    assert (await (await client.get(f"/api/agreements/{a['id']}", headers=h)).json())["state"] == "superseded"
    # Voiding the amendment needs a reason; afterwards it cannot be signed or edited.
    r = await client.post(f"/api/agreements/{b['id']}/void", json={"reason": ""}, headers=h)
    assert r.status == 400
    r = await client.post(f"/api/agreements/{b['id']}/void", json={"reason": "人民法院裁定确认无效"}, headers=h)
    assert r.status == 200 and (await r.json())["state"] == "voided"
    r = await client.post(f"/api/agreements/{b['id']}/amend", headers=h)
    assert r.status == 409
