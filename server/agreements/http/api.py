"""Agreements as JSON: drafting, versions and diffs, freezing, staff signatures and the seal, export,
performance, and the public verification endpoint. Handlers parse, authorise, call the domain/store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, checkpoints, policy, publicurl
from server.agreements import fonts, store, workflow
from server.agreements.content import DISPUTE_TYPES, ContentError, mask_id, parse_content, view
from server.agreements.document import short_hash
from server.agreements.http.keys import CASE_LINK
from server.agreements.http.verifying import check_upload, keyring, read_upload, verify_slot
from server.agreements.images import ImageError, clean_signature, decode_data_url
from server.agreements.keys import Keyring
from server.agreements.models import Agreement, AgreementVersion
from server.agreements.ports import CaseLink, CaseLinkError
from server.agreements.signing import MEDIATOR, SEAL, Evidence
from server.agreements.text import obligation_sentence, obligation_sentence_en
from server.agreements.versions import changes, text_diff
from server.api import registry as r
from server.auth import require_actor
from server.clock import BEIJING
from server.directory.models import Staff, Unit
from server.errors import ApiError, bad_request, field, forbidden, not_found, read_json
from server.http import MAX_ID, client_ip, http_status, now_of, parse_int, path_id
from server.pages.render import LANG_COOKIE
from server.policy import Actor
from server.security.passwords import check_password
from server.services import services
from server.sessions.http.pages import add_room_module
from server.sessions.models import Session
from server.sessions.service import room_meta

KEY_DIR = "agreement_keys"
MAX_BODY = 512 * 1024  # signature images come as data URLs
VERIFY_SLOTS = 2  # verifications running at once (each bounded: server/security/uploads.py)

AGREEMENT = r.schema("Agreement", r.obj(
    ["id", "number", "state", "version", "document_hash", "short_hash"],
    id=r.integer(), number=r.string(), case_id={"type": "integer", "nullable": True},
    session_id={"type": "integer", "nullable": True}, unit=r.string(), unit_name=r.string(),
    dispute_type=r.string(enum=list(DISPUTE_TYPES)), state=r.string(enum=list(workflow.STATES)),
    version=r.integer(), document_hash=r.string(), short_hash=r.string(),
    amends_id={"type": "integer", "nullable": True}, created_at=r.string(), updated_at=r.string(),
    frozen_at={"type": "string", "nullable": True}, effective_at={"type": "string", "nullable": True},
    closed_reason={"type": "string", "nullable": True}, row_version=r.integer(),
))

CONTENT = r.schema("AgreementContent", {"type": "object", "description": "parties, facts, issues, obligations, "
                                        "default_clause, judicial_confirmation, ... (docs/agreements.md)"})
DETAIL = r.schema("AgreementDetail", {"allOf": [AGREEMENT, r.obj(
    [], content=CONTENT, text=r.string(), signatures=r.array({"type": "object"}),
    missing=r.array({"type": "object"}), comments=r.array({"type": "object"}))]})
VERIFY_RESULT = r.schema("AgreementVerification", r.obj(
    ["ok", "check", "message", "failures"], ok={"type": "boolean"}, check={"type": "string", "nullable": True},
    message=r.string(), failures=r.array({"type": "object"}), number=r.string(), version=r.integer(),
    document_hash=r.string(), signers=r.array({"type": "object"}), pdf_signature=r.string(),
    pades={"type": "object", "description": "profile (B-B/B-T), signer, unit, serial, signed_at, time_source"},
    checks=r.array(r.obj(["name", "ok", "detail"], name=r.string(), ok={"type": "boolean", "nullable": True},
                         detail=r.string()))))
ID = [r.path_param("id")]
# Every agreement endpoint refuses query parameters it does not declare (400).
route = functools.partial(r.route, strict_query=True)


MAX_INT = MAX_ID  # database integer columns


def int_field(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    """An integer field that fits the database (ids, version numbers)."""
    v = field(body, name, int, required=required)
    if v is not None and not 0 <= v <= MAX_INT:
        raise bad_request(f"field {name} is out of range", "invalid_field", field=name)
    return v


def int_param(value: str, name: str) -> int:
    v = parse_int(value, 0, MAX_INT)
    if v is None:
        raise bad_request(f"{name} must be an integer between 0 and {MAX_INT}", "invalid_field", field=name)
    return v


def opt(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field: null means the same as leaving it out (``errors.field``)."""
    return {**schema, "nullable": True}


