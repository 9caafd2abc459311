"""Through the API: the checkpoint signed when an agreement takes effect covers its effective event, and every
export from then on embeds that event's inclusion proof, which verifies offline under the city's key."""

from __future__ import annotations

import io
import json
from typing import Any

from pypdf import PdfReader
from sqlalchemy import delete, select

from server import checkpoints
from server.agreements.keys import TrustedKeys
from server.agreements.manifest import MANIFEST_NAME
from server.agreements.verify import verify_pdf
from server.services import services
from tests.conftest import login
from tests.integration.agreements.helpers import check_ticket, content, mediator_body, mediator_name
from tests.integration.agreements.test_signing_flow import party_sign, session_with_invitations


def manifest_of(pdf: bytes) -> dict[str, Any]:
    return json.loads(PdfReader(io.BytesIO(pdf)).attachments[MANIFEST_NAME][0])


async def make_effective(client, h) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    sid, zhang, li = await session_with_invitations(client, h)
    name = await mediator_name(client, h)
    r = await client.post("/api/agreements", json={"session_id": sid, "content": content(mediator_name=name)},
                          headers=h)
    aid = (await r.json())["id"]
    r = await client.post(f"/api/agreements/{aid}/freeze", json={"version": 1}, headers=h)
    assert r.status == 200, await r.text()
    assert (await party_sign(client, aid, zhang, "7774", name="张三")).status == 201
    assert (await party_sign(client, aid, li, li["code"], name="李四")).status == 201
    got = await (await client.get(f"/api/agreements/{aid}", headers=h)).json()
    r = await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name), headers=h)
    assert r.status == 201, await r.text()
    r = await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None), headers=h)
    assert r.status == 201 and (await r.json())["state"] == "effective"
    return aid, li


async def test_an_effective_agreement_carries_the_proof_of_its_effect(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    cfg = services(client.app).config
    aid, li = await make_effective(client, h)
    async with services(client.app).db.session() as s:
        rows = (await s.execute(select(checkpoints.LedgerCheckpoint).order_by(checkpoints.LedgerCheckpoint.id))
                ).scalars().all()
    at_effect = [c for c in rows if c.reason.endswith(" effective")]
    assert len(at_effect) == 1

    pdf = await (await client.get(f"/api/agreements/{aid}/pdf", headers=h)).read()
    trusted = TrustedKeys.load(cfg.data_dir / "agreement_keys")
    city = set(TrustedKeys.load(cfg.data_dir / "ledger_keys").by_id)
    result = verify_pdf(pdf, trusted, ledger_keys=city)
    assert result.ok, result.failures
    assert result.ledger_proof.startswith("verified: event ") and result.pdf_signature == "intact"
    proof = manifest_of(pdf)["ledger"]
    # The proof is against the checkpoint signed in the transaction that made the agreement effective,
    # and the event it proves is the agreement's effective event.
    assert (proof["checkpoint"]["size"], proof["checkpoint"]["root"]) == (at_effect[0].tree_size,
                                                                         at_effect[0].root)
    assert proof["event"]["type"] == "agreement.effective" and proof["event"]["data"]["agreement"] == aid
    # Signed right after the effect: only that transaction's own events (the hand-over) come after it.
    assert at_effect[0].tree_size - 5 <= proof["leaf_index"] < at_effect[0].tree_size

    # Later checkpoints do not change what an export proves against.
    async with services(client.app).db.session() as s:
        later = await checkpoints.sign_checkpoint(s, checkpoints.ledger_keyring(cfg.data_dir, cfg.secret_key),
                                                  "interval")
    assert later.size >= at_effect[0].tree_size
    again = manifest_of(await (await client.get(f"/api/agreements/{aid}/pdf", headers=h)).read())["ledger"]
    assert again["checkpoint"]["root"] == proof["checkpoint"]["root"]

    # The party's copy carries it too, and the public endpoint reports it.
    ticket = await check_ticket(client, aid, {"invitation": li["token"]}, li["code"])
    r = await client.get(f"/api/agreements/{aid}/party/pdf?invitation={li['token']}&ticket={ticket}")
    party = verify_pdf(await r.read(), trusted, ledger_keys=city)
    assert party.ok and party.ledger_proof.startswith("verified")
    r = await client.post("/api/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    out = await r.json()
    assert r.status == 200 and out["ok"] and out["ledger_proof"].startswith("verified")
    assert not any("checkpoint key" in w for w in out["warnings"])  # the server trusts its own city key
    # A proof under another key is refused by the public endpoint, naming the check.
    from tests.unit.agreements.test_verify import with_manifest

    m = manifest_of(pdf)
    m["ledger"]["checkpoint"]["key_id"] = "0123456789abcdef"
    r = await client.post("/api/verify", data=with_manifest(pdf, m), headers={"Content-Type": "application/pdf"})
    assert r.status == 422 and (await r.json())["error"]["code"] == "ledger_proof"

    # An agreement that took effect before checkpoints existed gets one signed at its first export.
    async with services(client.app).db.session() as s:
        await s.execute(delete(checkpoints.LedgerCheckpoint))
    pdf = await (await client.get(f"/api/agreements/{aid}/pdf", headers=h)).read()
    result = verify_pdf(pdf, trusted, ledger_keys=city)
    assert result.ok and result.ledger_proof.startswith("verified"), result.failures
    async with services(client.app).db.session() as s:
        reasons = (await s.execute(select(checkpoints.LedgerCheckpoint.reason))).scalars().all()
    assert reasons == [f"export of agreement {manifest_of(pdf)['agreement']['number']}"]


async def test_an_agreement_not_yet_effective_exports_without_a_proof(client) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.agreements.helpers import create_frozen

    h = await login(client, "mediator")
    a = await create_frozen(client, h)
    pdf = await (await client.get(f"/api/agreements/{a['id']}/pdf", headers=h)).read()
    m = manifest_of(pdf)
    assert m["ledger"] is None and m["export"]["record"]["effective_event"] is None
    result = verify_pdf(pdf, None, check_pades=False)
    assert result.ledger_proof == "not applicable (the agreement was signing when exported)"
