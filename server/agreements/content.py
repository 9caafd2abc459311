"""What an agreement says: parties, facts, disputed issues and the terms as structured obligations.

Plain data with strict validation (every problem is a ``ContentError`` naming the field), a canonical JSON
form that is hashed when a version is frozen, and the masked views served to staff and parties.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from server.idnumbers import valid_resident_id

DISPUTE_TYPES: dict[str, tuple[str, str]] = {
    "land_boundary": ("土地边界纠纷", "Land boundary"),
    "neighbourhood": ("邻里纠纷", "Neighbourhood"),
    "marriage_family": ("婚姻家庭纠纷", "Marriage and family"),
    "labour_wages": ("劳动报酬纠纷", "Labour wages"),
    "debt": ("债务纠纷", "Debt"),
    "property_management": ("物业管理纠纷", "Property management"),
    "traffic": ("交通事故损害赔偿纠纷", "Traffic accident"),
}

# What an obligation asks of the obligor; the text is phrased by kind (server/agreements/text.py).
OBLIGATION_KINDS: dict[str, tuple[str, str]] = {
    "payment": ("给付金钱", "Payment"),
    "action": ("履行行为", "Action"),
    "abstention": ("不作为", "Abstention"),
    "restoration": ("恢复原状", "Restoration"),
}

MAX_PARTIES = 10
MAX_OBLIGATIONS = 40
MAX_ITEMS = 30
MAX_TEXT = 4000
MAX_SHORT = 200

_AMOUNT_RE = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")


class ContentError(ValueError):
    """``message`` is English (the API's language); ``zh`` the same refusal for a Chinese-speaking viewer."""

    def __init__(self, field: str, message: str, zh: str = "") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.zh = zh

    def localized(self, lang: str) -> str:
        if lang == "en" or not self.zh:
            return f"{field_label(self.field, 'en')}: {self.message}"
        return f"{field_label(self.field, 'zh')}：{self.zh}"


_FIELD_LABELS = {
    "name": ("姓名", "name"), "id_number": ("公民身份号码", "ID number"), "phone": ("电话", "phone"),
    "address": ("住址", "address"), "agent": ("代理人", "agent"), "key": ("编号", "key"),
    "obligor": ("义务人", "obligor"), "obligee": ("权利人", "obligee"), "action": ("事项", "action"),
    "amount": ("金额", "amount"), "method": ("方式", "method"), "place": ("地点", "place"),
    "deadline": ("期限", "deadline"), "kind": ("类型", "kind"), "facts": ("纠纷主要事实", "facts"), "issues": ("争议事项", "issues"),
    "other_terms": ("其他条款", "other terms"), "default_clause": ("违约责任", "default clause"),
    "mediator_name": ("人民调解员", "mediator"), "dispute_type": ("纠纷类型", "dispute type"),
    "parties": ("当事人", "parties"), "obligations": ("协议条款", "terms"), "number": ("协议编号", "number"),
    "case_ref": ("案件编号", "case code"), "copies": ("份数", "copies"),
    "judicial_confirmation": ("司法确认", "judicial confirmation"),
}
_FIELD_RE = re.compile(r"^(parties|obligations|issues|other_terms)\[(\d+)\]\.?(\w*)$")


def field_label(field: str, lang: str) -> str:
    """``parties[0].id_number`` → 第1位当事人的公民身份号码 / party 1's ID number."""
    en = lang == "en"
    m = _FIELD_RE.match(field)
    if m is None:
        names = _FIELD_LABELS.get(field)
        return (names[1] if en else names[0]) if names else field
    group, n, sub = m.group(1), int(m.group(2)) + 1, m.group(3)
    owner = {"parties": ("第{n}位当事人", "party {n}"), "obligations": ("第{n}项条款", "term {n}"),
             "issues": ("第{n}项争议事项", "issue {n}"), "other_terms": ("第{n}条其他条款", "other term {n}")}[group]
    head = (owner[1] if en else owner[0]).format(n=n)
    if not sub or sub == "v":
        return head
    names = _FIELD_LABELS.get(sub, (sub, sub))
    return f"{head}'s {names[1]}" if en else f"{head}的{names[0]}"


@dataclass(frozen=True)
class Party:
    key: str  # stable reference used by obligations, e.g. "p1"
    name: str
    id_number: str = ""  # 18-digit resident ID; masked in every view but the signed document
    phone: str = ""
    address: str = ""
    confidential: bool = False  # address and phone never shown to the other side (e.g. DV victims)
    agent: str = ""  # representative or guardian, if any


@dataclass(frozen=True)
class Obligation:
    key: str  # stable clause reference, e.g. "t1"
    obligor: str  # party key
    obligee: str  # party key
    action: str  # what is to be done, e.g. "支付拖欠工资"
    amount: str = ""  # yuan, as a decimal string, when money is involved
    method: str = ""  # how, e.g. "银行转账"
    place: str = ""  # where
    deadline: str = ""  # ISO date: by when (for an abstention: until when)
    # payment, action, abstention or restoration (OBLIGATION_KINDS). "" in content saved before kinds
    # existed: read as a payment when there is an amount, else an action (``effective_kind``). An empty kind
    # is left out of the canonical form, so those versions keep their document hashes.
    kind: str = ""

    @property
    def effective_kind(self) -> str:
        return self.kind or ("payment" if self.amount else "action")


@dataclass(frozen=True)
class AgreementContent:
    number: str  # 调解协议书编号, e.g. "龙亢调字〔2026〕第12号"
    dispute_type: str
    unit_code: str
    unit_name: str
    case_ref: str = ""  # the case code, e.g. 340321-2026-000123
    parties: tuple[Party, ...] = ()
    facts: str = ""
    issues: tuple[str, ...] = ()
    obligations: tuple[Obligation, ...] = ()
    other_terms: tuple[str, ...] = ()
    default_clause: str = ""
    judicial_confirmation: bool = False  # parties jointly apply to the court within 30 days
    mediator_name: str = ""
    place: str = ""  # where it is signed
    copies: int = 0  # 0 means one per party plus one for the unit

    # --- derived -------------------------------------------------------------------------------
    def party(self, key: str) -> Party:
        for p in self.parties:
            if p.key == key:
                return p
        raise KeyError(key)

    @property
    def copies_total(self) -> int:
        return self.copies or len(self.parties) + 1

    @property
    def dispute_label(self) -> str:
        return DISPUTE_TYPES[self.dispute_type][0]

    def obligation(self, key: str) -> Obligation:
        for o in self.obligations:
            if o.key == key:
                return o
        raise KeyError(key)

    # --- canonical form ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["parties"] = [asdict(p) for p in self.parties]
        d["obligations"] = [_obligation_dict(o) for o in self.obligations]
        d["issues"] = list(self.issues)
        d["other_terms"] = list(self.other_terms)
        return d

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, raw: Any) -> AgreementContent:
        return parse_content(raw)


