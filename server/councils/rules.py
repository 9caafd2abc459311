"""The council rule book: plain Python, no I/O (docs/councils.md "Model").

A council (居民议事会) belongs to a village/community unit or to a neighbourhood (小区) under it. Its members
hold roles and terms. Residents raise topics (议题) that collect one signature per household; the convenor
puts them on a meeting's agenda, merges or declines them. A meeting takes votes per agenda item (同意 / 反对 /
弃权, open or secret, chosen before voting starts), subject to a quorum; decisions become tasks tracked to
completion (a photo as proof), supervised by the tier above.

Every refusal is a :class:`CouncilError` (a ``server.failures.DomainError``) with a stable ``code``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from server.failures import DomainError, Kind

# ---- errors -----------------------------------------------------------------------------------------


class CouncilError(DomainError):
    """A council rule refused the request. ``code`` is stable (docs/councils.md lists them)."""

    def __init__(self, kind: Kind, code: str, message: str, **extra: object) -> None:
        super().__init__(kind, code, message, **extra)
        # (council id, event type, data): a refusal the service layer ledgers after rolling back.
        self.ledger: tuple[int, str, dict[str, object]] | None = None


def _conflict(code: str, message: str) -> CouncilError:
    return CouncilError(Kind.CONFLICT, code, message)


def _invalid(code: str, message: str) -> CouncilError:
    return CouncilError(Kind.INVALID, code, message)


# ---- councils and members ---------------------------------------------------------------------------


class MemberRole(StrEnum):
    CONVENOR = "convenor"  # 召集人: community staff or the party group leader
    PARTY_REP = "party_rep"  # 党员代表
    RESIDENT_REP = "resident_rep"  # 居民代表
    PROPERTY = "property"  # 物业公司
    GUEST = "guest"  # 列席嘉宾: a lawyer, an expert (speaks, does not vote)


ROLE_LABELS: dict[str, tuple[str, str]] = {
    MemberRole.CONVENOR: ("召集人", "Convenor"),
    MemberRole.PARTY_REP: ("党员代表", "Party-member representative"),
    MemberRole.RESIDENT_REP: ("居民代表", "Resident representative"),
    MemberRole.PROPERTY: ("物业公司", "Property company"),
    MemberRole.GUEST: ("列席嘉宾", "Invited guest"),
}

VOTING_ROLES = frozenset({MemberRole.CONVENOR, MemberRole.PARTY_REP, MemberRole.RESIDENT_REP, MemberRole.PROPERTY})

MAX_TERM_DAYS = 5 * 366  # a term of at most five years (居委会 terms are five years)


@dataclass(frozen=True)
class Term:
    """A member's term: from ``start`` to ``end`` inclusive (local dates)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise _invalid("bad_term", "a term ends after it starts")
        if (self.end - self.start).days > MAX_TERM_DAYS:
            raise _invalid("bad_term", "a term lasts at most five years")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Member:
    """One seat on a council. ``active`` is false once the member left (the row stays, ledgered)."""

    id: int
    role: MemberRole
    term: Term
    active: bool = True

    def may_vote(self, day: date) -> bool:
        return self.active and self.role in VOTING_ROLES and self.term.covers(day)


def check_role(role: str) -> MemberRole:
    try:
        return MemberRole(role)
    except ValueError:
        raise _invalid("bad_role", f"unknown member role {role!r}") from None


def voters(members: Iterable[Member], day: date) -> frozenset[int]:
    """The ids of the members entitled to vote on ``day`` (the quorum's denominator)."""
    return frozenset(m.id for m in members if m.may_vote(day))


# ---- topics -----------------------------------------------------------------------------------------


class TopicState(StrEnum):
    PROPOSED = "proposed"  # raised, collecting support
    SUPPORTED = "supported"  # enough households signed (the council's threshold)
    ACCEPTED = "accepted"  # on a meeting's agenda
    MERGED = "merged"  # folded into another topic (final)
    DECLINED = "declined"  # with a reason the proposer sees (final)
    DECIDED = "decided"  # a vote passed a decision; tasks follow
    REJECTED = "rejected"  # the vote did not pass (final)
    RESOLVED = "resolved"  # every task of the decision is done (final)


class TopicAction(StrEnum):
    SUPPORT_REACHED = "support_reached"
    ACCEPT = "accept"
    MERGE = "merge"
    DECLINE = "decline"
    DECIDE = "decide"
    REJECT = "reject"
    RESOLVE = "resolve"


