"""The access policy (server/access.py) as a table: actor x action x record -> allowed. Pure, no database.

Grant expiry is the loader's part (``CaseFacts.grantees`` holds only live grants), so the expired expert
here is an expert whose id is in no list, which is what the loader gives after expiry.
"""

from __future__ import annotations

import pytest

from server.access import Action, Kind, Party, Record, case_visible, may, sees
from server.cases.permissions import CaseFacts
from server.directory.tiers import Role, Tier
from server.policy import Actor

CITY, COUNTY, TOWN, VILLAGE, OTHER_COUNTY = "1/", "1/2/", "1/2/3/", "1/2/3/4/", "1/9/"


def staff(i: int, role: Role, path: str, tier: Tier) -> Actor:
    return Actor(id=i, username=f"u{i}", name=f"n{i}", role=str(role), unit_id=i, unit_code=f"c{i}",
                 unit_path=path, unit_tier=str(tier))


NAMED = staff(1, Role.MEDIATOR, TOWN, Tier.TOWNSHIP)
UNNAMED = staff(2, Role.MEDIATOR, TOWN, Tier.TOWNSHIP)
COUNTY_MED = staff(3, Role.MEDIATOR, COUNTY, Tier.COUNTY)
CITY_ADMIN = staff(4, Role.ADMIN, CITY, Tier.CITY)
EXPERT_LIVE = staff(5, Role.EXPERT, COUNTY, Tier.COUNTY)
EXPERT_EXPIRED = staff(6, Role.EXPERT, COUNTY, Tier.COUNTY)
OTHER = staff(7, Role.MEDIATOR, OTHER_COUNTY, Tier.COUNTY)
OBSERVER = staff(8, Role.OBSERVER, COUNTY, Tier.COUNTY)
GRID = staff(9, Role.GRID_WORKER, VILLAGE, Tier.VILLAGE)
SIBLING = staff(10, Role.MEDIATOR, "1/2/5/", Tier.TOWNSHIP)

DV = CaseFacts(TOWN, restricted=True, named=frozenset({1}), grantees=frozenset({5}))
OPEN = CaseFacts(TOWN, grantees=frozenset({5}))
MOVED = CaseFacts(OTHER_COUNTY, previous_paths=(TOWN,))  # transferred away from the township


def rec(kind: Kind, case: CaseFacts | None = None, path: str = TOWN, **kw: object) -> Record:
    return Record(kind, path, case, **kw)  # type: ignore[arg-type]


DV_SESSION = rec(Kind.SESSION, DV, created_by=1)
T = True
F = False

