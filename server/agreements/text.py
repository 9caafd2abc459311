"""Rendering an agreement's text from the Jinja2 template of its dispute type.

The rendered text is part of what a frozen version hashes, so rendering must be deterministic: the same
content always gives the same text (no clock, no locale). Plain text, one paragraph per line.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import jinja2

from server.agreements.content import AgreementContent, Obligation, Party

TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=False,  # plain text, never HTML: the web layer escapes when it shows it
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)

_DIGITS = "零一二三四五六七八九"
SIDES = "甲乙丙丁戊己庚辛壬癸"


def cn_count(n: int) -> str:
    """1..99 in Chinese numerals (一, 十二, 二十)."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _DIGITS[tens]
    return f"{head}十{_DIGITS[ones] if ones else ''}"


_UPPER = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ["", "拾", "佰", "仟"]
_BIG = ["", "万", "亿"]


def _upper_int(n: int) -> str:
    groups = []
    while n:
        n, g = divmod(n, 10000)
        groups.append(g)
    out = ""
    need_zero = False
    for gi in reversed(range(len(groups))):
        g = groups[gi]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out += "零"
        need_zero = False
        started = gap = False
        for di, ch in enumerate(f"{g:04d}"):
            d = int(ch)
            if d == 0:
                gap = started
                continue
            if gap:
                out += "零"
                gap = False
            out += _UPPER[d] + _UNITS[3 - di]
            started = True
        out += _BIG[gi]
    return out


def rmb_upper(amount: Decimal) -> str:
    """An amount in 大写 as written on financial documents, e.g. 伍仟元整, 壹万零伍佰元伍角整."""
    cents = int((amount * 100).quantize(Decimal(1)))
    yuan, frac = divmod(cents, 100)
    jiao, fen = divmod(frac, 10)
    out = _upper_int(yuan) + "元" if yuan else ""
    if jiao:
        out += _UPPER[jiao] + "角"
    elif fen and yuan:
        out += "零"
    if fen:
        out += _UPPER[fen] + "分"
    else:
        out += "整"
    return out if yuan or frac else "零元整"


def rmb(amount: str) -> str:
    d = Decimal(amount)
    return f"人民币{d:,.2f}元（大写：{rmb_upper(d)}）"


def cn_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


class _Counter:
    """Numbering that templates advance as they go (一、二、… for sections, 1. 2. … for terms)."""

    def __init__(self, chinese: bool) -> None:
        self.n = 0
        self.chinese = chinese

    def next(self) -> str:
        self.n += 1
        return cn_count(self.n) if self.chinese else str(self.n)

    def item(self, text: str) -> str:
        return f"{self.next()}. {text}"


def obligation_sentence(o: Obligation, c: AgreementContent) -> str:
    """The term in Chinese, phrased by the obligation's kind:

    - payment: 李四于2026年2月28日前以银行转账方式向张三支付拖欠工资人民币5,000.00元（大写：伍仟元整）。
    - action: 李四于2026年3月1日前以自行施工方式拆除越界部分院墙。
    - abstention: 自本协议生效之日起，李四不得在张三承包地内取土。
    - restoration: 李四于2026年3月1日前以自行修复方式将损毁的排水沟恢复原状。

    Only a payment is made *to* someone (向张三); for the other kinds the obligee is named after the term
    when more than two parties could be meant (（权利人：张三）).
    """
    obligor, obligee = c.party(o.obligor), c.party(o.obligee)
    kind = o.effective_kind
    action = o.action.rstrip("。；;，, ")
    when = f"于{cn_date(o.deadline)}前" if o.deadline else ""
    where = f"在{o.place}" if o.place else ""
    how = f"以{o.method}方式" if o.method else ""
    to_whom = f"（权利人：{obligee.name}）" if len(c.parties) > 2 else ""
    if kind == "payment":
        s = f"{obligor.name}{when}{where}{how}向{obligee.name}{action}"
        if o.amount:
            s += rmb(o.amount)
    elif kind == "abstention":
        period = f"自本协议生效之日起至{cn_date(o.deadline)}止" if o.deadline else "自本协议生效之日起"
        deed = action if action.startswith("不") else f"不得{action}"
        s = f"{period}，{obligor.name}{where}{deed}{to_whom}"
    elif kind == "restoration":
        deed = action if "恢复" in action or "复原" in action else f"将{action}恢复原状"
        s = f"{obligor.name}{when}{where}{how}{deed}{to_whom}"
        if o.amount:
            s += f"，所需费用{rmb(o.amount)}由{obligor.name}承担"
    else:  # action
        s = f"{obligor.name}{when}{where}{how}{action}{to_whom}"
        if o.amount:
            s += f"，涉及金额{rmb(o.amount)}"
    return s + "。"