TOPIC_LABELS: dict[str, tuple[str, str]] = {
    TopicState.PROPOSED: ("征集联署中", "Collecting support"),
    TopicState.SUPPORTED: ("联署已达标", "Supported"),
    TopicState.ACCEPTED: ("已列入议程", "On the agenda"),
    TopicState.MERGED: ("已合并", "Merged"),
    TopicState.DECLINED: ("未采纳", "Declined"),
    TopicState.DECIDED: ("已形成决议", "Decided"),
    TopicState.REJECTED: ("表决未通过", "Not passed"),
    TopicState.RESOLVED: ("已办结", "Resolved"),
}

_TOPIC_MOVES: dict[tuple[TopicState, TopicAction], TopicState] = {
    (TopicState.PROPOSED, TopicAction.SUPPORT_REACHED): TopicState.SUPPORTED,
    (TopicState.PROPOSED, TopicAction.ACCEPT): TopicState.ACCEPTED,
    (TopicState.SUPPORTED, TopicAction.ACCEPT): TopicState.ACCEPTED,
    (TopicState.PROPOSED, TopicAction.MERGE): TopicState.MERGED,
    (TopicState.SUPPORTED, TopicAction.MERGE): TopicState.MERGED,
    (TopicState.ACCEPTED, TopicAction.MERGE): TopicState.MERGED,
    (TopicState.PROPOSED, TopicAction.DECLINE): TopicState.DECLINED,
    (TopicState.SUPPORTED, TopicAction.DECLINE): TopicState.DECLINED,
    (TopicState.ACCEPTED, TopicAction.DECLINE): TopicState.DECLINED,
    (TopicState.ACCEPTED, TopicAction.DECIDE): TopicState.DECIDED,
    (TopicState.ACCEPTED, TopicAction.REJECT): TopicState.REJECTED,
    (TopicState.DECIDED, TopicAction.RESOLVE): TopicState.RESOLVED,
}

FINAL_TOPIC_STATES = frozenset({TopicState.MERGED, TopicState.DECLINED, TopicState.REJECTED, TopicState.RESOLVED})
# Topics that still take signatures.
OPEN_FOR_SUPPORT = frozenset({TopicState.PROPOSED, TopicState.SUPPORTED, TopicState.ACCEPTED})

MAX_REASON = 500


def advance_topic(state: str, action: TopicAction | str, *, reason: str = "", merged_into: int | None = None,
                  topic_id: int | None = None) -> TopicState:
    """The topic's next state, or ``illegal_transition``. Declining needs a reason (the proposer sees it);
    merging needs another topic."""
    now, act = TopicState(state), TopicAction(action)
    if act == TopicAction.DECLINE and not reason.strip():
        raise _invalid("reason_required", "declining a topic needs a reason the proposer can read")
    if act == TopicAction.DECLINE and len(reason) > MAX_REASON:
        raise _invalid("reason_too_long", f"a reason has at most {MAX_REASON} characters")
    if act == TopicAction.MERGE and (merged_into is None or merged_into == topic_id):
        raise _invalid("merge_target", "a topic merges into another topic")
    nxt = _TOPIC_MOVES.get((now, act))
    if nxt is None:
        raise _conflict("illegal_transition", f"a {now} topic cannot be given {act}")
    return nxt


def after_support(state: str, households: int, threshold: int) -> TopicState:
    """A proposed topic becomes ``supported`` once ``threshold`` households signed (threshold 0: never)."""
    s = TopicState(state)
    if s == TopicState.PROPOSED and threshold > 0 and households >= threshold:
        return TopicState.SUPPORTED
    return s


def check_supportable(state: str) -> None:
    if TopicState(state) not in OPEN_FOR_SUPPORT:
        raise _conflict("topic_closed", "this topic no longer collects support")


# ---- households: one signature per household, keyed by phone ----------------------------------------

MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(raw: str) -> str:
    """An 11-digit mainland mobile number, without spaces, dashes or +86 (what the household key hashes)."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not MOBILE.match(digits):
        raise _invalid("bad_phone", "a household is checked by an 11-digit mobile number")
    return digits


def household_key(secret: bytes, scope: str, phone: str) -> str:
    """HMAC-SHA256(secret, scope | phone) in hex: the only trace of a phone kept for deduplication.

    ``scope`` is the topic (``topic:<id>``), so the same household's keys on two topics differ and cannot be
    joined across topics; without the server's secret a key cannot be tested against a phone list."""
    msg = f"{scope}|{normalise_phone(phone)}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


