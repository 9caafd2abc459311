"""Obligations are phrased by kind: payment, action, abstention, restoration (server/agreements/text.py)."""

from __future__ import annotations

from typing import Any

import pytest

from server.agreements.content import ContentError, canonical_json, parse_content
from server.agreements.text import obligation_sentence, obligation_sentence_en, render_text
from tests.support.agreement_sample import sample_content


def content(*obligations: dict[str, Any], parties: int = 2) -> Any:
    c = sample_content(parties=parties).to_dict()
    c["obligations"] = [{"key": f"t{i + 1}", "obligor": "p2", "obligee": "p1", **o} for i, o in enumerate(obligations)]
    return parse_content(c)


def test_each_kind_reads_naturally_in_chinese_and_english() -> None:
    c = content(
        {"kind": "payment", "action": "支付拖欠工资", "amount": "5000", "method": "银行转账", "deadline": "2026-02-28"},
        {"kind": "action", "action": "拆除越界部分院墙", "method": "自行施工", "deadline": "2026-03-01"},
        {"kind": "abstention", "action": "在张三承包地内取土"},
        {"kind": "abstention", "action": "不再在院墙外堆放杂物", "deadline": "2026-12-31"},
        {"kind": "restoration", "action": "损毁的排水沟", "method": "自行修复", "deadline": "2026-03-15"},
    )
    zh = [obligation_sentence(o, c) for o in c.obligations]
    assert zh == [
        "李四于2026年2月28日前以银行转账方式向张三支付拖欠工资人民币5,000.00元（大写：伍仟元整）。",
        "李四于2026年3月1日前以自行施工方式拆除越界部分院墙。",
        "自本协议生效之日起，李四不得在张三承包地内取土。",
        "自本协议生效之日起至2026年12月31日止，李四不再在院墙外堆放杂物。",
        "李四于2026年3月15日前以自行修复方式将损毁的排水沟恢复原状。",
    ]
    assert not any("向张三拆除" in s for s in zh)  # the sentence of issue 12
    en = [obligation_sentence_en(o, c) for o in c.obligations]
    assert en[0] == "李四 pays 张三 RMB 5,000.00 (支付拖欠工资), via 银行转账, no later than 28 Feb 2026."
    assert en[1] == "李四 does the following for 张三: 拆除越界部分院墙, via 自行施工, no later than 1 Mar 2026."
    assert en[2].startswith("李四 refrains from the following, in favour of 张三: 在张三承包地内取土")
    assert en[3].endswith("until 31 Dec 2026.")
    assert en[4].startswith("李四 restores to its former state, for 张三: 损毁的排水沟")
    text = render_text(c)
    assert all(s in text for s in zh)


def test_obligee_is_named_when_more_than_two_parties_could_be_meant() -> None:
    c = content({"kind": "action", "action": "拆除越界部分院墙"}, parties=3)
    assert obligation_sentence(c.obligations[0], c) == "李四拆除越界部分院墙（权利人：张三）。"


def test_content_from_before_kinds_keeps_its_hash_and_reads_sensibly() -> None:
    old = sample_content().to_dict()
    old["obligations"].append({"key": "t9", "obligor": "p2", "obligee": "p1", "action": "赔礼道歉", "amount": "",
                               "method": "", "place": "村委会", "deadline": ""})
    c = parse_content(old)
    # No kind in the stored JSON: the canonical form (and so every frozen version's hash) is unchanged.
    assert canonical_json(c.to_dict()) == canonical_json(old)
    assert c.obligations[0].effective_kind == "payment" and c.obligations[-1].effective_kind == "action"
    assert obligation_sentence(c.obligations[-1], c) == "李四在村委会赔礼道歉。"
    # A kind, once chosen, is part of the content.
    old["obligations"][-1]["kind"] = "action"
    assert parse_content(old).to_dict()["obligations"][-1]["kind"] == "action"


@pytest.mark.parametrize("ob, field, zh", [
    ({"kind": "gift", "action": "x"}, "obligations[0].kind", "应为给付金钱"),
    ({"kind": "payment", "action": "支付"}, "obligations[0].amount", "必须填写金额"),
    ({"kind": "abstention", "action": "取土", "amount": "10"}, "obligations[0].amount", "不填写金额"),
])
def test_bad_kinds_are_refused_naming_the_field(ob: dict[str, Any], field: str, zh: str) -> None:
    with pytest.raises(ContentError) as e:
        content(ob)
    assert e.value.field == field and zh in e.value.localized("zh")
