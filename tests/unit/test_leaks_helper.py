"""The leak scanner finds a marker however a file hides it, and stays quiet on clean files."""

from __future__ import annotations

import base64
import gzip
import io
import json
import urllib.parse
import zipfile

import openpyxl
from pypdf import PdfWriter
from pypdf.generic import NameObject, StreamObject

from tests.support.leaks import find_leaks

ADDR = "LEAKMARK-ADDR-7f3a"
PHONE = "LEAKMARK-PHONE-91c2"
CJK = "保密住址标记甲乙丙"
MARKERS = {ADDR, PHONE, CJK}


def _pdf(attachment: bytes | None = None, name: str = "concord-manifest.json") -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if attachment is not None:
        writer.add_attachment(name, attachment)
        # pypdf stores attachments uncompressed; a real export deflates them.
        for i, obj in enumerate(writer._objects):
            if isinstance(obj, StreamObject) and obj.get("/Type") == "/EmbeddedFile":
                writer._objects[i] = obj.flate_encode()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _xlsx(value: str) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["name", "address"])
    ws.append(["甲", value])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_plain_text_utf8_and_json_escapes() -> None:
    assert {h.marker for h in find_leaks(f"x {ADDR} y", MARKERS)} == {ADDR}
    escaped = json.dumps({"address": CJK}, ensure_ascii=True).encode()
    assert CJK.encode() not in escaped  # it really is escaped
    assert {h.marker for h in find_leaks(escaped, MARKERS)} == {CJK}
    jsonl = b"\n".join(json.dumps({"p": v}).encode() for v in ("ok", PHONE))
    assert {h.marker for h in find_leaks(jsonl, MARKERS)} == {PHONE}


def test_utf16_hex_percent_and_html_entities() -> None:
    hexed = b"<FEFF" + CJK.encode("utf-16-be").hex().upper().encode() + b">"
    assert {h.marker for h in find_leaks(hexed, MARKERS)} == {CJK}
    pct = b"/x?a=" + urllib.parse.quote(CJK).encode()
    assert {h.marker for h in find_leaks(pct, MARKERS)} == {CJK}
    ent = "".join(f"&#{ord(c)};" for c in CJK).encode()
    assert {h.marker for h in find_leaks(ent, MARKERS)} == {CJK}


def test_pdf_embedded_file_is_inflated_and_scanned() -> None:
    manifest = json.dumps({"content": {"address": ADDR}}).encode()
    pdf = _pdf(manifest)
    assert ADDR.encode() not in pdf  # embedded file streams are Flate-compressed
    hits = find_leaks(pdf, MARKERS)
    assert {h.marker for h in hits} == {ADDR}
    assert any("embedded:concord-manifest.json" in h.where for h in hits)
    assert any("/inflate" in h.where for h in hits)


def test_pdf_inside_zip_inside_pdf() -> None:
    inner = _pdf(json.dumps({"phone": PHONE}).encode(), "inner.json")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("copy.pdf", inner)
    outer = _pdf(buf.getvalue(), "bundle.zip")
    hits = find_leaks(outer, MARKERS)
    assert {h.marker for h in hits} == {PHONE}
    assert any("bundle.zip" in h.where and "copy.pdf" in h.where for h in hits)


def test_compressed_stream_without_embedded_file() -> None:
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = StreamObject()
    stream.set_data(f"BT ({ADDR}) Tj ET".encode())
    stream = stream.flate_encode()
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    pdf = out.getvalue()
    assert ADDR.encode() not in pdf
    assert {h.marker for h in find_leaks(pdf, MARKERS)} == {ADDR}


def test_xlsx_shared_strings_and_gzip() -> None:
    xlsx = _xlsx(CJK)
    assert CJK.encode() not in xlsx
    hits = find_leaks(xlsx, MARKERS)
    assert {h.marker for h in hits} == {CJK}
    assert {h.marker for h in find_leaks(gzip.compress(ADDR.encode()), MARKERS)} == {ADDR}


def test_base64_inside_json() -> None:
    blob = json.dumps({"file": base64.b64encode(_xlsx(PHONE)).decode()})
    assert {h.marker for h in find_leaks(blob, MARKERS)} == {PHONE}


def test_clean_files_give_no_hits() -> None:
    assert find_leaks(_pdf(b'{"address": "(hidden)"}'), MARKERS) == []
    assert find_leaks(_xlsx("公开地址"), MARKERS) == []
    assert find_leaks(b'{"a": "b"}\n{"c": 1}', MARKERS) == []
    assert find_leaks(b"", MARKERS) == []


def test_text_drawn_on_a_page_in_a_cid_font() -> None:
    """Text drawn with an embedded CJK subset (as the agreement PDFs are) is found through the page's
    text, also when a line break falls inside the marker."""
    from server.agreements.pdf import render_plain_text

    long_line = "住址：" + "这是一段很长的说明文字，用来把标记挤到行尾换行处。" * 3 + CJK + "，电话 " + PHONE
    pdf = render_plain_text("标题", f"标题\n{long_line}\n", "页脚")
    assert CJK.encode() not in pdf and PHONE.encode() not in pdf
    hits = find_leaks(pdf, MARKERS)
    assert {h.marker for h in hits} == {CJK, PHONE}
    assert all("/page1/text" in h.where for h in hits)
    assert find_leaks(render_plain_text("标题", "标题\n（依申请保密）\n", "页脚"), MARKERS) == []
