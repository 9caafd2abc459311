"""The council rules of the one access policy (server/access.py): who sees, manages, votes, supervises."""

from __future__ import annotations

from server import access
from server.access import Action, Kind, Record
from server.policy import Actor

VILLAGE = "1/2/3/4/"


def actor(role: str, path: str, tier: str = "village", id: int = 1) -> Actor:
    return Actor(id=id, username=f"u{id}", name="某", role=role, unit_id=1, unit_code="x", unit_path=path,
                 unit_tier=tier)


def rec(kind: Kind = Kind.COUNCIL, roles: frozenset[str] = frozenset()) -> Record:
    return Record(kind, VILLAGE, council_roles=roles)


def test_unit_staff_manage_and_the_tier_above_supervises_without_managing() -> None:
    grid = actor("grid_worker", VILLAGE)
    township = actor("mediator", "1/2/3/", "township")
    assert access.may(grid, Action.MANAGE, rec()) and access.may(grid, Action.MANAGE, rec(Kind.VOTE))
    assert not access.may(grid, Action.SUPERVISE, rec(Kind.TASK))
    assert access.sees(township, rec()) and not access.may(township, Action.MANAGE, rec())
    assert access.may(township, Action.SUPERVISE, rec(Kind.TASK))
    assert not access.may(township, Action.SUPERVISE, rec(Kind.MEETING))
    assert not access.may(actor("observer", "1/2/3/", "township"), Action.SUPERVISE, rec(Kind.TASK))
    assert not access.may(actor("observer", VILLAGE), Action.MANAGE, rec())  # least privilege


def test_outsiders_and_experts_see_nothing_members_see_their_council() -> None:
    assert not access.sees(actor("mediator", "1/2/9/", "township"), rec())
    assert not access.sees(actor("expert", "1/2/"), rec())
    outsider = actor("observer", "1/9/")
    assert access.sees(outsider, rec(roles=frozenset({"resident_rep"})))
    assert access.may(outsider, Action.VOTE, rec(Kind.VOTE, frozenset({"resident_rep"})))
    assert not access.may(outsider, Action.VOTE, rec(Kind.VOTE, frozenset({"guest"})))  # guests speak, not vote
    assert not access.may(outsider, Action.MANAGE, rec(roles=frozenset({"resident_rep"})))
    assert access.may(outsider, Action.MANAGE, rec(roles=frozenset({"convenor"})))