# ---- quorum, tally, result --------------------------------------------------------------------------


class Choice(StrEnum):
    AGREE = "agree"  # 同意
    AGAINST = "against"  # 反对
    ABSTAIN = "abstain"  # 弃权


CHOICE_LABELS: dict[str, tuple[str, str]] = {
    Choice.AGREE: ("同意", "Agree"), Choice.AGAINST: ("反对", "Against"), Choice.ABSTAIN: ("弃权", "Abstain"),
}


def check_choice(raw: object) -> Choice:
    try:
        return Choice(str(raw))
    except ValueError:
        raise _invalid("bad_choice", "a ballot is agree, against or abstain (同意/反对/弃权)") from None


class PassRule(StrEnum):
    MAJORITY_OF_CAST = "majority_of_cast"  # agree > half of the ballots cast (abstentions count as cast)
    MAJORITY_OF_MEMBERS = "majority_of_members"  # agree > half of all voting members
    TWO_THIRDS_OF_CAST = "two_thirds_of_cast"  # agree >= two thirds of the ballots cast


@dataclass(frozen=True)
class QuorumRule:
    """A meeting is quorate when at least ``fraction`` of the voting members are present (in person or
    online), and at least ``minimum`` of them. Default: more than half (过半数), at least 3."""

    fraction: Fraction = Fraction(1, 2)
    strictly_more: bool = True
    minimum: int = 3
    passing: PassRule = PassRule.MAJORITY_OF_CAST

    def as_dict(self) -> dict[str, object]:
        return {"fraction": str(self.fraction), "strictly_more": self.strictly_more, "minimum": self.minimum,
                "passing": str(self.passing)}

    @classmethod
    def from_dict(cls, d: dict[str, object] | None) -> QuorumRule:
        if not d:
            return cls()
        bad = _invalid("bad_quorum", "a quorum is a fraction (e.g. \"1/2\", \"2/3\"), strictly_more (true/false), "
                                     "a minimum (whole number) and a passing rule")
        raw_frac, raw_min = d.get("fraction", "1/2"), d.get("minimum", 3)
        strict, passing = d.get("strictly_more", True), d.get("passing", PassRule.MAJORITY_OF_CAST.value)
        if not isinstance(raw_frac, str) or not isinstance(strict, bool) or not isinstance(passing, str) or \
                not isinstance(raw_min, int) or isinstance(raw_min, bool) or not re.fullmatch(r"[0-9]{1,4}(/[0-9]{1,4})?",
                                                                                              raw_frac):
            raise bad
        try:
            frac, rule = Fraction(raw_frac), PassRule(passing)
        except (ValueError, ZeroDivisionError):
            raise bad from None
        if not (0 < frac <= 1) or not 1 <= raw_min <= 1000:
            raise bad
        return cls(frac, strict, raw_min, rule)

    def needed(self, members: int) -> int:
        """How many voting members must be present, of ``members``."""
        share = self.fraction * members
        n = int(share) + 1 if self.strictly_more and share == int(share) else -(-share.numerator // share.denominator)
        return max(n, self.minimum) if members else self.minimum

    def met(self, members: int, present: int) -> bool:
        return members > 0 and present >= self.needed(members)


@dataclass(frozen=True)
class Tally:
    agree: int = 0
    against: int = 0
    abstain: int = 0

    @property
    def cast(self) -> int:
        return self.agree + self.against + self.abstain

    def as_dict(self) -> dict[str, int]:
        return {"agree": self.agree, "against": self.against, "abstain": self.abstain, "cast": self.cast}


def tally(choices: Iterable[str]) -> Tally:
    a = b = c = 0
    for ch in choices:
        match Choice(ch):
            case Choice.AGREE:
                a += 1
            case Choice.AGAINST:
                b += 1
            case Choice.ABSTAIN:
                c += 1
    return Tally(a, b, c)


class Outcome(StrEnum):
    PASSED = "passed"  # 通过
    NOT_PASSED = "not_passed"  # 未通过
    NO_QUORUM = "no_quorum"  # 不足法定人数: void, nothing decided


OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    Outcome.PASSED: ("通过", "Passed"), Outcome.NOT_PASSED: ("未通过", "Not passed"),
    Outcome.NO_QUORUM: ("不足法定人数，表决无效", "No quorum: the vote is void"),
}