def viewer_language(request: web.Request) -> str:
    """The browser's chosen language (the pages' cookie), else Accept-Language; API clients get English."""

    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE) or ""
    if not chosen:
        chosen = "zh-CN" if request.headers.get("Accept-Language", "").lower().startswith("zh") else "en"
    return "en" if chosen.startswith("en") else "zh"


def verify_base(request: web.Request) -> str | None:
    """The verify page's address for documents: from CONCORD_PUBLIC_URL only, never from the request's
    Host header (None when unset: the PDF then says "未配置公开地址")."""
    return publicurl.absolute(services(request), "/verify")


def now_iso(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[AsyncSession]:
    """One DB transaction; a StoreError rolls it back and becomes the JSON error."""

    try:
        async with services(request).db.session() as s:
            yield s
    except store.StoreError as e:
        raise ApiError(http_status(e), e.code, e.message, **e.extra) from e
    except CaseLinkError as e:
        raise ApiError(http_status(e), e.code, e.message) from e
    except ContentError as e:
        raise ApiError(400, "invalid_content", e.localized(viewer_language(request)), field=e.field) from e


async def loaded_for(s: AsyncSession, actor: Actor, agreement_id: int, check: Any = policy.can_view_agreement,
                     *, now: datetime) -> store.Loaded:
    ld = await store.load(s, agreement_id, lock=True)
    rec = await access.agreement_record(s, ld.unit, ld.agreement.case_id, now)
    if not access.sees(actor, rec):
        raise not_found("no such agreement")  # do not reveal agreements outside the actor's tree or case
    if not check(actor, ld.unit.path):
        raise forbidden()
    return ld


def agreement_id(request: web.Request) -> int:
    return path_id(request, "id", "no such agreement")


async def detail(s: AsyncSession, ld: store.Loaded, actor: Actor, cases: CaseLink, *, now: datetime) -> dict[str, Any]:
    """The agreement for a member of staff. A confidential party's address and phone are shown only to
    those who may reveal them on the agreement's case (its handlers); others get them withheld."""

    st = await store.signing_state(s, ld)
    out = store.summary(ld)
    reveal = await cases.may_reveal(s, actor, ld.agreement.case_id, now=now)
    out["content"] = view(ld.content, None, staff=reveal)
    out["text"] = masked_text(ld)
    out["signatures"] = [{"seq": rec.payload["seq"], "slot": rec.slot, "name": rec.payload["signer"]["name"],
                          "role": rec.payload["signer"]["role"], "at": rec.payload["at"],
                          "check": rec.payload["check"]["method"]} for rec in st.records]
    out["missing"] = [{"slot": m.slot, "kind": m.kind, "name": m.name} for m in st.missing()] \
        if ld.agreement.state == workflow.SIGNING else []
    out["comments"] = [comment_json(c) for c in await store.comments(s, ld.agreement.id)]
    return out


async def check_session(s: AsyncSession, actor: Actor, session_id: int, case_id: int | None, *, now: datetime) -> None:
    """The session an agreement is reviewed in must exist, be visible to the drafter and be about its case."""

    row = (await s.execute(select(Session, Unit).join(Unit, Unit.id == Session.unit_id)
                           .where(Session.id == session_id))).first()
    if row is None or not access.sees(actor, await access.session_record(s, row[0], row[1], now)):
        raise not_found("no such session")
    if case_id is not None and row[0].case_id is not None and row[0].case_id != case_id:
        raise ApiError(409, "wrong_session", "that session is about another case")


def masked_text(ld: store.Loaded) -> str:
    """The text as shown in views: ID numbers masked (only the signed PDF carries them in full)."""

    text = ld.version.text
    for p in ld.content.parties:
        if p.id_number:
            text = text.replace(p.id_number, mask_id(p.id_number))
    return text


def comment_json(c: Any) -> dict[str, Any]:
    return {"id": c.id, "version": c.version, "clause": c.clause, "author": c.author_name, "role": c.author_role,
            "text": c.text, "at": store.iso(c.created_at)}


# ---- drafting ------------------------------------------------------------------------------------

@route("POST", "/api/agreements", summary="Start a draft agreement (prefilled from its case when given)",
         tag="agreements", status=201, response=DETAIL, errors=(400, 403, 404, 409),
         request=r.obj([], unit=opt(r.string()), case_id=opt(r.integer()),
                       case_code=opt(r.string(description="the case code, e.g. 340321-2026-000002 (or case_id)")),
                       session_id=opt(r.integer()),
                       dispute_type=opt(r.string(enum=list(DISPUTE_TYPES))),
                       content={"type": "object", "nullable": True}))
async def create_agreement(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, MAX_BODY)
    content = field(body, "content", dict, required=False, default={})
    case_id = int_field(body, "case_id", required=False)
    case_code = field(body, "case_code", str, required=False, max_len=64)
    session_id = int_field(body, "session_id", required=False)
    unit_code = field(body, "unit", str, required=False, max_len=32) or actor.unit_code
    dtype = field(body, "dispute_type", str, required=False, max_len=32)
    async with transaction(request) as s:

        case = None
        if case_code and case_code.strip():  # the code people know (340321-2026-000002)
            case = await request.app[CASE_LINK].visible_case_by_code(s, actor, case_code, now=now_of(request))
            if case_id is not None and case_id != case.id:
                raise bad_request("case_id and case_code name different cases", "invalid_field", field="case_code")
            case_id = case.id
        elif case_id is not None:
            case = await request.app[CASE_LINK].visible_case(s, actor, case_id, now=now_of(request))
        unit: Unit | None
        if case is not None and "unit" not in body:
            unit = (await s.execute(select(Unit).where(Unit.id == case.unit_id))).scalar_one()
        else:
            unit = (await s.execute(select(Unit).where(Unit.code == unit_code))).scalar_one_or_none()
        if unit is None or not policy.can_view_unit(actor, unit.path):
            raise not_found(f"unknown unit {unit_code!r}")
        if not policy.can_draft_agreement(actor, unit.path):
            raise forbidden("only mediators and admins of the unit draft agreements")
        if session_id is not None:
            await check_session(s, actor, session_id, case_id, now=now_of(request))
        raw = dict(content)
        if case_id is not None:
            prefill = await request.app[CASE_LINK].prefill(s, actor, case_id, unit, dtype, now=now_of(request))
            raw = {**prefill, **raw}
        if dtype:
            raw["dispute_type"] = dtype
        raw.setdefault("mediator_name", actor.name if actor.role == "mediator" else "")
        ld = await store.create(s, actor, unit, raw, case_id=case_id, session_id=session_id, now=now_of(request))
        out = await detail(s, ld, actor, request.app[CASE_LINK], now=now_of(request))
    return web.json_response(out, status=201)


@route("GET", "/api/agreements", summary="Agreements the caller may see", tag="agreements",
         params=[r.id_query("case_id"), r.id_query("session_id"),
                 r.id_query("for_session", "agreements a live session may present: its own and its case's"),
                 r.query("state", r.string(enum=list(workflow.STATES)))],
         response=r.obj(["agreements"], agreements=r.array(AGREEMENT)), errors=(400,))
async def list_agreements(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = select(Agreement, Unit).join(Unit, Unit.id == Agreement.unit_id).where(
        access.scope_agreements(actor, now_of(request), Unit.path, Agreement.case_id)
    ).order_by(Agreement.id.desc()).limit(200)
    if "case_id" in request.query:
        q = q.where(Agreement.case_id == int_param(request.query["case_id"], "case_id"))
    if "session_id" in request.query:
        q = q.where(Agreement.session_id == int_param(request.query["session_id"], "session_id"))
    if "for_session" in request.query:
        # What a live session can present: its own agreements and every agreement of its case.

        sid = int_param(request.query["for_session"], "for_session")
        case_of = select(Session.case_id).where(Session.id == sid).scalar_subquery()
        q = q.where(or_(Agreement.session_id == sid, Agreement.case_id == case_of))
    if "state" in request.query:
        if request.query["state"] not in workflow.STATES:
            raise bad_request("unknown state", "invalid_field")
        q = q.where(Agreement.state == request.query["state"])
    async with transaction(request) as s:
        rows = (await s.execute(q)).all()
        out = []
        for a, unit in rows:
            v = await store.version_row(s, a.id, a.current_version)
            out.append(store.summary(store.Loaded(a, unit, v)))
    return web.json_response({"agreements": out})


@route("GET", "/api/agreements/{id}", summary="One agreement: masked content, text, signatures, comments",
         tag="agreements", params=ID, response=DETAIL, errors=(404,))
async def get_agreement(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        out = await detail(s, ld, actor, request.app[CASE_LINK], now=now_of(request))
    return web.json_response(out)


@route("PUT", "/api/agreements/{id}/draft", summary="Save a new draft version (409 when stale or frozen)",
         tag="agreements", params=ID, response=DETAIL, errors=(400, 403, 404, 409),
         request=r.obj(["base_version", "content"], base_version=r.integer(), content=CONTENT, note=opt(r.string())))
async def save_draft(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, MAX_BODY)
    base = int_field(body, "base_version")
    content = field(body, "content", dict)
    note = field(body, "note", str, required=False, default="", max_len=500)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), policy.can_draft_agreement, now=now_of(request))
        ld = await store.save_version(s, actor, ld, base, content, note, now=now_of(request))
        out = await detail(s, ld, actor, request.app[CASE_LINK], now=now_of(request))
    return web.json_response(out)


@route("GET", "/api/agreements/{id}/versions", summary="Every version with its hash", tag="agreements",
         params=ID, response=r.obj(["versions"], versions=r.array({"type": "object"})), errors=(404,))
async def list_versions(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        rows = (await s.execute(select(AgreementVersion).where(AgreementVersion.agreement_id == ld.agreement.id)
                                .order_by(AgreementVersion.number))).scalars()
        out = [{"version": v.number, "document_hash": v.document_hash, "short_hash": short_hash(v.document_hash),
                "note": v.note, "created_at": store.iso(v.created_at), "frozen_at": store.iso(v.frozen_at)}
               for v in rows]
    return web.json_response({"versions": out})


@route("GET", "/api/agreements/{id}/diff", summary="Readable changes between two versions", tag="agreements",
         params=ID + [r.query("from", r.integer(minimum=0, maximum=MAX_ID)),
                      r.query("to", r.integer(minimum=0, maximum=MAX_ID))],
         response=r.obj(["changes", "text_diff"], changes=r.array({"type": "object"}), text_diff=r.string()),
         errors=(400, 404))
async def diff_versions(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    if "from" not in request.query or "to" not in request.query:
        raise bad_request("give from and to version numbers", "missing_field")
    a_no, b_no = int_param(request.query["from"], "from"), int_param(request.query["to"], "to")
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        va = await store.version_row(s, ld.agreement.id, a_no)
        vb = await store.version_row(s, ld.agreement.id, b_no)
    ca, cb = parse_content(va.content), parse_content(vb.content)
    diff = text_diff(va.text, vb.text, f"v{a_no}", f"v{b_no}")
    for p in ca.parties + cb.parties:
        if p.id_number:
            diff = diff.replace(p.id_number, mask_id(p.id_number))
    return web.json_response({"from": a_no, "to": b_no, "changes": [c.as_dict() for c in changes(ca, cb)],
                              "text_diff": diff})


async def _simple(request: web.Request, action: str) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 16 * 1024) if request.can_read_body else {}
    async with transaction(request) as s:
        check = policy.can_void_agreement if action == "void" else policy.can_draft_agreement
        ld = await loaded_for(s, actor, agreement_id(request), check, now=now_of(request))
        if action == "freeze":

            ld = await store.freeze(s, actor, ld, int_field(body, "version"), now=now_of(request))
            why = await request.app[CASE_LINK].frozen(s, ld.agreement.case_id, ld.agreement.id, now=now_of(request))
            if why:
                await store.log(s, ld.agreement, "case_note", {"note": why})
        elif action == "reopen":
            ld = await store.reopen(s, actor, ld, now=now_of(request))
        elif action in ("withdraw", "void"):
            ld = await store.close(s, actor, ld, action, field(body, "reason", str, max_len=2000), now=now_of(request))
        out = await detail(s, ld, actor, request.app[CASE_LINK], now=now_of(request))
    return web.json_response(out)


@route("POST", "/api/agreements/{id}/freeze", summary="Freeze a version for signing (fixes its hash)",
         tag="agreements", params=ID, request=r.obj(["version"], version=r.integer()), response=DETAIL,
         errors=(400, 403, 404, 409))
async def freeze(request: web.Request) -> web.Response:
    return await _simple(request, "freeze")


@route("POST", "/api/agreements/{id}/reopen", summary="Back to draft while nobody has signed",
         tag="agreements", params=ID, response=DETAIL, errors=(403, 404, 409))
async def reopen(request: web.Request) -> web.Response:
    return await _simple(request, "reopen")


@route("POST", "/api/agreements/{id}/withdraw", summary="Withdraw before it takes effect (reason required)",
         tag="agreements", params=ID, request=r.obj(["reason"], reason=r.string()), response=DETAIL,
         errors=(400, 403, 404, 409))
async def withdraw(request: web.Request) -> web.Response:
    return await _simple(request, "withdraw")


@route("POST", "/api/agreements/{id}/void", summary="Void an effective agreement (reason required)",
         tag="agreements", params=ID, request=r.obj(["reason"], reason=r.string()), response=DETAIL,
         errors=(400, 403, 404, 409))
async def void(request: web.Request) -> web.Response:
    return await _simple(request, "void")


@route("POST", "/api/agreements/{id}/amend", summary="Start an amendment: a new agreement referencing this one",
         tag="agreements", params=ID, status=201, response=DETAIL, errors=(403, 404, 409))
async def amend(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), policy.can_draft_agreement, now=now_of(request))
        new = await store.amend(s, actor, ld, now=now_of(request))
        out = await detail(s, new, actor, request.app[CASE_LINK], now=now_of(request))
    return web.json_response(out, status=201)


# ---- staff signatures and the seal ---------------------------------------------------------------

async def _reauthenticate(request: web.Request, s: AsyncSession, actor: Actor, password: str) -> None:
    """Signing as staff re-checks the password: the session cookie alone is not the signer's own act."""
    limiter = services(request).login_limiter
    key = f"sign:{actor.id}"
    if await limiter.blocked(key):
        raise ApiError(429, "rate_limited", "too many wrong passwords; try again later")
    staff = (await s.execute(select(Staff).where(Staff.id == actor.id))).scalar_one()
    if not check_password(password, staff.password_hash):
        await limiter.fail(key)
        raise ApiError(403, "identity_check_failed", "the password is wrong")
    await limiter.reset(key)


def signature_image(body: dict[str, Any]) -> tuple[bytes, str]:
    try:
        return clean_signature(decode_data_url(field(body, "image", str, max_len=MAX_BODY)))
    except ImageError as e:
        raise ApiError(413 if e.code == "signature_too_large" else 400, e.code, e.message) from e


SIGN_BODY = r.obj(["version", "document_hash", "consent", "password"], version=r.integer(),
                  document_hash=r.string(), consent={"type": "boolean"}, password=r.string(),
                  typed_name=opt(r.string()), image=opt(r.string(description="PNG data URL from the signing canvas")),
                  read_at=opt(r.string()))


async def _staff_sign(request: web.Request, kind: str) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, MAX_BODY)
    version = int_field(body, "version")
    doc_hash = field(body, "document_hash", str, max_len=64)
    consent = field(body, "consent", bool)
    password = field(body, "password", str, max_len=256)
    typed = field(body, "typed_name", str, required=False, default="", max_len=50)
    read_at = field(body, "read_at", str, required=False, default="", max_len=40)
    image, digest = (None, None) if kind == SEAL else signature_image(body)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        if kind == MEDIATOR:
            if not policy.can_sign_as_mediator(actor, ld.unit.path):
                raise forbidden("only a mediator signs as the mediator")
            if actor.name != ld.content.mediator_name:
                raise ApiError(403, "not_a_signer", f"the agreement names {ld.content.mediator_name} as its mediator")
        elif not policy.can_apply_seal(actor, ld.unit.code):
            raise forbidden("only the mediating unit's own staff apply its seal")
        await _reauthenticate(request, s, actor, password)
        ev = Evidence(check_method="password", check_result="passed", consent=consent, read_at=read_at or now_iso(now_of(request)),
                      at=now_iso(now_of(request)), ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""),
                      typed_name=typed, image_sha256=digest, staff=actor.username)
        rec, effective = await store.sign(s, keyring(request.app), ld, kind, MEDIATOR if kind == MEDIATOR else SEAL,
                                          version, doc_hash, ev, image, now=now_of(request))
        if effective:
            await hand_over(request, s, ld)
            # The ledger's tree head is signed the moment an agreement takes effect, in this transaction,
            # after its effective event: every PDF exported from now on embeds the event's inclusion proof
            # against this checkpoint (server/agreements/ledger_proof.py, docs/agreements.md).
            await checkpoints.sign_checkpoint(s, services(request).ledger_keys,
                                              f"agreement {ld.agreement.number} effective")
        out = await detail(s, ld, actor, request.app[CASE_LINK], now=now_of(request))
    return web.json_response(out, status=201)


