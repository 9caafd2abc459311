"""Sessions and invitations: database operations and join-token rules (no aiohttp here).

Join tokens are ``server.security.tokens`` tokens with purpose ``join``:
- invitation: ``{"sid", "role", "name", "n": nonce}``; the ``invitations`` row (by nonce) must exist, belong
  to the session and not be revoked, so revoking works before the token expires;
- staff: ``{"sid", "role", "name", "staff": staff_id, "iat": ms}``, issued to a logged-in staff member for
  their own session (``POST /api/sessions/{id}/join-token``), short-lived. Like the login it came from, it
  stops counting when the account signs out or is deactivated (``Staff.signed_out_ms``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, ledger, ledger_store
from server.clock import BEIJING
from server.db import Database, utcnow
from server.directory.models import Staff, Unit
from server.directory.queries import path_prefix
from server.failures import DomainError, Kind
from server.policy import Actor, can_host_session, within
from server.security import tokens
from server.sessions import kinds
from server.sessions.models import Invitation, Session
from server.sessions.ports import CaseGate

JOIN_PURPOSE = "join"
STAFF_JOIN_TTL_S = 6 * 3600
DEFAULT_INVITE_TTL_S = 72 * 3600
MAX_INVITE_TTL_S = 30 * 24 * 3600
JOINABLE_STATES = ("scheduled", "live", "interrupted")
CHECK_METHODS = ("none", "id_last4", "code")
ID_LAST4 = re.compile(r"^[0-9]{3}[0-9X]$")


class SessionError(DomainError):
    """A refusal with a stable code; the API maps its ``kind`` to a status; the socket sends ``code``."""


@dataclass(frozen=True)
class RoomMeta:
    """What a node needs to open a session's room (identical on every node)."""

    session_id: int
    kind: str
    title: str
    # Names the room's command log; includes the creation time so a reset database never meets an old log.
    key: str
    # Shuttle mediation (背靠背): set by the cases feature for domestic-violence cases, lifted by its
    # ledgered joint override.
    shuttle: bool = False


@dataclass(frozen=True)
class JoinGrant:
    meta: RoomMeta
    role: str
    name: str
    identity: str
    direct: bool
    check_method: str
    check_hash: str | None
    nonce: str | None
    staff_id: int | None


def room_meta(s: Session) -> RoomMeta:
    stamp = int(s.created_at.timestamp() * 1_000_000) if s.created_at else 0
    settings = s.settings or {}
    shuttle = bool(settings.get("shuttle")) and not settings.get("joint_override")
    return RoomMeta(s.id, s.kind, s.title, f"{s.id}:{stamp}", shuttle)


def iso(dt: datetime | None) -> str | None:
    return ledger.format_time(dt) if dt else None


def session_json(s: Session, unit: Unit) -> dict[str, Any]:
    return {
        "id": s.id, "kind": s.kind, "title": s.title, "unit": unit.code, "unit_name": unit.name,
        "case_id": s.case_id, "state": s.state, "scheduled_at": iso(s.scheduled_at), "started_at": iso(s.started_at),
        "ended_at": iso(s.ended_at), "created_by": s.created_by, "created_at": iso(s.created_at),
        "rules": kinds.rules(s.kind).as_dict(),
    }


