"""What a case can be: sources, categories and items, grades and their deadlines (plain Python).

Every label is bilingual (zh-CN first). Codes are stable identifiers stored in the database and used in
the API; labels are for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class Label:
    code: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "zh": self.zh, "en": self.en}


class Source(StrEnum):
    WALK_IN = "walk_in"
    RESIDENT_REQUEST = "resident_request"
    POLICE_REFERRAL = "police_referral"
    HOTLINE = "hotline"
    DISPATCH = "dispatch"
    PETITION = "petition"


SOURCES = [
    Label(Source.WALK_IN, "来访登记", "Walk-in"),
    Label(Source.RESIDENT_REQUEST, "群众求助", "Resident request"),
    Label(Source.POLICE_REFERRAL, "公安移交", "Police referral"),
    Label(Source.HOTLINE, "热线转办", "Hotline"),
    Label(Source.DISPATCH, "上级下派", "Dispatched from a higher tier"),
    Label(Source.PETITION, "视频信访", "Video petition"),
]


class Kind(StrEnum):
    """What the file is about: every dispute, petition and consultation lives in one case file."""

    DISPUTE = "dispute"
    PETITION = "petition"
    CONSULTATION = "consultation"


KINDS = [
    Label(Kind.DISPUTE, "矛盾纠纷", "Dispute"),
    Label(Kind.PETITION, "信访事项", "Petition"),
    Label(Kind.CONSULTATION, "咨询求助", "Consultation"),
]

# The four categories of grassroots governance work, each with its items.
CATEGORIES: dict[str, tuple[Label, list[Label]]] = {
    "policing": (Label("policing", "治安防控", "Policing"), [
        Label("public_order", "治安隐患", "Public order hazard"),
        Label("domestic_violence", "家庭暴力", "Domestic violence"),
        Label("fraud", "电信诈骗", "Fraud"),
        Label("fire_safety", "消防安全", "Fire safety"),
    ]),
    "social_management": (Label("social_management", "社会治理", "Social management"), [
        Label("environment", "环境卫生", "Environment and sanitation"),
        Label("construction", "违章建设", "Unauthorised construction"),
        Label("food_safety", "食品安全", "Food safety"),
        Label("special_groups", "特殊人群", "Special groups"),
    ]),
    "disputes": (Label("disputes", "矛盾纠纷", "Disputes"), [
        Label("land_boundary", "土地权属与地界", "Land boundary"),
        Label("neighbourhood", "邻里纠纷", "Neighbourhood"),
        Label("marriage_family", "婚姻家庭", "Marriage and family"),
        Label("labour_wages", "劳资欠薪", "Labour wages"),
        Label("debt", "债务纠纷", "Debt"),
        Label("property_management", "物业纠纷", "Property management"),
        Label("traffic", "交通事故", "Traffic"),
        Label("medical", "医疗纠纷", "Medical"),
    ]),
    "services": (Label("services", "为民服务", "Services to residents"), [
        Label("legal_advice", "法律咨询", "Legal advice"),
        Label("social_assistance", "社会救助", "Social assistance"),
        Label("certificates", "证明办理", "Certificates"),
        Label("other_help", "其他求助", "Other help"),
    ]),
}

DISPUTE_TYPES = [i.code for i in CATEGORIES["disputes"][1]]

# Which expert specialty fits a dispute item, so a consultation request can suggest one.
ITEM_SPECIALTY = {
    "land_boundary": "land",
    "neighbourhood": "neighbourhood",
    "marriage_family": "marriage_family",
    "domestic_violence": "marriage_family",
    "labour_wages": "labour",
    "property_management": "property",
    "traffic": "traffic",
    "medical": "medical",
}


def item_codes(category: str) -> list[str]:
    entry = CATEGORIES.get(category) if isinstance(category, str) else None
    return [i.code for i in entry[1]] if entry else []


def valid_item(category: str, item: str) -> bool:
    return item in item_codes(category)


def label_of(category: str, item: str | None = None) -> Label | None:
    entry = CATEGORIES.get(category) if isinstance(category, str) else None
    if entry is None:
        return None
    if item is None:
        return entry[0]
    return next((i for i in entry[1] if i.code == item), None)


class Grade(StrEnum):
    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"
    GREEN = "green"  # resolved; never chosen by hand


GRADES = [
    Label(Grade.RED, "红色", "Red"),
    Label(Grade.ORANGE, "橙色", "Orange"),
    Label(Grade.YELLOW, "黄色", "Yellow"),
    Label(Grade.BLUE, "蓝色", "Blue"),
    Label(Grade.GREEN, "绿色（已化解）", "Green (resolved)"),
]

# Handling deadline per risk grade, counted from triage.
GRADE_DAYS = {Grade.RED: 1, Grade.ORANGE: 3, Grade.YELLOW: 7, Grade.BLUE: 20}
RISK_GRADES = (Grade.RED, Grade.ORANGE, Grade.YELLOW, Grade.BLUE)
# Domestic-violence cases use a three-level scale.
DV_GRADES = (Grade.RED, Grade.ORANGE, Grade.BLUE)


def allowed_grades(domestic_violence: bool) -> tuple[Grade, ...]:
    return DV_GRADES if domestic_violence else RISK_GRADES


def deadline(grade: str, start: datetime) -> datetime:
    return start + timedelta(days=GRADE_DAYS[Grade(grade)])


# "Due soon" warning once this share of the handling time has passed.
DUE_SOON_FRACTION = 0.75


class PartyRole(StrEnum):
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    VICTIM = "victim"
    PERPETRATOR = "perpetrator"
    THIRD_PARTY = "third_party"


PARTY_ROLES = [
    Label(PartyRole.APPLICANT, "申请人", "Applicant"),
    Label(PartyRole.RESPONDENT, "被申请人", "Respondent"),
    Label(PartyRole.VICTIM, "受害人", "Victim"),
    Label(PartyRole.PERPETRATOR, "加害人", "Perpetrator"),
    Label(PartyRole.THIRD_PARTY, "第三人", "Third party"),
]

# Parties stand on a side; "the other side" never sees a confidential address or phone.
ROLE_SIDE = {
    PartyRole.APPLICANT: "a", PartyRole.VICTIM: "a",
    PartyRole.RESPONDENT: "b", PartyRole.PERPETRATOR: "b",
    PartyRole.THIRD_PARTY: "c",
}


class DVStage(StrEnum):
    WARNING_LETTER = "warning_letter"
    SUMMONS = "summons"
    DETENTION = "detention"


DV_STAGES = [
    Label(DVStage.WARNING_LETTER, "告诫书", "Warning letter"),
    Label(DVStage.SUMMONS, "传唤", "Summons"),
    Label(DVStage.DETENTION, "拘留", "Detention"),
]

SATISFACTION = range(1, 6)
RECURRENCE_RISKS = ("low", "medium", "high")
FOLLOW_UP_METHODS = ("visit", "phone", "video")
PERFORMANCE = ("performed", "partial", "not_performed", "pending")


def catalog_json() -> dict:
    """The whole catalogue for forms and API clients."""
    return {
        "sources": [x.as_dict() for x in SOURCES],
        "kinds": [x.as_dict() for x in KINDS],
        "categories": [
            {**cat.as_dict(), "items": [i.as_dict() for i in items]} for cat, items in CATEGORIES.values()
        ],
        "grades": [{**g.as_dict(), "days": GRADE_DAYS.get(Grade(g.code))} for g in GRADES],
        "dv_grades": [str(g) for g in DV_GRADES],
        "party_roles": [x.as_dict() for x in PARTY_ROLES],
        "dv_stages": [x.as_dict() for x in DV_STAGES],
    }