@route("POST", "/api/agreements/{id}/sign/mediator", summary="The mediator signs (after every party)",
         tag="agreements", params=ID, request=SIGN_BODY, response=DETAIL, status=201,
         errors=(400, 403, 404, 409, 413, 429))
async def sign_mediator(request: web.Request) -> web.Response:
    return await _staff_sign(request, MEDIATOR)


@route("POST", "/api/agreements/{id}/seal", summary="Apply the unit's seal, last; the agreement takes effect",
         tag="agreements", params=ID, request=SIGN_BODY, response=DETAIL, status=201,
         errors=(400, 403, 404, 409, 429))
async def apply_seal(request: web.Request) -> web.Response:
    return await _staff_sign(request, SEAL)


async def hand_over(request: web.Request, s: AsyncSession, ld: store.Loaded) -> None:
    """The agreement took effect: its obligations go to the case's follow-ups (ledgered either way)."""

    c = ld.content
    obligations = [{"obligor": c.party(o.obligor).name, "obligee": c.party(o.obligee).name,
                    "content": obligation_sentence(o, c),
                    "due_at": datetime.fromisoformat(o.deadline + "T23:59:59+08:00") if o.deadline else None}
                   for o in c.obligations]
    why = await request.app[CASE_LINK].took_effect(s, services(request).config.secret_key, ld.agreement.id,
                                                   ld.agreement.case_id, obligations, now=now_of(request))
    await store.log(s, ld.agreement, "handed_to_case", {"obligations": len(obligations), "note": why or ""})