@dataclass(frozen=True)
class Result:
    tally: Tally
    members: int  # voting members entitled on the day
    present: int  # of them present when the vote opened
    quorum_needed: int
    quorate: bool
    outcome: Outcome

    def as_dict(self) -> dict[str, object]:
        return {"tally": self.tally.as_dict(), "members": self.members, "present": self.present,
                "quorum_needed": self.quorum_needed, "quorate": self.quorate, "outcome": str(self.outcome)}


def result(t: Tally, rule: QuorumRule, members: int, present: int) -> Result:
    """The outcome of a closed vote. Without a quorum the vote is void whatever the ballots say."""
    needed = rule.needed(members)
    quorate = rule.met(members, present)
    if not quorate:
        return Result(t, members, present, needed, False, Outcome.NO_QUORUM)
    match rule.passing:
        case PassRule.MAJORITY_OF_CAST:
            ok = t.cast > 0 and 2 * t.agree > t.cast
        case PassRule.MAJORITY_OF_MEMBERS:
            ok = 2 * t.agree > members
        case PassRule.TWO_THIRDS_OF_CAST:
            ok = t.cast > 0 and 3 * t.agree >= 2 * t.cast
    return Result(t, members, present, needed, True, Outcome.PASSED if ok else Outcome.NOT_PASSED)


# ---- votes ------------------------------------------------------------------------------------------


class VoteState(StrEnum):
    DRAFT = "draft"  # on an agenda item; secrecy may still change
    OPEN = "open"  # ballots taken until ``closes_at`` or until the convenor closes it
    CLOSED = "closed"  # tallied; never reopened (a new vote is a new item)


MAX_WINDOW = timedelta(hours=2)
MIN_WINDOW = timedelta(seconds=30)


@dataclass(frozen=True)
class VoteFacts:
    """What a ballot check needs to know about a vote."""

    state: VoteState
    secret: bool
    opens_at: datetime | None
    closes_at: datetime | None


def check_open(state: str, *, members: int, present: int, rule: QuorumRule) -> None:
    """Opening a vote: only a draft (a closed vote is never reopened), and only with a quorum present."""
    s = VoteState(state)
    if s == VoteState.CLOSED:
        raise _conflict("vote_closed", "a closed vote cannot be reopened; put a new item to the vote")
    if s == VoteState.OPEN:
        raise _conflict("vote_open", "this vote is already open")
    if not rule.met(members, present):
        raise _conflict("no_quorum",
                        f"quorum not met: {present} of {members} voting members present, {rule.needed(members)} needed")


def check_window(window: timedelta) -> None:
    if not (MIN_WINDOW <= window <= MAX_WINDOW):
        raise _invalid("bad_window", "a voting window lasts from 30 seconds to 2 hours")


def check_secrecy_change(state: str) -> None:
    """Open or secret is chosen before voting starts."""
    if VoteState(state) != VoteState.DRAFT:
        raise _conflict("vote_started", "open or secret is chosen before voting starts")


def check_ballot(v: VoteFacts, now: datetime, *, member: Member | None, day: date, already: bool) -> None:
    """May this member cast a ballot now? Refusals: ``not_member``, ``outside_window``, ``already_voted``."""
    if member is None or not member.may_vote(day):
        raise CouncilError(Kind.FORBIDDEN, "not_member", "only the council's voting members vote")
    if v.state != VoteState.OPEN or v.opens_at is None or now < v.opens_at or (
            v.closes_at is not None and now >= v.closes_at):
        raise _conflict("outside_window", "this vote is not taking ballots now")
    if already:
        raise _conflict("already_voted", "one member, one vote: this member has voted")


def check_close(state: str) -> None:
    if VoteState(state) != VoteState.OPEN:
        raise _conflict("vote_not_open", "only an open vote can be closed")


def expired(v: VoteFacts, now: datetime) -> bool:
    """An open vote whose window has passed (closed by the next request or the sweeper)."""
    return v.state == VoteState.OPEN and v.closes_at is not None and now >= v.closes_at


# ---- secret-ballot receipts -------------------------------------------------------------------------

RECEIPT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I


