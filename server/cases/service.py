"""Case persistence: register, transition, edit, assign, name staff. No aiohttp here.

Every change is written together with its ledger event on ``ledger.case_chain(case.id)`` in the caller's
transaction, so the file and its trace commit (or vanish) together. Edits and transitions use optimistic
locking on ``cases.version``: a stale writer gets ``Stale`` (HTTP 409).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import ledger, ledger_store
from server.cases import catalog, codes, privacy, workflow
from server.cases.catalog import Kind, PartyRole, Source
from server.cases.errors import Conflict, Denied, Invalid, NotFound, Stale
from server.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseParty,
    CaseTransfer,
    CaseUnit,
    FollowUp,
)
from server.cases.notifications import notify, unit_handlers
from server.cases.permissions import HANDLERS, ON_CASE, can, can_assign_to, can_register, can_route_to
from server.cases.queries import facts
from server.cases.workflow import Action, UnitRef, WorkflowError
from server.clock import BEIJING
from server.db import rowcount
from server.directory.models import Staff, Unit
from server.idnumbers import INVALID as INVALID_ID
from server.idnumbers import normalise as normalise_id
from server.idnumbers import valid_resident_id
from server.policy import Actor

PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")


@dataclass(frozen=True)
class Ctx:
    """The time (injectable for tests) and the key for ledger fingerprints of personal details."""

    now: datetime
    secret: bytes = b""


@dataclass
class PartyDraft:
    role: str
    name: str
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    phone_confidential: bool = False
    address_confidential: bool = False


@dataclass
class CaseDraft:
    unit_code: str
    title: str
    summary: str = ""
    source: str = Source.WALK_IN
    kind: str = Kind.DISPUTE
    category: str | None = None
    item: str | None = None
    grade: str | None = None
    domestic_violence: bool = False
    parties: list[PartyDraft] = field(default_factory=list)
    named_staff: list[int] = field(default_factory=list)
    intake: dict[str, Any] | None = None


def actor_ref(actor: Actor | None) -> dict[str, Any]:
    if actor is None:
        return {"public": True}
    return {"id": actor.id, "username": actor.username, "name": actor.name, "unit": actor.unit_code,
            "role": actor.role}


def _text(value: Any, name: str, max_len: int, *, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(f"{name} is required", "missing_field")
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be text", "invalid_field")
    value = value.strip()
    if len(value) > max_len:
        raise Invalid(f"{name} is longer than {max_len} characters", "invalid_field")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise Invalid(f"{name} contains control characters", "invalid_field")
    return value


def party_from(data: Any) -> PartyDraft:
    """Validate one party from JSON or a form."""
    if not isinstance(data, dict):
        raise Invalid("each party must be an object", "invalid_party")
    role = data.get("role")
    if not isinstance(role, str) or role not in set(PartyRole):
        raise Invalid(f"party role must be one of {', '.join(PartyRole)}", "invalid_party")
    name = _text(data.get("name"), "party name", 100)
    id_number = _text(data.get("id_number"), "ID number", 18, required=False) or None
    if id_number and not valid_resident_id(id_number):  # the agreement editor's validator too
        raise Invalid(INVALID_ID[1], "invalid_id_number")
    id_number = normalise_id(id_number) if id_number else None
    phone = _text(data.get("phone"), "phone", 20, required=False) or None
    if phone and not PHONE_RE.match(phone):
        raise Invalid("phone must be digits", "invalid_party")
    address = _text(data.get("address"), "address", 200, required=False) or None
    flags = {}
    for k in ("phone_confidential", "address_confidential"):
        v = data.get(k)
        v = False if v is None else v
        if not isinstance(v, bool):
            raise Invalid(f"{k} must be true or false", "invalid_party")
        flags[k] = v
    return PartyDraft(str(role), name, id_number, phone, address, **flags)


async def unit_by_code(s: AsyncSession, code: Any) -> Unit:
    if not isinstance(code, str) or not code or len(code) > 32:
        raise Invalid("unknown unit", "unknown_unit")
    unit = (await s.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()
    if unit is None:
        raise Invalid(f"unknown unit {code!r}", "unknown_unit", zh="没有这个单位。")
    return unit


def ref_of(unit: Unit) -> UnitRef:
    return UnitRef(unit.code, unit.path, unit.tier)


def parent_path(path: str) -> str:
    parts = path.rstrip("/").split("/")
    return "/".join(parts[:-1]) + "/" if len(parts) > 1 else ""


def _local_date(now: datetime):  # type: ignore[no-untyped-def]
    return now.astimezone(BEIJING).date()


async def _append(s: AsyncSession, case: Case, type: str, data: dict[str, Any], ctx: Ctx) -> ledger.Event:
    return await ledger_store.append(s, ledger.case_chain(case.id), type, data, ctx.now)


async def _staff_related(s: AsyncSession, ids: list[int], unit_path: str, roles: frozenset[str] | None = None
                         ) -> list[tuple[Staff, Unit]]:
    """Staff by id who work in the owning unit's line (at, above or below it), active, in given roles."""
    if not ids:
        return []
    rows = (await s.execute(
        select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(Staff.id.in_(ids), Staff.active.is_(True))
    )).all()
    found = {st.id: (st, un) for st, un in rows}
    out = []
    for i in ids:
        pair = found.get(i)
        if pair is None or not can_assign_to(pair[1].path, pair[0].role, unit_path) or (
                roles is not None and pair[0].role not in roles):
            raise Invalid(f"staff {i} cannot work on this case", "invalid_staff")
        out.append(pair)
    return out