# ---- comments ------------------------------------------------------------------------------------

@route("POST", "/api/agreements/{id}/comments", summary="Comment on a clause of the current version (ledgered)",
         tag="agreements", params=ID, status=201, errors=(400, 403, 404, 409),
         request=r.obj(["version", "clause", "text"], version=r.integer(), clause=r.string(), text=r.string()),
         response={"type": "object"})
async def add_comment(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 16 * 1024)
    version = int_field(body, "version")
    clause = field(body, "clause", str, max_len=32)
    text = field(body, "text", str, max_len=2000).strip()
    if not text:
        raise bad_request("the comment is empty", "invalid_field", field="text")
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        c = await store.add_comment(s, ld, version, clause, text, actor.name, "staff", actor.id, None, now=now_of(request))
        out = comment_json(c)
    await notify_room(request.app, ld)
    return web.json_response(out, status=201)


async def notify_room(app: web.Application, ld: store.Loaded) -> None:
    """A signature or comment landed: rooms showing this agreement refresh what they show."""
    hub = services(app).room_hub
    if hub is None:
        return
    for rep in list(getattr(hub, "rooms", {}).values()):
        shown = rep.room.agreement or {}
        if shown.get("id") == ld.agreement.id and not rep.room.ended:
            async with services(app).db.session() as s:
                fresh = await store.load(s, ld.agreement.id)
                payload = await room_payload(s, fresh, shown.get("by", ""))
            await hub.submit(rep, {"op": "agreement", "agreement": payload})


