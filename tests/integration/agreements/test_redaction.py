"""Redaction by audience: a DV victim's address and phone (unique markers) reach no exported file, whoever
downloads it, and the party's copy masks the signers' IP addresses and devices; the files still verify."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pypdf import PdfReader

from server.agreements.cli import agreement_proofs
from server.agreements.commitments import commit, opens
from server.agreements.keys import TrustedKeys
from server.agreements.manifest import MANIFEST_NAME
from server.agreements.models import AgreementSignature, AgreementVersion
from server.agreements.verify import verify_pdf
from server.config import Config
from server.security.clientip import parse_networks
from server.services import services
from tests.conftest import cli_env, login
from tests.integration.agreements.helpers import data_url, mediator_body, mediator_name
from tests.integration.cases.helpers import create as create_case
from tests.support.leaks import find_leaks

ADDRESS = "LEAKADDR-绿洲庇护所7号"
ADDRESS_2 = "LEAKADDR2-晨光公寓9栋"
PHONE = "13977172942"
PHONE_2 = "13966614253"
MARKERS = {ADDRESS, ADDRESS_2, PHONE, PHONE_2}
VICTIM_IP = "203.0.113.77"
OTHER_IP = "198.51.100.23"
UA = "Mozilla/5.0 (Linux; Android 14; LEAKUA-Pixel-77) AppleWebKit/537.36 Chrome/126.0.0.0 Mobile Safari/537.36"
UA_MARKERS = {VICTIM_IP, OTHER_IP, "LEAKUA-Pixel-77"}


@pytest.fixture
def config(config: Config) -> Config:
    # The test client is 127.0.0.1: trust it as the proxy, so X-Forwarded-For sets each signer's address.
    return dataclasses.replace(config, trusted_proxies=parse_networks("127.0.0.1/32"))


def manifest_of(pdf: bytes) -> dict[str, Any]:
    return json.loads(PdfReader(io.BytesIO(pdf)).attachments[MANIFEST_NAME][0])


async def party_query(client, aid: int, inv: dict) -> str:  # type: ignore[no-untyped-def]
    """The query a party's own reads carry: the invitation, and a fresh identity-check ticket where the
    route takes one (as the OpenAPI document says)."""
    spec = await (await client.get("/api/openapi.json")).json()
    params = {p["name"] for p in spec["paths"]["/api/agreements/{id}/party/pdf"]["get"].get("parameters", [])}
    if "ticket" not in params:
        return urlencode({"invitation": inv["token"]})
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": inv["token"],
                                                                      "answer": inv["code"]})
    assert r.status == 200, await r.text()
    return urlencode({"invitation": inv["token"], "ticket": (await r.json())["ticket"]})


async def party_sign(client, aid: int, inv: dict, name: str, ip: str) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/agreements/{aid}/party/check", json={"invitation": inv["token"],
                                                                      "answer": inv["code"]})
    assert r.status == 200, await r.text()
    ticket = (await r.json())["ticket"]
    r = await client.post(f"/api/agreements/{aid}/party/text", json={"invitation": inv["token"], "ticket": ticket})
    assert r.status == 200, await r.text()
    t = await r.json()
    body = {"invitation": inv["token"], "ticket": ticket, "read_token": t["read_token"], "version": t["version"],
            "document_hash": t["document_hash"], "consent": True, "typed_name": name, "image": data_url(3)}
    r = await client.post(f"/api/agreements/{aid}/party/sign", json=body,
                          headers={"User-Agent": UA, "X-Forwarded-For": ip})
    assert r.status == 201, await r.text()


async def effective_dv_agreement(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A DV case whose victim's address and phone are markers, an agreement drafted from it (the victim
    moves once: a second pair of markers), signed by both parties, the mediator and the seal."""
    h = await login(client, "mediator")
    case = await create_case(client, "mediator", title="婚姻家庭纠纷", category="policing", item="domestic_violence",
                             parties=[{"role": "victim", "name": "王五", "phone": PHONE, "address": ADDRESS},
                                      {"role": "perpetrator", "name": "赵六", "phone": "13600004444",
                                       "address": "幸福村5组"}])
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "调解", "unit": "340321001",
                                                 "case_id": case["id"]}, headers=h)
    assert r.status == 201, await r.text()
    sid = (await r.json())["id"]
    invs = []
    for name in ("王五", "赵六"):
        r = await client.post(f"/api/sessions/{sid}/invitations", json={
            "role": "party", "name": name, "check": {"method": "code"}}, headers=h)
        assert r.status == 201, await r.text()
        invs.append(await r.json())
    r = await client.post("/api/agreements", json={"case_id": case["id"], "session_id": sid,
                                                   "dispute_type": "marriage_family"}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    body = dict(a["content"])
    parties = [dict(p, id_number="", keep_id=True) for p in body["parties"]]
    assert parties[0]["confidential"] and parties[0]["address"] == ADDRESS  # staff of the case see it
    parties[0].update(address=ADDRESS_2, phone=PHONE_2)  # she moved: the change is in the version history
    for p in parties:
        p.pop("withheld", None)
    body["parties"] = parties
    body["obligations"] = [{"key": "t1", "obligor": "p2", "obligee": "p1", "action": "支付抚养费",
                            "amount": "3000", "deadline": "2026-12-31"}]
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 1, "content": body}, headers=h)
    assert r.status == 200, await r.text()
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": a["version"]}, headers=h)
    assert r.status == 200, await r.text()
    await party_sign(client, a["id"], invs[0], "王五", VICTIM_IP)
    await party_sign(client, a["id"], invs[1], "赵六", OTHER_IP)
    name = await mediator_name(client, h)
    got = await (await client.get(f"/api/agreements/{a['id']}", headers=h)).json()
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(got, name),
                          headers={**h, "User-Agent": UA})
    assert r.status == 201, await r.text()
    r = await client.post(f"/api/agreements/{a['id']}/seal", json=mediator_body(got, name, image=None), headers=h)
    assert r.status == 201, await r.text()
    return {"id": a["id"], "case": case, "session": sid, "invitations": invs, "headers": h}


