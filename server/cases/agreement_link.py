"""Where agreements meet the case module: drafts prefilled from a case, and the case moved along when an
agreement is frozen or takes effect (its obligations handed to the follow-ups).

This module is the case module's implementation of ``server.agreements.ports.CaseLink``; ``server.app`` hands
it to the agreements feature, which never imports ``server.cases`` itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access
from server.agreements.drafts import CaseParty, CaseSummary, draft_dict
from server.agreements.ports import CaseLinkError
from server.cases import followups, hooks, models, queries
from server.cases.models import CaseDocument, CaseObligation
from server.cases.permissions import can
from server.cases.service import Ctx
from server.directory.models import Unit
from server.failures import Kind
from server.policy import Actor


async def visible_case(s: AsyncSession, actor: Actor, case_id: int, *, now: datetime) -> Any:
    case = (await s.execute(select(models.Case).where(models.Case.id == case_id,
                                                      access.scope_cases(actor, now)))).scalar_one_or_none()
    if case is None:
        raise CaseLinkError(Kind.NOT_FOUND, "not_found", "no such case")  # unknown, forged or hidden: the same answer
    return case


async def case_code(s: AsyncSession, case_id: int | None) -> str:
    """The case code people know (340321-2026-000002), for links and labels; "" without a case."""
    if case_id is None:
        return ""
    return (await s.execute(select(models.Case.code).where(models.Case.id == case_id))).scalar_one_or_none() or ""


async def may_reveal(s: AsyncSession, actor: Actor, case_id: int | None, *, now: datetime) -> bool:
    """Whether the actor sees a confidential party's address and phone: the case's handlers (the case's
    ``reveal_confidential`` rule). An agreement made outside a case: its unit's staff, as before."""
    if case_id is None:
        return True
    case = (await s.execute(select(models.Case).where(models.Case.id == case_id))).scalar_one_or_none()
    if case is None:
        return False
    return can(actor, "reveal_confidential", await queries.facts(s, case, now))


async def visible_case_by_code(s: AsyncSession, actor: Actor, code: str, *, now: datetime) -> Any:
    """A case named by its code, as users know it; hidden and unknown ones alike are 404."""
    case = (await s.execute(select(models.Case).where(models.Case.code == code.strip(),
                                                      access.scope_cases(actor, now)))).scalar_one_or_none()
    if case is None:
        raise CaseLinkError(Kind.NOT_FOUND, "not_found", f"no case {code.strip()!r} that you may see")
    return case


async def open_cases(s: AsyncSession, actor: Actor, limit: int = 200, *, now: datetime) -> list[tuple[str, str]]:
    """(code, title) of the cases the actor sees that may still get an agreement: the drafting form's picker."""
    done = ("closed", "archived", "rejected", "withdrawn", "failed")
    rows = (await s.execute(select(models.Case.code, models.Case.title).where(
        access.scope_cases(actor, now), models.Case.status.not_in(done))
        .order_by(models.Case.id.desc()).limit(limit))).all()
    return [(c, t or "") for c, t in rows]


async def prefill(s: AsyncSession, actor: Actor, case_id: int, unit: Unit, dispute_type: str | None, *,
                  now: datetime) -> dict[str, Any]:
    case = await visible_case(s, actor, case_id, now=now)
    rows = (await s.execute(select(models.CaseParty).where(models.CaseParty.case_id == case.id)
                            .order_by(models.CaseParty.id))).scalars()
    parties = [CaseParty(name=p.name, id_number=p.id_number or "", phone=p.phone or "", address=p.address or "",
                         confidential=bool(p.address_confidential or p.phone_confidential)) for p in rows]
    summary = CaseSummary(id=case.id, code=case.code, dispute_type=dispute_type or case.item or "",
                          unit_code=unit.code, unit_name=unit.name, parties=parties, facts=case.summary or "",
                          issues=[case.title] if case.title else [])
    raw = draft_dict(summary, "", actor.name if actor.role == "mediator" else "")
    raw.pop("number")
    return raw


async def frozen(s: AsyncSession, case_id: int | None, agreement_id: int, *, now: datetime) -> str | None:
    """Freezing for signature moves a case in mediation to agreement signing. Returns what was not done."""
    if case_id is None:
        return None
    return await hooks.agreement_frozen(s, Ctx(now), case_id, agreement_id)


async def took_effect(s: AsyncSession, secret: bytes, agreement_id: int, case_id: int | None,
                      obligations: list[dict[str, Any]], *, now: datetime) -> str | None:
    """The case becomes agreement-effective and its follow-ups get the obligations. Returns what could not
    be done (the signature stands regardless: a case in an unexpected state is for staff to sort out)."""
    if case_id is None:
        return "no case"
    items = [followups.ObligationDraft(obligor=o["obligor"], obligee=o["obligee"], content=o["content"],
                                       due_at=o["due_at"]) for o in obligations]
    return await hooks.agreement_effective(s, Ctx(now, secret), case_id, agreement_id, items)


async def proof_document(s: AsyncSession, case_id: int | None, sha256: str) -> tuple[str, str] | None:
    """The case's evidence upload with this SHA-256, as (filename, content type); None if there is none."""
    if case_id is None:
        return None
    doc = (await s.execute(select(CaseDocument).where(CaseDocument.case_id == case_id,
                                                      CaseDocument.sha256 == sha256).limit(1))).scalar_one_or_none()
    return (doc.filename, doc.content_type) if doc else None


async def performance(s: AsyncSession, agreement_id: int, case_id: int | None, content: str, status: str) -> bool:
    """Mirror an obligation's performance onto the case's obligation (the follow-ups read it there)."""
    if case_id is None:
        return False
    row = (await s.execute(select(CaseObligation).where(
        CaseObligation.case_id == case_id, CaseObligation.agreement_id == agreement_id,
        CaseObligation.content == content).limit(1))).scalar_one_or_none()
    if row is None:
        return False
    row.status = status
    return True