def parse_time(value: str) -> datetime:
    """ISO 8601; a time without an offset is read as China Standard Time (the users' wall clock)."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as e:
        raise SessionError(Kind.INVALID, "invalid_field", "scheduled_at must be ISO 8601") from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=BEIJING)
    return dt.astimezone(UTC)


def check_hash(secret: bytes, nonce: str, value: str) -> str:
    return hmac.new(secret, f"join-check:{nonce}:{value}".encode(), hashlib.sha256).hexdigest()


def check_matches(secret: bytes, grant: JoinGrant, value: Any) -> bool:
    if grant.check_method == "none":
        return True
    if not isinstance(value, str) or grant.check_hash is None or grant.nonce is None:
        return False
    got = check_hash(secret, grant.nonce, normalise_check(grant.check_method, value))
    return hmac.compare_digest(got, grant.check_hash)


def normalise_check(method: str, value: str) -> str:
    v = value.strip().upper()
    return v


# ---- permissions (server.access decides; these load the facts it needs) --------------------------


async def record(db_s: AsyncSession, s: Session, unit: Unit, kind: access.Kind = access.Kind.SESSION,
                 now: datetime | None = None) -> access.Record:
    """The session's facts for the access policy: its unit, its case's list and grants (live at ``now``,
    the app's clock; the wall clock by default), who is invited."""
    return await access.session_record(db_s, s, unit, now or utcnow(), kind)


async def can_manage(db_s: AsyncSession, actor: Actor, s: Session, unit: Unit, now: datetime | None = None) -> bool:
    """Create invitations, cancel, end: the creator, or whoever may host this kind at this unit, and only
    while the session (its case: restricted list, live grants) is visible to them."""
    return access.may(actor, access.Action.MANAGE, await record(db_s, s, unit, now=now))


async def _invited(db_s: AsyncSession, session_id: int, staff_id: int) -> Invitation | None:
    return (await db_s.execute(
        select(Invitation).where(Invitation.session_id == session_id, Invitation.staff_id == staff_id,
                                 Invitation.revoked.is_(False)).order_by(Invitation.id.desc()).limit(1)
    )).scalar_one_or_none()


async def load(db_s: AsyncSession, actor: Actor, session_id: int, kind: access.Kind = access.Kind.SESSION,
               now: datetime | None = None) -> tuple[Session, Unit]:
    """The session if the access policy lets the actor see it; 404 otherwise (unknown and hidden alike)."""
    if not 0 < session_id < 2**31:
        raise SessionError(Kind.NOT_FOUND, "not_found", "no such session")
    row = (await db_s.execute(
        select(Session, Unit).join(Unit, Session.unit_id == Unit.id).where(Session.id == session_id)
    )).first()
    if row is None:
        raise SessionError(Kind.NOT_FOUND, "not_found", "no such session")
    s, unit = row
    if not access.sees(actor, await record(db_s, s, unit, kind, now)):
        raise SessionError(Kind.NOT_FOUND, "not_found", "no such session")
    return s, unit


# ---- sessions ------------------------------------------------------------------------------------


async def create_session(db_s: AsyncSession, actor: Actor, *, kind: str, title: str, unit_code: str,
                         case_id: int | None, scheduled_at: datetime | None, now: datetime,
                         cases: CaseGate) -> tuple[Session, Unit]:
    if kind not in kinds.KINDS:
        raise SessionError(Kind.INVALID, "invalid_field", f"kind must be one of {', '.join(kinds.KINDS)}")
    unit = (await db_s.execute(select(Unit).where(Unit.code == unit_code))).scalar_one_or_none()
    if unit is None or not within(actor, unit.path):
        raise SessionError(Kind.NOT_FOUND, "not_found", f"unknown unit {unit_code!r}")
    if not can_host_session(actor, unit.path, kind):
        raise SessionError(Kind.FORBIDDEN, "forbidden", f"your role may not host a {kind} session for this unit")
    settings: dict[str, Any] = {}
    if case_id is not None:
        # The case must be one the caller can see; a domestic-violence case defaults to shuttle mediation.

        found = await cases.settings_for_case(db_s, actor, case_id, now=now)
        if found is None:
            raise SessionError(Kind.NOT_FOUND, "not_found", "no such case")
        settings = found
    s = Session(kind=kind, title=title, unit_id=unit.id, case_id=case_id, state="scheduled",
                scheduled_at=scheduled_at, created_by=actor.id, created_at=utcnow(), settings=settings)
    db_s.add(s)
    await db_s.flush()
    await ledger_store.append(db_s, ledger.session_chain(s.id), "session_created", {
        "kind": kind, "title": title, "unit": unit.code, "case_id": case_id, "by": actor.id,
        "by_name": actor.name, "scheduled_at": iso(scheduled_at)})
    return s, unit


async def list_sessions(db_s: AsyncSession, actor: Actor, *, state: str | None = None, kind: str | None = None,
                        unit_path: str | None = None, case_id: int | None = None,
                        limit: int = 100, now: datetime | None = None) -> list[tuple[Session, Unit]]:
    q = select(Session, Unit).join(Unit, Session.unit_id == Unit.id).where(access.scope_sessions(actor, now or utcnow()))
    if unit_path is not None:
        q = q.where(path_prefix(Unit.path, unit_path))
    if state:
        q = q.where(Session.state == state)
    if kind:
        q = q.where(Session.kind == kind)
    if case_id is not None:
        q = q.where(Session.case_id == case_id)
    q = q.order_by(Session.id.desc()).limit(limit)
    return [(s, u) for s, u in (await db_s.execute(q)).all()]


async def cancel(db_s: AsyncSession, actor: Actor, session_id: int, now: datetime | None = None
                 ) -> tuple[Session, Unit]:
    """Cancel a session that has not started; only its hosts may."""
    sess, unit = await load(db_s, actor, session_id, now=now)
    if not await can_manage(db_s, actor, sess, unit, now):
        raise SessionError(Kind.FORBIDDEN, "forbidden", "only the session's hosts may cancel it")
    if sess.state not in ("scheduled", "interrupted"):
        raise SessionError(Kind.CONFLICT, "conflict", f"a {sess.state} session cannot be cancelled")
    await set_state(db_s, sess, "cancelled", actor, "cancelled")
    return sess, unit


async def set_state(db_s: AsyncSession, s: Session, state: str, actor: Actor | None, reason: str) -> None:
    now = utcnow()
    s.state = state
    if state == "ended" and s.ended_at is None:
        s.ended_at = now
    s.version += 1
    await ledger_store.append(db_s, ledger.session_chain(s.id), f"session_{state}", {
        "reason": reason, "by": actor.id if actor else None, "by_name": actor.name if actor else None})


# ---- invitations ---------------------------------------------------------------------------------


def _sign(secret: bytes, payload: dict[str, Any], expires_at: datetime) -> str:
    # Signing with now=0 and ttl=expiry makes the token reproducible from the row (for re-sharing links).
    return tokens.sign(secret, JOIN_PURPOSE, payload, ttl_s=int(expires_at.timestamp()), now=0)


def invitation_token(secret: bytes, inv: Invitation) -> str:
    return _sign(secret, {"sid": inv.session_id, "role": inv.role, "name": inv.name, "n": inv.nonce},
                 inv.expires_at)


def join_url(token: str) -> str:
    return f"/join/{token}"


def invitation_json(secret: bytes, inv: Invitation, *, with_token: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": inv.id, "role": inv.role, "name": inv.name, "staff_id": inv.staff_id,
        "check": inv.check_method, "expires_at": iso(inv.expires_at), "revoked": inv.revoked,
        "created_at": iso(inv.created_at),
    }
    if with_token and not inv.revoked:
        token = invitation_token(secret, inv)
        out["token"] = token
        out["url"] = join_url(token)
    return out


async def create_invitation(db_s: AsyncSession, secret: bytes, actor: Actor, s: Session, unit: Unit, *,
                            role: str, name: str | None, username: str | None, check_method: str,
                            check_value: str | None, ttl_s: int | None, at: datetime | None = None
                            ) -> tuple[Invitation, str | None]:
    """Returns the invitation and, for the ``code`` method, the 6-digit code (shown once, kept hashed)."""
    if not await can_manage(db_s, actor, s, unit, at):
        raise SessionError(Kind.FORBIDDEN, "forbidden", "only the session's hosts may invite")
    if s.state not in JOINABLE_STATES:
        raise SessionError(Kind.CONFLICT, "session_closed", f"the session is {s.state}")
    r = kinds.rules(s.kind)
    if role not in r.roles:
        raise SessionError(Kind.INVALID, "invalid_field", f"role must be one of {', '.join(sorted(r.roles))}")
    staff_id = None
    if username:
        staff = (await db_s.execute(select(Staff).where(Staff.username == username))).scalar_one_or_none()
        if staff is None or not staff.active:
            raise SessionError(Kind.NOT_FOUND, "not_found", f"unknown staff account {username!r}")
        staff_id = staff.id
        name = name or staff.name
    if not name or not name.strip():
        raise SessionError(Kind.INVALID, "missing_field", "missing field: name")
    if check_method not in CHECK_METHODS:
        raise SessionError(Kind.INVALID, "invalid_field", "check.method must be id_last4 or code")
    nonce = secrets.token_hex(16)
    code = None
    hashed = None
    if check_method == "id_last4":
        v = normalise_check(check_method, check_value or "")
        if not ID_LAST4.match(v):
            raise SessionError(Kind.INVALID, "invalid_field", "check.value must be the last 4 characters of an ID number")
        hashed = check_hash(secret, nonce, v)
    elif check_method == "code":
        code = f"{secrets.randbelow(1_000_000):06d}"
        hashed = check_hash(secret, nonce, code)
    now = utcnow()
    if ttl_s is None:
        ttl_s = DEFAULT_INVITE_TTL_S
        if s.scheduled_at is not None:
            ttl_s = max(ttl_s, int((s.scheduled_at - now).total_seconds()) + 24 * 3600)
    ttl_s = max(60, min(int(ttl_s), MAX_INVITE_TTL_S))
    inv = Invitation(session_id=s.id, role=role, name=name.strip(), staff_id=staff_id, check_method=check_method,
                     check_hash=hashed, nonce=nonce, created_at=now,
                     expires_at=(now + timedelta(seconds=ttl_s)).replace(microsecond=0), revoked=False)
    db_s.add(inv)
    await db_s.flush()
    await ledger_store.append(db_s, ledger.session_chain(s.id), "invitation_created", {
        "invitation": inv.id, "role": role, "name": inv.name, "staff_id": staff_id, "check": check_method,
        "by": actor.id, "by_name": actor.name, "expires_at": iso(inv.expires_at)})
    return inv, code


async def revoke_invitation(db_s: AsyncSession, actor: Actor, s: Session, unit: Unit, inv_id: int,
                            at: datetime | None = None) -> Invitation:
    if not await can_manage(db_s, actor, s, unit, at):
        raise SessionError(Kind.FORBIDDEN, "forbidden", "only the session's hosts may revoke invitations")
    inv = (await db_s.execute(select(Invitation).where(Invitation.id == inv_id, Invitation.session_id == s.id))
           ).scalar_one_or_none()
    if inv is None:
        raise SessionError(Kind.NOT_FOUND, "not_found", "no such invitation")
    if not inv.revoked:
        inv.revoked = True
        await ledger_store.append(db_s, ledger.session_chain(s.id), "invitation_revoked", {
            "invitation": inv.id, "name": inv.name, "by": actor.id, "by_name": actor.name})
    return inv


async def list_invitations(db_s: AsyncSession, session_id: int) -> list[Invitation]:
    return list((await db_s.execute(
        select(Invitation).where(Invitation.session_id == session_id).order_by(Invitation.id))).scalars())


# ---- joining -------------------------------------------------------------------------------------


async def staff_join_role(db_s: AsyncSession, actor: Actor, s: Session, unit: Unit) -> str:
    inv = await _invited(db_s, s.id, actor.id)
    if inv is not None:
        return inv.role
    r = kinds.rules(s.kind)
    return kinds.staff_room_role(r, creator=actor.id == s.created_by,
                                 can_host=can_host_session(actor, unit.path, s.kind),
                                 same_unit=actor.unit_id == unit.id, staff_role=actor.role)


def staff_join_token(secret: bytes, actor: Actor, s: Session, role: str, now_ms: int | None = None) -> str:
    iat = now_ms if now_ms is not None else int(time.time() * 1000)
    return tokens.sign(secret, JOIN_PURPOSE, {"sid": s.id, "role": role, "name": actor.name, "staff": actor.id,
                                              "iat": iat}, STAFF_JOIN_TTL_S)


async def resolve_join(db: Database, secret: bytes, token: Any, *, session_hint: int | None = None,
                       now: float | None = None, at: datetime | None = None) -> JoinGrant:
    """Verify a join token against the database. Raises SessionError with a socket error code. ``at`` is
    the app's clock for the access policy (grant expiry); ``now`` the token's own clock."""
    try:
        body = tokens.verify(secret, JOIN_PURPOSE, token, now=now)
    except tokens.TokenError as e:
        raise SessionError(Kind.UNAUTHORIZED, e.code, e.message) from None
    sid, role, name = body.get("sid"), body.get("role"), body.get("name")
    if not isinstance(sid, int) or not isinstance(role, str) or not isinstance(name, str):
        raise SessionError(Kind.UNAUTHORIZED, "token_malformed", "malformed token")
    if session_hint is not None and session_hint != sid:
        raise SessionError(Kind.FORBIDDEN, "wrong_session", "this invitation is for another session")
    async with db.session() as db_s:
        row = (await db_s.execute(
            select(Session, Unit).join(Unit, Session.unit_id == Unit.id).where(Session.id == sid))).first()
        if row is None:
            raise SessionError(Kind.FORBIDDEN, "wrong_session", "the session of this invitation does not exist")
        s, unit = row
        if s.state == "cancelled":
            raise SessionError(Kind.GONE, "session_cancelled", "this session was cancelled")
        if s.state not in JOINABLE_STATES:
            raise SessionError(Kind.GONE, "session_ended", "this session has ended")
        r = kinds.rules(s.kind)
        staff_unit: Unit | None = None
        staff_id: int | None = None
        issued_ms: int | None = None  # a staff token's issue time, checked against the account's sign-out
        nonce: str | None = None
        method, hashed = "none", None
        if "n" in body:
            inv = (await db_s.execute(select(Invitation).where(Invitation.nonce == body["n"]))).scalar_one_or_none()
            if inv is None or inv.session_id != sid:
                raise SessionError(Kind.FORBIDDEN, "wrong_session", "this invitation is not for this session")
            if inv.revoked:
                raise SessionError(Kind.FORBIDDEN, "token_revoked", "this invitation was withdrawn")
            role, name, nonce = inv.role, inv.name, inv.nonce
            method, hashed = inv.check_method, inv.check_hash
            staff_id = inv.staff_id
        elif isinstance(body.get("staff"), int):
            staff_id = body["staff"]
            issued_ms = body["iat"] if isinstance(body.get("iat"), int) else 0  # older tokens: before any sign-out
        else:
            raise SessionError(Kind.UNAUTHORIZED, "token_malformed", "malformed token")
        if staff_id is not None:
            srow = (await db_s.execute(select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id)
                                       .where(Staff.id == staff_id))).first()
            if srow is None or not srow[0].active:
                raise SessionError(Kind.FORBIDDEN, "token_revoked", "this staff account is no longer active")
            signed_out = srow[0].signed_out_ms or 0
            if issued_ms is not None and signed_out and issued_ms <= signed_out:  # a tie goes to the sign-out
                raise SessionError(Kind.UNAUTHORIZED, "token_revoked", "signed out since this link was made; log in again")
            staff_unit = srow[1]
            # A staff login's token is checked against the policy now, not when it was minted: a case that
            # became restricted, a name taken off its list or an expired grant closes the room to them. An
            # invitation (staff or party) was given on purpose by a host and stays valid for its holder.
            if nonce is None and not access.may(access.actor_of(srow[0], staff_unit), access.Action.JOIN,
                                                await record(db_s, s, unit, now=at)):
                raise SessionError(Kind.FORBIDDEN, "not_allowed", "you may not join this session")
    if role not in r.roles:
        raise SessionError(Kind.FORBIDDEN, "forbidden", f"role {role!r} does not take part in a {s.kind} session")
    of_unit = staff_unit is not None and unit.path.startswith(staff_unit.path)
    direct = kinds.enters_directly(r, role, staff=staff_id is not None, of_hosting_unit=of_unit)
    identity = f"staff:{staff_id}" if staff_id is not None else f"inv:{nonce}"
    return JoinGrant(meta=room_meta(s), role=role, name=name, identity=identity, direct=direct,
                     check_method=method, check_hash=hashed, nonce=nonce, staff_id=staff_id)


