"""The access policy: may this actor do this action on this record? One entry point for every record kind.

Three layers, all here:

- **Rules** (pure, no I/O): ``may(actor, action, record)``. A ``Record`` carries the facts the rule needs:
  the owning unit's path and, for anything that belongs to a case (its sessions and what they produce:
  invitations, minutes, log, recordings; its agreements, documents, consultations, the notice naming it),
  the case's ``CaseFacts``: the restricted (domestic-violence) flag, the named staff and the holders of
  live (unexpired, unrevoked) grants. Such a record is seen exactly when its case is seen; a session
  without a case follows its unit.
- **Scopes** (SQL conditions, no I/O): one function per record kind for list queries, built from the same
  rule (``scope_cases``, ``scope_sessions``, ``scope_agreements``, ``scope_notices``). Handlers never write
  their own access SQL.
- **Loaders** (async): build a ``Record`` from the database (``session_record``, ``agreement_record``).

Hidden records answer 404 like unknown ones: callers test ``sees`` first and only then the action, so a
refusal with 403 never confirms that a confidential record exists.

Unit-path rules (tiers, staff, experts, hosting) stay in ``server.policy``; case actions by relation in
``server.cases.permissions``; in-room moderation per room role in ``server.rooms.permissions`` (a peer is
only in a room after ``may(actor, Action.JOIN, session)`` let a staff token in, or an invitation did).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from server import policy
from server.cases import permissions as case_rules
from server.cases import queries as case_queries
from server.cases.models import Case, Notice
from server.cases.permissions import CaseFacts
from server.directory.models import Staff, Unit
from server.directory.tiers import Role
from server.policy import Actor
from server.sessions.models import Invitation, Session


class Kind(StrEnum):
    UNIT = "unit"
    STAFF = "staff"
    CASE = "case"
    PARTY = "party"  # a party's record on a case (name, contacts)
    SESSION = "session"
    INVITATION = "invitation"
    MINUTES = "minutes"
    RECORDING = "recording"
    LOG = "log"
    AGREEMENT = "agreement"
    DOCUMENT = "document"
    NOTICE = "notice"
    CONSULTATION = "consultation"
    FIGURE = "figure"  # a dashboard figure
    # A residents' council and what hangs on it (server/councils, docs/councils.md). ``unit_path`` is the
    # council's unit; ``council_roles`` the actor's own seats on it (a staff account can be a member).
    COUNCIL = "council"
    TOPIC = "topic"
    MEETING = "meeting"
    VOTE = "vote"
    TASK = "task"


COUNCIL_KINDS = frozenset({Kind.COUNCIL, Kind.TOPIC, Kind.MEETING, Kind.VOTE, Kind.TASK})
# Staff of the council's own unit who manage it beside its convenor (community office staff).
COUNCIL_STAFF_ROLES = frozenset({Role.ADMIN, Role.MEDIATOR, Role.GRID_WORKER})
# Staff of a unit above who supervise (督办) a council's tasks.
SUPERVISOR_ROLES = frozenset({Role.ADMIN, Role.MEDIATOR, Role.PETITION_OFFICER})
COUNCIL_VOTING_ROLES = frozenset({"convenor", "party_rep", "resident_rep", "property"})


class Action(StrEnum):
    VIEW = "view"  # see it at all (and read it); refused = 404
    EDIT = "edit"  # write: minutes, agreement drafts, case fields
    MANAGE = "manage"  # a session's invitations, cancel, end; staff accounts; case access lists
    JOIN = "join"  # enter a session's live room with a staff login
    DOWNLOAD = "download"  # recordings (media is more sensitive than the log)
    COMPOSE = "compose"  # start a playback compose
    SIGN = "sign"  # an agreement: the mediator's signature
    SEAL = "seal"  # an agreement: the unit's seal
    VOID = "void"
    PERFORM = "perform"  # record performance of an agreement
    VOTE = "vote"  # a council member casts a ballot (with a staff login; residents vote through the room)
    SUPERVISE = "supervise"  # the tier above supervises a council's tasks
    REVEAL = "reveal"  # a party's confidential contact in full


@dataclass(frozen=True)
class Record:
    """What the rules know about one record. ``unit_path`` is the owning unit (a session's unit, an
    agreement's unit, a case's unit, a notice's issuing unit); ``case`` is set when it belongs to a case."""

    kind: Kind
    unit_path: str
    case: CaseFacts | None = None
    unit_code: str = ""
    session_kind: str = "mediation"
    created_by: int | None = None
    # Staff invited to the session by account (their own invitation); see ``_sees_session``.
    invited: frozenset[int] = field(default_factory=frozenset)
    # The actor's roles on the council a council record belongs to (server.councils.rules.MemberRole).
    council_roles: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Party:
    """A party without an account, reaching their own agreement through an invitation or signing link.
    ``verified`` is true once they passed the identity check (ID last 4 or one-time code), or are
    admitted to the session's live room (which asked the same check at the door)."""

    agreement_id: int
    verified: bool


# ---- rules (pure) ---------------------------------------------------------------------------------


def case_visible(actor: Actor, case: CaseFacts) -> bool:
    """The in-memory twin of ``scope_cases``: a live grant or a name on the case always; otherwise the
    case's unit (or one it passed through) in the actor's subtree, unless the case is restricted. Experts
    see only what they are granted."""
    if actor.id in case.named or actor.id in case.grantees:
        return True
    if case.restricted or actor.role == Role.EXPERT:
        return False
    return any(policy.within(actor, p) for p in (case.unit_path, *case.previous_paths))


def _sees_session(actor: Actor, r: Record) -> bool:
    if r.case is not None:
        # Inherits the case. A staff member invited by account to a non-restricted case's session may see
        # it too; a restricted case's list is the only way in (an invitation link still admits its holder).
        return case_visible(actor, r.case) or (actor.id in r.invited and not r.case.restricted)
    return policy.within(actor, r.unit_path) or actor.id in r.invited


def sees(actor: Actor, r: Record) -> bool:
    """Whether the record exists for this actor at all (False = answer 404)."""
    match r.kind:
        case Kind.SESSION | Kind.INVITATION | Kind.MINUTES | Kind.RECORDING | Kind.LOG:
            return _sees_session(actor, r)
        case Kind.CASE | Kind.PARTY | Kind.DOCUMENT | Kind.CONSULTATION:
            return r.case is not None and case_visible(actor, r.case)
        case Kind.AGREEMENT:
            if r.case is not None:
                return policy.can_view_agreement(actor, r.unit_path) and case_visible(actor, r.case)
            return policy.can_view_agreement(actor, r.unit_path)
        case Kind.NOTICE:
            # A notice circulates down the issuer's subtree (so it reaches the actor from above), and the
            # units above the issuer see what was issued below them.
            return policy.within(actor, r.unit_path) or policy.is_ancestor(actor, r.unit_path)
        case Kind.UNIT:
            return policy.can_view_unit(actor, r.unit_path)
        case Kind.STAFF:
            return policy.can_list_staff(actor, r.unit_path)
        case Kind.FIGURE:
            return policy.can_view_dashboard(actor, r.unit_path)
        case Kind.COUNCIL | Kind.TOPIC | Kind.MEETING | Kind.VOTE | Kind.TASK:
            # The council's unit and everything above it (the tier above supervises), and its own members.
            return (policy.within(actor, r.unit_path) and actor.role != Role.EXPERT) or bool(r.council_roles)
    return False  # pragma: no cover  (every kind is matched above)


def _hosts(actor: Actor, r: Record) -> bool:
    return actor.id == r.created_by or policy.can_host_session(actor, r.unit_path, r.session_kind)


def may(actor: Actor | Party, action: Action | str, r: Record, *, agreement_id: int | None = None) -> bool:
    """The one rule. ``sees`` first (everything needs it), then the action's own condition."""
    action = Action(action)
    if isinstance(actor, Party):
        # A party reads and downloads only their own agreement, and only after the identity check.
        return (r.kind == Kind.AGREEMENT and action in (Action.VIEW, Action.DOWNLOAD) and actor.verified
                and agreement_id == actor.agreement_id)
    if not sees(actor, r):
        return False
    if action == Action.VIEW:
        return True
    match r.kind:
        case Kind.SESSION | Kind.INVITATION:
            if action == Action.JOIN:
                return True
            if action == Action.MANAGE:
                return _hosts(actor, r)
        case Kind.MINUTES:
            if action == Action.EDIT:
                return policy.can_write_minutes(actor, r.unit_path, r.session_kind)
        case Kind.LOG:
            pass
        case Kind.RECORDING:
            if action == Action.DOWNLOAD:
                return policy.can_download_recording(actor, r.unit_path)
            if action == Action.COMPOSE:
                return policy.can_host_session(actor, r.unit_path, r.session_kind)
        case Kind.AGREEMENT:
            if action == Action.EDIT:
                return policy.can_draft_agreement(actor, r.unit_path)
            if action == Action.SIGN:
                return policy.can_sign_as_mediator(actor, r.unit_path)
            if action == Action.SEAL:
                return policy.can_apply_seal(actor, r.unit_code)
            if action == Action.VOID:
                return policy.can_void_agreement(actor, r.unit_path)
            if action == Action.PERFORM:
                return policy.can_record_performance(actor, r.unit_path)
            if action == Action.DOWNLOAD:
                return True
        case Kind.CASE | Kind.DOCUMENT | Kind.CONSULTATION:
            assert r.case is not None
            if action == Action.EDIT:
                return case_rules.can(actor, "upload" if r.kind == Kind.DOCUMENT else "edit", r.case)
            if action == Action.DOWNLOAD:
                return True
        case Kind.PARTY:
            assert r.case is not None
            if action == Action.REVEAL:
                return case_rules.can(actor, "reveal_confidential", r.case)
        case Kind.STAFF | Kind.UNIT:
            if action == Action.MANAGE:
                return policy.can_manage_staff(actor, r.unit_path)
        case Kind.NOTICE | Kind.FIGURE:
            pass
        case Kind.COUNCIL | Kind.TOPIC | Kind.MEETING | Kind.VOTE | Kind.TASK:
            if action == Action.MANAGE:
                return council_manager(actor, r)
            if action == Action.VOTE:
                return r.kind == Kind.VOTE and bool(r.council_roles & COUNCIL_VOTING_ROLES)
            if action == Action.SUPERVISE:
                return (r.kind == Kind.TASK and actor.role in SUPERVISOR_ROLES and policy.within(actor, r.unit_path)
                        and actor.unit_path != r.unit_path)
    return False


def council_manager(actor: Actor, r: Record) -> bool:
    """The convenor, and the staff of the council's own unit, manage a council (members, topics, meetings,
    votes, tasks, publication). Least privilege: units above see and supervise, they do not run it."""
    return "convenor" in r.council_roles or (actor.unit_path == r.unit_path and actor.role in COUNCIL_STAFF_ROLES)


# ---- scopes (SQL conditions for list queries, the same rule) ------------------------------------


def scope_units(actor: Actor, path_column: Any) -> ColumnElement[bool]:
    """Units (and what hangs on a unit: its staff, its cards) the actor sees: its own subtree."""
    return case_queries.path_prefix(path_column, actor.unit_path)


def scope_cases(actor: Actor, now: datetime) -> ColumnElement[bool]:
    """Cases the actor sees (``case_visible`` as SQL, over ``Case``)."""
    return case_queries.visible(actor, now)


def _visible_case_ids(actor: Actor, now: datetime) -> object:
    return select(Case.id).where(scope_cases(actor, now))


def scope_sessions(actor: Actor, now: datetime) -> ColumnElement[bool]:
    """Sessions the actor sees (``_sees_session`` as SQL, over ``Session``): a session without a case by
    its unit (or the actor's own invitation); a session of a case when the case is visible, or on the
    actor's own invitation when the case is not restricted."""
    invited = Session.id.in_(select(Invitation.session_id).where(Invitation.staff_id == actor.id,
                                                                 Invitation.revoked.is_(False)))
    in_subtree = Session.unit_id.in_(select(Unit.id).where(case_queries.path_prefix(Unit.path, actor.unit_path)))
    open_cases = select(Case.id).where(Case.restricted.is_(False))
    return or_(
        and_(Session.case_id.is_(None), or_(in_subtree, invited)),
        Session.case_id.in_(_visible_case_ids(actor, now)),  # type: ignore[arg-type]
        and_(invited, Session.case_id.in_(open_cases)),
    )


def scope_agreements(actor: Actor, now: datetime, unit_path_column: object, case_id_column: object
                     ) -> ColumnElement[bool]:
    """Agreements the actor sees: their unit in the actor's subtree and, for an agreement about a case,
    the case visible. Columns are passed in (the agreement table belongs to its feature module)."""
    return and_(case_queries.path_prefix(unit_path_column, actor.unit_path),
                or_(case_id_column.is_(None),  # type: ignore[attr-defined]
                    case_id_column.in_(_visible_case_ids(actor, now))))  # type: ignore[attr-defined]


def scope_notices(actor: Actor) -> ColumnElement[bool]:
    """Notices on the actor's board (``sees`` for NOTICE as SQL, over ``Notice``)."""
    return or_(Notice.unit_path.in_(policy.ancestor_paths(actor.unit_path) + [actor.unit_path]),
               case_queries.path_prefix(Notice.unit_path, actor.unit_path))


def scope_case_refs(actor: Actor, now: datetime, case_id_column: object) -> ColumnElement[bool]:
    """Whether a record's reference to a case may be shown (its code and title): the case is visible.
    A notice about a case that later became restricted stays on the board without naming it."""
    return case_id_column.in_(_visible_case_ids(actor, now))  # type: ignore[attr-defined]


def scope_councils(actor: Actor, unit_id_column: Any, id_column: Any, member_of: Any) -> ColumnElement[bool]:
    """Councils the actor sees (``sees`` for COUNCIL as SQL): the council's unit in the actor's subtree
    (experts excepted), or a council the actor sits on. ``member_of`` selects the council ids of the actor's
    own seats (the council tables belong to their domain)."""
    in_subtree = unit_id_column.in_(select(Unit.id).where(case_queries.path_prefix(Unit.path, actor.unit_path)))
    if actor.role == Role.EXPERT:
        return id_column.in_(member_of)  # type: ignore[no-any-return]
    return or_(in_subtree, id_column.in_(member_of))


def nothing() -> ColumnElement[bool]:
    return false()


def actor_of(staff: Staff, unit: Unit) -> Actor:
    """The policy's view of a staff account (for checks made without a request, e.g. a room join)."""
    return Actor(id=staff.id, username=staff.username, name=staff.name, role=staff.role, unit_id=unit.id,
                 unit_code=unit.code, unit_path=unit.path, unit_tier=unit.tier,
                 specialties=tuple(staff.specialties or ()))


# ---- loaders (async: the record's facts from the database) -------------------------------------


async def case_facts(s: AsyncSession, case_id: int | None, now: datetime) -> CaseFacts | None:
    if case_id is None:
        return None
    case = await s.get(Case, case_id)
    if case is None:
        # A dangling reference: treat as a restricted case nobody is named on (seen by nobody).
        return CaseFacts(unit_path="", restricted=True)
    return await case_queries.facts(s, case, now)


async def session_record(s: AsyncSession, sess: Session, unit: Unit, now: datetime,
                         kind: Kind = Kind.SESSION) -> Record:
    invited = frozenset((await s.execute(select(Invitation.staff_id).where(
        Invitation.session_id == sess.id, Invitation.staff_id.is_not(None), Invitation.revoked.is_(False))
    )).scalars())
    return Record(kind, unit.path, await case_facts(s, sess.case_id, now), unit_code=unit.code,
                  session_kind=sess.kind, created_by=sess.created_by, invited=invited)  # type: ignore[arg-type]


def as_kind(r: Record, kind: Kind) -> Record:
    """The same facts for a record derived from it (a session's minutes, log, recordings)."""
    return Record(kind, r.unit_path, r.case, r.unit_code, r.session_kind, r.created_by, r.invited)


async def agreement_record(s: AsyncSession, unit: Unit, case_id: int | None, now: datetime) -> Record:
    return Record(Kind.AGREEMENT, unit.path, await case_facts(s, case_id, now), unit_code=unit.code)
