"""Cases as JSON-ready dicts for the API and the pages (privacy rules applied here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import ledger_store
from server.agreements.models import Agreement
from server.cases import privacy, workflow
from server.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseDocument,
    CaseObligation,
    CaseParty,
    CaseTransfer,
    Consultation,
    DVResponse,
    FollowUp,
    Petition,
    SupervisionOrder,
)
from server.cases.permissions import CaseFacts, can
from server.directory.models import Staff, Unit
from server.ledger import case_chain, format_time
from server.policy import Actor
from server.sessions.models import Session


def iso(at: datetime | None) -> str | None:
    return format_time(at) if at else None


def summary(case: Case, unit: Unit | None, now: datetime) -> dict[str, Any]:
    return {
        "id": case.id,
        "code": case.code,
        "kind": case.kind,
        "source": case.source,
        "category": case.category,
        "item": case.item,
        "title": case.title,
        "status": case.status,
        "grade": case.grade,
        "risk_grade": case.risk_grade,
        "domestic_violence": case.domestic_violence,
        "unit": {"code": unit.code, "name": unit.name, "tier": unit.tier} if unit else None,
        "created_at": iso(case.created_at),
        "due_at": iso(case.due_at),
        "overdue": workflow.is_overdue(case.status, case.due_at, now),
        "outcome": case.outcome,
        "version": case.version,
        "updated_at": iso(case.updated_at),
    }


async def _staff_map(s: AsyncSession, ids: set[int]) -> dict[int, tuple[Staff, Unit]]:
    if not ids:
        return {}
    rows = (await s.execute(select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(Staff.id.in_(ids)))).all()
    return {st.id: (st, un) for st, un in rows}


def _person(pair: tuple[Staff, Unit] | None, sid: int | None) -> dict[str, Any] | None:
    if sid is None:
        return None
    if pair is None:
        return {"id": sid}
    st, un = pair
    return {"id": st.id, "username": st.username, "name": st.name, "role": st.role, "unit": un.code,
            "unit_name": un.name}


async def detail(s: AsyncSession, case: Case, actor: Actor, f: CaseFacts, now: datetime) -> dict[str, Any]:
    unit = await s.get(Unit, case.unit_id)
    out = summary(case, unit, now)
    reveal = can(actor, "reveal_confidential", f)
    parties = list((await s.execute(select(CaseParty).where(CaseParty.case_id == case.id)
                                    .order_by(CaseParty.id))).scalars())
    out["summary"] = case.summary
    secrets = privacy.secrets_of(parties)
    out["parties"] = [privacy.staff_view(p, reveal=reveal, secrets=secrets) for p in parties]
    out["triaged_at"] = iso(case.triaged_at)
    out["resolved_at"] = iso(case.resolved_at)
    out["closed_at"] = iso(case.closed_at)
    out["on_time"] = case.on_time
    out["satisfaction"] = case.satisfaction
    out["restricted"] = case.restricted

    assignees = list((await s.execute(select(CaseAssignee).where(CaseAssignee.case_id == case.id)
                                      .order_by(CaseAssignee.lead.desc(), CaseAssignee.staff_id))).scalars())
    access = list((await s.execute(select(CaseAccess).where(CaseAccess.case_id == case.id,
                                                            CaseAccess.revoked_at.is_(None)))).scalars())
    sup = list((await s.execute(select(SupervisionOrder).where(SupervisionOrder.case_id == case.id)
                                .order_by(SupervisionOrder.id))).scalars())
    cons = list((await s.execute(select(Consultation).where(Consultation.case_id == case.id)
                                 .order_by(Consultation.id))).scalars())
    follow = list((await s.execute(select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.id))).scalars())
    ids = {a.staff_id for a in assignees} | {a.staff_id for a in access} | {o.issued_by for o in sup}
    ids |= {c.requested_by for c in cons} | {c.expert_id for c in cons if c.expert_id} | {x.staff_id for x in follow}
    people = await _staff_map(s, ids)
    out["assignees"] = [{**(_person(people.get(a.staff_id), a.staff_id) or {}), "lead": a.lead} for a in assignees]
    if case.restricted:
        out["named_staff"] = [_person(people.get(a.staff_id), a.staff_id) for a in access if a.kind == "named"]
    out["grants"] = [{"staff": _person(people.get(a.staff_id), a.staff_id), "kind": a.kind,
                      "expires_at": iso(a.expires_at), "live": a.expires_at is None or a.expires_at > now}
                     for a in access if a.kind != "named"]
    out["supervision"] = [supervision_json(o, people) for o in sup]
    out["consultations"] = [consultation_json(c, people) for c in cons]
    out["follow_ups"] = [{
        "id": x.id, "at": iso(x.at), "by": _person(people.get(x.staff_id), x.staff_id), "method": x.method,
        "satisfaction": x.satisfaction, "recurrence_risk": x.recurrence_risk, "notes": x.notes,
        "performance": x.performance,
    } for x in follow]
    obligations = (await s.execute(select(CaseObligation).where(CaseObligation.case_id == case.id)
                                   .order_by(CaseObligation.seq, CaseObligation.id))).scalars()
    out["obligations"] = [obligation_json(o, now) for o in obligations]
    docs = (await s.execute(select(CaseDocument).where(CaseDocument.case_id == case.id)
                            .order_by(CaseDocument.id))).scalars()
    out["documents"] = [document_json(case, d) for d in docs]
    sessions = (await s.execute(select(Session).where(Session.case_id == case.id).order_by(Session.id))).scalars()
    out["sessions"] = [{"id": x.id, "kind": x.kind, "title": x.title, "state": x.state,
                        "scheduled_at": iso(x.scheduled_at), "settings": x.settings or {}} for x in sessions]
    transfers = (await s.execute(select(CaseTransfer, Unit).join(Unit, Unit.id == CaseTransfer.to_unit_id)
                                 .where(CaseTransfer.case_id == case.id).order_by(CaseTransfer.id))).all()
    out["transfers"] = [{"kind": t.kind, "to": u.code, "to_name": u.name, "reason": t.reason, "at": iso(t.at)}
                        for t, u in transfers]
    out["agreements"] = await _agreements(s, case)
    pet = (await s.execute(select(Petition).where(Petition.case_id == case.id))).scalar_one_or_none()
    out["petition"] = petition_json(pet) if pet else None
    if case.domestic_violence:
        dv = (await s.execute(select(DVResponse).where(DVResponse.case_id == case.id)
                              .order_by(DVResponse.issued_at))).scalars()
        out["dv_responses"] = [{"id": r.id, "stage": r.stage, "authority": r.authority, "reference": r.reference,
                                "issued_at": iso(r.issued_at), "notes": r.notes} for r in dv]
    out["actions"] = [str(a) for a in workflow.available(case.status) if can(actor, a, f)]
    out["can"] = {k: can(actor, k, f) for k in ("edit", "supervise", "follow_up", "upload", "consult",
                                                 "schedule_session", "petition", "dv_response", "manage_access",
                                                 "obligations", "joint_override")}
    return out


async def _agreements(s: AsyncSession, case: Case) -> list[dict[str, Any]]:
    """The case's mediation agreements (the agreements module's table; absent in a build without it)."""
    rows = (await s.execute(select(Agreement).where(Agreement.case_id == case.id).order_by(Agreement.id))).scalars()
    return [{"id": a.id, "number": a.number, "state": a.state, "effective_at": iso(a.effective_at),
             "url": f"/agreements/{a.id}"} for a in rows]


def supervision_json(o: SupervisionOrder, people: dict[int, tuple[Staff, Unit]] | None = None) -> dict[str, Any]:
    people = people or {}
    return {"id": o.id, "case_id": o.case_id, "instruction": o.instruction, "due_at": iso(o.due_at),
            "status": o.status, "response": o.response, "responded_at": iso(o.responded_at),
            "issued_by": _person(people.get(o.issued_by), o.issued_by), "created_at": iso(o.created_at)}


def consultation_json(c: Consultation, people: dict[int, tuple[Staff, Unit]] | None = None) -> dict[str, Any]:
    people = people or {}
    return {"id": c.id, "case_id": c.case_id, "specialty": c.specialty, "question": c.question, "status": c.status,
            "requested_by": _person(people.get(c.requested_by), c.requested_by),
            "expert": _person(people.get(c.expert_id), c.expert_id) if c.expert_id else None,
            "grant_expires_at": iso(c.grant_expires_at), "session_id": c.session_id,
            "scheduled_at": iso(c.scheduled_at), "opinion": c.opinion, "requested_at": iso(c.requested_at)}


def obligation_json(o: CaseObligation, now: datetime) -> dict[str, Any]:
    return {"id": o.id, "seq": o.seq, "agreement_id": o.agreement_id, "obligor": o.obligor, "obligee": o.obligee,
            "content": o.content, "due_at": iso(o.due_at), "status": o.status,
            "last_followup_at": iso(o.last_followup_at),
            "follow_up_due": bool(o.due_at and o.due_at < now and o.status in ("pending", "partial")
                                  and (o.last_followup_at is None or o.last_followup_at < o.due_at))}


def document_json(case: Case, d: CaseDocument) -> dict[str, Any]:
    return {"id": d.id, "kind": d.kind, "filename": d.filename, "content_type": d.content_type, "bytes": d.bytes,
            "sha256": d.sha256, "description": d.description, "uploaded_at": iso(d.uploaded_at),
            "url": f"/api/cases/{case.code}/documents/{d.id}"}


def petition_json(p: Petition) -> dict[str, Any]:
    return {"id": p.id, "petitioners": p.petitioners, "subject": p.subject, "status": p.status,
            "hearing_session_id": p.hearing_session_id, "hearing_at": iso(p.hearing_at), "panel": p.panel or [],
            "outcome": p.outcome, "reply_due_at": iso(p.reply_due_at), "replied_at": iso(p.replied_at)}


async def timeline(s: AsyncSession, case: Case) -> list[dict[str, Any]]:
    return [e.as_dict() for e in await ledger_store.events(s, case_chain(case.id))]