# (actor, action, record, allowed, why)
TABLE: list[tuple[Actor, Action, Record, bool, str]] = [
    # A DV case's session and everything it produces: the named mediator and the live grantee only.
    (NAMED, Action.VIEW, DV_SESSION, T, "named on the case"),
    (NAMED, Action.JOIN, DV_SESSION, T, "named: joins"),
    (NAMED, Action.MANAGE, DV_SESSION, T, "named host"),
    (NAMED, Action.EDIT, rec(Kind.MINUTES, DV), T, "named mediator writes minutes"),
    (NAMED, Action.DOWNLOAD, rec(Kind.RECORDING, DV), T, "named mediator downloads"),
    (UNNAMED, Action.VIEW, DV_SESSION, F, "same township, not named"),
    (UNNAMED, Action.JOIN, DV_SESSION, F, "same township, not named: no room"),
    (UNNAMED, Action.EDIT, rec(Kind.MINUTES, DV), F, "cannot overwrite minutes"),
    (UNNAMED, Action.VIEW, rec(Kind.LOG, DV), F, "log inherits the case"),
    (UNNAMED, Action.DOWNLOAD, rec(Kind.RECORDING, DV), F, "recording inherits the case"),
    (COUNTY_MED, Action.VIEW, DV_SESSION, F, "county above, not named"),
    (COUNTY_MED, Action.MANAGE, rec(Kind.SESSION, DV, created_by=3), F, "even its creator, once not named"),
    (CITY_ADMIN, Action.VIEW, rec(Kind.MINUTES, DV), F, "city admin, not named"),
    (OTHER, Action.VIEW, DV_SESSION, F, "another county"),
    (EXPERT_LIVE, Action.VIEW, DV_SESSION, T, "live grant: reads"),
    (EXPERT_LIVE, Action.VIEW, rec(Kind.MINUTES, DV), T, "live grant: reads minutes"),
    (EXPERT_LIVE, Action.EDIT, rec(Kind.MINUTES, DV), F, "an expert does not write the minutes"),
    (EXPERT_LIVE, Action.DOWNLOAD, rec(Kind.RECORDING, DV), F, "media is for hosting roles"),
    (EXPERT_LIVE, Action.MANAGE, rec(Kind.SESSION, DV, created_by=5, session_kind="consultation"), T,
     "the expert created the consultation"),
    (EXPERT_EXPIRED, Action.VIEW, rec(Kind.SESSION, DV, created_by=6, session_kind="consultation"), F,
     "grant expired: its own consultation is gone"),
    (EXPERT_EXPIRED, Action.JOIN, rec(Kind.SESSION, OPEN, created_by=6, session_kind="consultation"), F,
     "grant expired on an open case too"),
    (EXPERT_EXPIRED, Action.VIEW, rec(Kind.INVITATION, DV, created_by=6), F, "invitations inherit"),
    # A restricted case: an invitation by account does not open it; an open case's session does open.
    (UNNAMED, Action.VIEW, rec(Kind.SESSION, DV, invited=frozenset({2})), F, "invited, but not on the list"),
    (OTHER, Action.VIEW, rec(Kind.SESSION, OPEN, invited=frozenset({7})), T, "invited to an open case's session"),
    # An open case: the unit path decides, experts only by grant.
    (UNNAMED, Action.VIEW, rec(Kind.SESSION, OPEN), T, "open case, own township"),
    (COUNTY_MED, Action.VIEW, rec(Kind.SESSION, OPEN), T, "open case, county above"),
    (OTHER, Action.VIEW, rec(Kind.SESSION, OPEN), F, "open case, another county"),
    (EXPERT_EXPIRED, Action.VIEW, rec(Kind.CASE, OPEN), F, "experts see cases only by grant"),
    (OBSERVER, Action.VIEW, rec(Kind.SESSION, OPEN), T, "observer of the county reads"),
    (OBSERVER, Action.EDIT, rec(Kind.MINUTES, OPEN), F, "observer does not write"),
    (OBSERVER, Action.DOWNLOAD, rec(Kind.RECORDING, OPEN), F, "observer does not download media"),
    (COUNTY_MED, Action.VIEW, rec(Kind.SESSION, MOVED), T, "moved away, but passed through its subtree"),
    (SIBLING, Action.VIEW, rec(Kind.SESSION, MOVED), F, "a sibling township it never passed through"),
    (UNNAMED, Action.VIEW, rec(Kind.SESSION, MOVED), T, "the township it passed through still reads"),
    # A session without a case follows its unit.
    (UNNAMED, Action.VIEW, rec(Kind.SESSION), T, "caseless: own unit"),
    (COUNTY_MED, Action.VIEW, rec(Kind.LOG), T, "caseless: unit above"),
    (OTHER, Action.VIEW, rec(Kind.SESSION), F, "caseless: another county"),
    (OTHER, Action.VIEW, rec(Kind.SESSION, invited=frozenset({7})), T, "caseless: invited by account"),
    (GRID, Action.VIEW, rec(Kind.SESSION), F, "caseless: a unit below does not see up"),
    (COUNTY_MED, Action.MANAGE, rec(Kind.SESSION), T, "a host of the unit above manages"),
    (OBSERVER, Action.MANAGE, rec(Kind.SESSION), F, "an observer does not manage"),
    (EXPERT_LIVE, Action.MANAGE, rec(Kind.SESSION, created_by=5), T, "the creator manages"),
    # Case records: agreement, document, consultation, party.
    (NAMED, Action.VIEW, rec(Kind.AGREEMENT, DV), T, "agreement of a DV case: named"),
    (COUNTY_MED, Action.VIEW, rec(Kind.AGREEMENT, DV), F, "agreement of a DV case: county not named"),
    (COUNTY_MED, Action.VIEW, rec(Kind.AGREEMENT, OPEN), T, "agreement of an open case"),
    (COUNTY_MED, Action.VIEW, rec(Kind.AGREEMENT), T, "agreement without a case: by unit"),
    (OTHER, Action.VIEW, rec(Kind.AGREEMENT), F, "agreement of another county"),
    (NAMED, Action.EDIT, rec(Kind.AGREEMENT, DV), T, "the named mediator drafts"),
    (NAMED, Action.SEAL, rec(Kind.AGREEMENT, DV, unit_code="c1"), T, "the seal is the unit's own"),
    (COUNTY_MED, Action.SEAL, rec(Kind.AGREEMENT, OPEN, unit_code="c1"), F, "not the county's seal"),
    (UNNAMED, Action.VIEW, rec(Kind.DOCUMENT, DV), F, "DV documents"),
    (EXPERT_LIVE, Action.EDIT, rec(Kind.DOCUMENT, DV), T, "a granted expert uploads"),
    (EXPERT_LIVE, Action.VIEW, rec(Kind.CONSULTATION, DV), T, "consultation: live grant"),
    (EXPERT_EXPIRED, Action.VIEW, rec(Kind.CONSULTATION, DV), F, "consultation: expired grant"),
    (NAMED, Action.REVEAL, rec(Kind.PARTY, DV), T, "the owner handling a DV case sees the address"),
    (EXPERT_LIVE, Action.REVEAL, rec(Kind.PARTY, DV), F, "a grantee never sees the address"),
    (UNNAMED, Action.VIEW, rec(Kind.PARTY, DV), F, "a DV party does not exist for the unnamed"),
    # Unit-path records.
    (COUNTY_MED, Action.VIEW, rec(Kind.NOTICE, path=CITY), T, "a notice from above"),
    (COUNTY_MED, Action.VIEW, rec(Kind.NOTICE, path=TOWN), T, "a notice from below"),
    (COUNTY_MED, Action.VIEW, rec(Kind.NOTICE, path=OTHER_COUNTY), F, "a sibling county's notice"),
    (COUNTY_MED, Action.VIEW, rec(Kind.FIGURE, path=TOWN), T, "figures below"),
    (EXPERT_LIVE, Action.VIEW, rec(Kind.FIGURE, path=COUNTY), F, "experts get no figures"),
    (COUNTY_MED, Action.VIEW, rec(Kind.FIGURE, path=CITY), F, "no figures above"),
    (CITY_ADMIN, Action.MANAGE, rec(Kind.STAFF, path=TOWN), T, "admin manages staff below"),
    (COUNTY_MED, Action.MANAGE, rec(Kind.STAFF, path=TOWN), F, "a mediator manages no accounts"),
    (COUNTY_MED, Action.VIEW, rec(Kind.UNIT, path=OTHER_COUNTY), F, "no sibling units"),
]


