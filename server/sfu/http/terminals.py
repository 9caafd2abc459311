"""``/whip/<session>`` and ``/whep/<session>``: terminals publish (WHIP, RFC 9725) and watch (WHEP).

- ``POST`` with an ``application/sdp`` offer and ``Authorization: Bearer <join token>`` (an invitation or
  a staff join token for this session) answers ``201 Created`` with the SDP answer, a ``Location`` (the
  resource, ``/whip/<session>/<resource>``) and ``Link: <...>; rel="ice-server"`` headers (the room's
  STUN/TURN servers).
- ``DELETE`` on the resource, with the same Bearer token, ends it (``200``).
- ``PATCH`` (trickle ICE, ICE restart) is not supported: ``405``. Both sides put all their candidates in
  the offer and the answer, which RFC 9725 allows.
- ``OPTIONS`` answers CORS preflights (``204``); responses carry ``Access-Control-Allow-Origin: *``: the
  Bearer token, not a cookie, is the credential.

Refusals are the API's JSON error shape: 401 (no, malformed or expired token; ``WWW-Authenticate``),
403 (another session's token, a withdrawn invitation, an identity check the terminal cannot answer, not
admitted), 404 (a session the staff member may not see, an unknown resource), 410 (session over), 413
(offer over 64 KiB), 415 (not ``application/sdp``), 400 (not an SDP offer Concord can relay), 409 (WHEP:
nobody publishing yet, with ``Retry-After``), 503 (no SFU configured or reachable).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from server.errors import ApiError
from server.failures import DomainError, Kind
from server.http import client_ip, http_status, parse_id
from server.media.ice import ice_servers
from server.services import services
from server.sessions.service import JoinGrant, SessionError, resolve_join
from server.sfu import sdp
from server.sfu.recording import recorder_feeds
from server.sfu.terminals import WHEP, WHIP, TerminalError, Terminals

log = logging.getLogger("concord.sfu.terminals")

SDP_TYPE = "application/sdp"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Location, Link",
}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}
TERMINALS = web.AppKey("terminals", Terminals)


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers={**CORS, **headers}, dumps=_dumps)


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def _refusal(e: DomainError | ApiError) -> web.Response:
    if isinstance(e, ApiError):
        return _error(e.status, e.code, e.message)
    status = http_status(e)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if e.code == "not_allowed":  # a staff login that may not see this session: as if it did not exist
        return _error(404, "not_found", "no such session")
    if "retry_after" in e.extra:
        headers["Retry-After"] = str(e.extra["retry_after"])
    return _error(status, e.code, e.message, **headers)


def _bearer(request: web.Request) -> str | None:
    h = request.headers.get("Authorization", "")
    scheme, _, token = h.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _session(request: web.Request) -> int:
    sid = parse_id(request.match_info.get("session"))
    if sid is None:
        raise ApiError(404, "not_found", "no such session")
    return sid


async def _grant(request: web.Request, sid: int, token: str) -> JoinGrant:
    svc = services(request)
    if svc.ws_join_limiter.hit(f"ip:{client_ip(request)}"):
        raise ApiError(429, "rate_limited", "too many requests from your address; wait a moment")
    grant = await resolve_join(svc.db, svc.config.secret_key, token, session_hint=sid, at=svc.clock.now())
    if grant.check_method != "none":
        raise SessionError(Kind.FORBIDDEN, "check_required",
                           "this invitation asks for an identity check, which a terminal cannot answer; "
                           "ask the host for an invitation without one")
    if svc.ws_identity_limiter.hit(grant.identity):
        raise ApiError(429, "rate_limited", "too many joins with this invitation; wait a minute")
    return grant


async def _offer(request: web.Request) -> str:
    if request.content_type != SDP_TYPE:
        raise ApiError(415, "unsupported_media_type", f"the offer must be sent as {SDP_TYPE}")
    if request.content_length is not None and request.content_length > sdp.MAX_SDP_BYTES:
        raise ApiError(413, "too_large", f"an SDP offer is at most {sdp.MAX_SDP_BYTES} bytes")
    body = await request.content.read(sdp.MAX_SDP_BYTES + 1)
    if len(body) > sdp.MAX_SDP_BYTES:
        raise ApiError(413, "too_large", f"an SDP offer is at most {sdp.MAX_SDP_BYTES} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_sdp", "the offer is not UTF-8 text") from None


def _links(request: web.Request, peer_id: str) -> list[str]:
    config = services(request).config
    return ice_links(ice_servers(config.ice_servers, config.turn_secret, peer_id))


def _quoted(v: Any) -> str:
    """The inside of an RFC 9110 quoted-string."""
    return str(v).replace("\\", "\\\\").replace('"', '\\"')


def ice_links(servers: list[dict[str, Any]]) -> list[str]:
    """RFC 9725 section 4.4: the STUN/TURN servers the terminal may use, as ``Link`` header values (the
    same servers, with the same short-lived TURN credentials, as a browser's ``welcome``)."""
    out = []
    for server in servers:
        urls = server.get("urls")
        for url in [urls] if isinstance(urls, str) else list(urls or []):
            link = f'<{url}>; rel="ice-server"'
            if server.get("username") and server.get("credential"):
                link += (f'; username="{_quoted(server["username"])}"'
                         f'; credential="{_quoted(server["credential"])}"; credential-type="password"')
            out.append(link)
    return out


async def _post(request: web.Request, kind: str) -> web.Response:
    try:
        sid = _session(request)
        token = _bearer(request)
        if token is None:
            return _error(401, "unauthorized", "send the invitation as Authorization: Bearer <token>",
                          **{"WWW-Authenticate": 'Bearer realm="concord"'})
        offer = await _offer(request)
        grant = await _grant(request, sid, token)
        terms = request.app[TERMINALS]
        if kind == WHIP:
            consent = request.query.get("consent") == "recording"
            answer = await terms.publish(grant, token, offer, consent=consent)
        else:
            answer = await terms.watch(grant, token, offer)
    except (DomainError, ApiError) as e:
        return _refusal(e)
    except sdp.SdpError as e:
        return _error(400, "bad_sdp", str(e))
    location = f"/{kind}/{sid}/{answer.resource}"
    headers = {**CORS, "Location": location, "Content-Type": SDP_TYPE}
    resp = web.Response(status=201, body=answer.sdp.encode(), headers=headers)
    for link in _links(request, answer.peer_id):
        resp.headers.add("Link", link)
    return resp


async def whip_post(request: web.Request) -> web.Response:
    return await _post(request, WHIP)


async def whep_post(request: web.Request) -> web.Response:
    return await _post(request, WHEP)


async def resource_delete(request: web.Request) -> web.Response:
    try:
        sid = _session(request)
        token = _bearer(request)
        if token is None:
            return _error(401, "unauthorized", "send the same Bearer token as for the POST",
                          **{"WWW-Authenticate": 'Bearer realm="concord"'})
        terms = request.app[TERMINALS]
        res = terms.owns(request.match_info["resource"], sid, token)
        if res.kind != request.match_info["kind"]:
            raise TerminalError(Kind.NOT_FOUND, "not_found", "no such WHIP/WHEP resource")
        await terms.end(res.id, "delete")
    except (DomainError, ApiError) as e:
        return _refusal(e)
    return web.Response(status=200, headers=CORS)


async def resource_patch(request: web.Request) -> web.Response:
    return _error(405, "method_not_allowed",
                  "trickle ICE and ICE restarts are not supported: put every candidate in the offer",
                  Allow="DELETE, OPTIONS")


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={**PREFLIGHT, "Accept-Post": SDP_TYPE})


