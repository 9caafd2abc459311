"""Evidence uploads: type by magic bytes, size limit, ledgered hash, access."""

from __future__ import annotations

import hashlib

import aiohttp

from server.cases import documents
from tests.integration.cases.helpers import create, hdr
from tests.support.bombs import png_small

PNG = png_small()  # a real header: uploads are read by Pillow (server/security/uploads.py)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def form(data: bytes, filename: str = "photo.png", content_type: str = "image/png", **fields: str
         ) -> aiohttp.FormData:
    f = aiohttp.FormData()
    for k, v in fields.items():
        f.add_field(k, v)
    f.add_field("file", data, filename=filename, content_type=content_type)
    return f


async def test_upload_download_and_ledger(client, config) -> None:
    case = await create(client)
    code = case["code"]
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/documents", data=form(PNG, "现场照片.png", description="围墙"),
                          headers=h)
    assert r.status == 201, await r.text()
    doc = await r.json()
    assert doc["sha256"] == hashlib.sha256(PNG).hexdigest() and doc["content_type"] == "image/png"
    assert doc["filename"] == "现场照片.png"
    stored = config.data_dir / "cases" / str(case["id"]) / f"{doc['sha256']}.png"
    assert stored.read_bytes() == PNG
    r = await client.get(doc["url"], headers=h)
    assert r.status == 200 and await r.read() == PNG
    assert r.headers["Content-Type"] == "image/png" and r.headers["X-Content-Type-Options"] == "nosniff"
    # A PDF named .jpg is stored as what it is.
    r = await client.post(f"/api/cases/{code}/documents", data=form(PDF, "../../etc/evil.jpg", "image/jpeg"),
                          headers=h)
    assert r.status == 201
    d2 = await r.json()
    assert d2["content_type"] == "application/pdf" and d2["filename"] == "evil.pdf"
    log = await (await client.get(f"/api/cases/{code}/log", headers=h)).json()
    added = [e for e in log["events"] if e["type"] == "document.added"]
    assert [e["data"]["sha256"] for e in added] == [doc["sha256"], d2["sha256"]]
    # Others who cannot see the case cannot fetch its documents.
    r = await client.get(doc["url"], headers=await hdr(client, "mediator_340321002"))
    assert r.status == 404


async def test_wrong_type_oversized_and_malformed(client) -> None:
    case = await create(client)
    code = case["code"]
    h = await hdr(client, "mediator")
    # An HTML file declared as a PNG is refused by its bytes.
    r = await client.post(f"/api/cases/{code}/documents",
                          data=form(b"<html><script>alert(1)</script></html>", "x.png"), headers=h)
    assert r.status == 415 and (await r.json())["error"]["code"] == "unsupported_media_type"
    r = await client.post(f"/api/cases/{code}/documents", data=form(b"MZ\x90\x00" * 10, "a.pdf"), headers=h)
    assert r.status == 415
    big = b"%PDF-" + b"0" * (documents.MAX_BYTES + 10)
    r = await client.post(f"/api/cases/{code}/documents", data=form(big, "big.pdf", "application/pdf"), headers=h)
    assert r.status == 413
    r = await client.post(f"/api/cases/{code}/documents", data=form(b"", "e.pdf"), headers=h)
    assert r.status == 400
    r = await client.post(f"/api/cases/{code}/documents", json={"file": "x"}, headers=h)
    assert r.status == 415
    f = aiohttp.FormData()
    f.add_field("other", "x")
    r = await client.post(f"/api/cases/{code}/documents", data=f(), headers=h)
    assert r.status in (400, 415)
    r = await client.post(f"/api/cases/{code}/documents", data=b"--xx\r\ngarbage",
                          headers={**h, "Content-Type": "multipart/form-data; boundary=xx"})
    assert r.status == 400
    for bad in ("0", "abc", "99999999999"):
        r = await client.get(f"/api/cases/{code}/documents/{bad}", headers=h)
        assert r.status == 404
    # Observers see the case but may not upload.
    r = await client.post(f"/api/cases/{code}/documents", data=form(PNG), headers=await hdr(client, "observer"))
    assert r.status == 403


async def test_nested_multipart_part_is_skipped(client) -> None:
    # A part that is itself multipart/* is parsed as a nested reader, which has no name: it used to be a 500.
    case = await create(client)
    h = await hdr(client, "mediator")
    body = (b"--outer\r\nContent-Disposition: form-data; name=\"kind\"\r\n"
            b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n"
            b"--inner\r\nContent-Type: text/plain\r\n\r\nx\r\n--inner--\r\n\r\n"
            b"--outer\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + PNG + b"\r\n--outer--\r\n")
    r = await client.post(f"/api/cases/{case['code']}/documents", data=body,
                          headers={**h, "Content-Type": "multipart/form-data; boundary=outer"})
    assert r.status == 201, await r.text()
    assert (await r.json())["sha256"] == hashlib.sha256(PNG).hexdigest()


def test_sniff() -> None:
    assert documents.sniff(b"\xff\xd8\xff\xe0rest").ext == "jpg"
    assert documents.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ").ext == "webp"
    assert documents.sniff(b"\x00\x00\x00\x18ftypheic").ext == "heic"
    assert documents.sniff(b"GIF89a") is None and documents.sniff(b"") is None