@pytest.mark.parametrize(("actor", "action", "record", "allowed", "why"), TABLE, ids=[row[4] for row in TABLE])
def test_policy_table(actor: Actor, action: Action, record: Record, allowed: bool, why: str) -> None:
    assert may(actor, action, record) is allowed, why


def test_hidden_records_refuse_every_action() -> None:
    """What is not seen cannot be acted on: callers answer 404 for all of it, never 403."""
    for actor in (UNNAMED, COUNTY_MED, CITY_ADMIN, OTHER, EXPERT_EXPIRED):
        for kind in (Kind.SESSION, Kind.INVITATION, Kind.MINUTES, Kind.RECORDING, Kind.LOG, Kind.AGREEMENT,
                     Kind.DOCUMENT, Kind.CONSULTATION, Kind.CASE, Kind.PARTY):
            r = rec(kind, DV, created_by=actor.id)
            assert not sees(actor, r)
            assert not any(may(actor, a, r) for a in Action), (actor.username, kind)


def test_case_visibility_matches_the_query_rule() -> None:
    assert case_visible(NAMED, DV) and case_visible(EXPERT_LIVE, DV)
    assert not case_visible(CITY_ADMIN, DV) and not case_visible(GRID, OPEN)
    # Named staff see a restricted case wherever they work (the SQL grants it by the access row alone).
    assert case_visible(OTHER, CaseFacts(TOWN, restricted=True, named=frozenset({7})))


def test_a_party_reads_only_their_own_agreement_after_the_check() -> None:
    agreement = rec(Kind.AGREEMENT, DV)
    assert may(Party(10, verified=True), Action.VIEW, agreement, agreement_id=10)
    assert may(Party(10, verified=True), Action.DOWNLOAD, agreement, agreement_id=10)
    assert not may(Party(10, verified=False), Action.VIEW, agreement, agreement_id=10)
    assert not may(Party(10, verified=True), Action.VIEW, agreement, agreement_id=11)
    assert not may(Party(10, verified=True), Action.EDIT, agreement, agreement_id=10)
    assert not may(Party(10, verified=True), Action.VIEW, rec(Kind.MINUTES, DV), agreement_id=10)
