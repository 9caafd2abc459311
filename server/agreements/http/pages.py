"""Agreement pages: the list, the staff workspace for one agreement, and the public verification page."""

from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, policy
from server.agreements import store, workflow
from server.agreements.content import DISPUTE_TYPES
from server.agreements.document import short_hash
from server.agreements.http import party
from server.agreements.http.keys import CASE_LINK
from server.agreements.http.verifying import check_upload, read_upload, verify_slot
from server.agreements.performance import STATUS_LABELS
from server.agreements.verify import CHECK_LABELS, KIND_LABELS, MAX_PDF, METHOD_LABELS
from server.errors import ApiError
from server.http import http_status, now_of, path_id
from server.i18n import localise, pick
from server.pages.render import language, local, render, require_login
from server.policy import Actor
from server.services import services
from server.sessions.service import list_sessions

HASH_RE = re.compile(r"^[0-9a-f]{64}$")

# What each failed check means, for someone holding the paper copy (the CLI prints the technical reason).
CHECK_EXPLAIN = {
    "manifest_missing": ("这不是本平台导出的协议书，或文件已损坏：找不到签署清单。",
                         "This is not an agreement exported by Concord, or the file is damaged: it has no manifest."),
    "manifest_malformed": ("文件中的签署清单被改动或格式错误。", "The manifest inside the file was altered or is malformed."),
    "text_changed": ("协议的文字、页面或图像与签署时不一致。", "The text, a page or an image differs from what was signed."),
    "unknown_key": ("签名所用的密钥不是本平台的印章密钥。", "A signature was made with a key this server does not know."),
    "signature_invalid": ("至少一个签名无法核验，或签名记录被调换。",
                          "At least one signature does not verify, or the records were rearranged."),
    "signer_missing": ("缺少当事人、调解员或印章的签署。", "A party, the mediator or the seal has not signed."),
    "ledger_proof": ("协议生效记录的账本包含证明无法核验：生效事件、审计路径或市级账本签名与记录不符。",
                     "The proof that the agreement's taking effect is in the city's ledger does not verify: the "
                     "event, its audit path or the ledger's signed tree head does not match."),
    "pades_missing": ("文件缺少 PDF 电子签章：本平台导出的协议书都带有调解委员会的电子签章，签章被删除或文件被截断。",
                      "The file has no PDF signature: every agreement Concord exports carries the committee's, "
                      "so it was removed or the file was cut short."),
    "file_changed": ("文件在签章后被改动：PDF 电子签章覆盖范围内的内容与签章时不一致，或签章后追加了内容。",
                     "The file was changed after it was sealed: bytes covered by the PDF signature differ, or "
                     "content was added after it."),
    "pades_untrusted": ("PDF 电子签章的证书不是本市根证书为该调解委员会签发的。",
                        "The PDF signature's certificate was not issued to this committee by the city's root."),
    "pades_revoked": ("签章时，该调解委员会的签章证书已被吊销。",
                      "The committee's seal certificate had been revoked when this file was signed."),
}


UPLOAD_ERRORS = {
    "empty_file": ("上传的文件是空的。", "The uploaded file is empty."),
    "too_large": (f"文件超过 {MAX_PDF // (1024 * 1024)} MB。", f"The file is over {MAX_PDF // (1024 * 1024)} MB."),
    "invalid_upload": ("上传未完成，请重新选择文件。", "The upload was incomplete; choose the file again."),
    "missing_field": ("请选择要核验的 PDF 文件。", "Choose the PDF file to verify."),
    "unsupported_media_type": ("请通过本页表单上传 PDF 文件。", "Upload the PDF with this page's form."),
}


