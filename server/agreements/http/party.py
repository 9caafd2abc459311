"""A party's side of an agreement, reached without an account: from their own session invitation, or from a
*signing link* that staff hand over (printed with its QR code, or sent by text message).

A signing link is a signed, expiring token bound to one agreement and one party; it needs no session. It
carries its identity check: the last 4 of the ID number written in the agreement, or a 6-digit code that
staff give the party separately (only its keyed hash is in the token).

Steps, each enforced here and not only in the page:
1. the invitation resolves (signed, unexpired, not revoked: the sessions module checks), names a party of
   this agreement, and belongs to the agreement's session or case; or the link verifies and names this
   agreement;
2. the identity check (ID last 4 digits or the one-time code) passes, which gives a short-lived *check
   ticket*; wrong answers are rate-limited per invitation, and per agreement and party for links;
3. the full text is opened with that ticket, which gives a *read token* for exactly that version and hash;
4. the signature: consent, the typed name, the drawn image, the ticket and the read token together.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, policy, publicurl
from server.agreements import store, workflow
from server.agreements.content import view
from server.agreements.http.api import (
    DETAIL,
    ID,
    MAX_BODY,
    agreement_id,
    client_ip,
    comment_json,
    int_field,
    keyring,
    loaded_for,
    masked_text,
    notify_room,
    now_iso,
    pdf_response,
    render_export,
    route,
    signature_image,
    transaction,
    viewer_language,
)
from server.agreements.http.keys import CASE_LINK
from server.agreements.signing import PARTY, Evidence
from server.api import registry as r
from server.auth import require_actor
from server.errors import ApiError, bad_request, field, read_json
from server.failures import Kind
from server.http import http_status, now_of
from server.pages.render import local
from server.security import tokens
from server.services import services
from server.sessions import service as sessions_service
from server.sessions.models import Invitation, Session

CHECK_PURPOSE = "agreement-check"
READ_PURPOSE = "agreement-read"
LINK_PURPOSE = "agreement-sign-link"
TICKET_TTL_S = 30 * 60
CHECK_METHODS = ("id_last4", "code")
LINK_TTL_DAYS = 7
MAX_LINK_TTL_DAYS = 30


@dataclass(frozen=True)
class PartyGrant:
    """Who is acting: a party's invitation, or a signing link (``link_party`` set, no session)."""

    invitation_id: int | None
    nonce: str
    session_id: int | None
    name: str
    check_method: str
    grant: Any = None  # the sessions module's JoinGrant (for its own check_matches); None for a link
    link_agreement: int | None = None
    link_party: str | None = None
    code_hash: str | None = None

    @property
    def limiter_key(self) -> str:
        if self.link_party is not None:  # every link of one party shares the lock-out
            return f"agreement-check:{self.link_agreement}:{self.link_party}"
        return f"agreement-check:{self.nonce}"

    @property
    def source(self) -> dict[str, Any]:
        """What the ledger records about how the party came in."""
        if self.link_party is not None:
            return {"link": self.nonce}
        return {"invitation": self.invitation_id}


def link_code_hash(secret: bytes, nonce: str, code: str) -> str:
    return hmac.new(secret, f"agreement-link-check:{nonce}:{code.strip()}".encode(), hashlib.sha256).hexdigest()[:32]


def make_link(secret: bytes, agreement: int, party: str, method: str, ttl_days: int,
              ) -> tuple[str, str | None, str, int]:
    """A signing link's token, its one-time code (``code`` method; shown once, kept only hashed), its nonce
    and its expiry (Unix time)."""
    nonce = secrets.token_hex(8)
    payload: dict[str, Any] = {"a": agreement, "p": party, "n": nonce, "m": method}
    code = None
    if method == "code":
        code = f"{secrets.randbelow(1_000_000):06d}"
        payload["c"] = link_code_hash(secret, nonce, code)
    ttl = ttl_days * 86400
    now = int(time.time())
    return tokens.sign(secret, LINK_PURPOSE, payload, ttl, now), code, nonce, now + ttl


