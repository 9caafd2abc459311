"""Drawing the agreement PDF (fpdf2): the text in an embedded CJK font subset, the handwritten signatures,
the unit's seal, and a completion certificate page with a QR code to the verification page.

Only drawing happens here; export.py adds the digests, the export seal and the embedded manifest.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import qrcode
from fpdf import FPDF
from fpdf.enums import TextMode, WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from server.agreements.commitments import mask_ip, ua_family
from server.agreements.content import AgreementContent
from server.agreements.document import short_hash
from server.agreements.fonts import FontMissing, find_font, font_for
from server.agreements.linebreak import break_lines
from server.agreements.signing import MEDIATOR, PARTY, SEAL, SignedRecord
from server.agreements.text import cn_date, side_label
from server.clock import BEIJING
from server.publicurl import PLACEHOLDER, PLACEHOLDER_EN

SEAL_RED = (200, 16, 16)
HEADING_RE = re.compile(r"^([一二三四五六七八九十]+、|当事人$|请求事项$|事实和理由$|申请人承诺$|申请人$)")
__all__ = ["FontMissing", "PdfInput", "find_font", "render_agreement", "render_plain_text"]


def local_time(iso: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(BEIJING).strftime(fmt)
    except ValueError:
        return iso


def device_summary(ua: str) -> str:
    """A short human reading of a user agent (the full string stays in the manifest)."""
    if not ua:
        return "未知设备"
    os_name = next((label for pat, label in [
        (r"Android", "Android"), (r"iPhone|iPad|iOS", "iOS"), (r"HarmonyOS|OpenHarmony", "HarmonyOS"),
        (r"Windows", "Windows"), (r"Mac OS X|Macintosh", "macOS"), (r"Linux", "Linux")] if re.search(pat, ua)),
        "")
    browser = ""
    for pat, label in [(r"MicroMessenger/([\d.]+)", "微信"), (r"Edg/(\d+)", "Edge"), (r"Firefox/(\d+)", "Firefox"),
                       (r"Chrome/(\d+)", "Chrome"), (r"Version/(\d+).*Safari", "Safari")]:
        m = re.search(pat, ua)
        if m:
            browser = f"{label} {m.group(1).split('.')[0]}"
            break
    mobile = "手机" if re.search(r"Mobile|Android|iPhone", ua) else ""
    return " ".join(x for x in (mobile, os_name, browser) if x) or ua[:40]


@dataclass
class PdfInput:
    content: AgreementContent
    text: str
    version: int
    document_hash: str
    state: str
    records: list[SignedRecord] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)  # slot -> PNG
    verify_url: str = ""
    exported_at: str = ""
    effective_at: str | None = None
    amends: str | None = None  # number of the agreement this one amends
    draft: bool = False
    # Format 2: the commitment to each blanked confidential field; ``content`` is then the redacted
    # content. None: a format-1 version, whose content is hashed (and so exported) in full.
    commitments: dict[str, str] | None = None
    audience: str = "party"  # "staff": the unit's archive copy, with the signature evidence in full

    @property
    def staff(self) -> bool:
        return self.audience == "staff"


class AgreementPdf(FPDF):
    def __init__(self, footer_text: str, drawn: str = "") -> None:
        """``drawn``: every text the document will draw, to pick a font that has all its glyphs."""
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        path, idx = font_for(drawn + footer_text) if drawn else find_font()
        # One face only: embedding a second (bold) CJK subset doubles the render time, so headings are
        # drawn bold by stroking the regular outlines as well as filling them.
        self.add_font("cjk", "", path, collection_font_number=idx)
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=20)
        self.set_creator("Concord")
        self.set_lang("zh-CN")

    def font(self, size: float) -> None:
        self.set_font("cjk", "", size)

    def wrap(self, text: str, w: float = 0) -> str:
        """``text`` broken into lines for a cell ``w`` wide (0: to the right margin) by the rules of
        linebreak.py (避头尾, whole words, hash groups), in the current font."""
        width = (w or self.w - self.r_margin - self.x) - 2 * self.c_margin - 0.01
        return "\n".join(break_lines(text, width, self.get_string_width))

    def text_block(self, w: float, h: float, text: str, **kwargs: Any) -> None:
        """A paragraph: multi_cell on lines already broken by ``wrap`` (fpdf2 alone breaks anywhere)."""
        self.multi_cell(w, h, self.wrap(text, w), wrapmode=WrapMode.CHAR, **kwargs)

    def bold(self, size: float):  # type: ignore[no-untyped-def]
        """Bold text for the block inside ``with``: the outlines are stroked as well as filled."""
        self.set_font("cjk", "", size)
        return self.local_context(text_mode=TextMode.FILL_STROKE, line_width=size * 0.012)

    def footer(self) -> None:
        self.set_y(-13)
        self.font(8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_text} · 第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")
        self.set_text_color(0, 0, 0)


def _paragraphs(pdf: AgreementPdf, lines: list[str], size: float = 11) -> None:
    for line in lines:
        if not line:
            pdf.ln(2.5)
            continue
        if HEADING_RE.match(line):
            pdf.ln(1.5)
            with pdf.bold(size + 1):
                pdf.text_block(0, 7.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.font(size)
        else:
            pdf.text_block(0, 6.6, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _title(pdf: AgreementPdf, lines: list[str]) -> list[str]:
    """The first two lines (unit, document title) are the heading; the rest is body."""
    pdf.font(13)
    pdf.cell(0, 8, lines[0], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    with pdf.bold(20):
        pdf.cell(0, 13, lines[1], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.font(11)
    return lines[2:]


def draw_seal(pdf: AgreementPdf, cx: float, cy: float, name: str, r: float = 19) -> None:
    """A round red seal: the unit's name along the rim, a star in the middle, 人民调解专用章 beneath."""
    pdf.set_draw_color(*SEAL_RED)
    pdf.set_text_color(*SEAL_RED)
    pdf.set_fill_color(*SEAL_RED)
    pdf.set_line_width(1.0)
    pdf.circle(cx, cy, r)
    pdf.star(cx, cy, r * 0.11, r * 0.28, 5, style="F")
    label = f"{name}人民调解委员会"[:18]
    size = 10 if len(label) <= 10 else 8.5
    pdf.font(size)
    span = min(260.0, 24.0 * len(label))
    for i, ch in enumerate(label):
        ang = -span / 2 + span * (i + 0.5) / len(label)  # degrees from the top, clockwise
        rad = math.radians(ang)
        px = cx + (r - 4.2) * math.sin(rad)
        py = cy - (r - 4.2) * math.cos(rad)
        w = pdf.get_string_width(ch)
        with pdf.rotation(-ang, px, py), pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.12):
            pdf.text(px - w / 2, py + size * 0.35 / 2.83, ch)
    pdf.font(6.5)
    sub = "人民调解专用章"
    pdf.text(cx - pdf.get_string_width(sub) / 2, cy + r * 0.55, sub)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_line_width(0.2)
    pdf.font(10.5)


