"""The resident's status lookup: reference number plus the last four digits of their phone.

It answers only progress (a stage and its dates), the unit handling the case, and, once the case is closed,
the closing note and the document the staff marked as the closing photo. A wrong pair and an unknown
reference give the same answer (None), so the lookup cannot tell which references exist. Rate limits and
CSRF are the page handler's job.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import ledger_store
from server.cases import codes
from server.cases.catalog import ROLE_SIDE
from server.cases.models import Case, CaseDocument, CaseParty
from server.cases.workflow import State
from server.directory.models import Unit
from server.ledger import case_chain

LAST4 = re.compile(r"^\d{4}$")
CLOSING_KIND = "closing"
SHOWN_CLOSED = frozenset({State.CLOSED, State.ARCHIVED})
# The resident's side of a case: only their phone opens it (never the other side's, in a DV case above all).
RESIDENT_ROLES = frozenset(r for r, side in ROLE_SIDE.items() if side == "a")

# Stages as a resident reads them: (zh, en).
STAGES: dict[str, tuple[str, str]] = {
    "received": ("已受理登记", "Received"),
    "handling": ("正在办理", "Being handled"),
    "resolved": ("已达成协议，跟踪履行", "Agreement reached, being followed up"),
    "closed": ("已办结", "Closed"),
    "not_accepted": ("不予受理", "Not accepted"),
    "withdrawn": ("已撤回", "Withdrawn"),
    "failed": ("调解未成功", "Mediation did not succeed"),
}
_STAGE_OF = {State.REGISTERED: "received", State.AGREEMENT_EFFECTIVE: "resolved", State.PERFORMING: "resolved",
             State.FOLLOW_UP: "resolved", State.CLOSED: "closed", State.ARCHIVED: "closed",
             State.REJECTED: "not_accepted", State.WITHDRAWN: "withdrawn", State.FAILED: "failed"}


def stage_of(status: str) -> str:
    return _STAGE_OF.get(State(status), "handling") if status in set(State) else "handling"


def normalise_reference(raw: str) -> str:
    return "".join(raw.split())[:40]


def well_formed(reference: str, last4: str) -> bool:
    return codes.valid(reference) and bool(LAST4.match(last4))


@dataclass(frozen=True)
class ClosingPhoto:
    document_id: int
    case_id: int
    content_type: str
    filename: str


@dataclass(frozen=True)
class PublicStatus:
    code: str
    stage: str
    registered_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    unit_name: str
    closing_note: str | None
    closing_photo: ClosingPhoto | None


def _phone_ends(phone: str | None, last4: str) -> bool:
    digits = "".join(c for c in (phone or "") if c.isdigit())
    return len(digits) >= 4 and hmac.compare_digest(digits[-4:], last4)


async def lookup(s: AsyncSession, reference: str, last4: str) -> PublicStatus | None:
    """The case's public status, or None for an unknown reference and a wrong pair alike."""
    if not well_formed(reference, last4):
        return None
    row = (await s.execute(select(Case, Unit.name).join(Unit, Unit.id == Case.unit_id)
                           .where(Case.code == reference))).first()
    phones = [] if row is None else list((await s.execute(
        select(CaseParty.phone).where(CaseParty.case_id == row[0].id,
                                      CaseParty.role.in_([str(r) for r in RESIDENT_ROLES])))).scalars())
    # Compare against every phone even after a match, so the answer takes the same time either way.
    matched = [_phone_ends(p, last4) for p in phones]
    if row is None or not any(matched):
        return None
    case, unit_name = row
    note, photo = None, None
    if case.status in SHOWN_CLOSED:
        note = await closing_note(s, case)
        photo = await closing_photo(s, case)
    closed_at = (case.closed_at or case.updated_at) if case.status in SHOWN_CLOSED else None
    return PublicStatus(code=case.code, stage=stage_of(case.status), registered_at=case.created_at,
                        accepted_at=case.triaged_at, closed_at=closed_at, updated_at=case.updated_at, unit_name=unit_name, closing_note=note, closing_photo=photo)


async def closing_note(s: AsyncSession, case: Case) -> str | None:
    """The note given with the close action (the ledger keeps it; the last close wins)."""
    note = None
    for e in await ledger_store.events(s, case_chain(case.id)):
        if e.type == "case.close":
            note = e.data.get("note") or None
    return note


async def closing_photo(s: AsyncSession, case: Case) -> ClosingPhoto | None:
    doc = (await s.execute(select(CaseDocument).where(CaseDocument.case_id == case.id,
                                                      CaseDocument.kind == CLOSING_KIND)
                           .order_by(CaseDocument.id.desc()).limit(1))).scalar_one_or_none()
    if doc is None:
        return None
    return ClosingPhoto(doc.id, case.id, doc.content_type, doc.filename)
