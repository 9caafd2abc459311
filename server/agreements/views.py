"""Agreement pages: the list, the staff workspace for one agreement, and the public verification page."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select

from server import policy
from server.agreements import store, workflow
from server.agreements.content import DISPUTE_TYPES
from server.agreements.document import short_hash
from server.agreements.models import Agreement
from server.agreements.performance import STATUS_LABELS
from server.agreements.verify import CHECK_LABELS, MAX_PDF
from server.directory.models import Unit
from server.errors import ApiError
from server.views.render import render, require_login

HASH_RE = re.compile(r"^[0-9a-f]{64}$")


async def list_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    from server.agreements import cases_link

    async with request.app["db"].session() as s:
        rows = (await s.execute(
            select(Agreement, Unit).join(Unit, Unit.id == Agreement.unit_id)
            .where(Unit.path.startswith(actor.unit_path, autoescape=True),
                   cases_link.visible_filter(actor, Agreement.case_id))
            .order_by(Agreement.id.desc()).limit(200))).all()
    items = [{"a": a, "unit": u, "short": None} for a, u in rows]
    return await render(request, "agreements/list.html", {
        "items": items, "states": workflow.STATE_LABELS, "types": DISPUTE_TYPES,
        "can_draft": actor.role in policy.AGREEMENT_ROLES})


async def detail_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    try:
        aid = int(request.match_info["id"])
    except ValueError as e:
        raise ApiError(404, "not_found", "no such agreement") from e
    if not 0 < aid < 2**31:
        raise ApiError(404, "not_found", "no such agreement")
    try:
        async with request.app["db"].session() as s:
            from server.agreements import cases_link

            ld = await store.load(s, aid)
            if not policy.can_view_agreement(actor, ld.unit.path) or not await cases_link.case_visible(
                    s, actor, ld.agreement.case_id):
                raise ApiError(404, "not_found", "no such agreement")
    except store.StoreError as e:
        raise ApiError(e.status, e.code, e.message) from e
    a = ld.agreement
    return await render(request, "agreements/detail.html", {
        "a": a, "unit": ld.unit, "version": ld.version, "short": short_hash(ld.version.document_hash),
        "states": workflow.STATE_LABELS, "perf_labels": STATUS_LABELS, "types": DISPUTE_TYPES,
        "can_draft": policy.can_draft_agreement(actor, ld.unit.path),
        "can_sign_mediator": policy.can_sign_as_mediator(actor, ld.unit.path),
        "can_seal": policy.can_apply_seal(actor, ld.unit.code),
        "can_perform": policy.can_record_performance(actor, ld.unit.path),
    })


async def verify_page(request: web.Request) -> web.StreamResponse:
    """Public: upload an exported PDF and see the result in plain words; ``?h=`` (from the QR code)
    shows what this server knows about that document."""
    known = None
    h = request.query.get("h", "")
    if HASH_RE.match(h):
        async with request.app["db"].session() as s:
            found = await store.find_by_hash(s, h)
        if found:
            a, v, unit = found
            known = {"number": a.number, "unit": unit.name, "state": a.state, "version": v.number,
                     "effective_at": a.effective_at, "hash": h, "current": v.number == a.current_version}
        else:
            known = {"hash": h, "missing": True}
    return await render(request, "agreements/verify.html", {
        "result": None, "known": known, "labels": CHECK_LABELS, "states": workflow.STATE_LABELS,
        "max_mb": MAX_PDF // (1024 * 1024)})


async def verify_submit(request: web.Request) -> web.StreamResponse:
    from server.agreements.api import check_upload, read_upload

    try:
        data = await read_upload(request)
        result = await check_upload(request, data)
        error, status = None, 200 if result["ok"] else 422
    except ApiError as e:
        result, error, status = None, e.message, e.status
    return await render(request, "agreements/verify.html", {
        "result": result, "error": error, "known": None, "labels": CHECK_LABELS, "states": workflow.STATE_LABELS,
        "max_mb": MAX_PDF // (1024 * 1024)}, status=status)


async def sign_page(request: web.Request) -> web.StreamResponse:
    """The party's signing page on their own phone, opened from their invitation link."""
    try:
        aid = int(request.match_info["id"])
    except ValueError as e:
        raise ApiError(404, "not_found", "no such agreement") from e
    if not 0 < aid < 2**31:
        raise ApiError(404, "not_found", "no such agreement")
    token = request.query.get("invitation", "")
    if not token or len(token) > 4096:
        raise ApiError(403, "invalid_invitation", "open this page from your own invitation link")
    return await render(request, "agreements/sign.html", {"agreement_id": aid, "invitation": token})


def setup(app: web.Application) -> None:
    app.router.add_get("/agreements/{id}/sign", sign_page)
    app.router.add_get("/agreements", list_page)
    app.router.add_get("/agreements/{id}", detail_page)
    app.router.add_get("/verify", verify_page)
    app.router.add_post("/verify", verify_submit)