async def _add_named(s: AsyncSession, case: Case, ids: list[int], by: Actor | None, ctx: Ctx) -> list[int]:
    """Name staff on a restricted case; returns the ids newly added."""
    have = set((await s.execute(select(CaseAccess.staff_id).where(
        CaseAccess.case_id == case.id, CaseAccess.kind == "named", CaseAccess.revoked_at.is_(None)))).scalars())
    added = []
    for sid in dict.fromkeys(ids):
        if sid not in have:
            s.add(CaseAccess(case_id=case.id, staff_id=sid, kind="named", granted_by=by.id if by else None,
                             granted_at=ctx.now))
            added.append(sid)
    await s.flush()
    return added


async def register(s: AsyncSession, ctx: Ctx, actor: Actor | None, draft: CaseDraft) -> Case:
    """Open a case file in state ``registered``. ``actor`` None is the public intake form."""
    unit = await unit_by_code(s, draft.unit_code)
    if actor is None:
        if draft.source != Source.RESIDENT_REQUEST or unit.tier not in ("village", "township"):
            raise Invalid("the public form registers resident requests at a village or township", "invalid_unit")
    elif not can_register(actor, unit.path):
        raise Denied("you may register cases for your own unit or those below it",
                     zh="只能为本单位或下级单位登记案件。")
    title = _text(draft.title, "title", 200)
    summary = _text(draft.summary, "summary", 5000, required=False)
    if not isinstance(draft.source, str) or draft.source not in set(Source):
        raise Invalid(f"source must be one of {', '.join(Source)}", "invalid_source")
    if not isinstance(draft.kind, str) or draft.kind not in set(Kind):
        raise Invalid(f"kind must be one of {', '.join(Kind)}", "invalid_kind")
    if draft.category or draft.item:
        if not (draft.category and draft.item and catalog.valid_item(draft.category, draft.item)):
            raise Invalid("category and item must match the catalogue", "invalid_category")
    dv = bool(draft.domestic_violence) or draft.item == "domestic_violence"
    if draft.grade is not None:
        try:
            workflow.check_grade(draft.grade, dv)
        except WorkflowError as e:
            raise Invalid(str(e), e.code) from e
    if len(draft.parties) > 50:
        raise Invalid("at most 50 parties", "invalid_party")

    code = await codes.next_code(s, codes.scope_of(unit.path), _local_date(ctx.now).year, ctx.secret)
    case = Case(
        code=code, kind=str(draft.kind), source=str(draft.source), category=draft.category, item=draft.item,
        title=title, summary=summary, status=str(workflow.State.REGISTERED), grade=draft.grade,
        risk_grade=draft.grade, domestic_violence=dv, restricted=dv, unit_id=unit.id, unit_path=unit.path,
        unit_tier=unit.tier, origin_unit_id=unit.id, registered_by=actor.id if actor else None,
        created_at=ctx.now, opened_on=_local_date(ctx.now), intake=draft.intake, version=1,
        updated_at=ctx.now, warn_level=0,
    )
    s.add(case)
    await s.flush()
    s.add(CaseUnit(case_id=case.id, unit_id=unit.id, unit_path=unit.path, relation="origin", at=ctx.now))
    parties = _make_parties(case, draft.parties)
    s.add_all(parties)
    await s.flush()

    event: dict[str, Any] = {
        "code": code, "kind": case.kind, "source": case.source, "unit": unit.code, "title": title,
        "category": case.category, "item": case.item, "grade": case.grade, "by": actor_ref(actor),
        "parties": [privacy.ledger_view(p, ctx.secret) for p in parties],
    }
    if dv:
        named = [actor.id] if actor else []
        if draft.named_staff:
            named += [st.id for st, _ in await _staff_related(s, draft.named_staff, unit.path)]
        if actor is None or actor.role not in HANDLERS:
            # Someone able to act must be able to see it: the owning unit's handlers are named (a village
            # without any: its township's).
            handlers = await unit_handlers(s, unit.id)
            if not handlers and unit.parent_id:
                handlers = await unit_handlers(s, unit.parent_id)
            named += handlers
        added = await _add_named(s, case, named, actor, ctx)
        event.update(domestic_violence=True, named=added)
    await _append(s, case, "case.registered", event, ctx)
    return case


