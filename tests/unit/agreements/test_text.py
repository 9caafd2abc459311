from decimal import Decimal

import pytest

from server.agreements.content import DISPUTE_TYPES, parse_content
from server.agreements.document import document_hash, freeze, short_hash
from server.agreements.drafts import CaseParty, CaseSummary, draft_from_case
from server.agreements.text import cn_count, render_judicial_application, render_text, rmb_upper
from tests.support.agreement_sample import sample_content


@pytest.mark.parametrize("amount, words", [
    ("5000", "伍仟元整"), ("10500", "壹万零伍佰元整"), ("100010", "壹拾万零壹拾元整"),
    ("100000005", "壹亿零伍元整"), ("5000.50", "伍仟元伍角整"), ("5000.05", "伍仟元零伍分"),
    ("1001", "壹仟零壹元整"), ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
])
def test_rmb_upper(amount: str, words: str) -> None:
    assert rmb_upper(Decimal(amount)) == words


def test_cn_count() -> None:
    assert [cn_count(i) for i in (1, 10, 11, 20, 35)] == ["一", "十", "十一", "二十", "三十五"]


@pytest.mark.parametrize("dtype", list(DISPUTE_TYPES))
def test_every_dispute_type_renders(dtype: str) -> None:
    d = sample_content().to_dict()
    d["dispute_type"] = dtype
    c = parse_content(d)
    text = render_text(c)
    assert text.startswith("龙亢镇\n人民调解协议书\n")
    assert DISPUTE_TYPES[dtype][0] in text
    assert "李四于2026年2月28日前以银行转账方式向张三支付拖欠工资人民币6,000.00元（大写：陆仟元整）。" in text
    assert "五、司法确认" in text and "三十日内" in text
    assert text.endswith("（以下无正文）\n")
    assert render_text(c) == text  # deterministic


def test_type_templates_differ() -> None:
    texts = set()
    for dtype in DISPUTE_TYPES:
        d = sample_content().to_dict()
        d["dispute_type"] = dtype
        texts.add(render_text(parse_content(d)))
    assert len(texts) == len(DISPUTE_TYPES)


def test_confidential_address_never_in_text() -> None:
    d = sample_content().to_dict()
    d["parties"][1]["confidential"] = True
    c = parse_content(d)
    text = render_text(c)
    assert c.parties[1].address not in text
    assert "（依申请保密）" in text
    assert c.parties[1].address not in render_judicial_application(c, "2026-01-15", "ab" * 32)


def test_without_judicial_confirmation_sections_renumber() -> None:
    d = sample_content().to_dict()
    d["judicial_confirmation"] = False
    text = render_text(parse_content(d))
    assert "司法确认" not in text and "五、协议效力" in text


def test_document_hash_binds_content_and_text() -> None:
    c = sample_content()
    text, h = freeze(c, {})
    assert h == document_hash(c.to_dict(), text, {})
    assert document_hash(c.to_dict(), text + " ", {}) != h
    other = c.to_dict()
    other["facts"] += "。"
    assert document_hash(other, text, {}) != h
    assert document_hash(c.to_dict(), text) != h  # format 1 hashes another document
    assert len(short_hash(h)) == 9


def test_draft_from_case_prefills() -> None:
    case = CaseSummary(id=7, code="340321-2026-000007", dispute_type="land", unit_code="340321001",
                       unit_name="龙亢镇", parties=[CaseParty("张三"), CaseParty("李四", address="示例村", confidential=True)],
                       facts="两家承包地相邻，对界桩位置有争议。", issues=["界桩位置", ""])
    c = draft_from_case(case, "龙亢调字〔2026〕第7号", "王调解", judicial_confirmation=True)
    assert c.dispute_type == "land_boundary" and c.case_ref == case.code
    assert [p.name for p in c.parties] == ["张三", "李四"] and c.parties[1].confidential
    assert c.issues == ("界桩位置",) and "界桩" in render_text(c)
    assert c.default_clause
    with pytest.raises(ValueError):
        draft_from_case(CaseSummary(1, "x", "alien", "u", "n"), "n1", "m")
