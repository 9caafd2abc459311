import json

import pytest

from server.agreements.content import (
    ContentError,
    mask_id,
    mask_phone,
    parse_content,
    ready_to_freeze,
    valid_id_number,
    view,
)
from tests.support.agreement_sample import SAMPLE_IDS, sample_content


def raw(**over):  # type: ignore[no-untyped-def]
    d = sample_content().to_dict()
    d.update(over)
    return json.loads(json.dumps(d))


def test_round_trip_is_canonical() -> None:
    c = sample_content()
    again = parse_content(json.loads(c.canonical_json()))
    assert again == c
    assert again.canonical_json() == c.canonical_json()
    assert b" " not in c.canonical_json().split(b'"facts"')[0]  # compact separators


@pytest.mark.parametrize("over, field", [
    ({"dispute_type": "alien"}, "dispute_type"),
    ({"number": ""}, "number"),
    ({"parties": "张三"}, "parties"),
    ({"facts": "x" * 20000}, "facts"),
    ({"copies": -1}, "copies"),
    ({"judicial_confirmation": "yes"}, "judicial_confirmation"),
    ({"issues": [1]}, "issues[0]v"),
    ({"facts": "bad\x00byte"}, "facts"),
])
def test_bad_fields_are_named(over, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContentError) as e:
        parse_content(raw(**over))
    assert e.value.field == field


def test_party_and_obligation_rules() -> None:
    d = raw()
    d["parties"][0]["id_number"] = SAMPLE_IDS[0][:-1] + "0"  # wrong check digit
    with pytest.raises(ContentError, match="parties\\[0\\].id_number"):
        parse_content(d)
    d = raw()
    d["obligations"][0]["obligor"] = "p9"
    with pytest.raises(ContentError, match="names no party"):
        parse_content(d)
    d = raw()
    d["obligations"][0]["obligee"] = d["obligations"][0]["obligor"]
    with pytest.raises(ContentError, match="differ"):
        parse_content(d)
    d = raw()
    d["obligations"][0]["deadline"] = "2026-02-30"
    with pytest.raises(ContentError, match="deadline"):
        parse_content(d)
    d = raw()
    d["obligations"][0]["amount"] = "-5"
    with pytest.raises(ContentError, match="amount"):
        parse_content(d)
    d = raw()
    d["parties"][1]["key"] = d["parties"][0]["key"]
    with pytest.raises(ContentError, match="unique"):
        parse_content(d)


def test_amount_is_normalised() -> None:
    d = raw()
    d["obligations"][0]["amount"] = "5000.5"
    assert parse_content(d).obligations[0].amount == "5000.50"


def test_id_numbers() -> None:
    assert all(valid_id_number(i) for i in SAMPLE_IDS)
    assert not valid_id_number("123")
    assert mask_id("110101199003077774") == "110***********7774"
    assert mask_phone("13800001234") == "138****1234"


def test_views_mask_ids_and_hide_confidential_contact() -> None:
    d = raw()
    d["parties"][1]["confidential"] = True
    c = parse_content(d)
    other = view(c, viewer="p1")
    assert all("*" in p["id_number"] for p in other["parties"])
    assert other["parties"][1]["address"] == "" and other["parties"][1]["phone"] == "" and other["parties"][1]["withheld"]
    own = view(c, viewer="p2")
    assert own["parties"][1]["address"] == c.parties[1].address
    staff = view(c, staff=True)
    assert staff["parties"][1]["address"] == c.parties[1].address
    assert all("*" in p["id_number"] for p in staff["parties"])
    assert own["parties"][0]["phone"] == "138****0000" and other["parties"][0]["phone"] == c.parties[0].phone


def test_ready_to_freeze() -> None:
    assert ready_to_freeze(sample_content()) == []
    d = raw(facts="", mediator_name="")
    d["parties"] = d["parties"][:1]
    d["obligations"] = []
    d["other_terms"] = []
    assert len(ready_to_freeze(parse_content(d))) == 4