def new_receipt() -> str:
    """A random receipt code for the voter (12 characters, 60 bits, shown as XXXX-XXXX-XXXX)."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def receipt_hash(vote_id: int, code: str) -> str:
    """SHA-256 of the vote and the receipt (normalised): what the published ballot list shows."""
    norm = re.sub(r"[^0-9A-Z]", "", code.upper())
    return hashlib.sha256(f"concord-ballot|{vote_id}|{norm}".encode()).hexdigest()


def new_ballot_id() -> str:
    """A ballot row's id: 128 random bits, so the key says nothing of the order ballots came in."""
    return secrets.token_hex(16)


# ---- member codes for the shared tablet -------------------------------------------------------------


def new_member_code() -> str:
    """A 6-digit per-member code for voting on the shared tablet at the table."""
    return f"{secrets.randbelow(10**6):06d}"


def code_hash(secret: bytes, meeting_id: int, code: str) -> str:
    return hmac.new(secret, f"council-code|{meeting_id}|{code.strip()}".encode(), hashlib.sha256).hexdigest()


# ---- meetings: attendance, the speaking queue -------------------------------------------------------


class MeetingState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"  # in session
    CLOSED = "closed"
    PUBLISHED = "published"  # minutes and decisions on the public page


class Attendance(StrEnum):
    IN_PERSON = "in_person"  # 现场
    ONLINE = "online"  # 线上


_MEETING_MOVES = {
    (MeetingState.SCHEDULED, "open"): MeetingState.OPEN,
    (MeetingState.OPEN, "close"): MeetingState.CLOSED,
    (MeetingState.CLOSED, "publish"): MeetingState.PUBLISHED,
}


def advance_meeting(state: str, action: str) -> MeetingState:
    nxt = _MEETING_MOVES.get((MeetingState(state), action))
    if nxt is None:
        raise _conflict("illegal_transition", f"a {state} meeting cannot {action}")
    return nxt


@dataclass
class SpeakingQueue:
    """Who speaks next on the current item, with a time limit per turn (seconds)."""

    limit_s: int = 180
    waiting: list[int] = field(default_factory=list)
    speaker: int | None = None
    started_at: datetime | None = None

    def request(self, member_id: int) -> None:
        if member_id == self.speaker or member_id in self.waiting:
            raise _conflict("already_queued", "already in the speaking queue")
        self.waiting.append(member_id)

    def withdraw(self, member_id: int) -> None:
        if member_id in self.waiting:
            self.waiting.remove(member_id)

    def next(self, now: datetime) -> int | None:
        """The convenor gives the floor to the next in line (ending the current turn)."""
        self.speaker = self.waiting.pop(0) if self.waiting else None
        self.started_at = now if self.speaker is not None else None
        return self.speaker

    def remaining_s(self, now: datetime) -> int | None:
        if self.speaker is None or self.started_at is None:
            return None
        return int(self.limit_s - (now - self.started_at).total_seconds())

    def overrun(self, now: datetime) -> bool:
        left = self.remaining_s(now)
        return left is not None and left < 0

    def as_dict(self, now: datetime) -> dict[str, object]:
        return {"limit_s": self.limit_s, "waiting": list(self.waiting), "speaker": self.speaker,
                "remaining_s": self.remaining_s(now)}


# ---- tasks ------------------------------------------------------------------------------------------


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"  # completed with a photo as proof
    CANCELLED = "cancelled"


def check_task_done(state: str, photos: int) -> None:
    if TaskState(state) != TaskState.OPEN:
        raise _conflict("task_not_open", "only an open task can be completed")
    if photos < 1:
        raise _conflict("photo_required", "a task is completed with at least one photo as proof")


def task_overdue(state: str, deadline: date, today: date) -> bool:
    return TaskState(state) == TaskState.OPEN and today > deadline


def done_on_time(state: str, deadline: date, done_on: date | None) -> bool:
    return TaskState(state) == TaskState.DONE and done_on is not None and done_on <= deadline


# ---- publication ------------------------------------------------------------------------------------

# 11-digit mobiles, 18-character ID numbers, and landlines: nothing of the kind goes on a public page.
_PERSONAL = re.compile(r"(?<!\d)(1[3-9]\d{9}|\d{17}[\dXx]|0\d{2,3}-?\d{7,8})(?![\dXx])")


def personal_data(text: str) -> list[str]:
    """The phone and ID numbers in a text meant for the public page (empty: fine to publish)."""
    return [m.group(1) for m in _PERSONAL.finditer(text or "")]


def check_publishable(*texts: str) -> None:
    found = [x for t in texts for x in personal_data(t)]
    if found:
        raise _invalid("personal_data", "the public page would show a phone or ID number; remove it first")