async def room_payload(s: AsyncSession, ld: store.Loaded, by: str) -> dict[str, Any]:
    """What a room shows of an agreement: enough to compare versions aloud and to fetch the text."""
    st = await store.signing_state(s, ld)
    comments = await store.comments(s, ld.agreement.id)
    summary = store.summary(ld)
    return {"id": ld.agreement.id, "number": ld.agreement.number, "version": summary["version"],
            "document_hash": summary["document_hash"], "short_hash": summary["short_hash"],
            "state": ld.agreement.state, "signed": len(st.records),
            "required": len(st.records) + len(st.missing()), "comments": len(comments), "by": by}


@route("POST", "/api/agreements/{id}/present", summary="Show the current version to everyone in the live room "
         "(or stop showing it)", tag="agreements", params=ID, errors=(400, 403, 404, 409, 503),
         request=r.obj([], session_id=opt(r.integer()), show={"type": "boolean", "nullable": True}),
         response=r.obj(["session_id", "agreement"], session_id=r.integer(), agreement={"type": "object",
                                                                                       "nullable": True}))
async def present(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 4096) if request.can_read_body else {}
    show = field(body, "show", bool, required=False, default=True)
    hub = services(request).room_hub
    if hub is None:
        raise ApiError(503, "rooms_unavailable", "live rooms are not running on this server")
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), policy.can_draft_agreement, now=now_of(request))
        sid = int_field(body, "session_id", required=False) or ld.agreement.session_id
        if sid is None:
            raise bad_request("this agreement has no session; give session_id", "missing_field", field="session_id")
        sess = await s.get(Session, sid)
        if sess is None or not (sess.id == ld.agreement.session_id or (
                ld.agreement.case_id is not None and sess.case_id == ld.agreement.case_id)):
            raise ApiError(409, "wrong_session", "that session is not about this agreement or its case")
        if sess.state not in ("live", "scheduled", "interrupted"):
            raise ApiError(409, "session_closed", f"the session is {sess.state}")
        payload = await room_payload(s, ld, actor.name) if show else None
        await store.log(s, ld.agreement, "presented" if show else "presentation_ended",
                        {"session": sid, "version": ld.version.number, "document_hash": ld.version.document_hash,
                         "by": {"staff": actor.id, "name": actor.name}})
        meta = room_meta(sess)
    rep = await hub.open(meta)
    await hub.submit(rep, {"op": "agreement", "agreement": payload})
    return web.json_response({"session_id": sid, "agreement": payload})


