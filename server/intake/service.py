"""The public intake form (no login): a resident asks their village or township centre for help or for a
video consultation. Validation is here (plain Python); the page handler adds CSRF and rate limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from server.cases import catalog
from server.cases.catalog import Kind, Source
from server.cases.errors import Invalid
from server.cases.models import Case
from server.cases.notifications import notify, unit_handlers
from server.cases.permissions import ON_CASE
from server.cases.queries import facts
from server.cases.service import CaseDraft, Ctx, PartyDraft, register
from server.directory.models import Staff, Unit

PHONE = re.compile(r"^1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")
CHOOSE_UNIT = ("请选择村（社区）或乡镇（街道）", "Choose your village or township")
# What a resident may pick: the dispute items and the services.
CHOICES = [("disputes", i.code) for i in catalog.CATEGORIES["disputes"][1]] + \
          [("services", i.code) for i in catalog.CATEGORIES["services"][1]]


@dataclass
class IntakeForm:
    unit: str
    name: str
    phone: str
    description: str
    category: str | None = None
    item: str | None = None
    wants_video: bool = False
    preferred_time: str = ""
    domestic_violence: bool = False
    staff: str | None = None
    # field -> (zh, en); the page shows the one in the reader's language.
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)

    def errors_in(self, lang: str) -> dict[str, str]:
        return {k: en if lang == "en" else zh for k, (zh, en) in self.errors.items()}


def _clean(v: Any, limit: int) -> str:
    if not isinstance(v, str):
        return ""
    v = " ".join(v.split()) if "\n" not in v else v.strip()
    return "".join(c for c in v if ord(c) >= 32 or c in "\n\t")[: limit + 1]


def parse(data: dict[str, Any]) -> IntakeForm:
    """Read and check the form; ``errors`` maps field names to messages (empty when all is well)."""
    f = IntakeForm(unit=_clean(data.get("unit"), 32), name=_clean(data.get("name"), 50),
                   phone=_clean(data.get("phone"), 20).replace(" ", ""),
                   description=_clean(data.get("description"), 2000),
                   wants_video=data.get("wants_video") in ("on", "1", "true", True),
                   preferred_time=_clean(data.get("preferred_time"), 50),
                   domestic_violence=data.get("domestic_violence") in ("on", "1", "true", True),
                   staff=_clean(data.get("staff"), 64) or None)
    if not f.name or len(f.name) > 50:
        f.errors["name"] = ("请填写姓名（50字以内）", "Enter your name (up to 50 characters)")
    if not PHONE.match(f.phone):
        f.errors["phone"] = ("请填写有效的手机号或座机号", "Enter a valid phone number")
    if len(f.description) < 10 or len(f.description) > 2000:
        f.errors["description"] = ("请简要说明情况（10至2000字）", "Describe the matter (10-2000 characters)")
    if len(f.preferred_time) > 50:
        f.errors["preferred_time"] = ("时间说明过长", "Too long")
    choice = _clean(data.get("category_item"), 80)
    if choice:
        cat, _, item = choice.partition(":")
        if (cat, item) not in CHOICES:
            f.errors["category_item"] = ("请选择列表中的事项", "Choose from the list")
        else:
            f.category, f.item = cat, item
    if not f.unit:
        f.errors["unit"] = CHOOSE_UNIT
    return f


async def intake_units(s: AsyncSession) -> list[Unit]:
    return list((await s.execute(select(Unit).where(Unit.tier.in_(["township", "village"])).order_by(Unit.path)))
                .scalars())


async def submit(s: AsyncSession, ctx: Ctx, f: IntakeForm) -> Case:
    unit = (await s.execute(select(Unit).where(Unit.code == f.unit))).scalar_one_or_none()
    if unit is None or unit.tier not in ("township", "village"):
        raise Invalid(CHOOSE_UNIT[1], "invalid_unit", zh=CHOOSE_UNIT[0])
    contact: Staff | None = None
    if f.staff:
        contact = (await s.execute(select(Staff).join(Unit, Unit.id == Staff.unit_id).where(
            Staff.username == f.staff, Staff.active.is_(True)))).scalar_one_or_none()
        if contact is not None:
            staff_unit = await s.get(Unit, contact.unit_id)
            # The mediator on the card must serve this unit (at it or above it); otherwise ignore the hint.
            if staff_unit is None or not unit.path.startswith(staff_unit.path):
                contact = None
    kind = Kind.CONSULTATION if f.category == "services" else Kind.DISPUTE
    wanted = "（希望视频咨询）" if f.wants_video else ""
    draft = CaseDraft(
        unit_code=unit.code, title=f"群众求助：{f.name}{wanted}"[:200], summary=f.description,
        source=Source.RESIDENT_REQUEST, kind=kind, category=f.category, item=f.item,
        domestic_violence=f.domestic_violence,
        parties=[PartyDraft(role="victim" if f.domestic_violence else "applicant", name=f.name, phone=f.phone)],
        intake={"wants_video": f.wants_video, "preferred_time": f.preferred_time,
                "contact_staff": contact.username if contact else None},
    )
    case = await register(s, ctx, None, draft)
    handlers = await unit_handlers(s, unit.id)
    if not handlers and unit.parent_id:
        # A village without handlers on staff: its township hears about it.
        handlers = await unit_handlers(s, unit.parent_id)
    recipients = handlers + ([contact.id] if contact else [])
    if case.restricted:

        named = (await facts(s, case, ctx.now)).named
        recipients = [i for i in recipients if i in named]
    await notify(s, recipients, "case.intake", f"群众求助{'（视频）' if f.wants_video else ''}：{case.code}",
                 f.description[:200], case, ctx.now)
    return case


# ---- the staff a petition or a contact card names -------------------------------------------------


def _handles_cases() -> ColumnElement[bool]:
    return Staff.active.is_(True) & Staff.role.in_([str(r) for r in ON_CASE])


async def handler_by_username(s: AsyncSession, username: str, scope: ColumnElement[bool] | None = None
                              ) -> tuple[Staff, Unit] | None:
    """An active staff member who handles cases, with their unit; ``scope`` limits the units (a card page)."""
    q = select(Staff, Unit).join(Unit, Unit.id == Staff.unit_id).where(Staff.username == username, _handles_cases())
    if scope is not None:
        q = q.where(scope)
    row = (await s.execute(q)).first()
    return (row[0], row[1]) if row is not None else None


async def unit_in_scope(s: AsyncSession, code: str, scope: ColumnElement[bool]) -> Unit | None:
    return (await s.execute(select(Unit).where(Unit.code == code, scope))).scalar_one_or_none()


async def handlers_at(s: AsyncSession, unit_id: int) -> list[Staff]:
    """The unit's active case handlers, for its contact card."""
    return list((await s.execute(select(Staff).where(Staff.unit_id == unit_id, _handles_cases())
                                 .order_by(Staff.id))).scalars())
