"""The four tiers and the staff roles (plain Python, no I/O)."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"

    @property
    def depth(self) -> int:
        return TIER_ORDER.index(self)

    def child(self) -> Tier | None:
        i = self.depth + 1
        return TIER_ORDER[i] if i < len(TIER_ORDER) else None


TIER_ORDER = [Tier.CITY, Tier.COUNTY, Tier.TOWNSHIP, Tier.VILLAGE]


class Role(StrEnum):
    ADMIN = "admin"
    MEDIATOR = "mediator"
    EXPERT = "expert"
    PETITION_OFFICER = "petition_officer"
    POLICE_LIAISON = "police_liaison"
    GRID_WORKER = "grid_worker"
    OBSERVER = "observer"


class Specialty(StrEnum):
    LAND = "land"
    MARRIAGE_FAMILY = "marriage_family"
    LABOUR = "labour"
    NEIGHBOURHOOD = "neighbourhood"
    PROPERTY = "property"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