# ---- export --------------------------------------------------------------------------------------

async def render_export(request: web.Request, s: AsyncSession, ld: store.Loaded, audience: str) -> bytes:
    """The agreement PDF for its reader: ``store.STAFF`` (the unit's archive copy) or ``store.PARTY_COPY``."""
    d = await store.pdf_input(s, ld, verify_base(request), audience, now=now_of(request))
    ring = keyring(request.app)
    sealer = store.sealer(ring, ld.unit)
    keys = ring.public_keys(ld.unit.code)
    # The inclusion proof of the effective event, against the checkpoint signed when it took effect.
    proof = await store.ledger_proof_for_export(s, ld.agreement, ld.version.number, services(request).ledger_keys)
    loop = asyncio.get_running_loop()
    from server.agreements.export import export_agreement_pdf  # the PDF stack loads on first use

    try:
        return await loop.run_in_executor(None, functools.partial(export_agreement_pdf, d, keys, sealer,
                                                                       proof=proof))
    except Exception as e:
        from pyhanko.sign.timestamps.common_utils import TimestampRequestError  # heavy: loaded on first use

        if isinstance(e, TimestampRequestError):  # B-T asked for (CONCORD_TSA_URL); never a silent B-B
            raise ApiError(503, "tsa_unavailable", "时间戳服务暂不可用，请稍后再导出。 / The timestamp authority "
                                                   "(CONCORD_TSA_URL) is unreachable; export again later.",
                           retry_after=30) from e
        raise


