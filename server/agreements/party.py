"""A party's side of an agreement, reached from their own session invitation (no account).

Steps, each enforced here and not only in the page:
1. the invitation resolves (signed, unexpired, not revoked: the sessions module checks), names a party of
   this agreement, and belongs to the agreement's session or case;
2. the identity check bound to the invitation (ID last 4 digits or the one-time code) passes, which gives a
   short-lived *check ticket*; attempts are rate-limited per invitation;
3. the full text is opened with that ticket, which gives a *read token* for exactly that version and hash;
4. the signature: consent, the typed name, the drawn image, the ticket and the read token together.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.agreements import store, workflow
from server.agreements.api import (
    DETAIL,
    ID,
    MAX_BODY,
    agreement_id,
    client_ip,
    comment_json,
    int_field,
    keyring,
    masked_text,
    notify_room,
    now_iso,
    pdf_response,
    render_export,
    route,
    signature_image,
    transaction,
)
from server.agreements.content import view
from server.agreements.signing import PARTY, Evidence
from server.api import registry as r
from server.errors import ApiError, bad_request, field, read_json
from server.security import tokens

CHECK_PURPOSE = "agreement-check"
READ_PURPOSE = "agreement-read"
TICKET_TTL_S = 30 * 60
CHECK_METHODS = ("id_last4", "code")


@dataclass(frozen=True)
class PartyGrant:
    invitation_id: int
    nonce: str
    session_id: int
    name: str
    check_method: str
    grant: Any  # the sessions module's JoinGrant (for its own check_matches)


def _sessions():  # type: ignore[no-untyped-def]
    try:
        from server.sessions import service
    except ImportError as e:
        raise ApiError(503, "sessions_unavailable", "invitations are not available on this server") from e
    return service


async def resolve(request: web.Request, token: Any) -> PartyGrant:
    """The party's invitation, verified by the sessions module; forged or revoked ones are refused."""
    service = _sessions()
    if not isinstance(token, str) or not token:
        raise bad_request("missing field: invitation", "missing_field", field="invitation")
    try:
        grant = await service.resolve_join(request.app["db"], request.app["config"].secret_key, token)
    except service.SessionError as e:
        raise ApiError(403 if e.status in (401, 403) else e.status, "invalid_invitation",
                       f"this invitation cannot be used: {e.message}") from e
    if grant.staff_id is not None or grant.nonce is None or grant.role not in ("party", "agent"):
        raise ApiError(403, "not_a_signer", "only a party's own invitation leads to signing")
    from server.sessions.models import Invitation

    async with request.app["db"].session() as s:
        inv_id = (await s.execute(select(Invitation.id).where(Invitation.nonce == grant.nonce))).scalar_one()
    return PartyGrant(inv_id, grant.nonce, grant.meta.session_id, grant.name, grant.check_method, grant)


async def party_of(s: AsyncSession, pg: PartyGrant, agreement: int) -> tuple[store.Loaded, str]:
    """The agreement and the party key this invitation stands for; 403 when it is someone else's."""
    ld = await store.load(s, agreement, lock=True)
    a = ld.agreement
    linked = a.session_id == pg.session_id
    if not linked and a.case_id is not None:
        from server.sessions.models import Session

        case_of_session = (await s.execute(select(Session.case_id).where(Session.id == pg.session_id))).scalar_one()
        linked = case_of_session == a.case_id
    if not linked:
        raise ApiError(403, "not_a_signer", "this invitation belongs to another session or case")
    keys = [p.key for p in ld.content.parties if p.name == pg.name]
    if len(keys) != 1:
        raise ApiError(403, "not_a_signer", f"{pg.name} is not (uniquely) a party to this agreement")
    return ld, keys[0]


def _secret(request: web.Request) -> bytes:
    return request.app["config"].secret_key


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


# ---- endpoints ----------------------------------------------------------------------------------

@route("GET", "/api/agreements/{id}/party", summary="The agreement as the invited party sees it",
         tag="agreements", auth=False, params=ID + [r.query("invitation")], response=DETAIL,
         errors=(400, 403, 404))
async def party_view(request: web.Request) -> web.Response:
    pg = await resolve(request, request.query.get("invitation"))
    async with transaction(request) as s:
        ld, key = await party_of(s, pg, agreement_id(request))
        st = await store.signing_state(s, ld)
        out = store.summary(ld)
        out.update(content=view(ld.content, key), text=masked_text(ld), party=key, name=pg.name,
                   check=pg.check_method,
                   signed=f"{PARTY}:{key}" in st.signed_slots,
                   comments=[comment_json(c) for c in await store.comments(s, ld.agreement.id)])
    return web.json_response(out)


@route("POST", "/api/agreements/{id}/party/check", summary="The party's identity check (bound to the invitation)",
         tag="agreements", auth=False, params=ID, errors=(400, 403, 404, 429),
         request=r.obj(["invitation", "answer"], invitation=r.string(), answer=r.string()),
         response=r.obj(["ticket"], ticket=r.string(), method=r.string()))
