"""The council rule book: quorum, tally and result, the topic lifecycle, ballot refusals, receipts, tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from server.councils import rules
from server.councils.rules import (
    Choice,
    CouncilError,
    Member,
    MemberRole,
    Outcome,
    PassRule,
    QuorumRule,
    Tally,
    Term,
    TopicAction,
    TopicState,
    VoteFacts,
    VoteState,
)
from server.failures import Kind

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
DAY = date(2026, 12, 6)
TERM = Term(date(2026, 1, 1), date(2028, 12, 31))


def refused(code: str, fn, *a, **kw) -> CouncilError:  # type: ignore[no-untyped-def]
    with pytest.raises(CouncilError) as e:
        fn(*a, **kw)
    assert e.value.code == code, e.value.code
    return e.value


# ---- quorum -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("members", "needed"), [(1, 3), (3, 3), (4, 3), (5, 3), (6, 4), (7, 4), (9, 5), (10, 6)])
def test_default_quorum_is_more_than_half_and_at_least_three(members: int, needed: int) -> None:
    assert QuorumRule().needed(members) == needed


def test_two_thirds_not_strict() -> None:
    r = QuorumRule(Fraction(2, 3), strictly_more=False, minimum=1)
    assert [r.needed(n) for n in (3, 4, 5, 6, 9)] == [2, 3, 4, 4, 6]


def test_quorum_met_and_not() -> None:
    r = QuorumRule()
    assert r.met(5, 3) and not r.met(5, 2)
    assert not r.met(0, 0)  # a council without voting members never has a quorum


def test_quorum_from_dict_round_trips_and_refuses_nonsense() -> None:
    r = QuorumRule(Fraction(2, 3), False, 2, PassRule.TWO_THIRDS_OF_CAST)
    assert QuorumRule.from_dict(r.as_dict()) == r
    assert QuorumRule.from_dict(None) == QuorumRule()
    refused("bad_quorum", QuorumRule.from_dict, {"fraction": "3/2"})
    refused("bad_quorum", QuorumRule.from_dict, {"fraction": "x"})
    refused("bad_quorum", QuorumRule.from_dict, {"minimum": 0})
    refused("bad_quorum", QuorumRule.from_dict, {"passing": "loudest"})


# ---- tally and result -------------------------------------------------------------------------------

def test_tally_counts_each_choice() -> None:
    t = rules.tally(["agree", "agree", "against", "abstain", "agree"])
    assert t == Tally(3, 1, 1) and t.cast == 5
    assert t.as_dict() == {"agree": 3, "against": 1, "abstain": 1, "cast": 5}


def test_majority_of_cast_counts_abstentions_as_cast() -> None:
    r = QuorumRule()
    assert rules.result(Tally(3, 1, 1), r, 7, 5).outcome == Outcome.PASSED
    assert rules.result(Tally(2, 1, 1), r, 7, 5).outcome == Outcome.NOT_PASSED  # 2 of 4 is not more than half
    assert rules.result(Tally(0, 0, 0), r, 7, 5).outcome == Outcome.NOT_PASSED


def test_no_quorum_voids_the_vote_whatever_the_ballots() -> None:
    res = rules.result(Tally(2, 0, 0), QuorumRule(), 7, 2)
    assert res.outcome == Outcome.NO_QUORUM and not res.quorate and res.quorum_needed == 4


def test_other_passing_rules() -> None:
    members = QuorumRule(passing=PassRule.MAJORITY_OF_MEMBERS)
    assert rules.result(Tally(3, 0, 0), members, 7, 5).outcome == Outcome.NOT_PASSED  # 3 of 7 members
    assert rules.result(Tally(4, 1, 0), members, 7, 5).outcome == Outcome.PASSED
    two_thirds = QuorumRule(passing=PassRule.TWO_THIRDS_OF_CAST)
    assert rules.result(Tally(4, 2, 0), two_thirds, 7, 6).outcome == Outcome.PASSED
    assert rules.result(Tally(3, 2, 0), two_thirds, 7, 5).outcome == Outcome.NOT_PASSED


# ---- members ----------------------------------------------------------------------------------------

def test_who_votes() -> None:
    ms = [Member(1, MemberRole.CONVENOR, TERM), Member(2, MemberRole.GUEST, TERM),
          Member(3, MemberRole.RESIDENT_REP, TERM, active=False),
          Member(4, MemberRole.PROPERTY, Term(date(2020, 1, 1), date(2024, 12, 31))),
          Member(5, MemberRole.PARTY_REP, TERM)]
    assert rules.voters(ms, DAY) == {1, 5}


def test_terms_are_checked() -> None:
    refused("bad_term", Term, date(2026, 2, 1), date(2026, 1, 1))
    refused("bad_term", Term, date(2026, 1, 1), date(2032, 1, 1))
    refused("bad_role", rules.check_role, "mayor")


# ---- topics -----------------------------------------------------------------------------------------

def test_the_topic_lifecycle_from_proposal_to_resolution() -> None:
    s = rules.after_support(TopicState.PROPOSED, 9, 10)
    assert s == TopicState.PROPOSED
    s = rules.after_support(s, 10, 10)
    assert s == TopicState.SUPPORTED
    s = rules.advance_topic(s, TopicAction.ACCEPT)
    assert s == TopicState.ACCEPTED
    s = rules.advance_topic(s, TopicAction.DECIDE)
    assert s == TopicState.DECIDED
    assert rules.advance_topic(s, TopicAction.RESOLVE) == TopicState.RESOLVED


def test_topic_refusals() -> None:
    refused("reason_required", rules.advance_topic, "proposed", "decline", reason="  ")
    assert rules.advance_topic("proposed", "decline", reason="不属于议事范围") == TopicState.DECLINED
    refused("merge_target", rules.advance_topic, "proposed", "merge", merged_into=None)
    refused("merge_target", rules.advance_topic, "proposed", "merge", merged_into=4, topic_id=4)
    assert rules.advance_topic("supported", "merge", merged_into=3, topic_id=4) == TopicState.MERGED
    e = refused("illegal_transition", rules.advance_topic, "declined", "accept")
    assert e.kind == Kind.CONFLICT
    refused("illegal_transition", rules.advance_topic, "proposed", "decide")
    refused("illegal_transition", rules.advance_topic, "resolved", "resolve")
    refused("topic_closed", rules.check_supportable, "declined")
    rules.check_supportable("accepted")
    assert rules.after_support("proposed", 100, 0) == TopicState.PROPOSED  # threshold 0: never automatic


# ---- households -------------------------------------------------------------------------------------

def test_household_key_normalises_and_never_contains_the_phone() -> None:
    k = rules.household_key(b"k", "topic:1", "138 0013 8000")
    assert k == rules.household_key(b"k", "topic:1", "+86 13800138000") == rules.household_key(b"k", "topic:1",
                                                                                             "138-0013-8000")
    assert "13800138000" not in k and len(k) == 64
    assert k != rules.household_key(b"k", "topic:2", "13800138000")  # unlinkable across topics
    assert k != rules.household_key(b"other", "topic:1", "13800138000")
    refused("bad_phone", rules.household_key, b"k", "topic:1", "12345")


# ---- votes ------------------------------------------------------------------------------------------

VOTER = Member(7, MemberRole.RESIDENT_REP, TERM)
OPEN = VoteFacts(VoteState.OPEN, True, T0, T0 + timedelta(minutes=5))


def test_a_ballot_inside_the_window_by_a_member_is_taken() -> None:
    rules.check_ballot(OPEN, T0 + timedelta(minutes=1), member=VOTER, day=DAY, already=False)


def test_ballot_refusals() -> None:
    now = T0 + timedelta(minutes=1)
    assert refused("not_member", rules.check_ballot, OPEN, now, member=None, day=DAY, already=False).kind == Kind.FORBIDDEN
    refused("not_member", rules.check_ballot, OPEN, now, member=Member(8, MemberRole.GUEST, TERM), day=DAY, already=False)
    refused("not_member", rules.check_ballot, OPEN, now, member=Member(9, MemberRole.PARTY_REP, TERM, active=False),
            day=DAY, already=False)
    refused("outside_window", rules.check_ballot, OPEN, T0 + timedelta(minutes=5), member=VOTER, day=DAY, already=False)
    refused("outside_window", rules.check_ballot, OPEN, T0 - timedelta(seconds=1), member=VOTER, day=DAY, already=False)
    refused("outside_window", rules.check_ballot, VoteFacts(VoteState.DRAFT, True, None, None), now, member=VOTER,
            day=DAY, already=False)
    refused("outside_window", rules.check_ballot, VoteFacts(VoteState.CLOSED, True, T0, T0 + timedelta(minutes=5)), now,
            member=VOTER, day=DAY, already=False)
    refused("already_voted", rules.check_ballot, OPEN, now, member=VOTER, day=DAY, already=True)
    refused("bad_choice", rules.check_choice, "maybe")
    assert rules.check_choice("abstain") == Choice.ABSTAIN


def test_opening_needs_quorum_and_a_closed_vote_never_reopens() -> None:
    e = refused("no_quorum", rules.check_open, "draft", members=7, present=3, rule=QuorumRule())
    assert "4 needed" in e.message
    rules.check_open("draft", members=7, present=4, rule=QuorumRule())
    refused("vote_closed", rules.check_open, "closed", members=7, present=7, rule=QuorumRule())
    refused("vote_open", rules.check_open, "open", members=7, present=7, rule=QuorumRule())
    refused("vote_started", rules.check_secrecy_change, "open")
    rules.check_secrecy_change("draft")
    refused("vote_not_open", rules.check_close, "closed")
    refused("bad_window", rules.check_window, timedelta(seconds=5))
    refused("bad_window", rules.check_window, timedelta(hours=3))
    assert rules.expired(OPEN, T0 + timedelta(minutes=5)) and not rules.expired(OPEN, T0)


def test_receipts_are_random_and_hashed_per_vote() -> None:
    codes = {rules.new_receipt() for _ in range(200)}
    assert len(codes) == 200
    c = next(iter(codes))
    assert len(c) == 14 and c[4] == c[9] == "-"
    assert rules.receipt_hash(3, c) == rules.receipt_hash(3, c.lower().replace("-", " "))
    assert rules.receipt_hash(3, c) != rules.receipt_hash(4, c)
    ids = [rules.new_ballot_id() for _ in range(50)]
    assert len(set(ids)) == 50 and ids != sorted(ids)


# ---- meetings, speaking, tasks, publication ---------------------------------------------------------

def test_meeting_moves() -> None:
    assert rules.advance_meeting("scheduled", "open") == rules.MeetingState.OPEN
    refused("illegal_transition", rules.advance_meeting, "scheduled", "publish")
    refused("illegal_transition", rules.advance_meeting, "published", "open")


def test_speaking_queue_with_time_limits() -> None:
    q = rules.SpeakingQueue(limit_s=120)
    q.request(1)
    q.request(2)
    refused("already_queued", q.request, 1)
    assert q.next(T0) == 1 and q.remaining_s(T0 + timedelta(seconds=30)) == 90
    assert not q.overrun(T0 + timedelta(seconds=120)) and q.overrun(T0 + timedelta(seconds=121))
    q.withdraw(2)
    assert q.next(T0) is None and q.remaining_s(T0) is None


def test_tasks_close_with_a_photo_and_can_be_overdue() -> None:
    refused("photo_required", rules.check_task_done, "open", 0)
    rules.check_task_done("open", 1)
    refused("task_not_open", rules.check_task_done, "done", 3)
    assert rules.task_overdue("open", date(2026, 12, 1), DAY) and not rules.task_overdue("done", date(2026, 12, 1), DAY)
    assert rules.done_on_time("done", DAY, DAY) and not rules.done_on_time("done", DAY, DAY + timedelta(days=1))


def test_public_text_with_personal_data_is_refused() -> None:
    assert rules.personal_data("联系人 13800138000") == ["13800138000"]
    assert rules.personal_data("身份证 34032119800101123X") == ["34032119800101123X"]
    assert rules.personal_data("2026年12月6日 第3次会议 同意7票") == []
    refused("personal_data", rules.check_publishable, "ok", "电话 0552-1234567")