def beijing(iso: str | None) -> str:
    """A UTC ISO time from a signature record, on the Beijing clock."""
    from datetime import datetime

    if not iso:
        return ""
    try:
        return local(datetime.fromisoformat(iso.replace("Z", "+00:00")), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _verify_context(result: dict | None, known: dict | None, error: str | None = None) -> dict:
    return {"result": result, "error": error, "known": known, "labels": CHECK_LABELS, "explain": CHECK_EXPLAIN,
            "methods": METHOD_LABELS, "kinds": KIND_LABELS, "beijing": beijing, "states": workflow.STATE_LABELS,
            "max_mb": MAX_PDF // (1024 * 1024)}


async def list_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)

    async with services(request).db.session() as s:
        rows = await store.visible_agreements(s, actor, now_of(request))
        can_draft = actor.role in policy.AGREEMENT_ROLES
        cases = await request.app[CASE_LINK].open_cases(s, actor, now=now_of(request)) if can_draft else []
        sessions = await _open_sessions(s, actor) if can_draft else []
    items = [{"a": a, "unit": u, "short": None} for a, u in rows]
    return await render(request, "agreements/list.html", {
        "items": items, "states": workflow.STATE_LABELS, "types": DISPUTE_TYPES, "can_draft": can_draft,
        "cases": cases, "sessions": sessions, "preset_case": request.query.get("case", "")[:64]})


async def _open_sessions(s: AsyncSession, actor: Actor) -> list[tuple[int, str, datetime | None]]:
    """(id, title, start) of the mediation sessions still to be held or live: the drafting form's picker."""
    out = []
    for state in ("live", "scheduled"):
        out += [(x.id, x.title, x.scheduled_at) for x, _ in await list_sessions(s, actor, state=state,
                                                                                  kind="mediation", limit=50)]
    return out


async def detail_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    aid = path_id(request, "id", "no such agreement")
    try:
        async with services(request).db.session() as s:
            ld = await store.load(s, aid)
            rec = await access.agreement_record(s, ld.unit, ld.agreement.case_id, now_of(request))
            if not access.sees(actor, rec):
                raise ApiError(404, "not_found", "no such agreement")
            case_code = await request.app[CASE_LINK].case_code(s, ld.agreement.case_id)
    except store.StoreError as e:
        raise ApiError(http_status(e), e.code, e.message) from e
    a = ld.agreement
    return await render(request, "agreements/detail.html", {
        "a": a, "unit": ld.unit, "version": ld.version, "short": short_hash(ld.version.document_hash),
        "case_code": case_code,
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
        async with services(request).db.session() as s:
            found = await store.find_by_hash(s, h)
        if found:
            a, v, unit = found
            known = {"number": a.number, "unit": unit.name, "state": a.state, "version": v.number,
                     "effective_at": a.effective_at, "hash": h, "current": v.number == a.current_version}
        else:
            known = {"hash": h, "missing": True}
    return await render(request, "agreements/verify.html", _verify_context(None, known))


async def verify_submit(request: web.Request) -> web.StreamResponse:
    try:
        async with verify_slot(request):
            data = await read_upload(request)
            result = await check_upload(request, data)
        error, status = None, 200 if result["ok"] else 422
    except ApiError as e:
        zh, en = UPLOAD_ERRORS.get(e.code, (pick(e.message, "zh-CN"), pick(e.message, "en")))
        result, error, status = None, en if language(request) == "en" else zh, e.status
    return await render(request, "agreements/verify.html", _verify_context(result, None, error), status=status)


async def sign_page(request: web.Request) -> web.StreamResponse:
    """The party's signing page on their own phone, opened from their invitation link."""
    aid = path_id(request, "id", "no such agreement")
    link = request.query.get("link", "")
    token = request.query.get("invitation", "")
    if not (link or token) or len(link or token) > 4096:
        raise ApiError(403, "invalid_invitation", "请从调解员提供的签署链接或二维码打开本页。" if language(request) != "en"
                       else "Open this page from the signing link or QR code the mediator gave you.")
    # Which identity check the page asks first (the credential itself says; nothing of the agreement is
    # shown before it passes). A bad or expired credential: the page says why instead.
    check, problem = "", ""
    try:
        check = (await party.resolve(request, request.query)).check_method
    except ApiError as e:
        problem = localise(e.message, language(request), e.code)
    return await render(request, "agreements/sign.html", {"agreement_id": aid, "invitation": "" if link else token,
                                                          "link": link, "check": check, "problem": problem})


async def crl(request: web.Request) -> web.Response:
    """The city CA's current CRL (DER), at the URL the seal certificates name (public, no login)."""
    ca = services(request).agreement_keys.city_ca()
    ca.init()  # a fresh server publishes its root and an empty CRL before its first seal (idempotent, locked)
    return web.Response(body=ca.crl(), content_type="application/pkix-crl",
                        headers={"Cache-Control": "public, max-age=3600"})


async def root_certificate(request: web.Request) -> web.Response:
    """The city root certificate (DER), to import into a PDF reader as a trust anchor."""
    from cryptography.hazmat.primitives.serialization import Encoding

    root, _ = services(request).agreement_keys.city_ca().init()  # made now on a fresh server (idempotent)
    return web.Response(body=root.public_bytes(Encoding.DER), content_type="application/pkix-cert",
                        headers={"Content-Disposition": 'attachment; filename="concord-root.cer"'})


def setup(app: web.Application) -> None:
    app.router.add_get("/ca/crl.der", crl)
    app.router.add_get("/ca/root.cer", root_certificate)
    app.router.add_get("/agreements/{id}/sign", sign_page)
    app.router.add_get("/agreements", list_page)
    app.router.add_get("/agreements/{id}", detail_page)
    app.router.add_get("/verify", verify_page)
    app.router.add_post("/verify", verify_submit)
