"""The permission rules as a matrix: every role x tier x action x relation to the target unit.

The expected answers come from an independent oracle: the relation (self, descendant, ancestor, other
branch) is found by walking parent links, not by the path prefixes the policy uses.
"""

from __future__ import annotations

import itertools

import pytest

from server import policy
from server.directory.tiers import Role, Tier
from server.policy import Action, Actor

# code -> (parent code, tier). Two branches under the city, plus county "2" whose path "100/2/" is a
# string prefix of "100/200/" without the trailing slash: the policy must not confuse them.
UNITS: dict[str, tuple[str | None, Tier]] = {
    "100": (None, Tier.CITY),
    "200": ("100", Tier.COUNTY),
    "201": ("100", Tier.COUNTY),
    "2": ("100", Tier.COUNTY),
    "300": ("200", Tier.TOWNSHIP),
    "301": ("200", Tier.TOWNSHIP),
    "310": ("201", Tier.TOWNSHIP),
    "400": ("300", Tier.VILLAGE),
    "401": ("300", Tier.VILLAGE),
    "410": ("301", Tier.VILLAGE),
    "420": ("310", Tier.VILLAGE),
}
# Where an actor of each tier sits.
HOME = {Tier.CITY: "100", Tier.COUNTY: "200", Tier.TOWNSHIP: "300", Tier.VILLAGE: "400"}


def path(code: str) -> str:
    parent = UNITS[code][0]
    return (path(parent) if parent else "") + code + "/"


def relation(actor_code: str, target: str) -> str:
    if actor_code == target:
        return "self"
    up = UNITS[target][0]
    while up is not None:
        if up == actor_code:
            return "descendant"
        up = UNITS[up][0]
    up = UNITS[actor_code][0]
    while up is not None:
        if up == target:
            return "ancestor"
        up = UNITS[up][0]
    return "other"


def actor(role: Role, tier: Tier) -> Actor:
    code = HOME[tier]
    return Actor(id=1, username="u", name="张三", role=str(role), unit_id=1, unit_code=code, unit_path=path(code),
                 unit_tier=str(tier))


HOSTS = {Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER, Role.POLICE_LIAISON}
OWN = {"self", "descendant"}


def expected(role: Role, tier: Tier, action: Action, rel: str) -> bool:
    """The rules as the product owner states them (DESIGN.md §4 and issue 2)."""
    match action:
        case Action.VIEW_UNIT | Action.LIST_STAFF:
            return rel in OWN
        case Action.MANAGE_STAFF:
            return role == Role.ADMIN and rel in OWN
        case Action.VIEW_EXPERT:
            return rel in OWN | {"ancestor"}
        case Action.HOST_MEDIATION | Action.HOST_CONSULTATION:
            return role in HOSTS and rel in OWN
        case Action.HOST_PETITION:
            return role in {Role.ADMIN, Role.PETITION_OFFICER, Role.MEDIATOR} and rel in OWN
        case Action.HOST_DISPATCH:
            return role in {Role.ADMIN, Role.MEDIATOR} and tier in (Tier.CITY, Tier.COUNTY) and rel in OWN
    raise AssertionError(f"no expectation written for {action}")


MATRIX = list(itertools.product(Role, Tier, Action))


@pytest.mark.parametrize(("role", "tier", "action"), MATRIX, ids=[f"{r}-{t}-{a}" for r, t, a in MATRIX])
def test_matrix(role: Role, tier: Tier, action: Action) -> None:
    a = actor(role, tier)
    for target in UNITS:
        rel = relation(a.unit_code, target)
        assert policy.allowed(a, action, path(target)) == expected(role, tier, action, rel), (
            f"{role} at {tier} {a.unit_code}, {action} on {target} ({rel})")


def test_matrix_covers_every_relation() -> None:
    rels = {relation(HOME[t], u) for t in Tier for u in UNITS}
    assert rels == {"self", "descendant", "ancestor", "other"}


@pytest.mark.parametrize("tier", [Tier.COUNTY, Tier.TOWNSHIP, Tier.VILLAGE])
def test_lower_tiers_never_see_siblings_or_other_branches(tier: Tier) -> None:
    for role in Role:
        a = actor(role, tier)
        for target in UNITS:
            if relation(a.unit_code, target) == "other":
                for action in Action:
                    assert not policy.allowed(a, action, path(target)), (role, tier, action, target)


def test_higher_tiers_see_all_descendants() -> None:
    a = actor(Role.OBSERVER, Tier.CITY)
    assert all(policy.can_view_unit(a, path(u)) for u in UNITS)


def test_prefix_without_slash_is_not_an_ancestor() -> None:
    a = actor(Role.ADMIN, Tier.COUNTY)  # "100/200/"
    assert not policy.can_view_unit(a, path("2"))
    assert not policy.is_ancestor(a, "100/2")
    assert policy.is_ancestor(a, "100/")


def test_ancestor_paths_and_expert_scope() -> None:
    assert policy.ancestor_paths("100/200/300/") == ["100/", "100/200/"]
    assert policy.ancestor_paths("100/") == []
    a = actor(Role.MEDIATOR, Tier.TOWNSHIP)
    subtree, ancestors = policy.expert_scope(a)
    # The query form agrees with the rule for every unit.
    for u in UNITS:
        p = path(u)
        assert (p.startswith(subtree) or p in ancestors) == policy.can_see_expert(a, p), u


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError):
        policy.allowed(actor(Role.ADMIN, Tier.CITY), "delete_everything", "100/")


def test_every_action_has_an_expectation() -> None:
    for action in Action:
        expected(Role.ADMIN, Tier.CITY, action, "self")