async def describe_join(db: Database, secret: bytes, token: str, at: datetime | None = None) -> dict[str, Any]:
    """What the join page shows before joining: the session, the invitee and which check is asked."""
    grant = await resolve_join(db, secret, token, at=at)
    async with db.session() as db_s:
        row = (await db_s.execute(select(Session, Unit).join(Unit, Session.unit_id == Unit.id)
                                  .where(Session.id == grant.meta.session_id))).first()
    assert row is not None
    s, unit = row
    return {
        "session": {"id": s.id, "kind": s.kind, "title": s.title, "unit": unit.code, "unit_name": unit.name,
                    "state": s.state, "scheduled_at": iso(s.scheduled_at),
                    "rules": kinds.rules(s.kind).as_dict()},
        "role": grant.role, "name": grant.name, "check": grant.check_method, "lobby": not grant.direct,
    }


# ---- a public gallery (旁听): one shareable link, a fresh observer invitation per visitor ----------------------

GALLERY_PASS_TTL_S = 12 * 3600
GALLERY_SETTING = "gallery"  # Session.settings key: the nonce of the gallery's shareable invitation


def _is_gallery_pass(inv: Invitation, link_nonce: str | None) -> bool:
    # The link and every pass made from it: observers without a staff account or identity check.
    return (inv.role == "observer" and inv.staff_id is None and inv.check_method == "none"
            and (inv.nonce == link_nonce or inv.name.startswith("旁听")))