async def _ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[TERMINALS].close()


def setup(app: web.Application) -> None:
    svc = services(app)
    terms = Terminals(svc.room_hub, svc.sfu)
    app[TERMINALS] = terms
    app.router.add_post("/whip/{session}", whip_post)
    app.router.add_post("/whep/{session}", whep_post)
    for kind in (WHIP, WHEP):
        app.router.add_route("OPTIONS", f"/{kind}/{{session}}", preflight)
        app.router.add_delete(f"/{{kind:{kind}}}/{{session}}/{{resource}}", resource_delete)
        app.router.add_route("PATCH", f"/{kind}/{{session}}/{{resource}}", resource_patch)
        app.router.add_route("OPTIONS", f"/{kind}/{{session}}/{{resource}}", preflight)
    app.cleanup_ctx.append(_ctx)
    # Rooms on the SFU are recorded through Janus subscriptions, one per recorded person (server.sfu.recording).
    svc.recording.feeds = recorder_feeds(svc.sfu, svc.room_hub)
    m = svc.metrics
    m.gauge("concord_terminal_resources", lambda: len(terms.resources), "WHIP/WHEP resources on this node")
    m.gauge("concord_whip_published", lambda: terms.published, "WHIP publishers accepted since start")
    m.gauge("concord_whep_watched", lambda: terms.watched, "WHEP viewers accepted since start")
