"""The public /verify page and POST /api/verify give the same verdict as ``concord verify-agreement`` (one
function decides for all three): a byte flipped inside the PDF signature's range is refused with the same
reason; times are Beijing time and identity-check methods are labelled in the viewer's language."""

from __future__ import annotations

import io

import aiohttp

from server.agreements.export import export_agreement_pdf
from server.services import services
from tests.support.agreement_sample import signed_sample
from tests.unit.agreements.test_verify import flip_outside_pages


def export_with_server_keys(client) -> bytes:  # type: ignore[no-untyped-def]
    ring = services(client.app).agreement_keys
    d, sealer = signed_sample(ring)
    return export_agreement_pdf(d, ring.public_keys(), sealer)


async def upload(client, pdf: bytes, lang: str = "zh-CN") -> tuple[int, str]:  # type: ignore[no-untyped-def]
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(pdf), filename="a.pdf", content_type="application/pdf")
    r = await client.post(f"/verify?lang={lang}", data=form)
    return r.status, await r.text()


async def test_page_passes_the_intact_export_in_beijing_time_with_labels(client) -> None:  # type: ignore[no-untyped-def]
    pdf = export_with_server_keys(client)
    status, html = await upload(client, pdf)
    assert status == 200 and "✔ 核验通过" in html and 'data-ok="true"' in html
    # The sample's first party signed at 02:01 UTC: 10:01 in Beijing. Method codes never show.
    assert "2026-01-15 10:01:00" in html and "02:01:00Z" not in html
    assert "身份证号后四位" in html and "登录密码" in html and "人民调解员" in html
    for code in (">id_last4<", ">password<", ">code<"):
        assert code not in html
    status, html = await upload(client, pdf, "en")
    assert status == 200 and "Verified" in html and "last 4 of the ID number" in html and "login password" in html


async def test_flipped_byte_inside_the_signed_range_is_refused_by_page_and_api(client) -> None:  # type: ignore[no-untyped-def]
    bad = flip_outside_pages(export_with_server_keys(client))
    status, html = await upload(client, bad)
    assert status == 422 and "核验通过" not in html and 'data-check="file_changed"' in html
    assert "文件在签章后被改动" in html and "PAdES)" not in html  # zh page: the plain reason, no English
    status, html = await upload(client, bad, "en")
    assert status == 422 and "file changed after signing" in html and "PAdES" in html
    r = await client.post("/api/verify", data=bad, headers={"Content-Type": "application/pdf"})
    body = await r.json()
    assert r.status == 422 and body["error"]["code"] == "file_changed"
    assert body["error"]["result"]["pdf_signature"] == "broken"


async def test_page_upload_errors_are_in_the_viewer_language(client) -> None:  # type: ignore[no-untyped-def]
    status, html = await upload(client, b"")
    assert status == 400 and "上传的文件是空的" in html
    status, html = await upload(client, b"", "en")
    assert status == 400 and "The uploaded file is empty" in html
    status, html = await upload(client, b"%PDF-1.4 nothing")
    assert status == 422 and "缺少签署清单" in html