def pdf_response(data: bytes, name: str) -> web.Response:
    from urllib.parse import quote

    resp = web.Response(body=data, content_type="application/pdf")
    resp.headers["Content-Disposition"] = f"inline; filename=\"agreement.pdf\"; filename*=UTF-8''{quote(name)}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@route("GET", "/api/agreements/{id}/pdf", summary="Export as PDF (signed, sealed manifest embedded)",
         tag="agreements", params=ID, response_content_type="application/pdf", errors=(404, 503))
async def export_pdf(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        data = await render_export(request, s, ld, store.STAFF)
    return pdf_response(data, f"{ld.agreement.number}.pdf")


@route("GET", "/api/agreements/{id}/judicial-application.pdf",
         summary="Joint application for judicial confirmation (司法确认申请书), prefilled", tag="agreements",
         params=ID + [r.query("court")], response_content_type="application/pdf", errors=(404, 409))
async def judicial_application(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    court = request.query.get("court", "")[:60]
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        if ld.agreement.state != workflow.EFFECTIVE:
            raise ApiError(409, "not_effective", "the application is made once the agreement is in effect")
        d = await store.pdf_input(s, ld, verify_base(request), now=now_of(request))
    from server.agreements.export import judicial_application_pdf

    data = await asyncio.get_running_loop().run_in_executor(None, judicial_application_pdf, d, court)
    return pdf_response(data, f"{ld.agreement.number}-司法确认申请书.pdf")


# ---- performance ---------------------------------------------------------------------------------

@route("GET", "/api/agreements/{id}/obligations", summary="Each obligation's performance status",
         tag="agreements", params=ID, response=r.obj(["obligations"], obligations=r.array({"type": "object"})),
         errors=(404,))
async def obligations(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), now=now_of(request))
        prog = await store.progress(s, ld, now_of(request).astimezone(BEIJING).date())  # overdue by the Beijing date

    c = ld.content
    by_key = {o.key: o for o in c.obligations}
    return web.json_response({"obligations": [{
        **p.as_dict(), "obligor": by_key[p.key].obligor, "obligee": by_key[p.key].obligee,
        "action": by_key[p.key].action, "amount": by_key[p.key].amount, "kind": by_key[p.key].effective_kind,
        "sentence": obligation_sentence(by_key[p.key], c), "sentence_en": obligation_sentence_en(by_key[p.key], c),
    } for p in prog]})


@route("POST", "/api/agreements/{id}/obligations/{key}/performance",
         summary="Record performance of an obligation with its proof", tag="agreements", status=201,
         params=ID + [r.path_param("key", r.string())], errors=(400, 403, 404, 409),
         request=r.obj(["status", "note"], status=r.string(enum=["pending", "performed", "partial", "not_performed"]),
                       note=opt(r.string()),
                       proof_sha256=opt(r.string(description="SHA-256 of a proof file in the case"))),
         response={"type": "object"})
async def record_performance(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 16 * 1024)
    status = field(body, "status", str, max_len=24)
    note = field(body, "note", str, required=False, default="", max_len=2000)
    proof = field(body, "proof_sha256", str, required=False, max_len=64)
    if proof is not None and (len(proof) != 64 or any(c not in "0123456789abcdef" for c in proof)):
        raise bad_request("proof_sha256 must be 64 lowercase hex digits", "invalid_field")
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), policy.can_record_performance, now=now_of(request))
        row = await store.record_performance(s, actor, ld, request.match_info["key"][:16], status, note, proof,
                                             request.app[CASE_LINK], now=now_of(request))
        out = {"obligation": row.obligation, "status": row.status, "note": row.note,
               "proof_sha256": row.proof_sha256, "at": store.iso(row.at)}
    return web.json_response(out, status=201)


