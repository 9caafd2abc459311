"""The PDF draws Chinese with real glyphs (not tofu), carries the signatures and the certificate."""

from __future__ import annotations

import io

import pymupdf
import pytest
from fontTools.cffLib import CFFFontSet

from server.agreements.export import judicial_application_pdf
from server.agreements.pdf import FontMissing, device_summary, find_font


def test_page_one_draws_every_chinese_character(exported: bytes) -> None:
    doc = pymupdf.open(stream=exported, filetype="pdf")
    page = doc[0]
    text = page.get_text()
    assert "人民调解协议书" in text and "龙亢调字〔2026〕第12号" in text
    # Every character is drawn with a real glyph of the embedded font: none maps to .notdef (glyph 0).
    chars = [c for span in page.get_texttrace() for c in span["chars"]]
    cjk = [c for c in chars if "\u4e00" <= chr(c[0]) <= "\u9fff"]
    assert len(cjk) > 100
    assert all(c[1] != 0 for c in cjk), "some Chinese characters have no glyph"
    # The embedded subset font covers every character on the page.
    fonts = page.get_fonts(full=True)
    assert len(fonts) == 1 and "NotoSansCJK" in fonts[0][3]
    name, ext, _, buf = doc.extract_font(fonts[0][0])
    assert ext in ("cff", "cid")  # fpdf2 embeds the CFF outlines of Noto Sans CJK SC as a subset
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(buf), None)
    glyphs = cff[cff.fontNames[0]].CharStrings
    distinct = {c[1] for c in cjk}
    assert len(glyphs) > len(distinct)  # the subset carries an outline for every distinct character
    outlined = [g for g in glyphs.keys() if g != ".notdef"]
    assert all(glyphs[g].bytecode or glyphs[g].program for g in outlined[:50])


def test_title_is_inked_like_a_reference_render(exported: bytes) -> None:
    """Pixel check: the title area holds dark strokes comparable to MuPDF's own CJK font drawing it."""
    doc = pymupdf.open(stream=exported, filetype="pdf")
    page = doc[0]
    rect = page.search_for("人民调解协议书")[0]
    pix = page.get_pixmap(dpi=100, clip=rect, colorspace=pymupdf.csGRAY)
    ink = sum(1 for b in pix.samples if b < 128)
    ref = pymupdf.open()
    rp = ref.new_page(width=page.rect.width, height=page.rect.height)
    rp.insert_text((rect.x0, rect.y1 - 3), "人民调解协议书", fontsize=20, fontname="china-s")
    rpix = rp.get_pixmap(dpi=100, clip=rect, colorspace=pymupdf.csGRAY)
    ref_ink = sum(1 for b in rpix.samples if b < 128)
    assert ref_ink > 200
    assert 0.4 * ref_ink < ink < 2.5 * ref_ink, (ink, ref_ink)


def test_signatures_seal_and_certificate(exported: bytes) -> None:
    doc = pymupdf.open(stream=exported, filetype="pdf")
    last = doc[-1].get_text()
    assert "电子签署完成证书" in last and "192.0.2.11" in last and "身份证后四位核验" in last
    assert "张三" in last and "李四" in last and "王调解" in last
    images = sum(len(p.get_images()) for p in doc)
    assert images >= 3 + 1  # two parties and the mediator, plus the QR code
    assert any("人民调解专用章" in p.get_text() for p in doc)
    assert doc.embfile_names() == ["concord-manifest.json"]


def test_judicial_application(signed) -> None:  # type: ignore[no-untyped-def]
    d, _ = signed
    pdf = judicial_application_pdf(d, court="怀远县人民法院")
    text = "".join(p.get_text() for p in pymupdf.open(stream=pdf, filetype="pdf"))
    assert "司法确认申请书" in text and "怀远县人民法院" in text and d.content.number in text
    assert d.document_hash in text.replace("\n", "")


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCORD_CJK_FONT", "/nonexistent/font.ttc")
    with pytest.raises(FontMissing, match="no such font"):
        find_font()
    monkeypatch.delenv("CONCORD_CJK_FONT")
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        find_font([("/nonexistent/a.ttc", 0)])


def test_device_summary() -> None:
    from tests.support.agreement_sample import UA_PHONE

    assert device_summary(UA_PHONE) == "手机 Android Chrome 126"
    assert device_summary("") == "未知设备"


def test_fixed_labels_are_in_the_common_subset() -> None:
    from pathlib import Path

    from server.agreements import fonts, pdf

    src = Path(pdf.__file__).read_text("utf-8") + Path(fonts.__file__).read_text("utf-8")
    common = fonts.common_codepoints()
    missing = {ch for ch in src if ord(ch) > 0x7F and ord(ch) not in common and not ch.isspace()}
    assert not missing - {"✔", "✘"}, missing


def test_rare_character_falls_back_to_the_full_font(keyring) -> None:  # type: ignore[no-untyped-def]
    import pymupdf

    from server.agreements.export import export_agreement_pdf
    from server.agreements.fonts import common_font, font_for
    from tests.support.agreement_sample import sample_content, signed_sample

    assert common_font() is not None
    assert font_for("张三")[0] == common_font()
    assert font_for("王堃")[0].endswith(".ttc")  # 堃 is outside GB 2312
    d = sample_content().to_dict()
    d["parties"][0]["name"] = "王堃"
    from server.agreements.content import parse_content

    data, sealer = signed_sample(keyring, parse_content(d))
    pdf = export_agreement_pdf(data, keyring.public_keys(), sealer)
    page = pymupdf.open(stream=pdf, filetype="pdf")[0]
    glyphs = [c for span in page.get_texttrace() for c in span["chars"] if chr(c[0]) == "堃"]
    assert glyphs and all(g[1] != 0 for g in glyphs)


def test_judicial_application_carries_every_term_and_beijing_dates(keyring) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: the application left out the dispute type's standard term 3, and dated itself in UTC. An
    agreement sealed at 17:04 UTC on 5 Dec takes effect on 6 Dec in Beijing, in both documents."""
    from datetime import UTC, datetime

    from server.agreements.text import agreement_terms
    from tests.support.agreement_sample import sample_content, signed_sample

    d, _ = signed_sample(keyring, sample_content(obligations=2), start=datetime(2026, 12, 5, 17, 0, tzinfo=UTC))
    terms = agreement_terms(d.text)
    # Two obligations, the labour-wages standard term, the other term: four, numbered as signed.
    assert [t.split(". ")[0] for t in terms] == ["1", "2", "3", "4"]
    assert "上述款项足额支付后" in terms[2]
    app = "".join(p.get_text() for p in pymupdf.open(stream=judicial_application_pdf(d), filetype="pdf"))
    flat = app.replace("\n", "")
    for t in terms:
        assert t in flat, t
    assert "于2026年12月6日经龙亢镇人民调解委员会" in flat and "2026年12月5日" not in flat
    from server.agreements.export import export_agreement_pdf

    pdf = pymupdf.open(stream=export_agreement_pdf(d, keyring.public_keys(), _), filetype="pdf")
    assert any("生效日期：2026年12月6日" in p.get_text() for p in pdf)
