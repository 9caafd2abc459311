"""The agreement API for staff: drafting, versions, freezing, refusals, comments, export and verification."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from server.directory.demo import DEMO_PASSWORD
from server.services import services
from tests.conftest import login
from tests.integration.agreements.helpers import (
    content,
    create_frozen,
    data_url,
    mediator_body,
    mediator_name,
)


async def test_draft_versions_and_diff(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    r = await client.post("/api/agreements", json={"content": content()}, headers=h)
    assert r.status == 201, await r.text()
    a = await r.json()
    assert a["state"] == "draft" and a["version"] == 1 and a["number"].endswith("第1号")
    assert a["unit"] == "340321001" and len(a["short_hash"]) == 9
    # IDs are masked in the view and in the text shown.
    assert all("*" in p["id_number"] for p in a["content"]["parties"])
    assert "110101199003077774" not in a["text"] and "110***********7774" in a["text"]
    edited = content()
    edited["obligations"][0]["amount"] = "6500"
    edited["parties"][0]["id_number"] = ""
    edited["parties"][0]["keep_id"] = True
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 1, "content": edited,
                                                                     "note": "金额调整"}, headers=h)
    assert r.status == 200, await r.text()
    b = await r.json()
    assert b["version"] == 2 and b["document_hash"] != a["document_hash"]
    assert b["content"]["parties"][0]["id_number"] == "110***********7774"  # kept, not erased
    # A stale edit (based on version 1) is refused.
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": 1, "content": edited}, headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "stale_version"
    r = await client.get(f"/api/agreements/{a['id']}/diff?from=1&to=2", headers=h)
    d = await r.json()
    assert any(c["summary"] == "条款 t1 金额：6000.00 → 6500.00" for c in d["changes"])
    assert "6,500.00" in d["text_diff"] and "110101199003077774" not in d["text_diff"]
    r = await client.get(f"/api/agreements/{a['id']}/versions", headers=h)
    assert [v["version"] for v in (await r.json())["versions"]] == [1, 2]
    log = await client.get("/api/agreements", headers=h)
    assert any(x["id"] == a["id"] for x in (await log.json())["agreements"])


async def test_bad_content_and_permissions(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    bad = content()
    bad["obligations"][0]["obligor"] = "p9"
    r = await client.post("/api/agreements", json={"content": bad}, headers=h)
    assert r.status == 400 and (await r.json())["error"]["field"] == "obligations[0].obligor"
    r = await client.post("/api/agreements", json={"content": "x"}, headers=h)
    assert r.status == 400
    r = await client.post("/api/agreements", data=b"not json", headers=h)
    assert r.status == 400
    obs = await login(client, "observer")
    r = await client.post("/api/agreements", json={"content": content()}, headers=obs)
    assert r.status in (403, 404)
    r = await client.post("/api/agreements", json={"content": content()}, headers=h)
    aid = (await r.json())["id"]
    # A mediator of another township neither sees nor touches it.
    other = await login(client, "mediator_340321002")
    assert (await client.get(f"/api/agreements/{aid}", headers=other)).status == 404
    assert (await client.get("/api/agreements/999999", headers=h)).status == 404
    assert (await client.get("/api/agreements/abc", headers=h)).status == 404
    assert (await client.get(f"/api/agreements/{aid}")).status == 401


async def test_freeze_then_edit_is_refused_and_order_enforced(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    a = await create_frozen(client, h)
    assert a["state"] == "signing" and {m["kind"] for m in a["missing"]} == {"party", "mediator", "seal"}
    r = await client.put(f"/api/agreements/{a['id']}/draft", json={"base_version": a["version"],
                                                                     "content": content()}, headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "frozen"
    name = await mediator_name(client, h)
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(a, name), headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "out_of_order"
    r = await client.post(f"/api/agreements/{a['id']}/seal", json=mediator_body(a, name, image=None), headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "out_of_order"
    # Stale version / hash.
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator",
                          json=mediator_body(a, name, document_hash="0" * 64), headers=h)
    assert r.status == 409 and (await r.json())["error"]["code"] == "stale_version"
    # Wrong password, empty canvas, oversized canvas.
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(a, name, password="nope"),
                          headers=h)
    assert r.status == 403 and (await r.json())["error"]["code"] == "identity_check_failed"
    import base64

    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGBA", (600, 200), (0, 0, 0, 0)).save(blank, "PNG")
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(
        a, name, image="data:image/png;base64," + base64.b64encode(blank.getvalue()).decode()), headers=h)
    assert r.status == 400 and (await r.json())["error"]["code"] == "signature_empty"
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(
        a, name, image="data:image/png;base64," + "A" * 400_000), headers=h)
    assert r.status == 413
    # Back to draft while nobody signed, then withdraw with a reason.
    r = await client.post(f"/api/agreements/{a['id']}/reopen", headers=h)
    assert r.status == 200 and (await r.json())["state"] == "draft"
    r = await client.post(f"/api/agreements/{a['id']}/withdraw", json={"reason": " "}, headers=h)
    assert r.status == 400
    r = await client.post(f"/api/agreements/{a['id']}/withdraw", json={"reason": "当事人撤回申请"}, headers=h)
    assert r.status == 200 and (await r.json())["state"] == "withdrawn"
    r = await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": 1}, headers=h)
    assert r.status == 409


async def test_comments_are_ledgered(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    r = await client.post("/api/agreements", json={"content": content()}, headers=h)
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/comments", json={"version": 1, "clause": "t1",
                                                                        "text": "期限能否延后一个月？"}, headers=h)
    assert r.status == 201
    for bad, code in [({"version": 1, "clause": "t99", "text": "x"}, 400), ({"version": 9, "clause": "t1", "text": "x"}, 409),
                      ({"version": 1, "clause": "t1", "text": "  "}, 400)]:
        assert (await client.post(f"/api/agreements/{a['id']}/comments", json=bad, headers=h)).status == code
    got = await (await client.get(f"/api/agreements/{a['id']}", headers=h)).json()
    assert got["comments"][0]["clause"] == "t1"
    from server import ledger_store

    async with services(client.app).db.session() as s:
        events = await ledger_store.events(s, f"agreement:{a['id']}")
    assert [e.type for e in events] == ["agreement.created", "agreement.comment"]
    assert events[1].data["text"] == "期限能否延后一个月？"


async def test_export_of_unsigned_version_fails_verification(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    a = await create_frozen(client, h)
    r = await client.get(f"/api/agreements/{a['id']}/pdf", headers=h)
    assert r.status == 200 and r.content_type == "application/pdf"
    pdf = await r.read()
    assert "concord-manifest.json" in PdfReader(io.BytesIO(pdf)).attachments
    r = await client.post("/api/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    assert r.status == 422
    body = await r.json()
    assert body["error"]["code"] == "signer_missing" and "张三" in body["error"]["message"]


@pytest.mark.parametrize("payload, status", [
    (b"", 400), (b"hello", 422), (b"%PDF-1.4 junk", 422),
])
async def test_verify_endpoint_bad_uploads(client, payload: bytes, status: int) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/verify", data=payload, headers={"Content-Type": "application/pdf"})
    assert r.status == status
    assert "error" in await r.json()


async def test_verify_endpoint_refuses_wrong_type_and_size(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/verify", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 415
    r = await client.post("/api/verify", data=b"x" * (21 * 1024 * 1024), headers={"Content-Type": "application/pdf"})
    assert r.status == 413


async def test_signing_twice_by_mediator_via_password_rate_limit(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")
    a = await create_frozen(client, h)
    name = await mediator_name(client, h)
    for _ in range(5):
        await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(a, name, password="x"),
                          headers=h)
    r = await client.post(f"/api/agreements/{a['id']}/sign/mediator", json=mediator_body(a, name, password=DEMO_PASSWORD),
                          headers=h)
    assert r.status == 429
    _ = data_url


async def test_verify_endpoint_garbled_multipart(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/api/verify", data=b"--x\r\n", headers={"Content-Type": "multipart/form-data"})
    assert r.status == 400
    r = await client.post("/api/verify", data=b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n",
                          headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "missing_field"