# ---- public verification -------------------------------------------------------------------------

@route("POST", "/api/verify", summary="Verify an exported agreement PDF (public, no login)", tag="agreements",
         auth=False, response=VERIFY_RESULT, errors=(400, 413, 415, 422, 429))
async def verify_upload(request: web.Request) -> web.Response:
    """200 with the result when every check passes; 422 naming the failed check (and the full result)."""
    async with verify_slot(request):
        data = await read_upload(request)
        out = await check_upload(request, data)
    if out["ok"]:
        return web.json_response(out)
    raise ApiError(422, out["check"], out["message"], result=out)


async def _stop_verify_executor(app: web.Application) -> None:
    services(app).verify_executor.shutdown(wait=False, cancel_futures=True)


async def _warm_fonts(app: web.Application) -> None:
    # Cut the CJK font subset in the background, so the first export does not wait for it.
    services(app).agreement_font_warmup = asyncio.get_running_loop().run_in_executor(None, fonts.warm_up)


def setup(app: web.Application) -> None:
    services(app).agreement_keys = Keyring(services(app).config.data_dir / KEY_DIR, services(app).config.secret_key)
    services(app).verify_slots = asyncio.Semaphore(VERIFY_SLOTS)
    # Their own threads: memory a verification frees stays with its thread's malloc arena, so a few
    # threads keep what is retained to a few verifications' worth (the default pool has up to 32).
    services(app).verify_executor = concurrent.futures.ThreadPoolExecutor(VERIFY_SLOTS, thread_name_prefix="verify")
    app.on_cleanup.append(_stop_verify_executor)
    app.on_startup.append(_warm_fonts)
    # the room page's agreement panel (the sessions views collect feature modules)
    add_room_module("/static/js/agreement-room.js", button=("agreement", "doc", "协议", "Agreement"))