def _link(request: web.Request, token: str) -> PartyGrant:
    try:
        body = tokens.verify(_secret(request), LINK_PURPOSE, token)
    except tokens.TokenError as e:
        why = "it has expired; ask the mediator for a new one" if e.code == "token_expired" else "it is not valid"
        raise ApiError(403, "invalid_link", f"this signing link cannot be used: {why}") from e
    if not (isinstance(body.get("a"), int) and isinstance(body.get("p"), str) and isinstance(body.get("n"), str)
            and body.get("m") in CHECK_METHODS):
        raise ApiError(403, "invalid_link", "this signing link cannot be used: it is not valid")
    return PartyGrant(None, "L" + body["n"], None, "", body["m"], link_agreement=body["a"], link_party=body["p"],
                      code_hash=body.get("c"))


async def resolve(request: web.Request, source: Any) -> PartyGrant:
    """The party's invitation (verified by the sessions module) or signing link; forged, expired or revoked
    ones are refused. ``source`` is the query or the JSON body: it holds ``invitation`` or ``link``."""
    link = source.get("link") if hasattr(source, "get") else None
    if link is not None:
        if not isinstance(link, str) or not link or len(link) > 4096:
            raise bad_request("field link must be the token of a signing link", "invalid_field", field="link")
        return _link(request, link)
    token = source.get("invitation") if hasattr(source, "get") else None
    service = sessions_service
    if not isinstance(token, str) or not token:
        raise bad_request("missing field: invitation (or link)", "missing_field", field="invitation")
    if len(token) > 4096:
        raise bad_request("field invitation is too long", "invalid_field", field="invitation")
    try:
        grant = await service.resolve_join(services(request).db, services(request).config.secret_key, token,
                                           at=now_of(request))
    except service.SessionError as e:
        raise ApiError(403 if e.kind in (Kind.UNAUTHORIZED, Kind.FORBIDDEN) else http_status(e), "invalid_invitation",
                       f"this invitation cannot be used: {e.message}") from e
    if grant.staff_id is not None or grant.nonce is None or grant.role not in ("party", "agent"):
        raise ApiError(403, "not_a_signer", "only a party's own invitation leads to signing")

    async with services(request).db.session() as s:
        inv_id = (await s.execute(select(Invitation.id).where(Invitation.nonce == grant.nonce))).scalar_one()
    return PartyGrant(inv_id, grant.nonce, grant.meta.session_id, grant.name, grant.check_method, grant)


async def party_of(s: AsyncSession, pg: PartyGrant, agreement: int) -> tuple[store.Loaded, str]:
    """The agreement and the party key this invitation or link stands for; 403 when it is someone else's."""
    if pg.link_party is not None and pg.link_agreement != agreement:
        raise ApiError(403, "not_a_signer", "this signing link is for another agreement")
    ld = await store.load(s, agreement, lock=True)
    if pg.link_party is not None:
        if pg.link_party not in {p.key for p in ld.content.parties}:
            raise ApiError(403, "not_a_signer", "this signing link names nobody in the current text")
        return ld, pg.link_party
    a = ld.agreement
    linked = a.session_id == pg.session_id
    if not linked and a.case_id is not None:

        case_of_session = (await s.execute(select(Session.case_id).where(Session.id == pg.session_id))).scalar_one()
        linked = case_of_session == a.case_id
    if not linked:
        raise ApiError(403, "not_a_signer", "this invitation belongs to another session or case")
    keys = [p.key for p in ld.content.parties if p.name == pg.name]
    if len(keys) != 1:
        raise ApiError(403, "not_a_signer", f"{pg.name} is not (uniquely) a party to this agreement")
    return ld, keys[0]


def answer_matches(secret: bytes, pg: PartyGrant, answer: str, id_number: str) -> bool:
    """The identity check. ID last 4 must also agree with the ID written into the agreement."""
    if pg.link_party is not None:
        if pg.check_method == "code":
            return bool(pg.code_hash) and hmac.compare_digest(
                link_code_hash(secret, pg.nonce[1:], answer), pg.code_hash or "")
        return _same_last4(answer, id_number)
    ok = bool(sessions_service.check_matches(secret, pg.grant, answer))
    if ok and pg.check_method == "id_last4" and id_number:
        ok = _same_last4(answer, id_number)
    return ok


