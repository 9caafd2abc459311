"""Every permission rule in one place, as plain functions of an Actor (no I/O).

Tiers: a unit sees itself and its descendants (path prefix). It never sees siblings, nor the other
branches under its ancestors. Cross-branch access (dispatched cases, expert grants) is granted
explicitly elsewhere and checked here by the callers passing the grant in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.directory.tiers import Role, Tier


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    name: str
    role: str
    unit_id: int
    unit_code: str
    unit_path: str
    unit_tier: str
    specialties: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tier(self) -> Tier:
        return Tier(self.unit_tier)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "unit": self.unit_code,
            "tier": self.unit_tier,
            "specialties": list(self.specialties),
        }


def within(actor: Actor, unit_path: str) -> bool:
    """The unit is the actor's own or one of its descendants."""
    return unit_path.startswith(actor.unit_path)


def can_view_unit(actor: Actor, unit_path: str) -> bool:
    return within(actor, unit_path)


def can_list_staff(actor: Actor, unit_path: str) -> bool:
    return within(actor, unit_path)


def can_manage_staff(actor: Actor, unit_path: str) -> bool:
    """Admins create and edit accounts in their own subtree only."""
    return actor.role == Role.ADMIN and within(actor, unit_path)


def can_browse_experts(actor: Actor) -> bool:
    """Experts are a shared resource across tiers: any active staff may look them up to request one."""
    return True


SESSION_HOST_ROLES = {Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON}


def can_host_session(actor: Actor, unit_path: str, kind: str) -> bool:
    """Who may create and host a session for a unit."""
    if not within(actor, unit_path):
        return False
    if kind == "petition":
        return actor.role in {Role.ADMIN, Role.PETITION_OFFICER, Role.MEDIATOR}
    if kind == "dispatch":
        # A briefing goes down the tree: only county and above, or admins, dispatch.
        return actor.role in {Role.ADMIN, Role.MEDIATOR} and actor.tier in (Tier.CITY, Tier.COUNTY)
    return actor.role in SESSION_HOST_ROLES


def can_view_session(actor: Actor, unit_path: str) -> bool:
    return within(actor, unit_path)