def _en_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%b')} {d.year}"


def obligation_sentence_en(o: Obligation, c: AgreementContent) -> str:
    """The term in English (the staff pages and the API; the signed text is Chinese only)."""
    obligor, obligee = c.party(o.obligor).name, c.party(o.obligee).name
    kind = o.effective_kind
    action = o.action.rstrip("。；;，, ")
    tail = "".join(x for x in (f", via {o.method}" if o.method and kind != "abstention" else "",
                               f", at {o.place}" if o.place else "") if x)
    if kind == "payment":
        money = f"RMB {Decimal(o.amount):,.2f} " if o.amount else ""
        s = f"{obligor} pays {obligee} {money}({action}){tail}"
    elif kind == "abstention":
        s = f"{obligor} refrains from the following, in favour of {obligee}: {action}{tail}"
        s += f", until {_en_date(o.deadline)}" if o.deadline else ", from the day the agreement takes effect"
        return s + "."
    elif kind == "restoration":
        s = f"{obligor} restores to its former state, for {obligee}: {action}{tail}"
        if o.amount:
            s += f", bearing the cost of RMB {Decimal(o.amount):,.2f}"
    else:
        s = f"{obligor} does the following for {obligee}: {action}{tail}"
        if o.amount:
            s += f" (amount involved: RMB {Decimal(o.amount):,.2f})"
    if o.deadline:
        s += f", no later than {_en_date(o.deadline)}"
    return s + "."


def side_label(i: int) -> str:
    return f"{SIDES[i]}方" if i < len(SIDES) else f"第{i + 1}方"


def _address(p: Party) -> str:
    # The signed text is served to every side: a confidential address is never written into it.
    if p.confidential:
        return "（依申请保密）"
    return p.address or "未提供"


def render_text(content: AgreementContent) -> str:
    """The agreement's full text from its dispute type's template."""
    template = _env.get_template(f"{content.dispute_type}.txt.j2")
    text = template.render(
        c=content, s=_Counter(True), terms=_Counter(False), side=side_label, address=_address,
        obligation=lambda o: obligation_sentence(o, content), cn_count=cn_count,
    )
    return normalise(text)


def agreement_terms(text: str) -> list[str]:
    """The numbered terms of an agreement's rendered text, as signed: its obligations, the dispute type's
    standard terms and the other terms ("1. …", "2. …" under 调解协议内容)."""
    lines = text.split("\n")
    out: list[str] = []
    inside = False
    for line in lines:
        if re.match(r"^[一二三四五六七八九十]+、调解协议内容$", line):
            inside = True
            continue
        if inside:
            if re.match(r"^\d+\. ", line):
                out.append(line)
            elif out:
                break
    return out


def render_judicial_application(content: AgreementContent, effective_on: str, document_hash: str,
                                court: str = "", agreement_text: str | None = None) -> str:
    """The joint application for judicial confirmation (司法确认申请书), prefilled from the agreement.

    ``effective_on`` is the Beijing date (YYYY-MM-DD) the agreement took effect. The terms are those of the
    signed text (``agreement_text``, else rendered afresh), every one of them, numbered as signed."""
    template = _env.get_template("judicial_application.txt.j2")
    terms = agreement_terms(agreement_text if agreement_text is not None else render_text(content))
    text = template.render(c=content, side=side_label, address=_address, effective_on=cn_date(effective_on),
                           document_hash=document_hash, court=court or "＿＿＿＿＿＿人民法院", agreement_terms=terms)
    return normalise(text)


def normalise(text: str) -> str:
    """One form for hashing: LF line ends, no trailing spaces, no runs of blank lines, one final LF."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