async def party_check(request: web.Request) -> web.Response:
    body = await read_json(request, 8 * 1024)
    pg = await resolve(request, field(body, "invitation", str, max_len=4096))
    answer = field(body, "answer", str, max_len=20)
    if pg.check_method not in CHECK_METHODS:
        raise ApiError(403, "identity_check_required", "this invitation has no identity check; ask the mediator "
                                                        "for an invitation with one (ID last 4 digits or a code)")
    limiter = request.app["login_limiter"]
    key = f"agreement-check:{pg.nonce}"
    if await limiter.blocked(key):
        raise ApiError(429, "rate_limited", "too many wrong answers; try again later")
    async with transaction(request) as s:
        ld, party = await party_of(s, pg, agreement_id(request))
        id_number = ld.content.party(party).id_number
        ok = _sessions().check_matches(_secret(request), pg.grant, answer)
        if ok and pg.check_method == "id_last4" and id_number:
            ok = _same_last4(answer, id_number)  # also agrees with the ID written into the agreement
        await store.log(s, ld.agreement, "identity_check", {"party": party, "name": pg.name, "invitation":
                                                            pg.invitation_id, "method": pg.check_method,
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
         request=r.obj(["invitation", "ticket"], invitation=r.string(), ticket=r.string()),
         response=r.obj(["text", "version", "document_hash", "read_token"], text=r.string(), version=r.integer(),
                        document_hash=r.string(), read_token=r.string()))
async def party_text(request: web.Request) -> web.Response:
    body = await read_json(request, 8 * 1024)
    pg = await resolve(request, field(body, "invitation", str, max_len=4096))
    async with transaction(request) as s:
        ld, party = await party_of(s, pg, agreement_id(request))
        _ticket(request, body.get("ticket"), pg, ld.agreement.id, party)
        if ld.agreement.state != workflow.SIGNING:
            raise ApiError(409, "not_signing", f"this agreement is {ld.agreement.state}, not open for signing")
        v = ld.version
        await store.log(s, ld.agreement, "text_opened", {"party": party, "version": v.number,
                                                         "document_hash": v.document_hash})
    read = tokens.sign(_secret(request), READ_PURPOSE, {"a": ld.agreement.id, "n": pg.nonce, "v": v.number,
                                                        "h": v.document_hash, "at": now_iso()}, TICKET_TTL_S)
    return web.json_response({"text": masked_text(ld), "version": v.number, "document_hash": v.document_hash,
                              "short_hash": store.summary(ld)["short_hash"], "read_token": read})


@route("POST", "/api/agreements/{id}/party/sign", summary="The party signs (check ticket, read token, consent, "
         "typed name and drawn signature)", tag="agreements", auth=False, params=ID, status=201,
         errors=(400, 403, 404, 409, 413),
         request=r.obj(["invitation", "ticket", "read_token", "version", "document_hash", "consent", "typed_name",
                        "image"], invitation=r.string(), ticket=r.string(), read_token=r.string(),
                       version=r.integer(), document_hash=r.string(), consent={"type": "boolean"},
                       typed_name=r.string(), image=r.string()),
         response={"type": "object"})
async def party_sign(request: web.Request) -> web.Response:
    body = await read_json(request, MAX_BODY)
    pg = await resolve(request, field(body, "invitation", str, max_len=4096))
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
                      at=now_iso(), ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""),
                      typed_name=typed, image_sha256=digest, invitation=pg.invitation_id)
        rec, _ = await store.sign(s, keyring(request.app), ld, PARTY, party, version, doc_hash, ev, image)
    await notify_room(request.app, ld)
    return web.json_response({"seq": rec.payload["seq"], "signer": rec.payload["signer"]["name"],
                              "at": rec.payload["at"], "document_hash": doc_hash}, status=201)


@route("POST", "/api/agreements/{id}/party/comments", summary="A party comments on a clause (ledgered)",
         tag="agreements", auth=False, params=ID, status=201, errors=(400, 403, 404, 409),
         request=r.obj(["invitation", "version", "clause", "text"], invitation=r.string(), version=r.integer(),
                       clause=r.string(), text=r.string()), response={"type": "object"})
async def party_comment(request: web.Request) -> web.Response:
    body = await read_json(request, 16 * 1024)
    pg = await resolve(request, field(body, "invitation", str, max_len=4096))
    version = int_field(body, "version")
    clause = field(body, "clause", str, max_len=32)
    text = field(body, "text", str, max_len=2000).strip()
    if not text:
        raise bad_request("the comment is empty", "invalid_field", field="text")
    async with transaction(request) as s:
        ld, _ = await party_of(s, pg, agreement_id(request))
        c = await store.add_comment(s, ld, version, clause, text, pg.name, "party", None, pg.invitation_id)
        out = comment_json(c)
    await notify_room(request.app, ld)
    return web.json_response(out, status=201)


@route("GET", "/api/agreements/{id}/party/pdf", summary="The party's copy of the effective agreement (PDF)",
         tag="agreements", auth=False, params=ID + [r.query("invitation")], response_content_type="application/pdf",
         errors=(403, 404, 409))
async def party_pdf(request: web.Request) -> web.Response:
    pg = await resolve(request, request.query.get("invitation"))
    async with transaction(request) as s:
        ld, _ = await party_of(s, pg, agreement_id(request))
        if ld.agreement.state != workflow.EFFECTIVE:
            raise ApiError(409, "not_effective", "the copy is available once the agreement takes effect")
        data = await render_export(request, s, ld)
    return pdf_response(data, f"{ld.agreement.number}.pdf")