def _secret(request: web.Request) -> bytes:
    return services(request).config.secret_key


def _ticket(request: web.Request, raw: Any, pg: PartyGrant, agreement: int, party: str) -> dict[str, Any]:
    try:
        body = tokens.verify(_secret(request), CHECK_PURPOSE, raw if isinstance(raw, str) else "")
    except tokens.TokenError as e:
        raise ApiError(403, "identity_not_checked", "check your identity first (the check expires after "
                                                    "30 minutes)") from e
    if body.get("a") != agreement or body.get("n") != pg.nonce or body.get("p") != party:
        raise ApiError(403, "identity_not_checked", "this identity check was for another agreement or person")
    return body


def _same_last4(answer: str, id_number: str) -> bool:
    return bool(id_number) and hmac.compare_digest(answer.strip().upper(), id_number[-4:].upper())


def _admitted(request: web.Request, pg: PartyGrant) -> bool:
    """The invitation's holder is admitted to its session's live room, where the door asked the same check
    (or the mediator let them in from the lobby): the in-room agreement panel reads with that."""
    hub = services(request).room_hub
    rep = hub.rooms.get(pg.session_id) if hub is not None and pg.grant is not None and pg.session_id is not None else None
    return rep is not None and any(p.identity == pg.grant.identity and p.admitted and not p.system
                                   for p in rep.room.peers.values())


def verified_party(request: web.Request, pg: PartyGrant, agreement: int, party: str) -> access.Party:
    """Who reads a party's copy: the identity check passed (the ``ticket`` from ``/party/check``, as for
    signing) or admitted to the live room. Refused with 403 otherwise (the credential already named the
    agreement, so this confirms nothing new)."""
    ticket = request.query.get("ticket")
    if ticket:
        _ticket(request, ticket, pg, agreement, party)
        return access.Party(agreement, verified=True)
    return access.Party(agreement, verified=_admitted(request, pg))


async def require_party(request: web.Request, s: AsyncSession, pg: PartyGrant, ld: store.Loaded, party: str,
                        action: access.Action) -> None:
    who = verified_party(request, pg, ld.agreement.id, party)
    rec = await access.agreement_record(s, ld.unit, ld.agreement.case_id, now_of(request))
    if not access.may(who, action, rec, agreement_id=ld.agreement.id):
        raise ApiError(403, "identity_not_checked", "check your identity first (the check expires after "
                                                    "30 minutes)")


# ---- endpoints ----------------------------------------------------------------------------------

# A party comes with one of these: their session invitation, or a signing link from staff.
CREDENTIAL = {"invitation": r.string(description="the party's session invitation token"),
              "link": r.string(description="the token of a signing link (POST .../sign-links)")}
CREDENTIAL_QUERY = [r.query("invitation"), r.query("link")]
TICKET_QUERY = [r.query("ticket", description="the ticket from .../party/check (not needed while admitted to the "
                                              "session's live room)")]

@route("GET", "/api/agreements/{id}/party", summary="The agreement as the invited party sees it",
         tag="agreements", auth=False, params=ID + CREDENTIAL_QUERY + TICKET_QUERY, response=DETAIL,
         errors=(400, 403, 404))
async def party_view(request: web.Request) -> web.Response:
    pg = await resolve(request, request.query)
    async with transaction(request) as s:
        ld, key = await party_of(s, pg, agreement_id(request))
        await require_party(request, s, pg, ld, key, access.Action.VIEW)
        st = await store.signing_state(s, ld)
        out = store.summary(ld)
        out.update(content=view(ld.content, key), text=masked_text(ld), party=key, name=ld.content.party(key).name,
                   check=pg.check_method,
                   signed=f"{PARTY}:{key}" in st.signed_slots,
                   comments=[comment_json(c) for c in await store.comments(s, ld.agreement.id)])
    return web.json_response(out)


