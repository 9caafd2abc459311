"""Who may do what to a case, by role and by the actor's tier relative to the case (no I/O).

Relations of an actor to a case:
- OWNER: works at the owning unit;
- ABOVE: works at an ancestor of the owning unit (a higher tier supervising it);
- ASSIGNEE: is assigned to handle it;
- GRANTEE: holds a live time-boxed grant (an expert consulting, a petition panel member);
- PREVIOUS: works at (or above) a unit that owned the case before it moved (read only).

A domestic-violence (restricted) case gives no relation at all to staff who are not named on it, so they
can neither see it (queries filter it out: 404) nor act on it. Visibility itself is ``server.access``
(``case_visible``, and ``scope_cases`` = the SQL of ``server.cases.queries.visible``); these rules decide
actions on a case the actor can already see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from server.cases.workflow import Action, UnitRef
from server.directory.tiers import Role, Tier
from server.policy import Actor


class Relation(StrEnum):
    OWNER = "owner"
    ABOVE = "above"
    ASSIGNEE = "assignee"
    GRANTEE = "grantee"
    PREVIOUS = "previous"


@dataclass(frozen=True)
class CaseFacts:
    unit_path: str
    restricted: bool = False
    assignees: frozenset[int] = field(default_factory=frozenset)
    named: frozenset[int] = field(default_factory=frozenset)
    grantees: frozenset[int] = field(default_factory=frozenset)
    previous_paths: tuple[str, ...] = ()


def relations(actor: Actor, case: CaseFacts) -> set[Relation]:
    if case.restricted and actor.id not in case.named and actor.id not in case.grantees:
        return set()
    out: set[Relation] = set()
    if actor.unit_path == case.unit_path:
        out.add(Relation.OWNER)
    elif case.unit_path.startswith(actor.unit_path):
        out.add(Relation.ABOVE)
    if actor.id in case.assignees:
        out.add(Relation.ASSIGNEE)
    if actor.id in case.grantees:
        out.add(Relation.GRANTEE)
    if any(p.startswith(actor.unit_path) for p in case.previous_paths):
        out.add(Relation.PREVIOUS)
    return out


HANDLERS = frozenset({Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON})
ON_CASE = HANDLERS | {Role.GRID_WORKER}
LEADS = frozenset({Role.ADMIN, Role.MEDIATOR})
R = Relation
HANDLING_RELATIONS = frozenset({R.OWNER, R.ABOVE, R.ASSIGNEE})
UNIT_RELATIONS = frozenset({R.OWNER, R.ABOVE})

# action -> (roles allowed, relations allowed: any one suffices)
RULES: dict[str, tuple[frozenset[str], frozenset[Relation]]] = {
    Action.TRIAGE: (HANDLERS, UNIT_RELATIONS),
    Action.ACCEPT: (HANDLERS, UNIT_RELATIONS),
    Action.REJECT: (HANDLERS, UNIT_RELATIONS),
    Action.DISPATCH: (LEADS, UNIT_RELATIONS),
    Action.ESCALATE: (ON_CASE, frozenset({R.OWNER, R.ASSIGNEE})),
    Action.TRANSFER: (HANDLERS, UNIT_RELATIONS),
    Action.ASSIGN: (LEADS, UNIT_RELATIONS),
    Action.START_MEDIATION: (HANDLERS, HANDLING_RELATIONS),
    Action.SUSPEND: (HANDLERS, HANDLING_RELATIONS),
    Action.RESUME: (HANDLERS, HANDLING_RELATIONS),
    Action.BEGIN_SIGNING: (HANDLERS, HANDLING_RELATIONS),
    Action.REOPEN: (HANDLERS, HANDLING_RELATIONS),
    Action.MAKE_EFFECTIVE: (HANDLERS, HANDLING_RELATIONS),
    Action.START_PERFORMANCE: (HANDLERS, HANDLING_RELATIONS),
    Action.BEGIN_FOLLOW_UP: (HANDLERS, HANDLING_RELATIONS),
    Action.CLOSE: (HANDLERS, HANDLING_RELATIONS),
    Action.FAIL: (HANDLERS, HANDLING_RELATIONS),
    Action.WITHDRAW: (HANDLERS, HANDLING_RELATIONS),
    Action.ARCHIVE: (LEADS, UNIT_RELATIONS),
    # Work on a case that is not a state change.
    "edit": (HANDLERS, HANDLING_RELATIONS),
    "supervise": (LEADS, frozenset({R.ABOVE})),
    "respond_supervision": (HANDLERS, frozenset({R.OWNER, R.ASSIGNEE})),
    "follow_up": (ON_CASE, HANDLING_RELATIONS),
    "obligations": (HANDLERS, HANDLING_RELATIONS),
    "upload": (ON_CASE | {Role.EXPERT}, HANDLING_RELATIONS | {R.GRANTEE}),
    "consult": (HANDLERS, HANDLING_RELATIONS),
    "schedule_session": (HANDLERS, HANDLING_RELATIONS),
    "petition": (frozenset({Role.ADMIN, Role.PETITION_OFFICER, Role.MEDIATOR}), HANDLING_RELATIONS),
    "dv_response": (frozenset({Role.ADMIN, Role.MEDIATOR, Role.POLICE_LIAISON}), HANDLING_RELATIONS),
    "manage_access": (LEADS, UNIT_RELATIONS),
    "joint_override": (LEADS, HANDLING_RELATIONS),
    # Confidential address/phone in full: only the people handling the case.
    "reveal_confidential": (HANDLERS, frozenset({R.OWNER, R.ASSIGNEE})),
}


def can(actor: Actor, action: str, case: CaseFacts) -> bool:
    rule = RULES.get(action)
    if rule is None:
        return False
    roles, rels = rule
    return actor.role in roles and bool(relations(actor, case) & rels)


def can_route_to(actor: Actor, action: str, owner: UnitRef, target: UnitRef, target_parent_path: str) -> bool:
    """Where an actor may send a case. Direction (down/up/sideways) is the workflow's concern."""
    if action == Action.DISPATCH:
        # Only a higher tier dispatches down, and only inside its own subtree.
        return target.path.startswith(actor.unit_path) and target.path != actor.unit_path
    if action == Action.ESCALATE:
        return True
    if action == Action.TRANSFER:
        # Sideways to a sibling under the same parent, or anywhere inside the actor's own subtree.
        return owner.path.startswith(target_parent_path) or target.path.startswith(actor.unit_path)
    if action == Action.TRIAGE:
        return target.path.startswith(actor.unit_path)
    return False


def can_register(actor: Actor, unit_path: str) -> bool:
    """Staff register cases for their own unit or one below it; observers and experts do not."""
    return actor.role in ON_CASE and unit_path.startswith(actor.unit_path)


def can_assign_to(staff_unit_path: str, staff_role: str, owner_path: str) -> bool:
    """Assignees work at the owning unit, above it, or below it, in a handling role."""
    related = owner_path.startswith(staff_unit_path) or staff_unit_path.startswith(owner_path)
    return related and staff_role in ON_CASE


def can_issue_notice(actor: Actor) -> bool:
    return actor.role in LEADS and actor.tier in (Tier.CITY, Tier.COUNTY, Tier.TOWNSHIP)