async def open_gallery(db_s: AsyncSession, secret: bytes, actor: Actor, s: Session, unit: Unit,
                       at: datetime | None = None) -> Invitation:
    """The gallery's shareable link: an ``observer`` invitation (no identity check) that is never a room
    identity itself: each visitor of the link gets their own pass (``gallery_pass``). Hosts only; opening an
    open gallery returns its link."""
    if not kinds.rules(s.kind).gallery:
        raise SessionError(Kind.INVALID, "invalid_field", f"a {s.kind} session has no public gallery")
    nonce = (s.settings or {}).get(GALLERY_SETTING)
    if nonce:
        inv = (await db_s.execute(select(Invitation).where(Invitation.nonce == nonce))).scalar_one_or_none()
        if inv is not None and not inv.revoked and inv.expires_at > (at or utcnow()):
            return inv
    inv, _ = await create_invitation(db_s, secret, actor, s, unit, role="observer", name="旁听链接 / Gallery link",
                                     username=None, check_method="none", check_value=None, ttl_s=None, at=at)
    s.settings = {**(s.settings or {}), GALLERY_SETTING: inv.nonce}
    return inv


async def gallery_pass(db_s: AsyncSession, s: Session, link_nonce: str, at: datetime | None = None) -> Invitation:
    """A visitor of the gallery link: their own ``observer`` invitation (their own identity in the room).
    Refused when the link is not the session's open gallery or the session is over."""
    if (s.settings or {}).get(GALLERY_SETTING) != link_nonce:
        raise SessionError(Kind.GONE, "gallery_closed", "the public gallery is closed")
    if s.state not in JOINABLE_STATES:
        raise SessionError(Kind.GONE, "session_ended", "this session has ended")
    now = at or utcnow()
    n = len([i for i in await list_invitations(db_s, s.id)
             if i.nonce != link_nonce and _is_gallery_pass(i, None)]) + 1
    inv = Invitation(session_id=s.id, role="observer", name=f"旁听 {n}", staff_id=None, check_method="none",
                     check_hash=None, nonce=secrets.token_hex(16), created_at=now,
                     expires_at=(now + timedelta(seconds=GALLERY_PASS_TTL_S)).replace(microsecond=0), revoked=False)
    db_s.add(inv)
    await db_s.flush()
    await ledger_store.append(db_s, ledger.session_chain(s.id), "gallery_pass", {
        "invitation": inv.id, "name": inv.name, "expires_at": iso(inv.expires_at)})
    return inv


async def close_gallery(db_s: AsyncSession, actor: Actor | None, s: Session) -> int:
    """Withdraw the gallery's link and every visitor's pass (they can no longer join or come back). Returns
    how many were withdrawn."""
    link = (s.settings or {}).get(GALLERY_SETTING)
    n = 0
    for inv in await list_invitations(db_s, s.id):
        if not inv.revoked and _is_gallery_pass(inv, link):
            inv.revoked = True
            n += 1
    if link:
        s.settings = {k: v for k, v in (s.settings or {}).items() if k != GALLERY_SETTING}
    await ledger_store.append(db_s, ledger.session_chain(s.id), "gallery_closed", {
        "withdrawn": n, "by": actor.id if actor else None, "by_name": actor.name if actor else None})
    return n