def _make_parties(case: Case, drafts: list[PartyDraft]) -> list[CaseParty]:
    out = []
    for d in drafts:
        forced = privacy.forced_confidential(d.role, case.domestic_violence)
        out.append(CaseParty(
            case_id=case.id, role=d.role, side=privacy.side_of(d.role), name=d.name, id_number=d.id_number,
            phone=d.phone, address=d.address, phone_confidential=d.phone_confidential or forced,
            address_confidential=d.address_confidential or forced,
        ))
    return out


def snapshot(case: Case, follow_ups: int = 0) -> workflow.CaseSnapshot:
    return workflow.CaseSnapshot(
        status=workflow.State(case.status),
        unit=UnitRef(_unit_code(case.unit_path), case.unit_path, case.unit_tier),
        created_at=case.created_at, category=case.category, item=case.item, grade=case.risk_grade or case.grade,
        domestic_violence=case.domestic_violence, triaged_at=case.triaged_at, due_at=case.due_at,
        follow_ups=follow_ups,
    )


def _unit_code(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


async def cas_update(s: AsyncSession, case: Case, changes: dict[str, Any], ctx: Ctx) -> None:
    """Write ``changes`` only if nobody else changed the case since it was read."""
    res = await s.execute(
        update(Case).where(Case.id == case.id, Case.version == case.version)
        .values(**changes, version=case.version + 1, updated_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(res) != 1:
        raise Stale("the case was changed by someone else; reload and try again")
    await s.refresh(case)


async def transition(s: AsyncSession, ctx: Ctx, actor: Actor | None, case: Case, action: str,
                     params: dict[str, Any], version: int | None = None, *, system: str | None = None
                     ) -> workflow.Outcome:
    """Take a workflow action on a case the actor can see.

    ``actor`` None with ``system`` set is another module moving the case along (the agreements module when
    an agreement is frozen or takes effect): no permission check, recorded as that system in the ledger.
    """
    try:
        act = Action(action)
    except ValueError as e:
        raise Invalid(f"unknown action {action!r}", "unknown_action") from e
    f = await facts(s, case, ctx.now)
    if actor is None:
        if not system or act in workflow.TRANSFER_ACTIONS or act in (Action.ASSIGN, Action.TRIAGE):
            raise Denied("a system transition names its system and does not route or assign")
    elif not can(actor, act, f):
        raise Denied(f"your role or tier may not {act} this case",
                     zh=f"您的角色或层级不能对此案件执行“{workflow.ACTION_LABELS[act][0]}”。")
    if version is not None and version != case.version:
        raise Stale("the case was changed by someone else; reload and try again")

    wparams = {k: v for k, v in params.items() if k in ("reason", "category", "item", "grade",
                                                          "domestic_violence", "agreement_id", "note")}
    target: Unit | None = None
    if params.get("unit") is not None:
        target = await unit_by_code(s, params["unit"])
        ref = ref_of(target)
        if actor is not None and (act in workflow.TRANSFER_ACTIONS or act == Action.TRIAGE):
            owner = UnitRef(_unit_code(case.unit_path), case.unit_path, case.unit_tier)
            if not can_route_to(actor, act, owner, ref, parent_path(target.path)):
                raise Denied(f"you may not {act} this case to {target.code}",
                             zh=f"您不能将此案件{workflow.ACTION_LABELS[act][0]}至{target.name}。")
        wparams["unit"] = ref
    if act == Action.ASSIGN:
        wparams["assignees"] = params.get("assignees")
    n_follow = 0
    if act == Action.CLOSE:
        n_follow = (await s.execute(select(func.count()).where(FollowUp.case_id == case.id))).scalar_one()
    try:
        out = workflow.apply(snapshot(case, n_follow), act, wparams, ctx.now)
    except WorkflowError as e:
        cls = Invalid if isinstance(e, workflow.MissingInput) else Conflict
        raise cls(str(e), e.code, zh=e.zh) from e

    changes = dict(out.changes)
    unit_ref = changes.pop("unit", None)
    assignee_ids = changes.pop("assignees", None)
    assignees = await _staff_related(s, assignee_ids, case.unit_path, ON_CASE) if assignee_ids else []
    event = dict(out.event)
    event["by"] = actor_ref(actor) if actor is not None else {"system": system}
    if unit_ref is not None and target is not None:
        changes.update(unit_id=target.id, unit_path=target.path, unit_tier=target.tier)
    if changes.get("domestic_violence") and not case.restricted:
        changes["restricted"] = True
    old_unit_id, old_path = case.unit_id, case.unit_path
    await cas_update(s, case, changes, ctx)

    if unit_ref is not None and target is not None and actor is not None:
        await _moved(s, ctx, actor, case, str(act), old_unit_id, old_path, target, params.get("reason") or "", event)
    if changes.get("restricted") and not f.restricted and actor is not None:
        # Becoming restricted: whoever triaged it and whoever registered it stay able to see it.
        ids = [actor.id] + ([case.registered_by] if case.registered_by else [])
        event["named"] = await _add_named(s, case, ids, actor, ctx)
    if assignees and actor is not None:
        await _assign(s, ctx, actor, case, assignees, event)
    await _append(s, case, f"case.{act}", event, ctx)
    return out


def route_choices(actor: Actor, act: Action, case: Case, candidates: list[Unit]) -> list[Unit]:
    """The units a form may offer for ``act``: exactly those that transition() would accept."""
    owner = UnitRef(_unit_code(case.unit_path), case.unit_path, case.unit_tier)
    out = []
    for u in candidates:
        ref = ref_of(u)
        if u.path == case.unit_path or not can_route_to(actor, act, owner, ref, parent_path(u.path)):
            continue
        if act == Action.TRIAGE and not u.path.startswith(case.unit_path):
            continue
        if act in workflow.TRANSFER_ACTIONS:
            try:
                workflow.check_direction(act, owner, ref)
            except WorkflowError:
                continue
        out.append(u)
    return out


async def _moved(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, kind: str, old_unit_id: int, old_path: str,
                 target: Unit, reason: str, event: dict[str, Any]) -> None:
    """Bookkeeping when a case changes owning unit: history, read access for the old unit, new handlers."""
    seen = (await s.execute(select(CaseUnit.id).where(CaseUnit.case_id == case.id,
                                                     CaseUnit.unit_id == old_unit_id))).first()
    if not seen:
        s.add(CaseUnit(case_id=case.id, unit_id=old_unit_id, unit_path=old_path, relation="previous", at=ctx.now))
    s.add(CaseTransfer(case_id=case.id, kind=kind, from_unit_id=old_unit_id, to_unit_id=target.id, reason=reason,
                       by_staff_id=actor.id, at=ctx.now))
    # The receiving unit assigns its own people.
    cleared = list((await s.execute(select(CaseAssignee.staff_id).where(CaseAssignee.case_id == case.id))).scalars())
    if cleared:
        await s.execute(delete(CaseAssignee).where(CaseAssignee.case_id == case.id))
        event["assignees_cleared"] = cleared
    handlers = await unit_handlers(s, target.id)
    if case.restricted:
        event["named"] = await _add_named(s, case, handlers, actor, ctx)
    await s.flush()
    label = workflow.ACTION_LABELS.get(Action(kind), (kind, kind))[0] if kind in set(Action) else kind
    await notify(s, handlers, "case.routed", f"{label}：{case.code} {case.title}", reason, case, ctx.now)


async def _assign(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, people: list[tuple[Staff, Unit]],
                  event: dict[str, Any]) -> None:
    new_ids = [st.id for st, _ in people]
    old = set((await s.execute(select(CaseAssignee.staff_id).where(CaseAssignee.case_id == case.id))).scalars())
    await s.execute(delete(CaseAssignee).where(CaseAssignee.case_id == case.id))
    for i, (st, _) in enumerate(people):
        s.add(CaseAssignee(case_id=case.id, staff_id=st.id, lead=(i == 0), assigned_by=actor.id, assigned_at=ctx.now))
    await s.flush()
    event["assignees"] = [{"id": st.id, "username": st.username, "name": st.name, "unit": un.code}
                          for st, un in people]
    if case.restricted:
        event["named"] = sorted(set(event.get("named", [])) | set(await _add_named(s, case, new_ids, actor, ctx)))
    fresh = [i for i in new_ids if i not in old]
    await notify(s, fresh, "case.assigned", f"指派案件：{case.code} {case.title}", "", case, ctx.now)


EDITABLE = ("title", "summary", "category", "item", "grade", "source", "domestic_violence", "parties")


async def edit(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, body: dict[str, Any], version: Any) -> Case:
    """Edit case fields under optimistic locking; the ledger gets the new values (personal details hashed)."""
    f = await facts(s, case, ctx.now)
    if not can(actor, "edit", f):
        raise Denied("your role or tier may not edit this case", zh="您的角色或层级不能修改此案件。")
    if not isinstance(version, int) or isinstance(version, bool):
        raise Invalid("version (integer) is required for an edit", "version_required")
    if version != case.version:
        raise Stale("the case was changed by someone else; reload and try again")
    if workflow.State(case.status) in workflow.ENDED:
        raise Conflict("a finished case is read only", "case_finished")
    unknown = set(body) - set(EDITABLE) - {"version"}
    if unknown:
        raise Invalid(f"cannot edit: {', '.join(sorted(unknown))}", "invalid_field")
    changes: dict[str, Any] = {}
    logged: dict[str, Any] = {}
    if "title" in body:
        changes["title"] = logged["title"] = _text(body["title"], "title", 200)
    if "summary" in body:
        changes["summary"] = logged["summary"] = _text(body["summary"], "summary", 5000, required=False)
    if "source" in body:
        if not isinstance(body["source"], str) or body["source"] not in set(Source):
            raise Invalid("unknown source", "invalid_source")
        changes["source"] = logged["source"] = body["source"]
    if "domestic_violence" in body:
        dv = body["domestic_violence"]
        if not isinstance(dv, bool):
            raise Invalid("domestic_violence must be true or false", "invalid_field")
        if case.domestic_violence and not dv:
            raise Conflict("a domestic-violence case stays restricted", "dv_locked")
        if dv and not case.domestic_violence:
            changes.update(domestic_violence=True, restricted=True)
            logged["domestic_violence"] = True
    if "category" in body or "item" in body:
        cat, item = body.get("category", case.category), body.get("item", case.item)
        if not (isinstance(cat, str) and isinstance(item, str) and catalog.valid_item(cat, item)):
            raise Invalid("category and item must match the catalogue", "invalid_category")
        changes.update(category=cat, item=item)
        logged.update(category=cat, item=item)
        if item == "domestic_violence" and not case.domestic_violence:
            changes.update(domestic_violence=True, restricted=True)
            logged["domestic_violence"] = True
    if "grade" in body:
        snap = snapshot(case)
        if changes.get("domestic_violence"):
            snap = workflow.CaseSnapshot(**{**snap.__dict__, "domestic_violence": True})
        try:
            g = workflow.regrade(snap, body["grade"])
        except WorkflowError as e:
            raise (Invalid(str(e), e.code) if isinstance(e, workflow.MissingInput) else Conflict(str(e), e.code)
                   ) from e
        changes.update(g)
        logged["grade"] = g["grade"]
        if "due_at" in g:
            logged["due_at"] = ledger.format_time(g["due_at"])
    elif changes.get("domestic_violence") and case.grade and case.grade not in catalog.DV_GRADES:
        raise Invalid("a domestic-violence case is graded red, orange or blue: set the grade too", "invalid_grade")
    parties = None
    if "parties" in body:
        if not isinstance(body["parties"], list) or len(body["parties"]) > 50:
            raise Invalid("parties must be a list of at most 50", "invalid_party")
        parties = [party_from(p) for p in body["parties"]]
    if not changes and parties is None:
        raise Invalid("nothing to change", "no_changes")
    await cas_update(s, case, changes, ctx)
    if parties is not None:
        await s.execute(delete(CaseParty).where(CaseParty.case_id == case.id))
        rows = _make_parties(case, parties)
        s.add_all(rows)
        await s.flush()
        logged["parties"] = [privacy.ledger_view(p, ctx.secret) for p in rows]
    if changes.get("restricted") and not f.restricted:
        logged["named"] = await _add_named(
            s, case, [actor.id] + list(f.assignees) + ([case.registered_by] if case.registered_by else []), actor, ctx)
    await _append(s, case, "case.edited", {"fields": logged, "version": case.version, "by": actor_ref(actor)}, ctx)
    return case


async def set_named(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, add: list[int], remove: list[int]
                    ) -> list[int]:
    """Change who may see a restricted case. At least one handler stays named."""
    f = await facts(s, case, ctx.now)
    if not can(actor, "manage_access", f):
        raise Denied("only the owning unit's admins and mediators (or above) manage named staff")
    if not case.restricted:
        raise Conflict("only restricted cases have a named-staff list", "not_restricted")
    added = await _add_named(s, case, [st.id for st, _ in await _staff_related(s, add, case.unit_path)], actor, ctx)
    remaining = set(f.named) | set(added)
    removed = [i for i in dict.fromkeys(remove) if i in remaining]
    if removed:
        left = remaining - set(removed)
        handlers = (await s.execute(select(func.count()).select_from(Staff).where(
            Staff.id.in_(left or [-1]), Staff.role.in_(list(HANDLERS))))).scalar_one()
        if handlers == 0:
            raise Conflict("at least one handler must stay named on the case", "last_named")
        await s.execute(update(CaseAccess).where(
            CaseAccess.case_id == case.id, CaseAccess.kind == "named", CaseAccess.staff_id.in_(removed),
            CaseAccess.revoked_at.is_(None)).values(revoked_at=ctx.now))
    if not added and not removed:
        raise Invalid("nothing to change", "no_changes")
    await _append(s, case, "access.named", {"added": added, "removed": removed, "by": actor_ref(actor)}, ctx)
    return sorted(remaining - set(removed))


async def require(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, what: str) -> None:
    """Raise Denied unless the actor may do ``what`` (a permissions.RULES key) on the case."""
    if not can(actor, what, await facts(s, case, ctx.now)):
        raise Denied(f"your role or tier may not do this ({what}) on this case", zh="您的角色或层级不能对此案件执行该操作。")


async def append_event(s: AsyncSession, ctx: Ctx, case: Case, type: str, data: dict[str, Any]) -> ledger.Event:
    return await _append(s, case, type, data, ctx)


async def case_by_id(s: AsyncSession, case_id: int) -> Case:
    case = await s.get(Case, case_id)
    if case is None:
        raise NotFound("no such case")
    return case


async def verify_case_chain(s: AsyncSession, case: Case) -> ledger.Verification:
    return await ledger_store.verify_chain(s, ledger.case_chain(case.id))