def no_hits(data: bytes, markers: set[str], what: str) -> None:
    hits = find_leaks(data, markers)
    assert not hits, f"{what}:\n" + "\n".join(map(str, hits))


async def test_no_export_carries_the_victims_contact_and_each_still_verifies(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ag = await effective_dv_agreement(client)
    aid, h, invs = ag["id"], ag["headers"], ag["invitations"]
    trusted = TrustedKeys.load(services(client.app).config.data_dir / "agreement_keys")

    staff = await (await client.get(f"/api/agreements/{aid}/pdf", headers=h)).read()
    copies = {"staff copy": staff}
    for inv in invs:
        r = await client.get(f"/api/agreements/{aid}/party/pdf?{await party_query(client, aid, inv)}")
        assert r.status == 200, await r.text()
        copies[f"party copy of {inv['name']}"] = await r.read()
    r = await client.get(f"/api/agreements/{aid}/judicial-application.pdf", headers=h)
    assert r.status == 200
    copies["judicial application"] = await r.read()
    r = await client.get("/cases/export.csv", headers=h)
    assert r.status == 200
    copies["case CSV"] = await r.read()
    r = await client.get("/cases/export.xlsx", headers=h)
    assert r.status == 200
    copies["case XLSX"] = await r.read()
    r = await client.get(f"/api/sessions/{ag['session']}/log.jsonl", headers=h)
    assert r.status == 200
    copies["session log JSONL"] = await r.read()
    r = await client.get(f"/api/cases/{ag['case']['code']}/log", headers=h)
    assert r.status == 200
    copies["case timeline JSON"] = await r.read()
    r = await client.get(f"/api/agreements/{aid}/diff?from=1&to=2", headers=h)
    assert r.status == 200
    copies["version diff"] = await r.read()
    r = await client.get(f"/api/agreements/{aid}/party?{await party_query(client, aid, invs[1])}")
    assert r.status == 200
    copies["the other party's view"] = await r.read()
    case = await (await client.get(f"/api/cases/{ag['case']['code']}", headers=h)).json()
    other = next(p for p in case["parties"] if p["role"] == "perpetrator")
    r = await client.get(f"/cases/{ag['case']['code']}/parties/{other['id']}/copy", headers=h)
    assert r.status == 200
    copies["the other party's printed case copy"] = await r.read()
    summaries = [c["summary"] for c in json.loads(copies["version diff"])["changes"]]
    assert "当事人 王五 住址：（依申请保密） → （依申请保密）" in summaries
    for what, data in copies.items():
        no_hits(data, MARKERS, what)  # downloaded by the named mediator, who may see the values

    # Every copy of the agreement still verifies, in the API and on the command line. (Loaded again: the
    # first export made the city root, whose certificate the PDF signature chains to.)
    trusted = TrustedKeys.load(services(client.app).config.data_dir / "agreement_keys")
    for what in ("staff copy", "party copy of 王五", "party copy of 赵六"):
        result = verify_pdf(copies[what], trusted, check_pades=True)
        assert result.ok and result.pdf_signature == "intact", (what, result.failures)
        r = await client.post("/api/verify", data=copies[what], headers={"Content-Type": "application/pdf"})
        assert r.status == 200 and (await r.json())["ok"], what
    (tmp_path / "staff.pdf").write_bytes(staff)
    ring = services(client.app).config.data_dir / "agreement_keys"
    cli = [sys.executable, "-m", "server", "verify-agreement", "--keyring", str(ring), "--require-trusted"]
    done = subprocess.run([*cli, str(tmp_path / "staff.pdf")], capture_output=True, text=True, env=cli_env(),
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # A flipped byte fails, in the API and on the command line.
    bad = bytearray(staff)
    bad[bad.index(b"stream\n") + 80] ^= 1
    r = await client.post("/api/verify", data=bytes(bad), headers={"Content-Type": "application/pdf"})
    assert r.status == 422 and (await r.json())["error"]["code"] == "text_changed"
    (tmp_path / "bad.pdf").write_bytes(bytes(bad))
    done = subprocess.run([*cli, str(tmp_path / "bad.pdf")], capture_output=True, text=True, env=cli_env(),
                          timeout=120)
    assert done.returncode == 1 and done.stdout.startswith("FAILED"), done.stdout

    # Signature evidence: in full on the staff copy (and the ledger), masked on every party's copy.
    for inv in invs:
        party = copies[f"party copy of {inv['name']}"]
        no_hits(party, UA_MARKERS, f"party copy of {inv['name']}")
        m = manifest_of(party)
        assert [s["record"]["ip"] for s in m["signatures"][:2]] == ["203.0.113.x", "198.51.100.x"]
        assert m["signatures"][0]["record"]["user_agent"] == "Android Chrome"
        assert all("evidence" not in s for s in m["signatures"])
    found = {h.marker for h in find_leaks(staff, UA_MARKERS)}
    assert found == UA_MARKERS
    m = manifest_of(staff)
    opened = m["signatures"][0]["evidence"]
    assert opened["ip"]["value"] == VICTIM_IP and opens(m["signatures"][0]["record"]["evidence_commitments"]["ip"],
                                                         VICTIM_IP, opened["ip"]["salt"])
    async with services(client.app).db.session() as s:
        from server import ledger_store

        signed = [e for e in await ledger_store.events(s, f"case:{ag['case']['id']}") if e.type == "agreement.signed"]
    assert [e.data["ip"] for e in signed][:2] == [VICTIM_IP, OTHER_IP]


async def test_the_archive_proves_the_committed_values(client, capsys) -> None:  # type: ignore[no-untyped-def]
    """The manifest commits to the victim's address and phone; the salts stay in the server's archive, where
    with the stored values they open the commitments (and a wrong value does not)."""
    from sqlalchemy import select

    from server.agreements import store

    ag = await effective_dv_agreement(client)
    staff = await (await client.get(f"/api/agreements/{ag['id']}/pdf", headers=ag["headers"])).read()
    doc = manifest_of(staff)["document"]
    assert doc["format"] == "concord-agreement/2"
    assert set(doc["commitments"]) == {"p1.address", "p1.phone"}
    assert doc["content"]["parties"][0]["address"] == "" and doc["content"]["parties"][0]["phone"] == ""
    async with services(client.app).db.session() as s:
        v = (await s.execute(select(AgreementVersion).where(AgreementVersion.agreement_id == ag["id"],
                                                            AgreementVersion.number == 2))).scalar_one()
        proofs = store.proofs(v)
        rows = (await s.execute(select(AgreementSignature).where(AgreementSignature.agreement_id == ag["id"])
                                .order_by(AgreementSignature.seq))).scalars().all()
    assert proofs["p1.address"]["value"] == ADDRESS_2 and proofs["p1.phone"]["value"] == PHONE_2
    for name, proof in proofs.items():
        assert proof["commitment"] == doc["commitments"][name]
        assert opens(doc["commitments"][name], proof["value"], proof["salt"])
        assert not opens(doc["commitments"][name], proof["value"] + "1", proof["salt"])
    assert len({p["salt"] for p in proofs.values()}) == 2  # one salt per field
    assert rows[0].evidence["ip"]["value"] == VICTIM_IP
    assert commit(VICTIM_IP, rows[0].evidence["ip"]["salt"]) == rows[0].record["evidence_commitments"]["ip"]
    # The same from the command line's function (concord agreement-proofs NUMBER).
    number = (await (await client.get(f"/api/agreements/{ag['id']}", headers=ag["headers"])).json())["number"]
    capsys.readouterr()
    assert await agreement_proofs(services(client.app).db, argparse.Namespace(agreement=number, version=None)) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["fields"] == proofs and printed["format"] == "concord-agreement/2"
    assert printed["signatures"][0]["ip"]["value"] == VICTIM_IP
    assert printed["signatures"][0]["ip"]["commitment"] == rows[0].record["evidence_commitments"]["ip"]
    assert await agreement_proofs(services(client.app).db, argparse.Namespace(agreement="无此协议", version=None)) == 1


async def test_opened_evidence_that_does_not_match_fails(client) -> None:  # type: ignore[no-untyped-def]
    """Someone who edits the full IP address shown in a staff copy's manifest is caught."""
    from tests.unit.agreements.test_verify import with_manifest

    ag = await effective_dv_agreement(client)
    staff = await (await client.get(f"/api/agreements/{ag['id']}/pdf", headers=ag["headers"])).read()
    trusted = TrustedKeys.load(services(client.app).config.data_dir / "agreement_keys")
    m = manifest_of(staff)
    m["signatures"][0]["evidence"]["ip"]["value"] = "192.0.2.1"
    r = verify_pdf(with_manifest(staff, m), trusted, check_pades=False)
    assert r.failed("signature_invalid") and any("IP address" in f.message for f in r.failures)
    m = manifest_of(staff)
    m["document"]["content"]["parties"][0]["address"] = ADDRESS  # plaintext put back beside its commitment
    r = verify_pdf(with_manifest(staff, m), trusted, check_pades=False)
    assert r.primary is not None and r.primary.check == "manifest_malformed"


async def test_staff_who_may_not_reveal_get_the_agreement_withheld(client) -> None:  # type: ignore[no-untyped-def]
    """A case's confidential address is shown in the agreement only to the case's handlers: the county
    admin above sees the case (and the agreement) without it; a draft saved from that view keeps it."""
    from server.agreements import store
    from server.agreements.content import parse_content
    from tests.integration.agreements.test_agreement_cases import case_in_mediation

    case = await case_in_mediation(client)  # 李四's address (新华村2组) is confidential
    h = await login(client, "mediator")
    r = await client.post("/api/agreements", json={"case_id": case["id"]}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    assert a["content"]["parties"][1]["address"] == "新华村2组"  # the handler sees it
    for path in ("/cases/export.csv", "/cases/export.xlsx"):  # but not in a file, even hers
        r = await client.get(path, headers=h)
        assert r.status == 200 and find_leaks(await r.read(), {"新华村2组"}) == [], path
    county = await login(client, "admin_340321")
    assert (await client.get(f"/api/cases/{case['code']}", headers=county)).status == 200
    r = await client.get(f"/api/agreements/{a['id']}", headers=county)
    assert r.status == 200, await r.text()
    body = await r.read()
    assert "新华村2组".encode() not in body and find_leaks(body, {"新华村2组"}) == []
    withheld = json.loads(body)["content"]["parties"][1]
    assert withheld["withheld"] is True and withheld["address"] == ""
    # An editor who got the withheld view and sends it back does not erase the stored address.
    old = parse_content(a["content"] | {"number": a["number"], "unit_code": a["unit"], "unit_name": a["unit_name"],
                                        "parties": [dict(p, id_number="") for p in a["content"]["parties"]]})
    kept = store._keep_id(dict(withheld, keep_id=True), old)
    assert kept["address"] == "新华村2组" and "withheld" not in kept
    # A signing link made by someone who may not see the phone does not hand it out to text the link to.
    r = await client.post(f"/api/agreements/{a['id']}/sign-links", json={"party": "p2"}, headers=county)
    assert r.status == 201, await r.text()
    assert (await r.json())["phone"] == ""
    r = await client.post(f"/api/agreements/{a['id']}/sign-links", json={"party": "p2"}, headers=h)
    assert (await r.json())["phone"] == "13900002222"