def _obligation_dict(o: Obligation) -> dict[str, Any]:
    d = asdict(o)
    if not o.kind:
        del d["kind"]  # content from before kinds hashes as it always did
    return d


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant white space, UTF-8 text: the form that is hashed and signed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- parsing and validation ---------------------------------------------------------------------

def _str(raw: dict, name: str, where: str, *, required: bool = False, max_len: int = MAX_SHORT) -> str:
    v = raw.get(name, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        raise ContentError(f"{where}{name}", "must be text", "应为文字")
    v = v.strip()
    if required and not v:
        raise ContentError(f"{where}{name}", "is required", "必须填写")
    if len(v) > max_len:
        raise ContentError(f"{where}{name}", f"is longer than {max_len} characters", f"不能超过{max_len}字")
    if any(ord(c) < 32 and c not in "\n\t" for c in v):
        raise ContentError(f"{where}{name}", "contains control characters", "含有不可见的控制字符")
    return v


def _list(raw: dict, name: str, limit: int) -> list:
    v = raw.get(name) or []
    if not isinstance(v, list):
        raise ContentError(name, "must be a list")
    if len(v) > limit:
        raise ContentError(name, f"has more than {limit} entries")
    return v


valid_id_number = valid_resident_id  # the case form uses the same validator (server.idnumbers)


def parse_party(raw: Any, i: int) -> Party:
    where = f"parties[{i}]."
    if not isinstance(raw, dict):
        raise ContentError(f"parties[{i}]", "must be an object")
    key = _str(raw, "key", where, required=True, max_len=16)
    if not _KEY_RE.match(key):
        raise ContentError(f"{where}key", "must be a short lowercase identifier like p1")
    id_number = _str(raw, "id_number", where, max_len=18).upper()
    if id_number and not valid_resident_id(id_number):
        raise ContentError(f"{where}id_number", "is not a valid 18-digit resident ID number (GB 11643 check digit)",
                           "无效，应为18位且末位校验码正确（末位可为 X）")
    phone = _str(raw, "phone", where, max_len=20)
    if phone and not re.match(r"^[0-9+\- ]{5,20}$", phone):
        raise ContentError(f"{where}phone", "is not a phone number", "不是有效的电话号码")
    confidential = raw.get("confidential", False)
    if not isinstance(confidential, bool):
        raise ContentError(f"{where}confidential", "must be true or false")
    return Party(key=key, name=_str(raw, "name", where, required=True, max_len=50), id_number=id_number,
                 phone=phone, address=_str(raw, "address", where), confidential=confidential,
                 agent=_str(raw, "agent", where, max_len=100))


def parse_amount(s: str, where: str) -> str:
    if not s:
        return ""
    if not _AMOUNT_RE.match(s):
        raise ContentError(where, "must be an amount in yuan like 5000 or 5000.50", "应为以元计的金额，如 5000 或 5000.50")
    try:
        d = Decimal(s)
    except InvalidOperation as e:  # pragma: no cover - the regex already excludes this
        raise ContentError(where, "is not a number") from e
    if d <= 0:
        raise ContentError(where, "must be more than zero", "必须大于零")
    return f"{d:.2f}"


def parse_obligation(raw: Any, i: int, party_keys: set[str]) -> Obligation:
    where = f"obligations[{i}]."
    if not isinstance(raw, dict):
        raise ContentError(f"obligations[{i}]", "must be an object")
    key = _str(raw, "key", where, required=True, max_len=16)
    if not _KEY_RE.match(key):
        raise ContentError(f"{where}key", "must be a short lowercase identifier like t1")
    obligor = _str(raw, "obligor", where, required=True, max_len=16)
    obligee = _str(raw, "obligee", where, required=True, max_len=16)
    for name, v in (("obligor", obligor), ("obligee", obligee)):
        if v not in party_keys:
            raise ContentError(f"{where}{name}", f"names no party ({v!r})", "不是本协议的当事人")
    if obligor == obligee:
        raise ContentError(f"{where}obligee", "must differ from the obligor", "不能与义务人相同")
    deadline = _str(raw, "deadline", where, max_len=10)
    if deadline:
        try:
            date.fromisoformat(deadline)
        except ValueError as e:
            raise ContentError(f"{where}deadline", "must be a date like 2026-12-31", "应为日期，如 2026-12-31") from e
    kind = _str(raw, "kind", where, max_len=16)
    if kind and kind not in OBLIGATION_KINDS:
        raise ContentError(f"{where}kind", f"must be one of {', '.join(OBLIGATION_KINDS)}",
                           "应为给付金钱、履行行为、不作为或恢复原状之一")
    amount = parse_amount(_str(raw, "amount", where, max_len=20), f"{where}amount")
    if kind == "payment" and not amount:
        raise ContentError(f"{where}amount", "is required for a payment", "给付金钱的条款必须填写金额")
    if kind == "abstention" and amount:
        raise ContentError(f"{where}amount", "has no place in an abstention", "不作为的条款不填写金额")
    return Obligation(key=key, obligor=obligor, obligee=obligee,
                      action=_str(raw, "action", where, required=True, max_len=500),
                      amount=amount, method=_str(raw, "method", where), place=_str(raw, "place", where),
                      deadline=deadline, kind=kind)


def parse_content(raw: Any) -> AgreementContent:
    """Build validated content from untrusted JSON; every problem names its field."""
    if not isinstance(raw, dict):
        raise ContentError("content", "must be an object")
    dispute_type = _str(raw, "dispute_type", "", required=True, max_len=32)
    if dispute_type not in DISPUTE_TYPES:
        raise ContentError("dispute_type", f"must be one of {', '.join(DISPUTE_TYPES)}")
    parties = tuple(parse_party(p, i) for i, p in enumerate(_list(raw, "parties", MAX_PARTIES)))
    keys = [p.key for p in parties]
    if len(set(keys)) != len(keys):
        raise ContentError("parties", "party keys must be unique", "编号重复")
    obligations = tuple(parse_obligation(o, i, set(keys))
                        for i, o in enumerate(_list(raw, "obligations", MAX_OBLIGATIONS)))
    okeys = [o.key for o in obligations]
    if len(set(okeys)) != len(okeys):
        raise ContentError("obligations", "obligation keys must be unique")
    issues = tuple(_str({"v": v}, "v", f"issues[{i}]", required=True, max_len=MAX_TEXT)
                   for i, v in enumerate(_list(raw, "issues", MAX_ITEMS)))
    other = tuple(_str({"v": v}, "v", f"other_terms[{i}]", required=True, max_len=MAX_TEXT)
                  for i, v in enumerate(_list(raw, "other_terms", MAX_ITEMS)))
    jc = raw.get("judicial_confirmation", False)
    if not isinstance(jc, bool):
        raise ContentError("judicial_confirmation", "must be true or false")
    copies = raw.get("copies", 0) or 0
    if not isinstance(copies, int) or isinstance(copies, bool) or not 0 <= copies <= 20:
        raise ContentError("copies", "must be a whole number from 0 to 20")
    return AgreementContent(
        number=_str(raw, "number", "", required=True, max_len=64),
        dispute_type=dispute_type,
        unit_code=_str(raw, "unit_code", "", required=True, max_len=32),
        unit_name=_str(raw, "unit_name", "", required=True, max_len=100),
        case_ref=_str(raw, "case_ref", "", max_len=64),
        parties=parties,
        facts=_str(raw, "facts", "", max_len=MAX_TEXT * 3),
        issues=issues,
        obligations=obligations,
        other_terms=other,
        default_clause=_str(raw, "default_clause", "", max_len=MAX_TEXT),
        judicial_confirmation=jc,
        mediator_name=_str(raw, "mediator_name", "", max_len=50),
        place=_str(raw, "place", "", max_len=MAX_SHORT),
        copies=copies,
    )


def ready_to_freeze(content: AgreementContent) -> list[str]:
    """What a draft still lacks before it may be frozen for signing (empty list: ready)."""
    problems = []
    if len(content.parties) < 2:
        problems.append("at least two parties are needed")
    if not content.facts:
        problems.append("the facts are empty")
    if not content.obligations and not content.other_terms:
        problems.append("there are no terms")
    if not content.mediator_name:
        problems.append("the mediator is not named")
    return problems


# --- masked views ------------------------------------------------------------------------------

def mask_id(id_number: str | None) -> str:
    if not id_number:
        return ""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_phone(phone: str) -> str:
    digits = phone.replace(" ", "")
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def view(content: AgreementContent, viewer: str | None = None, *, staff: bool = False) -> dict[str, Any]:
    """The content as served to a viewer: IDs masked always; a confidential party's address and phone
    appear only for staff and for that party; phones are masked for everyone else."""
    d = content.to_dict()
    out_parties = []
    for p in content.parties:
        pd = asdict(p)
        pd["id_number"] = mask_id(p.id_number)
        own = viewer == p.key
        if p.confidential and not (staff or own):
            pd["address"] = ""
            pd["phone"] = ""
            pd["withheld"] = True
        elif not (staff or own):
            pd["phone"] = mask_phone(p.phone)
        out_parties.append(pd)
    d["parties"] = out_parties
    return d


SECTION_KEYS = ("parties", "facts", "issues", "default_clause", "judicial_confirmation", "other_terms")


def clause_keys(content: AgreementContent) -> list[str]:
    return list(SECTION_KEYS) + [o.key for o in content.obligations]
