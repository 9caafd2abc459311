"""Hostile files against the public /api/verify, the /verify page and evidence uploads: every bomb is a
clear 4xx (413 or 422) with a bilingual message, never a 500, and a raw application/pdf body is read whole.

The files come from tests/support/bombs.py; bench/hostile_uploads.py measures the server's memory on them.
"""

from __future__ import annotations

import hashlib
import io

import aiohttp
import pytest

from server.security.uploads import PDF_LIMITS, check_pdf
from tests.integration.agreements.test_verify_page import export_with_server_keys
from tests.integration.cases.helpers import create, hdr
from tests.support import bombs

PDF = {"Content-Type": "application/pdf"}


@pytest.mark.parametrize("name", sorted(bombs.PDF_BOMBS))
async def test_pdf_bombs_are_refused_by_verify_with_a_4xx(client, name: str) -> None:  # type: ignore[no-untyped-def]
    data = bombs.PDF_BOMBS[name]()
    r = await client.post("/api/verify", data=data, headers=PDF)
    body = await r.json()
    assert r.status in (413, 422), (r.status, body)
    if name != "deep_nesting":  # a parse pypdf survives: judged as a PDF without a manifest
        assert body["error"]["code"] in ("pdf_too_complex", "pdf_unsupported"), body
        assert "PDF" in body["error"]["message"] and " / " in body["error"]["message"]  # 中文 / English
    # The page says it in Chinese, and the same file as a multipart form gets the same answer.
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename="x.pdf", content_type="application/pdf")
    r = await client.post("/verify", data=form)
    assert r.status in (413, 422)
    html = await r.text()
    assert "PDF" in html and "internal" not in html


async def test_flate_bomb_is_refused_before_inflating_it(client) -> None:  # type: ignore[no-untyped-def]
    data = bombs.flate_bomb()
    r = await client.post("/api/verify", data=data, headers=PDF)
    body = await r.json()
    assert r.status == 413 and body["error"]["code"] == "pdf_too_complex"
    assert "32 MB" in body["error"]["message"]
    r = await client.post("/verify?lang=en", data=data, headers=PDF)
    assert r.status == 413 and "inflate to more than 32 MiB" in await r.text()


async def test_raw_pdf_body_is_read_whole(client) -> None:  # type: ignore[no-untyped-def]
    # A genuine export, then a ~700 KB one: it used to be judged by its first bytes (content.read(n) returns
    # what has arrived, not n bytes).
    pdf = export_with_server_keys(client)
    r = await client.post("/api/verify", data=pdf, headers=PDF)
    assert r.status == 200, await r.text()
    assert (await r.json())["sha256"] == hashlib.sha256(pdf).hexdigest()
    big = b"%PDF-1.4\n" + b"%" * (700 * 1024) + b"\n"
    r = await client.post("/api/verify", data=big, headers=PDF)
    body = await r.json()
    assert r.status == 422 and body["error"]["result"]["sha256"] == hashlib.sha256(big).hexdigest()


async def test_truncated_and_garbled_exports_are_422(client) -> None:  # type: ignore[no-untyped-def]
    pdf = export_with_server_keys(client)
    for part in (bombs.truncated(pdf, 0.5), bombs.truncated(pdf, 0.05), pdf[:200]):
        r = await client.post("/api/verify", data=part, headers=PDF)
        assert r.status == 422, await r.text()


async def test_genuine_export_is_well_within_the_limits(client) -> None:  # type: ignore[no-untyped-def]
    stats = check_pdf(export_with_server_keys(client))
    assert stats.inflated * 10 < PDF_LIMITS.max_inflated and stats.objects * 100 < PDF_LIMITS.max_objects


def _form(data: bytes, filename: str, content_type: str) -> aiohttp.FormData:
    f = aiohttp.FormData()
    f.add_field("file", data, filename=filename, content_type=content_type)
    return f


@pytest.mark.parametrize("name, make, content_type, status", [
    ("flate.pdf", bombs.flate_bomb, "application/pdf", 413),
    ("objects.pdf", bombs.many_objects, "application/pdf", 413),
    ("huge.png", bombs.png_huge, "image/png", 413),
    ("huge.jpg", bombs.jpeg_huge, "image/jpeg", 413),
    ("cut.png", lambda: bombs.png_small()[:20], "image/png", 422),
    ("cut.jpg", lambda: bombs.jpeg_huge()[:12], "image/jpeg", 422),
])
async def test_evidence_bombs_are_refused(client, name: str, make, content_type: str, status: int  # type: ignore[no-untyped-def]
                                          ) -> None:
    case = await create(client)
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{case['code']}/documents", data=_form(make(), name, content_type), headers=h)
    body = await r.json()
    assert r.status == status, body
    # Nothing was stored or ledgered.
    docs = await (await client.get(f"/api/cases/{case['code']}/documents", headers=h)).json()
    assert docs.get("documents", []) == []


async def test_evidence_pdf_with_other_filters_is_stored(client) -> None:  # type: ignore[no-untyped-def]
    # Scanned evidence may use filters the verifier refuses; the server stores it unparsed, so it is fine.
    case = await create(client)
    h = await hdr(client, "mediator")
    scan = bombs.raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>",
                          bombs.stream(b"00>", filters=b"/ASCIIHexDecode")])
    r = await client.post(f"/api/cases/{case['code']}/documents", data=_form(scan, "scan.pdf", "application/pdf"),
                          headers=h)
    assert r.status == 201, await r.text()
    r = await client.post(f"/api/cases/{case['code']}/documents", data=_form(bombs.png_small(), "p.png", "image/png"),
                          headers=h)
    assert r.status == 201, await r.text()