@route("POST", "/api/agreements/{id}/party/check", summary="The party's identity check (bound to the invitation)",
         tag="agreements", auth=False, params=ID, errors=(400, 403, 404, 429),
         request=r.obj(["answer"], **CREDENTIAL, answer=r.string()),
         response=r.obj(["ticket"], ticket=r.string(), method=r.string()))
async def party_check(request: web.Request) -> web.Response:
    body = await read_json(request, 8 * 1024)
    pg = await resolve(request, body)
    answer = field(body, "answer", str, max_len=20)
    if pg.check_method not in CHECK_METHODS:
        raise ApiError(403, "identity_check_required", "this invitation has no identity check; ask the mediator "
                                                        "for an invitation with one (ID last 4 digits or a code)")
    limiter = services(request).login_limiter
    key = pg.limiter_key
    if await limiter.blocked(key):
        raise ApiError(429, "rate_limited", "too many wrong answers; try again later")
    async with transaction(request) as s:
        ld, party = await party_of(s, pg, agreement_id(request))
        id_number = ld.content.party(party).id_number
        ok = answer_matches(_secret(request), pg, answer, id_number)
        await store.log(s, ld.agreement, "identity_check", {"party": party, "name": ld.content.party(party).name,
                                                            **pg.source, "method": pg.check_method,
                                                            "result": "passed" if ok else "failed",
                                                            "ip": client_ip(request)})
    if not ok:
        await limiter.fail(key)
        raise ApiError(403, "identity_check_failed", "the answer does not match")
    await limiter.reset(key)
    ticket = tokens.sign(_secret(request), CHECK_PURPOSE, {"a": ld.agreement.id, "n": pg.nonce, "p": party,
                                                           "m": pg.check_method, "t": int(time.time())}, TICKET_TTL_S)
    return web.json_response({"ticket": ticket, "method": pg.check_method})


@route("POST", "/api/agreements/{id}/party/text", summary="Open the full text to read (gives a read token)",
         tag="agreements", auth=False, params=ID, errors=(400, 403, 404, 409),
         request=r.obj(["ticket"], **CREDENTIAL, ticket=r.string()),
         response=r.obj(["text", "version", "document_hash", "read_token"], text=r.string(), version=r.integer(),
                        document_hash=r.string(), read_token=r.string()))
async def party_text(request: web.Request) -> web.Response:
    body = await read_json(request, 8 * 1024)
    pg = await resolve(request, body)
    async with transaction(request) as s:
        ld, party = await party_of(s, pg, agreement_id(request))
        _ticket(request, body.get("ticket"), pg, ld.agreement.id, party)
        if ld.agreement.state != workflow.SIGNING:
            raise ApiError(409, "not_signing", f"this agreement is {ld.agreement.state}, not open for signing")
        v = ld.version
        await store.log(s, ld.agreement, "text_opened", {"party": party, "version": v.number,
                                                         "document_hash": v.document_hash})
    read = tokens.sign(_secret(request), READ_PURPOSE, {"a": ld.agreement.id, "n": pg.nonce, "v": v.number,
                                                        "h": v.document_hash, "at": now_iso(now_of(request))}, TICKET_TTL_S)
    return web.json_response({"text": masked_text(ld), "version": v.number, "document_hash": v.document_hash,
                              "short_hash": store.summary(ld)["short_hash"], "read_token": read})


@route("POST", "/api/agreements/{id}/party/sign", summary="The party signs (check ticket, read token, consent, "
         "typed name and drawn signature)", tag="agreements", auth=False, params=ID, status=201,
         errors=(400, 403, 404, 409, 413),
         request=r.obj(["ticket", "read_token", "version", "document_hash", "consent", "typed_name",
                        "image"], **CREDENTIAL, ticket=r.string(), read_token=r.string(),
                       version=r.integer(), document_hash=r.string(), consent={"type": "boolean"},
                       typed_name=r.string(), image=r.string()),
         response={"type": "object"})
