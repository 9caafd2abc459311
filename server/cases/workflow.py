"""The case state machine (DESIGN §4), as plain Python: no I/O, no aiohttp.

    registered → triaged → accepted | rejected | transferred → assigned → in_mediation ⇄ suspended
    → agreement_signing → agreement_effective → performing → follow_up → closed → archived
    side exits: failed, withdrawn

``apply`` checks that an action is legal from the current state and that its inputs are there, and
returns the new state plus the column changes and the ledger payload. Who may act is decided in
``server.cases.permissions``; persistence in ``server.cases.service``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from server.cases import catalog
from server.cases.catalog import Grade


class State(StrEnum):
    REGISTERED = "registered"
    TRIAGED = "triaged"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    ASSIGNED = "assigned"
    IN_MEDIATION = "in_mediation"
    SUSPENDED = "suspended"
    AGREEMENT_SIGNING = "agreement_signing"
    AGREEMENT_EFFECTIVE = "agreement_effective"
    PERFORMING = "performing"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    ARCHIVED = "archived"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


STATE_LABELS = {
    State.REGISTERED: ("已登记", "Registered"),
    State.TRIAGED: ("已分流", "Triaged"),
    State.ACCEPTED: ("已受理", "Accepted"),
    State.REJECTED: ("不予受理", "Rejected"),
    State.TRANSFERRED: ("已流转", "Transferred"),
    State.ASSIGNED: ("已指派", "Assigned"),
    State.IN_MEDIATION: ("调解中", "In mediation"),
    State.SUSPENDED: ("中止", "Suspended"),
    State.AGREEMENT_SIGNING: ("协议签署中", "Agreement signing"),
    State.AGREEMENT_EFFECTIVE: ("协议生效", "Agreement effective"),
    State.PERFORMING: ("履行中", "Performing"),
    State.FOLLOW_UP: ("回访中", "Follow-up"),
    State.CLOSED: ("已结案", "Closed"),
    State.ARCHIVED: ("已归档", "Archived"),
    State.FAILED: ("调解不成", "Failed"),
    State.WITHDRAWN: ("已撤回", "Withdrawn"),
}

# Still being handled: the grade deadline runs and overdue warnings apply.
HANDLING = frozenset({
    State.REGISTERED, State.TRIAGED, State.ACCEPTED, State.TRANSFERRED, State.ASSIGNED,
    State.IN_MEDIATION, State.SUSPENDED, State.AGREEMENT_SIGNING,
})
RESOLVED = frozenset({State.AGREEMENT_EFFECTIVE, State.PERFORMING, State.FOLLOW_UP, State.CLOSED})
ENDED = frozenset({State.CLOSED, State.ARCHIVED, State.FAILED, State.WITHDRAWN, State.REJECTED})


class Action(StrEnum):
    TRIAGE = "triage"
    ACCEPT = "accept"
    REJECT = "reject"
    DISPATCH = "dispatch"      # 下派: to a unit below the owner
    ESCALATE = "escalate"      # 上报: to a unit above the owner
    TRANSFER = "transfer"      # 平移: to another unit of the same tier
    ASSIGN = "assign"
    START_MEDIATION = "start_mediation"
    SUSPEND = "suspend"
    RESUME = "resume"
    BEGIN_SIGNING = "begin_signing"
    REOPEN = "reopen"
    MAKE_EFFECTIVE = "make_effective"
    START_PERFORMANCE = "start_performance"
    BEGIN_FOLLOW_UP = "begin_follow_up"
    CLOSE = "close"
    FAIL = "fail"
    WITHDRAW = "withdraw"
    ARCHIVE = "archive"


ACTION_LABELS = {
    Action.TRIAGE: ("分流研判", "Triage"),
    Action.ACCEPT: ("受理", "Accept"),
    Action.REJECT: ("不予受理", "Reject"),
    Action.DISPATCH: ("下派", "Dispatch down"),
    Action.ESCALATE: ("上报", "Escalate up"),
    Action.TRANSFER: ("转办", "Transfer"),
    Action.ASSIGN: ("指派", "Assign"),
    Action.START_MEDIATION: ("开始调解", "Start mediation"),
    Action.SUSPEND: ("中止调解", "Suspend"),
    Action.RESUME: ("恢复调解", "Resume"),
    Action.BEGIN_SIGNING: ("进入协议签署", "Begin agreement signing"),
    Action.REOPEN: ("退回调解", "Back to mediation"),
    Action.MAKE_EFFECTIVE: ("协议生效", "Agreement effective"),
    Action.START_PERFORMANCE: ("进入履行", "Start performance"),
    Action.BEGIN_FOLLOW_UP: ("进入回访", "Begin follow-up"),
    Action.CLOSE: ("结案", "Close"),
    Action.FAIL: ("调解不成", "Mark failed"),
    Action.WITHDRAW: ("撤回", "Withdraw"),
    Action.ARCHIVE: ("归档", "Archive"),
}

S = State
_BEFORE_MEDIATION = {S.TRIAGED, S.ACCEPTED, S.ASSIGNED, S.TRANSFERRED}
_ASSIGNABLE = {S.ACCEPTED, S.ASSIGNED, S.IN_MEDIATION, S.SUSPENDED, S.AGREEMENT_SIGNING,
               S.AGREEMENT_EFFECTIVE, S.PERFORMING, S.FOLLOW_UP}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    # None: the state stays the same (re-assigning during mediation).
    target: State | None
    needs: tuple[str, ...] = ()


RULES: dict[Action, Rule] = {
    # A unit receiving a case (transferred) may triage it afresh: reclassify, regrade.
    Action.TRIAGE: Rule(frozenset({S.REGISTERED, S.TRANSFERRED}), S.TRIAGED, ("category", "item", "grade")),
    Action.ACCEPT: Rule(frozenset({S.TRIAGED, S.TRANSFERRED}), S.ACCEPTED),
    Action.REJECT: Rule(frozenset({S.TRIAGED}), S.REJECTED, ("reason",)),
    Action.DISPATCH: Rule(frozenset(_BEFORE_MEDIATION), S.TRANSFERRED, ("unit", "reason")),
    # A village grid worker reports a freshly registered case straight up (网格员上报).
    Action.ESCALATE: Rule(frozenset(_BEFORE_MEDIATION | {S.REGISTERED, S.IN_MEDIATION, S.SUSPENDED}),
                          S.TRANSFERRED, ("unit", "reason")),
    Action.TRANSFER: Rule(frozenset(_BEFORE_MEDIATION), S.TRANSFERRED, ("unit", "reason")),
    Action.ASSIGN: Rule(frozenset(_ASSIGNABLE), None, ("assignees",)),
    Action.START_MEDIATION: Rule(frozenset({S.ASSIGNED}), S.IN_MEDIATION),
    Action.SUSPEND: Rule(frozenset({S.IN_MEDIATION}), S.SUSPENDED, ("reason",)),
    Action.RESUME: Rule(frozenset({S.SUSPENDED}), S.IN_MEDIATION),
    Action.BEGIN_SIGNING: Rule(frozenset({S.IN_MEDIATION}), S.AGREEMENT_SIGNING),
    Action.REOPEN: Rule(frozenset({S.AGREEMENT_SIGNING}), S.IN_MEDIATION, ("reason",)),
    Action.MAKE_EFFECTIVE: Rule(frozenset({S.AGREEMENT_SIGNING}), S.AGREEMENT_EFFECTIVE),
    Action.START_PERFORMANCE: Rule(frozenset({S.AGREEMENT_EFFECTIVE}), S.PERFORMING),
    Action.BEGIN_FOLLOW_UP: Rule(frozenset({S.AGREEMENT_EFFECTIVE, S.PERFORMING}), S.FOLLOW_UP),
    Action.CLOSE: Rule(frozenset({S.FOLLOW_UP}), S.CLOSED),
    Action.FAIL: Rule(frozenset({S.IN_MEDIATION, S.SUSPENDED, S.AGREEMENT_SIGNING, S.PERFORMING}), S.FAILED,
                      ("reason",)),
    Action.WITHDRAW: Rule(frozenset(HANDLING), S.WITHDRAWN, ("reason",)),
    Action.ARCHIVE: Rule(frozenset({S.CLOSED, S.REJECTED, S.FAILED, S.WITHDRAWN}), S.ARCHIVED),
}

TRANSFER_ACTIONS = frozenset({Action.DISPATCH, Action.ESCALATE, Action.TRANSFER})


class WorkflowError(ValueError):
    """A refused action. ``code`` is stable for API clients."""

    code = "workflow"

    def __init__(self, message: str, code: str | None = None, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh  # the same refusal for a Chinese page
        if code:
            self.code = code


class IllegalTransition(WorkflowError):
    code = "illegal_transition"


class MissingInput(WorkflowError):
    code = "invalid_transition_input"


@dataclass(frozen=True)
class UnitRef:
    """A unit as the workflow needs it: code, materialised path and tier."""

    code: str
    path: str
    tier: str

    def is_ancestor_of(self, other: UnitRef) -> bool:
        return other.path.startswith(self.path) and other.path != self.path


@dataclass(frozen=True)
class CaseSnapshot:
    """The facts about a case that the state machine reads."""

    status: State
    unit: UnitRef
    created_at: datetime
    category: str | None = None
    item: str | None = None
    grade: str | None = None
    domestic_violence: bool = False
    triaged_at: datetime | None = None
    due_at: datetime | None = None
    follow_ups: int = 0


@dataclass
class Outcome:
    action: Action
    from_state: State
    to_state: State
    changes: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] = field(default_factory=dict)


def available(status: State | str) -> list[Action]:
    """Actions legal from a state (before asking who may take them)."""
    st = State(status)
    return [a for a, rule in RULES.items() if st in rule.sources]


def check_grade(grade: Any, domestic_violence: bool) -> str:
    allowed = catalog.allowed_grades(domestic_violence)
    if grade not in allowed:
        kind = "domestic-violence cases" if domestic_violence else "cases"
        raise MissingInput(f"grade must be one of {', '.join(allowed)} for {kind}", "invalid_grade",
                           zh="请选择风险等级。")
    return str(grade)


def _days(a: datetime, b: datetime) -> float:
    return round((b - a).total_seconds() / 86400, 3)


def _end(case: CaseSnapshot, now: datetime, outcome: str) -> dict[str, Any]:
    return {"outcome": outcome, "closed_at": now, "days_to_close": _days(case.created_at, now)}


def apply(case: CaseSnapshot, action: Action | str, params: dict[str, Any], now: datetime) -> Outcome:
    """Take ``action`` on ``case``. Raises IllegalTransition or MissingInput; never touches storage.

    ``params`` holds the action's inputs: ``reason`` (str), ``unit`` (UnitRef), ``assignees`` (ids),
    and for triage ``category``, ``item``, ``grade`` (each falling back to what the case has).
    """
    try:
        act = Action(action)
    except ValueError as e:
        raise IllegalTransition(f"unknown action {action!r}") from e
    rule = RULES[act]
    if case.status not in rule.sources:
        raise IllegalTransition(f"cannot {act} a case that is {case.status}",
                                zh=f"案件当前为“{STATE_LABELS[case.status][0]}”，不能{ACTION_LABELS[act][0]}。")
    target = rule.target or case.status
    out = Outcome(act, case.status, target)
    event: dict[str, Any] = {"action": str(act), "from": str(case.status), "to": str(target)}

    reason = params.get("reason")
    if "reason" in rule.needs:
        if not isinstance(reason, str) or not reason.strip():
            raise MissingInput(f"{act} needs a reason", "reason_required", zh=f"{ACTION_LABELS[act][0]}需要填写理由。")
    if isinstance(reason, str) and reason.strip():
        event["reason"] = reason.strip()

    if act == Action.TRIAGE:
        category = params.get("category") or case.category
        item = params.get("item") or case.item
        if not category or not item or not catalog.valid_item(category, item):
            raise MissingInput("triage needs a valid category and item", "invalid_category",
                               zh="请从列表中选择类别与事项。")
        dv = bool(params.get("domestic_violence", case.domestic_violence)) or item == "domestic_violence"
        grade = check_grade(params.get("grade") or case.grade, dv)
        out.changes.update(category=category, item=item, grade=grade, risk_grade=grade, triaged_at=now,
                           due_at=catalog.deadline(grade, now), warn_level=0, domestic_violence=dv)
        event.update(category=category, item=item, grade=grade, due_at=_iso(out.changes["due_at"]))
        if dv:
            event["domestic_violence"] = True
        unit = params.get("unit")
        if isinstance(unit, UnitRef) and unit.path != case.unit.path:
            # Triage may hand the case to a unit inside the current owner's subtree.
            if not unit.path.startswith(case.unit.path):
                raise MissingInput("triage may only route a case within the owning unit's subtree",
                                   "invalid_unit", zh="分流只能交给本单位辖区内的单位。")
            out.changes["unit"] = unit
            event["unit"] = unit.code

    elif act == Action.ACCEPT:
        if not (case.category and case.grade and case.triaged_at):
            raise IllegalTransition("triage the case (type and grade) before accepting it", "triage_required",
                                    zh="请先分流（确定类别与风险等级）再受理。")

    elif act in TRANSFER_ACTIONS:
        unit = params.get("unit")
        if not isinstance(unit, UnitRef):
            raise MissingInput(f"{act} needs a target unit", "unit_required", zh="请选择目标单位。")
        check_direction(act, case.unit, unit)
        out.changes["unit"] = unit
        event.update(kind=str(act), from_unit=case.unit.code, to_unit=unit.code)

    elif act == Action.ASSIGN:
        ids = params.get("assignees")
        if not isinstance(ids, (list, tuple)) or not ids or not all(isinstance(i, int) for i in ids):
            raise MissingInput("assign needs at least one assignee", "assignees_required",
                               zh="请至少选择一名承办人。")
        if case.status == S.ACCEPTED:
            out.to_state = S.ASSIGNED
            event["to"] = str(S.ASSIGNED)
        out.changes["assignees"] = list(dict.fromkeys(ids))

    elif act == Action.MAKE_EFFECTIVE:
        on_time = case.due_at is None or now <= case.due_at
        out.changes.update(grade=str(Grade.GREEN), resolved_at=now, outcome="resolved", on_time=on_time)
        if params.get("agreement_id") is not None:
            event["agreement_id"] = params["agreement_id"]
        event["on_time"] = on_time

    elif act == Action.CLOSE:
        if case.follow_ups < 1:
            raise IllegalTransition("a case is closed only after at least one follow-up visit (回访)",
                                    "follow_up_required", zh="结案前须至少完成一次回访。")
        out.changes.update(closed_at=now, days_to_close=_days(case.created_at, now))
        note = params.get("note")
        if isinstance(note, str) and note.strip():
            # Shown to the resident on the public status page.
            event["note"] = note.strip()[:1000]

    elif act == Action.FAIL:
        out.changes.update(_end(case, now, "failed"))
        out.changes["on_time"] = case.due_at is None or now <= case.due_at
    elif act == Action.WITHDRAW:
        out.changes.update(_end(case, now, "withdrawn"))
    elif act == Action.REJECT:
        out.changes.update(_end(case, now, "rejected"))
    elif act == Action.ARCHIVE:
        out.changes["archived_at"] = now

    out.changes["status"] = str(out.to_state)
    out.event = event
    return out


def check_direction(act: Action, owner: UnitRef, target: UnitRef) -> None:
    if target.path == owner.path:
        raise MissingInput("the case is already at that unit", "invalid_unit", zh="案件已在该单位。")
    if act == Action.DISPATCH and not owner.is_ancestor_of(target):
        raise MissingInput("dispatch (下派) goes to a unit below the owning unit", "invalid_unit",
                           zh="下派只能交给承办单位的下级单位。")
    if act == Action.ESCALATE and not target.is_ancestor_of(owner):
        raise MissingInput("escalation (上报) goes to a unit above the owning unit", "invalid_unit",
                           zh="上报只能交给承办单位的上级单位。")
    if act == Action.TRANSFER and target.tier != owner.tier:
        raise MissingInput("a transfer (转办) goes to another unit of the same tier", "invalid_unit",
                           zh="转办只能交给同级的其他单位。")


def regrade(case: CaseSnapshot, grade: str) -> dict[str, Any]:
    """Column changes when a case's risk grade is edited: the deadline follows the grade."""
    if case.status not in HANDLING:
        raise IllegalTransition("only a case still being handled can be regraded", "not_handling",
                                zh="只有办理中的案件才能调整风险等级。")
    g = check_grade(grade, case.domestic_violence)
    changes: dict[str, Any] = {"grade": g, "risk_grade": g}
    if case.triaged_at is not None:
        changes.update(due_at=catalog.deadline(g, case.triaged_at), warn_level=0)
    return changes


def is_overdue(status: str, due_at: datetime | None, now: datetime) -> bool:
    return State(status) in HANDLING and due_at is not None and now > due_at


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
