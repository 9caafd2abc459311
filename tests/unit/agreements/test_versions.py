from server.agreements.content import parse_content
from server.agreements.text import render_text
from server.agreements.versions import changes, text_diff
from tests.support.agreement_sample import sample_content


def test_changes_are_readable_and_keyed() -> None:
    a = sample_content()
    d = a.to_dict()
    d["obligations"][0]["amount"] = "6500.00"
    d["obligations"].append({**d["obligations"][0], "key": "t9", "action": "赔礼道歉", "amount": ""})
    d["parties"][0]["id_number"] = "340321199507070014"
    d["judicial_confirmation"] = False
    d["obligations"] = list(reversed(d["obligations"]))  # order alone is not a change of a clause
    b = parse_content(d)
    summary = [str(c) for c in changes(a, b)]
    assert "条款 t1 金额：6000.00 → 6500.00" in summary
    assert "条款 t9：无 → 赔礼道歉" in summary
    assert "申请司法确认：是 → 否" in summary
    assert any(s.startswith("当事人 张三 身份证号：110***") for s in summary)
    assert not any("110101199003077774" in s for s in summary)
    diff = text_diff(render_text(a), render_text(b), "v1", "v2")
    assert diff.startswith("--- v1") and "+" in diff


def test_no_changes() -> None:
    assert changes(sample_content(), sample_content()) == []