async def party_sign(request: web.Request) -> web.Response:
    body = await read_json(request, MAX_BODY)
    pg = await resolve(request, body)
    version = int_field(body, "version")
    doc_hash = field(body, "document_hash", str, max_len=64)
    consent = field(body, "consent", bool)
    typed = field(body, "typed_name", str, max_len=50)
    image, digest = signature_image(body)
    async with transaction(request) as s:
        ld, party = await party_of(s, pg, agreement_id(request))
        ticket = _ticket(request, body.get("ticket"), pg, ld.agreement.id, party)
        try:
            read = tokens.verify(_secret(request), READ_PURPOSE, body.get("read_token") or "")
        except tokens.TokenError as e:
            raise ApiError(403, "text_not_read", "open and read the full text before signing") from e
        if read.get("a") != ld.agreement.id or read.get("n") != pg.nonce:
            raise ApiError(403, "text_not_read", "open and read the full text before signing")
        if read.get("v") != version or read.get("h") != doc_hash:
            raise ApiError(409, "stale_version", "the text you read is not the version being signed; read it again")
        ev = Evidence(check_method=ticket["m"], check_result="passed", consent=consent, read_at=read["at"],
                      at=now_iso(now_of(request)), ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""),
                      typed_name=typed, image_sha256=digest, invitation=pg.invitation_id)
        rec, _ = await store.sign(s, keyring(request.app), ld, PARTY, party, version, doc_hash, ev, image, now=now_of(request))
    await notify_room(request.app, ld)
    return web.json_response({"seq": rec.payload["seq"], "signer": rec.payload["signer"]["name"],
                              "at": rec.payload["at"], "document_hash": doc_hash}, status=201)


@route("POST", "/api/agreements/{id}/party/comments", summary="A party comments on a clause (ledgered)",
         tag="agreements", auth=False, params=ID, status=201, errors=(400, 403, 404, 409),
         request=r.obj(["version", "clause", "text"], **CREDENTIAL, version=r.integer(),
                       clause=r.string(), text=r.string()), response={"type": "object"})
async def party_comment(request: web.Request) -> web.Response:
    body = await read_json(request, 16 * 1024)
    pg = await resolve(request, body)
    version = int_field(body, "version")
    clause = field(body, "clause", str, max_len=32)
    text = field(body, "text", str, max_len=2000).strip()
    if not text:
        raise bad_request("the comment is empty", "invalid_field", field="text")
    async with transaction(request) as s:
        ld, key = await party_of(s, pg, agreement_id(request))
        c = await store.add_comment(s, ld, version, clause, text, ld.content.party(key).name, "party", None,
                                    pg.invitation_id, now=now_of(request))
        out = comment_json(c)
    await notify_room(request.app, ld)
    return web.json_response(out, status=201)


@route("GET", "/api/agreements/{id}/party/pdf", summary="The party's copy of the effective agreement (PDF)",
         tag="agreements", auth=False, params=ID + CREDENTIAL_QUERY + TICKET_QUERY,
         response_content_type="application/pdf", errors=(403, 404, 409, 503))
async def party_pdf(request: web.Request) -> web.Response:
    pg = await resolve(request, request.query)
    async with transaction(request) as s:
        ld, key = await party_of(s, pg, agreement_id(request))
        await require_party(request, s, pg, ld, key, access.Action.DOWNLOAD)
        if ld.agreement.state != workflow.EFFECTIVE:
            raise ApiError(409, "not_effective", "the copy is available once the agreement takes effect")
        data = await render_export(request, s, ld, store.PARTY_COPY)
    return pdf_response(data, f"{ld.agreement.number}.pdf")


# ---- signing links (staff) ------------------------------------------------------------------------

