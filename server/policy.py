"""Every permission rule in one place, as plain functions of an Actor (no I/O).

Tiers: a unit sees itself and its descendants (path prefix). It never sees siblings, nor the other
branches under its ancestors. Cross-branch access (dispatched cases, expert grants) is granted
explicitly elsewhere and checked here by the callers passing the grant in.

The one deliberate exception: experts are a pool that lower tiers draw on, so an actor also sees the
experts of its own ancestors (the county's land expert for a township), but still not the experts of a
sibling or cousin unit.

``allowed(actor, action, unit_path)`` is the same rules by name; tests/unit/test_policy.py checks them as
a matrix of role x tier x action x target.

These are the unit-path rules. Whether a record is visible at all, and what may be done with it, is
decided by ``server.access.may``, which uses these for records that follow a unit and the case's list
and grants for records that belong to a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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


class Action(StrEnum):
    VIEW_UNIT = "view_unit"
    LIST_STAFF = "list_staff"
    MANAGE_STAFF = "manage_staff"
    VIEW_EXPERT = "view_expert"
    HOST_MEDIATION = "host_mediation"
    HOST_CONSULTATION = "host_consultation"
    HOST_PETITION = "host_petition"
    HOST_DISPATCH = "host_dispatch"


def within(actor: Actor, unit_path: str) -> bool:
    """The unit is the actor's own or one of its descendants."""
    # Paths end in "/" so "100/2/" is never mistaken for a prefix of "100/200/"; refuse any other shape.
    return unit_path.endswith("/") and unit_path.startswith(actor.unit_path)


def is_ancestor(actor: Actor, unit_path: str) -> bool:
    """The unit is strictly above the actor's own, on its own branch."""
    return unit_path.endswith("/") and actor.unit_path.startswith(unit_path) and unit_path != actor.unit_path


def ancestor_paths(unit_path: str) -> list[str]:
    """``"a/b/c/"`` -> ``["a/", "a/b/"]``: the paths of every unit above this one."""
    parts = [p for p in unit_path.split("/") if p]
    return ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]


def can_view_unit(actor: Actor, unit_path: str) -> bool:
    return within(actor, unit_path)


def can_list_staff(actor: Actor, unit_path: str) -> bool:
    return within(actor, unit_path)


def can_manage_staff(actor: Actor, unit_path: str) -> bool:
    """Admins create and edit accounts in their own subtree only."""
    return actor.role == Role.ADMIN and within(actor, unit_path)


def can_browse_experts(actor: Actor) -> bool:
    """Any active staff may open the expert directory; which experts they see is can_see_expert."""
    return True


def can_see_expert(actor: Actor, expert_unit_path: str) -> bool:
    """Experts in the actor's subtree, or at the actor's ancestors (the pool it may ask for help)."""
    return within(actor, expert_unit_path) or is_ancestor(actor, expert_unit_path)


def expert_scope(actor: Actor) -> tuple[str, list[str]]:
    """can_see_expert as a query: (subtree prefix, exact ancestor paths)."""
    return actor.unit_path, ancestor_paths(actor.unit_path)


SESSION_HOST_ROLES = {Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON}


def can_host_session(actor: Actor, unit_path: str, kind: str) -> bool:
    """Who may create and host a session for a unit."""
    if not within(actor, unit_path):
        return False
    if kind == "petition":
        return actor.role in {Role.ADMIN, Role.PETITION_OFFICER, Role.MEDIATOR}
    if kind == "council":
        # A residents' council meeting: the community office hosts it, grid workers included (server/councils).
        return actor.role in SESSION_HOST_ROLES | {Role.GRID_WORKER}
    if kind == "dispatch":
        # A briefing goes down the tree: only county and above, or admins, dispatch.
        return actor.role in {Role.ADMIN, Role.MEDIATOR} and actor.tier in (Tier.CITY, Tier.COUNTY)
    return actor.role in SESSION_HOST_ROLES


# Recordings and the session record (issue 4). Whether the session (and so its log, minutes and
# recordings) is visible at all is server.access's question: it follows the session's case, if any.
# Parties read minutes through their join token, elsewhere.
RECORDING_ROLES = {Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON}


def can_download_recording(actor: Actor, unit_path: str) -> bool:
    """Media is more sensitive than the log: hosting roles of the unit or above only."""
    return within(actor, unit_path) and actor.role in RECORDING_ROLES


def can_write_minutes(actor: Actor, unit_path: str, kind: str) -> bool:
    return can_host_session(actor, unit_path, kind)


def can_view_dashboard(actor: Actor, unit_path: str) -> bool:
    """A unit's dashboard (its subtree's figures): staff of the unit or above. Experts see only the cases
    they are granted, so a unit's figures would tell them more than their case list: none for them."""
    return within(actor, unit_path) and actor.role != Role.EXPERT


def allowed(actor: Actor, action: Action | str, unit_path: str) -> bool:
    """The rules above, looked up by action name (for tables, tests and templates)."""
    match Action(action):
        case Action.VIEW_UNIT:
            return can_view_unit(actor, unit_path)
        case Action.LIST_STAFF:
            return can_list_staff(actor, unit_path)
        case Action.MANAGE_STAFF:
            return can_manage_staff(actor, unit_path)
        case Action.VIEW_EXPERT:
            return can_see_expert(actor, unit_path)
        case Action.HOST_MEDIATION:
            return can_host_session(actor, unit_path, "mediation")
        case Action.HOST_CONSULTATION:
            return can_host_session(actor, unit_path, "consultation")
        case Action.HOST_PETITION:
            return can_host_session(actor, unit_path, "petition")
        case Action.HOST_DISPATCH:
            return can_host_session(actor, unit_path, "dispatch")
    raise ValueError(f"unknown action {action!r}")  # pragma: no cover  (Action() already refused it)


# ---- agreements (调解协议书) -------------------------------------------------------------------------
AGREEMENT_ROLES = {Role.ADMIN, Role.MEDIATOR}


def can_view_agreement(actor: Actor, unit_path: str) -> bool:
    return within(actor, unit_path)


def can_draft_agreement(actor: Actor, unit_path: str) -> bool:
    """Draft, edit, freeze, withdraw, amend and present: mediators and admins of the unit or above."""
    return actor.role in AGREEMENT_ROLES and within(actor, unit_path)


def can_sign_as_mediator(actor: Actor, unit_path: str) -> bool:
    return actor.role == Role.MEDIATOR and within(actor, unit_path)


def can_apply_seal(actor: Actor, unit_code: str) -> bool:
    """The seal is the mediating unit's own: only its admins and mediators apply it."""
    return actor.role in AGREEMENT_ROLES and actor.unit_code == unit_code


def can_void_agreement(actor: Actor, unit_path: str) -> bool:
    return actor.role in AGREEMENT_ROLES and within(actor, unit_path)


def can_record_performance(actor: Actor, unit_path: str) -> bool:
    return actor.role in AGREEMENT_ROLES | {Role.GRID_WORKER} and within(actor, unit_path)
