"""The case state machine, tested directly: every (state, action) pair is either legal or refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.cases import catalog
from server.cases.workflow import (
    HANDLING,
    RULES,
    Action,
    CaseSnapshot,
    IllegalTransition,
    MissingInput,
    State,
    UnitRef,
    apply,
    available,
    is_overdue,
    regrade,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CITY = UnitRef("340300", "340300/", "city")
COUNTY = UnitRef("340321", "340300/340321/", "county")
TOWNSHIP = UnitRef("340321001", "340300/340321/340321001/", "township")
TOWNSHIP2 = UnitRef("340321002", "340300/340321/340321002/", "township")
VILLAGE = UnitRef("340321001001", "340300/340321/340321001/340321001001/", "village")


def case(status: State = State.REGISTERED, **kw) -> CaseSnapshot:  # type: ignore[no-untyped-def]
    base = CaseSnapshot(status=status, unit=TOWNSHIP, created_at=NOW - timedelta(days=1), category="disputes",
                        item="land_boundary", grade="yellow", triaged_at=NOW - timedelta(hours=20),
                        due_at=NOW + timedelta(days=6), follow_ups=1)
    return replace(base, **kw)


# Inputs good enough for every action, so the matrix tests only the state rule.
def good_params(action: Action, snap: CaseSnapshot) -> dict:
    p: dict = {"reason": "理由"}
    if action == Action.DISPATCH:
        p["unit"] = VILLAGE
    elif action == Action.ESCALATE:
        p["unit"] = COUNTY
    elif action == Action.TRANSFER:
        p["unit"] = TOWNSHIP2
    elif action == Action.ASSIGN:
        p["assignees"] = [7]
    return p


EXPECTED = {
    # state: {action: next state}
    State.REGISTERED: {Action.TRIAGE: State.TRIAGED, Action.ESCALATE: State.TRANSFERRED,
                       Action.WITHDRAW: State.WITHDRAWN},
    State.TRIAGED: {Action.ACCEPT: State.ACCEPTED, Action.REJECT: State.REJECTED, Action.DISPATCH: State.TRANSFERRED,
                    Action.ESCALATE: State.TRANSFERRED, Action.TRANSFER: State.TRANSFERRED,
                    Action.WITHDRAW: State.WITHDRAWN},
    State.TRANSFERRED: {Action.ACCEPT: State.ACCEPTED, Action.TRIAGE: State.TRIAGED, Action.DISPATCH: State.TRANSFERRED,
                        Action.ESCALATE: State.TRANSFERRED, Action.TRANSFER: State.TRANSFERRED,
                        Action.WITHDRAW: State.WITHDRAWN},
    State.ACCEPTED: {Action.ASSIGN: State.ASSIGNED, Action.DISPATCH: State.TRANSFERRED,
                     Action.ESCALATE: State.TRANSFERRED, Action.TRANSFER: State.TRANSFERRED,
                     Action.WITHDRAW: State.WITHDRAWN},
    State.ASSIGNED: {Action.ASSIGN: State.ASSIGNED, Action.START_MEDIATION: State.IN_MEDIATION,
                     Action.DISPATCH: State.TRANSFERRED, Action.ESCALATE: State.TRANSFERRED,
                     Action.TRANSFER: State.TRANSFERRED, Action.WITHDRAW: State.WITHDRAWN},
    State.IN_MEDIATION: {Action.ASSIGN: State.IN_MEDIATION, Action.SUSPEND: State.SUSPENDED,
                         Action.BEGIN_SIGNING: State.AGREEMENT_SIGNING, Action.FAIL: State.FAILED,
                         Action.ESCALATE: State.TRANSFERRED, Action.WITHDRAW: State.WITHDRAWN},
    State.SUSPENDED: {Action.ASSIGN: State.SUSPENDED, Action.RESUME: State.IN_MEDIATION, Action.FAIL: State.FAILED,
                      Action.ESCALATE: State.TRANSFERRED, Action.WITHDRAW: State.WITHDRAWN},
    State.AGREEMENT_SIGNING: {Action.ASSIGN: State.AGREEMENT_SIGNING, Action.REOPEN: State.IN_MEDIATION,
                              Action.MAKE_EFFECTIVE: State.AGREEMENT_EFFECTIVE, Action.FAIL: State.FAILED,
                              Action.WITHDRAW: State.WITHDRAWN},
    State.AGREEMENT_EFFECTIVE: {Action.ASSIGN: State.AGREEMENT_EFFECTIVE, Action.START_PERFORMANCE: State.PERFORMING,
                                Action.BEGIN_FOLLOW_UP: State.FOLLOW_UP},
    State.PERFORMING: {Action.ASSIGN: State.PERFORMING, Action.BEGIN_FOLLOW_UP: State.FOLLOW_UP,
                       Action.FAIL: State.FAILED},
    State.FOLLOW_UP: {Action.ASSIGN: State.FOLLOW_UP, Action.CLOSE: State.CLOSED},
    State.CLOSED: {Action.ARCHIVE: State.ARCHIVED},
    State.REJECTED: {Action.ARCHIVE: State.ARCHIVED},
    State.FAILED: {Action.ARCHIVE: State.ARCHIVED},
    State.WITHDRAWN: {Action.ARCHIVE: State.ARCHIVED},
    State.ARCHIVED: {},
}


def test_expected_covers_every_state() -> None:
    assert set(EXPECTED) == set(State)


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
def test_matrix(state: State, action: Action) -> None:
    snap = case(state)
    want = EXPECTED[state].get(action)
    if want is None:
        with pytest.raises(IllegalTransition):
            apply(snap, action, good_params(action, snap), NOW)
        assert action not in available(state)
    else:
        out = apply(snap, action, good_params(action, snap), NOW)
        assert out.to_state == want
        assert out.changes["status"] == want
        assert out.event["from"] == state and out.event["to"] == want
        assert action in available(state)


def test_unknown_action_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        apply(case(), "explode", {}, NOW)


@pytest.mark.parametrize("action", [a for a, r in RULES.items() if "reason" in r.needs])
def test_reason_required(action: Action) -> None:
    state = next(iter(RULES[action].sources))
    snap = case(state)
    params = good_params(action, snap)
    params["reason"] = "   "
    with pytest.raises(MissingInput):
        apply(snap, action, params, NOW)


@pytest.mark.parametrize("grade,days", [("red", 1), ("orange", 3), ("yellow", 7), ("blue", 20)])
def test_triage_sets_deadline_from_grade(grade: str, days: int) -> None:
    out = apply(case(State.REGISTERED, grade=None), Action.TRIAGE,
                {"category": "disputes", "item": "debt", "grade": grade}, NOW)
    assert out.changes["due_at"] == NOW + timedelta(days=days)
    assert out.changes["grade"] == grade and out.changes["triaged_at"] == NOW


def test_triage_needs_a_catalogue_item_and_grade() -> None:
    with pytest.raises(MissingInput):
        apply(case(category=None, item=None), Action.TRIAGE, {"grade": "red"}, NOW)
    with pytest.raises(MissingInput):
        apply(case(), Action.TRIAGE, {"category": "disputes", "item": "fraud", "grade": "red"}, NOW)
    with pytest.raises(MissingInput):
        apply(case(grade=None), Action.TRIAGE, {"grade": "purple"}, NOW)


def test_domestic_violence_grades_are_red_orange_blue() -> None:
    snap = case(category="policing", item="domestic_violence", grade=None)
    with pytest.raises(MissingInput):
        apply(snap, Action.TRIAGE, {"grade": "yellow"}, NOW)
    out = apply(snap, Action.TRIAGE, {"grade": "orange"}, NOW)
    assert out.changes["domestic_violence"] is True
    assert catalog.allowed_grades(True) == (catalog.Grade.RED, catalog.Grade.ORANGE, catalog.Grade.BLUE)


def test_triage_routes_only_within_subtree() -> None:
    out = apply(case(), Action.TRIAGE, {"unit": VILLAGE}, NOW)
    assert out.changes["unit"] == VILLAGE
    with pytest.raises(MissingInput):
        apply(case(), Action.TRIAGE, {"unit": TOWNSHIP2}, NOW)


def test_directions_of_cross_tier_moves() -> None:
    t = case(State.TRIAGED)
    assert apply(t, Action.DISPATCH, {"unit": VILLAGE, "reason": "x"}, NOW).changes["unit"] == VILLAGE
    assert apply(t, Action.ESCALATE, {"unit": CITY, "reason": "x"}, NOW).changes["unit"] == CITY
    for bad_action, unit in [(Action.DISPATCH, COUNTY), (Action.DISPATCH, TOWNSHIP2), (Action.ESCALATE, VILLAGE),
                             (Action.ESCALATE, TOWNSHIP2), (Action.TRANSFER, COUNTY), (Action.TRANSFER, TOWNSHIP),
                             (Action.TRANSFER, VILLAGE)]:
        with pytest.raises(MissingInput):
            apply(t, bad_action, {"unit": unit, "reason": "x"}, NOW)
    with pytest.raises(MissingInput):
        apply(t, Action.DISPATCH, {"reason": "x"}, NOW)


def test_resolution_turns_green_and_records_on_time() -> None:
    out = apply(case(State.AGREEMENT_SIGNING), Action.MAKE_EFFECTIVE, {"agreement_id": 5}, NOW)
    assert out.changes["grade"] == "green" and out.changes["outcome"] == "resolved"
    assert out.changes["on_time"] is True and out.event["agreement_id"] == 5
    late = apply(case(State.AGREEMENT_SIGNING, due_at=NOW - timedelta(seconds=1)), Action.MAKE_EFFECTIVE, {}, NOW)
    assert late.changes["on_time"] is False


def test_close_needs_a_follow_up() -> None:
    with pytest.raises(IllegalTransition) as e:
        apply(case(State.FOLLOW_UP, follow_ups=0), Action.CLOSE, {}, NOW)
    assert e.value.code == "follow_up_required"
    out = apply(case(State.FOLLOW_UP), Action.CLOSE, {}, NOW)
    assert out.changes["days_to_close"] == 1.0


def test_assign_deduplicates_and_needs_people() -> None:
    out = apply(case(State.ACCEPTED), Action.ASSIGN, {"assignees": [3, 4, 3]}, NOW)
    assert out.changes["assignees"] == [3, 4] and out.to_state == State.ASSIGNED
    for bad in ([], None, ["x"], "3"):
        with pytest.raises(MissingInput):
            apply(case(State.ACCEPTED), Action.ASSIGN, {"assignees": bad}, NOW)


def test_regrade_moves_the_deadline() -> None:
    snap = case(State.IN_MEDIATION)
    ch = regrade(snap, "red")
    assert ch["due_at"] == snap.triaged_at + timedelta(days=1)
    with pytest.raises(IllegalTransition):
        regrade(case(State.CLOSED), "red")
    with pytest.raises(MissingInput):
        regrade(case(State.IN_MEDIATION, domestic_violence=True), "yellow")


def test_overdue_only_while_handling() -> None:
    past = NOW - timedelta(minutes=1)
    assert is_overdue("in_mediation", past, NOW)
    assert not is_overdue("in_mediation", NOW + timedelta(minutes=1), NOW)
    assert not is_overdue("closed", past, NOW)
    assert not is_overdue("registered", None, NOW)
    assert State.AGREEMENT_EFFECTIVE not in HANDLING


def test_accept_needs_triage_first() -> None:
    with pytest.raises(IllegalTransition) as e:
        apply(case(State.TRANSFERRED, grade=None, triaged_at=None), Action.ACCEPT, {}, NOW)
    assert e.value.code == "triage_required"
