"""Display names (zh-CN, English) for tiers, roles and specialties. Codes stay English in data and API."""

from __future__ import annotations

from server.directory.tiers import Role, Specialty, Tier

TIER_LABELS: dict[str, tuple[str, str]] = {
    Tier.CITY: ("市级", "City"),
    Tier.COUNTY: ("县（区）级", "County/district"),
    Tier.TOWNSHIP: ("乡镇（街道）级", "Township/street"),
    Tier.VILLAGE: ("村（社区）级", "Village/community"),
}

ROLE_LABELS: dict[str, tuple[str, str]] = {
    Role.ADMIN: ("管理员", "Administrator"),
    Role.MEDIATOR: ("调解员", "Mediator"),
    Role.EXPERT: ("专家", "Expert"),
    Role.PETITION_OFFICER: ("信访工作人员", "Petition officer"),
    Role.POLICE_LIAISON: ("警务联络员", "Police liaison"),
    Role.GRID_WORKER: ("网格员", "Grid worker"),
    Role.OBSERVER: ("观察员", "Observer"),
}

SPECIALTY_LABELS: dict[str, tuple[str, str]] = {
    Specialty.LAND: ("土地纠纷", "Land"),
    Specialty.MARRIAGE_FAMILY: ("婚姻家庭", "Marriage and family"),
    Specialty.LABOUR: ("劳动争议", "Labour"),
    Specialty.NEIGHBOURHOOD: ("邻里纠纷", "Neighbourhood"),
    Specialty.PROPERTY: ("物业纠纷", "Property"),
    Specialty.MEDICAL: ("医疗纠纷", "Medical"),
    Specialty.TRAFFIC: ("交通事故", "Traffic"),
}


def label(table: dict[str, tuple[str, str]], code: str, lang: str) -> str:
    """The label in ``lang`` ("zh-CN" or "en"); unknown codes show as themselves."""
    pair = table.get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]