def _signature_block(pdf: AgreementPdf, d: PdfInput) -> None:
    by_slot = {r.slot: r for r in d.records}
    needed = 14 + 26 * (len(d.content.parties) + 1) + 44
    if pdf.get_y() + min(needed, 120) > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(4)
    with pdf.bold(12):
        pdf.cell(0, 8, "签署", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(10.5)
    rows = [(PARTY, p.key, f"{side_label(i)}（签名）", p.name) for i, p in enumerate(d.content.parties)]
    rows.append((MEDIATOR, MEDIATOR, "人民调解员（签名）", d.content.mediator_name))
    for kind, key, label, name in rows:
        if pdf.get_y() + 24 > pdf.h - pdf.b_margin:
            pdf.add_page()
        y = pdf.get_y()
        rec = by_slot.get(f"{kind}:{key}")
        pdf.set_xy(pdf.l_margin, y + 6)
        pdf.cell(42, 7, f"{label}：")
        img = d.images.get(f"{kind}:{key}")
        if rec is not None and img:
            pdf.image(io.BytesIO(img), x=pdf.l_margin + 42, y=y, h=20, keep_aspect_ratio=True, w=55)
            pdf.set_xy(pdf.l_margin + 100, y + 3)
            pdf.text_block(70, 5.5, f"{rec.payload['typed_name']}\n{local_time(rec.payload['at'])}",
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            pdf.set_draw_color(150, 150, 150)
            pdf.line(pdf.l_margin + 42, y + 13, pdf.l_margin + 97, y + 13)
            pdf.set_draw_color(0, 0, 0)
            pdf.set_xy(pdf.l_margin + 100, y + 6)
            pdf.cell(70, 7, f"{name}　（待签署）")
        pdf.set_y(y + 24)
    if pdf.get_y() + 46 > pdf.h - pdf.b_margin:
        pdf.add_page()
    y = pdf.get_y() + 2
    pdf.set_xy(pdf.l_margin, y + 14)
    pdf.cell(0, 7, f"{d.content.unit_name}人民调解委员会（印章）")
    seal = by_slot.get(f"{SEAL}:{SEAL}")
    if seal is not None:
        draw_seal(pdf, pdf.w - pdf.r_margin - 30, y + 18, d.content.unit_name)
        pdf.set_xy(pdf.l_margin, y + 24)
        pdf.cell(0, 7, f"生效日期：{cn_date(local_time(seal.payload['at'], '%Y-%m-%d'))}")  # a Beijing date
    pdf.set_y(y + 42)


def _certificate(pdf: AgreementPdf, d: PdfInput) -> None:
    pdf.add_page()
    with pdf.bold(16):
        pdf.cell(0, 10, "电子签署完成证书", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(9)
    pdf.cell(0, 5, "Certificate of Completion", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    qr_size = 34
    top = pdf.get_y()
    if d.verify_url:
        img = qrcode.make(d.verify_url, box_size=4, border=1).get_image()
        pdf.image(img, x=pdf.w - pdf.r_margin - qr_size, y=top, w=qr_size, h=qr_size)
    pdf.font(9.5)
    status = {"effective": "已生效", "signing": "签署中", "draft": "草稿"}.get(d.state, d.state)
    meta = [
        ("协议编号", d.content.number),
        ("案件编号", d.content.case_ref or "—"),
        ("调解单位", f"{d.content.unit_name}（{d.content.unit_code}）"),
        ("版本", f"第 {d.version} 版" + (f"（变更 {d.amends}）" if d.amends else "")),
        ("状态", status + (f"，生效于 {local_time(d.effective_at)}" if d.effective_at else "")),
        ("文档摘要", f"SHA-256 {d.document_hash[:32]}"),
        ("", d.document_hash[32:]),
        ("核对码", short_hash(d.document_hash)),
        ("导出时间", local_time(d.exported_at) if d.exported_at else "—"),
    ]
    for k, v in meta:
        pdf.set_x(pdf.l_margin)
        pdf.cell(22, 5.6, k)
        pdf.cell(pdf.epw - qr_size - 26, 5.6, v, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    meta_end = pdf.get_y()
    if d.verify_url:
        pdf.font(7)
        pdf.set_xy(pdf.w - pdf.r_margin - qr_size - 8, top + qr_size + 1)
        pdf.text_block(qr_size + 8, 3.5, "扫码核验\n" + d.verify_url, align="C")
    else:  # no CONCORD_PUBLIC_URL: say so rather than print an address taken from a request
        x = pdf.w - pdf.r_margin - qr_size
        pdf.set_draw_color(150, 150, 150)
        pdf.set_dash_pattern(dash=1.2, gap=0.8)
        pdf.rect(x, top, qr_size, qr_size)
        pdf.set_dash_pattern()
        pdf.set_draw_color(0, 0, 0)
        pdf.font(8)
        pdf.set_xy(x, top + qr_size / 2 - 5)
        pdf.cell(qr_size, 5, PLACEHOLDER, align="C")
        pdf.font(5.5)
        pdf.set_xy(x, top + qr_size / 2)
        pdf.cell(qr_size, 4, PLACEHOLDER_EN, align="C")
    pdf.set_y(max(meta_end, pdf.get_y()) + 4)
    with pdf.bold(11):
        pdf.cell(0, 7, "签署记录（北京时间）", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(8)
    checks = {"id_last4": "身份证后四位核验", "code": "一次性验证码核验", "password": "账户密码核验"}
    pdf.set_fill_color(235, 235, 235)
    pdf.set_draw_color(120, 120, 120)
    cols = (6, 29, 29, 33, 23, 26, 24)

    def row(cells: list[str]) -> list[str]:
        # Each cell broken by the rules of linebreak.py: whole words ("Chrome", "aiohttp"), hashes in
        # groups of 8, 避头尾; the table's own wrapping then has nothing left to break.
        return [pdf.wrap(c, pdf.epw * w / sum(cols)) for c, w in zip(cells, cols, strict=True)]

    with pdf.table(col_widths=cols, line_height=4.2, text_align="LEFT",
                   wrapmode=WrapMode.CHAR, first_row_as_headings=True,
                   headings_style=FontFace(emphasis=None, fill_color=(235, 235, 235))) as table:
        table.row(row(["#", "签署人 / 角色", "身份核验", "时间", "IP 地址", "设备", "签名图像摘要"]))
        for r in d.records:
            p = r.payload
            signer = p["signer"]
            who = f"{signer['name']}\n{signer['role']}" + (f"\n{signer['id_masked']}" if signer.get("id_masked") else "")
            check = f"{checks.get(p['check']['method'], p['check']['method'])}：" \
                    f"{'通过' if p['check']['result'] == 'passed' else p['check']['result']}\n" \
                    f"同意电子签署：{'是' if p['consent'] else '否'}"
            when = local_time(p["at"]) + (f"\n阅读全文 {local_time(p['read_at'], '%H:%M:%S')}" if p.get("read_at") else "")
            ip, device = evidence_shown(d, r)
            table.row(row([str(p["seq"]), who, check, when, ip, device,
                           (p.get("image_sha256") or "印章（无手写图像）")[:16]]))
    pdf.ln(3)
    pdf.font(8)
    pdf.text_block(0, 4.2, (
        "每条签署记录绑定：文档摘要、签署人身份与角色、身份核验方式及结果、同意电子签署、阅读全文时间、签署时间、IP 地址、"
        "设备信息与手写签名图像摘要，并由调解单位的 Ed25519 印章密钥签名；记录按顺序相互链接（当事人、调解员、印章）。"
        "本文件内嵌机器可读清单 concord-manifest.json（含签署记录、签名图像与公钥），"
        "可使用 concord verify-agreement 离线核验，或在核验页面上传本文件核验。任何对文本或签名的改动都会导致核验失败。"
        "依申请保密的住址、电话不随文件流转，清单中仅含其加盐摘要，原值由调解单位存档。"),
        new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.text_block(0, 4.2, COPY_NOTE["staff" if d.staff else "party"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if d.records:
        pdf.ln(1)
        pdf.text_block(0, 4.2, "签名密钥：" + "；".join(sorted({f"{r.payload['unit']} {r.payload['key_id']}"
                                                                for r in d.records})),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)


COPY_NOTE = {
    "staff": "本件为调解单位存档副本：签署记录中的 IP 地址与设备信息为完整值，仅供调解单位存档与核查，不得交付当事人。",
    "party": "本件为当事人副本：IP 地址仅显示网段，设备仅显示系统与浏览器类型；完整签署证据由调解单位存档。",
}


def evidence_shown(d: PdfInput, r: SignedRecord) -> tuple[str, str]:
    """The IP address and device a copy shows: in full on the staff copy, masked on a party's copy."""
    p = r.payload
    if d.staff and r.evidence:  # format 2: the values kept beside their commitments
        return r.evidence["ip"]["value"], device_summary(r.evidence["user_agent"]["value"])
    if p.get("format") == "concord-signature/1":  # signed in full
        if d.staff:
            return p["ip"], device_summary(p["user_agent"])
        return mask_ip(p["ip"]), ua_family(p["user_agent"]) or "未知设备"
    return p["ip"], p["user_agent"] or "未知设备"  # format 2 signs them masked


def render_agreement(d: PdfInput) -> bytes:
    """The agreement: title, body text, signature block, completion certificate."""
    import json

    drawn = d.text + json.dumps(d.content.to_dict(), ensure_ascii=False) + json.dumps(
        [r.payload for r in d.records], ensure_ascii=False) + d.verify_url + PLACEHOLDER
    pdf = AgreementPdf(f"{d.content.number} · 核对码 {short_hash(d.document_hash)}", drawn)
    pdf.set_title(f"人民调解协议书 {d.content.number}")
    pdf.set_subject(f"document sha256 {d.document_hash}")
    pdf.set_author(d.content.unit_name)
    if d.exported_at:
        pdf.set_creation_date(datetime.fromisoformat(d.exported_at.replace("Z", "+00:00")))
    pdf.add_page()
    if d.draft:
        pdf.font(9)
        pdf.set_text_color(190, 0, 0)
        pdf.cell(0, 5, "草稿 · 未签署 · 仅供审阅", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    body = _title(pdf, d.text.rstrip("\n").split("\n"))
    _paragraphs(pdf, body)
    _signature_block(pdf, d)
    _certificate(pdf, d)
    return bytes(pdf.output())


def render_plain_text(title: str, text: str, footer: str) -> bytes:
    """A plain document in the same style (the judicial confirmation application)."""
    pdf = AgreementPdf(footer, title + text)
    pdf.set_title(title)
    pdf.add_page()
    lines = text.rstrip("\n").split("\n")
    with pdf.bold(20):
        pdf.cell(0, 14, lines[0], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(11)
    _paragraphs(pdf, lines[1:])
    return bytes(pdf.output())