SIGN_LINK = r.schema("AgreementSignLink", r.obj(
    ["party", "name", "method", "url", "expires_at"], party=r.string(), name=r.string(),
    method=r.string(enum=list(CHECK_METHODS)), url=r.string(), token=r.string(),
    code={"type": "string", "nullable": True, "description": "the 6-digit code (method code): shown once"},
    expires_at=r.string(), qr_svg=r.string(), sms_text=r.string(), phone=r.string(),
    public_url={"type": "boolean", "description": "false: CONCORD_PUBLIC_URL is unset, url is a path and the QR "
                "code and text say 未配置公开地址"}))


def sms_text(unit_name: str, number: str, name: str, url: str, method: str, expires_local: str) -> str:
    check = "核验身份证号后四位" if method == "id_last4" else "输入调解员另行告知的6位验证码"
    return (f"【{unit_name}人民调解委员会】{name}您好：请用手机打开以下链接，{check}后阅读并签署调解协议书"
            f"（{number}）：{url} 链接{expires_local}前有效，请勿转发他人。")


@route("POST", "/api/agreements/{id}/sign-links", summary="A signing link and QR code for one party (printed or "
       "sent by text message; needs no session invitation)", tag="agreements", params=ID, status=201,
       errors=(400, 403, 404, 409),
       request=r.obj(["party"], party=r.string(), method={**r.string(enum=list(CHECK_METHODS)), "nullable": True},
                     ttl_days={**r.integer(), "nullable": True}),
       response=SIGN_LINK)
async def create_sign_link(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request, 4096)
    party = field(body, "party", str, max_len=16)
    method = field(body, "method", str, required=False, max_len=16)
    ttl_days = int_field(body, "ttl_days", required=False) or LINK_TTL_DAYS
    if not 1 <= ttl_days <= MAX_LINK_TTL_DAYS:
        raise bad_request(f"ttl_days must be 1 to {MAX_LINK_TTL_DAYS}", "invalid_field", field="ttl_days")
    if method is not None and method not in CHECK_METHODS:
        raise bad_request("method must be id_last4 or code", "invalid_field", field="method")
    async with transaction(request) as s:
        ld = await loaded_for(s, actor, agreement_id(request), policy.can_draft_agreement, now=now_of(request))
        if ld.agreement.state not in (workflow.DRAFT, workflow.SIGNING):
            raise ApiError(409, "not_signing", f"this agreement is {ld.agreement.state}: nobody signs it any more")
        try:
            p = ld.content.party(party)
        except KeyError as e:
            raise bad_request(f"no party {party!r} in this agreement", "unknown_party", field="party") from e
        method = method or ("id_last4" if p.id_number else "code")
        if method == "id_last4" and not p.id_number:
            raise bad_request(f"the agreement holds no ID number for {p.name}: use a one-time code",
                              "no_id_number", field="method")
        token, code, nonce, exp = make_link(_secret(request), ld.agreement.id, party, method, ttl_days)
        expires = datetime.fromtimestamp(exp, UTC)
        await store.log(s, ld.agreement, "sign_link_created", {
            "party": party, "name": p.name, "method": method, "link": "L" + nonce,
            "expires_at": store.iso(expires), "by": {"staff": actor.id, "name": actor.name}})
        number, unit_name = ld.agreement.number, ld.unit.name
        # The phone to text the link to: a confidential one only for the case's handlers.
        phone = p.phone if not p.confidential or await request.app[CASE_LINK].may_reveal(
            s, actor, ld.agreement.case_id, now=now_of(request)) else ""
    # The link in the text message and QR code comes from CONCORD_PUBLIC_URL only (server/publicurl.py);
    # unset, they say so, and ``url`` is the path for the staff's own browser.
    path = f"/agreements/{ld.agreement.id}/sign?link={token}"
    return web.json_response({
        "party": party, "name": p.name, "method": method, "url": publicurl.for_page(services(request), path), "token": token,
        "code": code, "expires_at": store.iso(expires), "qr_svg": publicurl.qr_or_placeholder(services(request), path, 4, viewer_language(request)),
        "phone": phone, "public_url": publicurl.absolute(services(request), path) is not None,
        "sms_text": sms_text(unit_name, number, p.name, publicurl.for_document(services(request), path), method,
                             local(expires))}, status=201)
