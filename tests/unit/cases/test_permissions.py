"""Who may take which action on a case: role x tier relation, tested as a matrix (no I/O)."""

from __future__ import annotations

import pytest

from server.cases.permissions import CaseFacts, Relation, can, can_route_to, relations
from server.cases.workflow import Action, UnitRef
from server.directory.tiers import Role
from server.policy import Actor

TOWNSHIP = "340300/340321/340321001/"
UNITS = {
    "city": ("340300", "340300/", "city"),
    "county": ("340321", "340300/340321/", "county"),
    "township": ("340321001", TOWNSHIP, "township"),
    "village": ("340321001001", TOWNSHIP + "340321001001/", "village"),
    "sibling": ("340321002", "340300/340321/340321002/", "township"),
}


def actor(role: str, where: str, id: int = 1) -> Actor:
    code, path, tier = UNITS[where]
    return Actor(id=id, username=f"{role}-{where}", name="张三", role=role, unit_id=1, unit_code=code,
                 unit_path=path, unit_tier=tier)


CASE = CaseFacts(unit_path=TOWNSHIP)


@pytest.mark.parametrize("where,expected", [
    ("city", {Relation.ABOVE}), ("county", {Relation.ABOVE}), ("township", {Relation.OWNER}),
    ("village", set()), ("sibling", set())])
def test_relations_by_tier(where: str, expected: set) -> None:
    assert relations(actor(Role.MEDIATOR, where), CASE) == expected


# action -> the (role, where) pairs allowed on a 龙亢镇 case; every other pair of the grid is refused.
ROLES = [Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON, Role.GRID_WORKER, Role.EXPERT,
         Role.OBSERVER]
HANDLERS = {Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON}
OWNER_OR_ABOVE = {"city", "county", "township"}
EXPECT = {
    Action.TRIAGE: {(r, w) for r in HANDLERS for w in OWNER_OR_ABOVE},
    Action.DISPATCH: {(r, w) for r in (Role.ADMIN, Role.MEDIATOR) for w in OWNER_OR_ABOVE},
    Action.ESCALATE: {(r, "township") for r in HANDLERS | {Role.GRID_WORKER}},
    Action.ASSIGN: {(r, w) for r in (Role.ADMIN, Role.MEDIATOR) for w in OWNER_OR_ABOVE},
    Action.CLOSE: {(r, w) for r in HANDLERS for w in OWNER_OR_ABOVE},
    "supervise": {(r, w) for r in (Role.ADMIN, Role.MEDIATOR) for w in ("city", "county")},
    "respond_supervision": {(r, "township") for r in HANDLERS},
    "follow_up": {(r, w) for r in HANDLERS | {Role.GRID_WORKER} for w in OWNER_OR_ABOVE},
    "reveal_confidential": {(r, "township") for r in HANDLERS},
}


@pytest.mark.parametrize("action", list(EXPECT))
def test_matrix(action: str) -> None:
    got = {(r, w) for r in ROLES for w in UNITS if can(actor(r, w), action, CASE)}
    assert got == EXPECT[action]


def test_assignee_from_elsewhere_may_handle_but_not_supervise() -> None:
    helper = actor(Role.MEDIATOR, "sibling", id=9)
    facts = CaseFacts(unit_path=TOWNSHIP, assignees=frozenset({9}))
    assert can(helper, Action.START_MEDIATION, facts) and can(helper, "follow_up", facts)
    assert not can(helper, Action.ASSIGN, facts) and not can(helper, "supervise", facts)


def test_restricted_case_gives_nothing_to_unnamed_staff() -> None:
    dv = CaseFacts(unit_path=TOWNSHIP, restricted=True, named=frozenset({5}))
    boss = actor(Role.ADMIN, "city")
    assert relations(boss, dv) == set() and not can(boss, "supervise", dv) and not can(boss, Action.TRIAGE, dv)
    named = actor(Role.MEDIATOR, "township", id=5)
    assert can(named, Action.TRIAGE, dv) and can(named, "reveal_confidential", dv)


def test_expert_grant_allows_upload_only() -> None:
    ex = actor(Role.EXPERT, "county", id=7)
    facts = CaseFacts(unit_path=TOWNSHIP, grantees=frozenset({7}))
    assert can(ex, "upload", facts)
    assert not any(can(ex, a, facts) for a in Action)
    assert not can(ex, "reveal_confidential", facts)


def test_previous_owner_reads_but_does_not_act() -> None:
    old = actor(Role.MEDIATOR, "sibling")
    facts = CaseFacts(unit_path=TOWNSHIP, previous_paths=(UNITS["sibling"][1],))
    assert relations(old, facts) == {Relation.PREVIOUS}
    assert not any(can(old, a, facts) for a in Action)


def test_routing() -> None:
    owner = UnitRef(*UNITS["township"])
    me = actor(Role.MEDIATOR, "township")
    assert can_route_to(me, Action.DISPATCH, owner, UnitRef(*UNITS["village"]), TOWNSHIP)
    assert not can_route_to(me, Action.DISPATCH, owner, UnitRef(*UNITS["sibling"]), UNITS["county"][1])
    assert can_route_to(me, Action.TRANSFER, owner, UnitRef(*UNITS["sibling"]), UNITS["county"][1])
    other_county = UnitRef("340322001", "340300/340322/340322001/", "township")
    assert not can_route_to(me, Action.TRANSFER, owner, other_county, "340300/340322/")
    assert can_route_to(actor(Role.MEDIATOR, "city"), Action.TRANSFER, owner, other_county, "340300/340322/")
