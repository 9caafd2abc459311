"""A first draft from a case: parties, facts and disputed issues carried over, type defaults filled in."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.agreements.content import DISPUTE_TYPES, AgreementContent, ContentError, parse_content
from server.idnumbers import normalise, valid_resident_id

# Default clauses per dispute type: editable text that the mediator usually keeps.
_MONEY_DEFAULT = (
    "任何一方不按本协议约定履行义务的，另一方可以请求人民调解委员会督促履行，也可以依法向人民法院提起诉讼；"
    "经人民法院司法确认的，可以申请强制执行。逾期履行金钱给付义务的，应当按照未付金额每日万分之五向对方支付违约金。"
)
_CONDUCT_DEFAULT = (
    "任何一方违反本协议约定的，应当立即停止违约行为、恢复原状，并赔偿由此给对方造成的损失；"
    "对方可以请求人民调解委员会督促履行，也可以依法向人民法院提起诉讼。"
)
DEFAULT_CLAUSES: dict[str, str] = {
    "land_boundary": _CONDUCT_DEFAULT,
    "neighbourhood": _CONDUCT_DEFAULT,
    "marriage_family": (
        "任何一方不履行本协议约定的抚养、赡养、扶养或者财产给付义务的，另一方可以请求人民调解委员会督促履行，"
        "也可以依法向人民法院提起诉讼。"
    ),
    "labour_wages": _MONEY_DEFAULT,
    "debt": _MONEY_DEFAULT,
    "property_management": _MONEY_DEFAULT,
    "traffic": _MONEY_DEFAULT,
}

# Case dispute codes used by other modules, mapped onto ours (tolerant of the cases module's naming).
ALIASES = {
    "land": "land_boundary", "land_boundary": "land_boundary", "neighbor": "neighbourhood",
    "neighbourhood": "neighbourhood", "neighborhood": "neighbourhood", "marriage": "marriage_family",
    "marriage_family": "marriage_family", "family": "marriage_family", "labour": "labour_wages",
    "labor": "labour_wages", "labour_wages": "labour_wages", "wages": "labour_wages", "debt": "debt",
    "property": "property_management", "property_management": "property_management", "traffic": "traffic",
}


def dispute_type_of(code: str | None) -> str | None:
    return ALIASES.get((code or "").strip().lower())


@dataclass
class CaseParty:
    name: str
    id_number: str = ""
    phone: str = ""
    address: str = ""
    confidential: bool = False


@dataclass
class CaseSummary:
    """What a draft takes from a case; the web layer fills it from the case module."""

    id: int
    code: str
    dispute_type: str
    unit_code: str
    unit_name: str
    parties: list[CaseParty] = field(default_factory=list)
    facts: str = ""
    issues: list[str] = field(default_factory=list)


def draft_from_case(case: CaseSummary, number: str, mediator_name: str, *,
                    judicial_confirmation: bool = False) -> AgreementContent:
    return parse_content(draft_dict(case, number, mediator_name, judicial_confirmation=judicial_confirmation))


def draft_dict(case: CaseSummary, number: str, mediator_name: str, *,
               judicial_confirmation: bool = False) -> dict:
    """The unvalidated first draft (the number may still be blank: the store assigns it)."""

    dtype = dispute_type_of(case.dispute_type)
    if dtype is None:
        raise ContentError("dispute_type", f"no agreement template for dispute type {case.dispute_type!r}; "
                           f"choose one of {', '.join(DISPUTE_TYPES)}")
    raw = {
        "number": number,
        "dispute_type": dtype,
        "unit_code": case.unit_code,
        "unit_name": case.unit_name,
        "case_ref": case.code,
        "parties": [
            # An ID the case holds in a short or invalid form is left for the mediator to complete.
            {"key": f"p{i + 1}", "name": p.name,
             "id_number": normalise(p.id_number) if valid_resident_id(p.id_number) else "", "phone": p.phone,
             "address": p.address, "confidential": p.confidential}
            for i, p in enumerate(case.parties)
        ],
        "facts": case.facts,
        "issues": [i for i in case.issues if i.strip()],
        "obligations": [],
        "default_clause": DEFAULT_CLAUSES[dtype],
        "judicial_confirmation": judicial_confirmation,
        "mediator_name": mediator_name,
    }
    return raw
