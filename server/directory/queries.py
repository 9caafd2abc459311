"""Reading and writing units and staff."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from server import ledger_store
from server.db import Database
from server.directory.models import Staff, Unit
from server.directory.tiers import Role, Tier
from server.ledger import DIRECTORY_CHAIN
from server.policy import Actor, expert_scope
from server.security.passwords import hash_password

USERNAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def path_prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` as an index-friendly range (paths end in '/', next is '0')."""
    if not prefix:
        return column.is_not(None)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


class DirectoryError(ValueError):
    pass


async def unit_by_code(s: AsyncSession, code: str) -> Unit | None:
    return (await s.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()


async def add_unit(s: AsyncSession, code: str, name: str, tier: Tier, parent: Unit | None) -> Unit:
    if parent is None and tier != Tier.CITY:
        raise DirectoryError("only a city has no parent")
    if parent is not None and Tier(parent.tier).child() != tier:
        raise DirectoryError(f"a {tier} cannot sit under a {parent.tier}")
    path = (parent.path if parent else "") + code + "/"
    unit = Unit(code=code, name=name, tier=str(tier), parent_id=parent.id if parent else None, path=path)
    s.add(unit)
    await s.flush()
    return unit


async def add_staff(s: AsyncSession, username: str, name: str, password: str, role: str, unit: Unit,
                    specialties: list[str] | None = None, phone: str | None = None,
                    password_hash: str | None = None) -> Staff:
    if role not in set(Role):
        raise DirectoryError(f"unknown role {role!r}; one of: {', '.join(Role)}")
    if not USERNAME.fullmatch(username):
        raise DirectoryError("username must be 1-64 letters, digits, '.', '-' or '_'")
    check_new_password(password)
    if (await s.execute(select(Staff.id).where(Staff.username == username))).first():
        raise DirectoryError(f"user {username!r} already exists")
    staff = Staff(username=username, name=name or username, password_hash=password_hash or hash_password(password), role=role,
                  unit_id=unit.id, specialties=specialties or [], phone=phone)
    s.add(staff)
    await s.flush()
    return staff


async def staff_counts(s: AsyncSession) -> dict[int, int]:
    """Active staff per unit id."""
    rows = await s.execute(select(Staff.unit_id, func.count()).where(Staff.active.is_(True)).group_by(Staff.unit_id))
    return {uid: n for uid, n in rows.all()}


async def staff_at(s: AsyncSession, unit_id: int) -> list[Staff]:
    """Active staff of one unit, in a stable order."""
    q = select(Staff).where(Staff.unit_id == unit_id, Staff.active.is_(True)).order_by(Staff.role, Staff.id)
    return list((await s.execute(q)).scalars())


async def find_experts(s: AsyncSession, subtree: str, ancestors: list[str], *, specialty: str | None = None,
                       tier: str | None = None, name: str | None = None) -> list[tuple[Staff, Unit]]:
    """Active experts in ``subtree`` or at one of the ``ancestors`` paths (see policy.expert_scope)."""
    scope = Unit.path.startswith(subtree, autoescape=True)
    if ancestors:
        scope = or_(scope, Unit.path.in_(ancestors))
    q = (select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id)
         .where(Staff.role == Role.EXPERT, Staff.active.is_(True), scope).order_by(Unit.path, Staff.id))
    if tier:
        q = q.where(Unit.tier == tier)
    if name:
        q = q.where(Staff.name.contains(name, autoescape=True))
    rows = [(st, un) for st, un in (await s.execute(q)).all()]
    # Specialties are a JSON list (text on SQLite): filter here, the pool is small.
    if specialty:
        rows = [(st, un) for st, un in rows if specialty in (st.specialties or [])]
    return rows


def check_new_password(password: str) -> None:
    if len(password) < 8:
        raise DirectoryError("password must be at least 8 characters")


async def staff_by_username(s: AsyncSession, username: str) -> Staff:
    staff = (await s.execute(select(Staff).where(Staff.username == username))).scalar_one_or_none()
    if staff is None:
        raise DirectoryError(f"unknown user {username!r}")
    return staff


async def set_password(s: AsyncSession, username: str, password: str, now_ms: int) -> Staff:
    """A new password also ends the account's sessions: whoever knew the old one is out."""
    check_new_password(password)
    staff = await staff_by_username(s, username)
    staff.password_hash = hash_password(password)
    staff.signed_out_ms = now_ms
    await record(s, "account.password_changed", staff)
    return staff


async def set_active(s: AsyncSession, username: str, active: bool, now_ms: int) -> Staff:
    """Deactivating keeps the account (its name stays on cases and in ledgers) but refuses it everywhere."""
    staff = await staff_by_username(s, username)
    staff.active = active
    if not active:
        staff.signed_out_ms = now_ms
    await record(s, "account.activated" if active else "account.deactivated", staff)
    return staff


async def record(s: AsyncSession, type: str, staff: Staff | None = None, **data: Any) -> None:
    """Ledger an account or unit change on the directory chain, in the transaction that makes it."""
    if staff is not None:
        data = {"username": staff.username, "role": staff.role, **data}
    await ledger_store.append(s, DIRECTORY_CHAIN, type, data)


async def experts_for(db: Database, actor: Actor, *, specialty: str | None = None, tier: str | None = None,
                      name: str | None = None) -> list[tuple[Staff, Unit]]:
    """The expert directory query shared by the API and the page (filters already validated)."""
    subtree, ancestors = expert_scope(actor)
    async with db.read() as s:
        return await find_experts(s, subtree, ancestors, specialty=specialty, tier=tier, name=name)


async def sign_in_row(s: AsyncSession, username: str) -> tuple[Staff, Unit] | None:
    """The staff member signing in with ``username``, with their unit (None when there is no such account)."""
    row = (await s.execute(
        select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id).where(Staff.username == username))).first()
    return (row[0], row[1]) if row is not None else None


async def home_counts(s: AsyncSession, actor: Actor, in_scope: ColumnElement[bool]) -> tuple[Unit, int, int]:
    """The actor's unit, and how many units and active staff are ``in_scope`` (the actor's; the home page)."""
    unit = (await s.execute(select(Unit).where(Unit.id == actor.unit_id))).scalar_one()
    units = (await s.execute(select(func.count()).select_from(Unit).where(in_scope))).scalar_one()
    staff = (await s.execute(
        select(func.count()).select_from(Staff).join(Unit, Staff.unit_id == Unit.id)
        .where(in_scope, Staff.active.is_(True)))).scalar_one()
    return unit, units, staff


async def unit_by_id(s: AsyncSession, unit_id: int) -> Unit:
    return (await s.execute(select(Unit).where(Unit.id == unit_id))).scalar_one()
