"""Case pages: the list, the registration form, the case file with its timeline and QR code, and the forms
that act on it. Every form carries the CSRF token; every handler calls the same domain code as the API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup
from multidict import MultiDictProxy
from sqlalchemy.exc import SQLAlchemyError

from server import access, publicurl, tables
from server.cases import (
    case_sessions,
    catalog,
    consultations,
    documents,
    dv,
    followups,
    lookups,
    notices,
    notifications,
    petitions,
    present,
    privacy,
    service,
    supervision,
    workflow,
)
from server.cases.errors import CaseError, zh_for
from server.cases.http.context import ctx
from server.cases.http.forms import case_filter, draft_from, staff_ids
from server.cases.labels import event_label, labeller, notification_title
from server.cases.models import Case
from server.cases.permissions import ON_CASE, can_issue_notice
from server.cases.queries import (
    CaseFilter,
    facts,
    filtered,
    find_case,
    get_visible,
    page,
    pick_list,
)
from server.cases.service import Ctx
from server.directory.models import Staff, Unit
from server.directory.tiers import Role, Specialty
from server.errors import ApiError
from server.failures import Kind
from server.http import (
    MAX_ID,
    check_csrf,
    http_status,
    kind_of,
    now_of,
    parse_id,
    parse_int,
    path_id,
    status_of,
)
from server.idnumbers import invalid_message as invalid_id_message
from server.pages.render import attachment, language, local, render, require_login
from server.policy import Actor
from server.services import services

log = logging.getLogger(__name__)
PER_PAGE = 20
# A posted form as request.post() gives it: multi-selects keep every value (getall).
Form = MultiDictProxy[Any]


def when(value: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO time from the domain (UTC, 'Z') shown in Asia/Shanghai."""
    if not value:
        return ""
    try:
        return local(datetime.fromisoformat(value.replace("Z", "+00:00")), fmt)
    except ValueError:
        return value


async def _page(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    labels = labeller(language(request))
    return await render(request, template, {**labels, "when": when, "catalog": catalog, **context}, status=status)


def _back(code: str, *, ok: str | None = None, error: str | None = None, anchor: str = "") -> web.HTTPSeeOther:
    q = {k: v for k, v in (("ok", ok), ("error", error)) if v}
    return web.HTTPSeeOther(f"/cases/{code}" + (f"?{urlencode(q)}" if q else "") + (f"#{anchor}" if anchor else ""))


def refusal(e: CaseError | ApiError, lang: str) -> str:
    """A refusal as a page shows it: in the viewer's language (API errors carry English only)."""
    if e.code == "invalid_id_number":
        return invalid_id_message(lang)
    if isinstance(e, CaseError):
        return e.localized(lang)
    return e.message if lang == "en" else zh_for(e.code, kind_of(e.status))


async def _act(request: web.Request, anchor: str,
               fn: Callable[[Any, Ctx, Actor, Case, Form], Awaitable[tuple[str, str]]]) -> web.StreamResponse:
    """Run one form's action on the case; refusals come back to the case page in the viewer's language.
    ``fn`` returns the success message as (zh, en)."""
    actor = await require_login(request)
    lang = language(request)
    await check_csrf(request)
    form = await request.post()  # the MultiDict (check_csrf flattens it), so multi-selects keep every value
    code = request.match_info["code"]
    c = ctx(request)
    try:
        async with services(request).db.session() as s:
            case = await get_visible(s, actor, code, c.now, lock=True)
            ok = await fn(s, c, actor, case, form)
    except CaseError as e:
        if e.kind is Kind.NOT_FOUND:
            raise ApiError(404, "not_found", e.localized(lang)) from e
        raise _back(code, error=e.localized(lang), anchor=anchor) from e
    except ApiError as e:
        if e.status == 404:
            raise
        raise _back(code, error=refusal(e, lang), anchor=anchor) from e
    raise _back(code, ok=ok[1] if lang == "en" else ok[0], anchor=anchor)


def _str(form: Mapping[str, Any], name: str, max_len: int = 5000) -> str:
    v = form.get(name)
    return v.strip()[:max_len] if isinstance(v, str) else ""


def _int_or(v: int | None, default: int) -> int:
    return default if v is None else v


def _when(form: Mapping[str, Any], name: str) -> datetime | None:
    raw = _str(form, name, 40)
    return case_sessions.parse_when(raw) if raw else None


async def _ids(s: Any, usernames: list[str]) -> list[int]:
    return await staff_ids(s, [u for u in usernames if u][:50])


# ---- list, export, register -----------------------------------------------------------------------------

async def case_list(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    error = None
    try:
        f = await case_filter(request, actor, strict=False)
        raw_page = request.query.get("page", "1") or "1"
        page_no = min(parse_int(raw_page, 1, 10**19) or 1, 100_000)
    except ApiError as e:
        f, page_no, error = CaseFilter(), 1, e.message
    c = ctx(request)
    async with services(request).db.session() as s:
        rows, total = await page(s, actor, f, c.now, page_no, PER_PAGE)
        units = await lookups.units_in(s, actor)
    cases = [{**present.summary(case, None, c.now), "unit_name": name} for case, name in rows]
    query = {k: v for k, v in request.query.items() if k != "page"}
    pages = max(1, -(-total // PER_PAGE))
    return await _page(request, "cases/list.html", {
        "cases": cases, "total": total, "page_no": page_no, "pages": pages, "query": query,
        "qs": lambda **kw: urlencode({**query, **kw}), "filters": request.query, "units": units,
        "states": list(workflow.State), "can_register": actor.role in ON_CASE, "error": error,
    })


CASE_COLUMNS = [("code", "案件编号", "Case code"), ("title", "标题", "Title"), ("category", "类别", "Category"),
                ("item", "事项", "Item"), ("grade", "等级", "Grade"), ("status", "状态", "Status"),
                ("source", "来源", "Source"), ("unit", "承办单位", "Unit"), ("registered", "登记时间", "Registered"),
                ("due", "办理时限", "Due"), ("overdue", "是否超期", "Overdue"), ("parties", "当事人", "Parties")]


async def case_table(request: web.Request) -> tables.Table:
    """The filtered list (at most 10,000 rows). Exports never carry confidential addresses or phones, nor
    full ID numbers."""
    actor = await require_login(request)
    f = await case_filter(request, actor, strict=False)
    c = ctx(request)
    table = tables.Table("cases", ("案件清单", "Cases"), CASE_COLUMNS)
    async with services(request).db.read() as s:
        q = filtered(actor, f, c.now).add_columns(Unit.name).join(Unit, Unit.id == Case.unit_id) \
            .order_by(Case.created_at.desc()).limit(10_000)
        rows = (await s.execute(q)).all()
        ids = [case.id for case, _ in rows]
        parties = await lookups.parties_of(s, ids)
    lang = language(request)
    yes, no = ("yes", "no") if lang == "en" else ("是", "否")
    lab = labeller(lang)
    for case, unit_name in rows:
        people = []
        secrets = privacy.secrets_of(parties.get(case.id, []))
        for p in parties.get(case.id, []):
            v = privacy.export_view(p, secrets, domestic_violence=case.domestic_violence)
            people.append(" ".join(x for x in (v["name"], v["phone"] or "", v["address"] or "") if x))
        table.rows.append([case.code, case.title, lab["category_label"](case.category) if case.category else "",
                           lab["item_label"](case.category, case.item) if case.item else "",
                           lab["grade_label"](case.grade) if case.grade else "", lab["state_label"](case.status),
                           lab["source_label"](case.source), unit_name, local(case.created_at), local(case.due_at),
                           yes if workflow.is_overdue(case.status, case.due_at, c.now) else no, "；".join(people)])
    return table


async def case_export(request: web.Request) -> web.StreamResponse:
    table = await case_table(request)
    return attachment(tables.csv_bytes(table, language(request)), "text/csv; charset=utf-8", "案件清单.csv")


async def case_export_xlsx(request: web.Request) -> web.StreamResponse:
    table = await case_table(request)
    return attachment(tables.xlsx_bytes([table], language(request)), tables.XLSX, "案件清单.xlsx")


async def case_new(request: web.Request, error: str | None = None, form: dict | None = None,
                   status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.session() as s:
        units = await lookups.units_in(s, actor)
    return await _page(request, "cases/new.html", {"units": units, "error": error, "form": form or {},
                                                   "party_roles": catalog.PARTY_ROLES}, status=status)


async def case_create(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    body: dict[str, Any] = {k: _str(form, k) for k in ("unit", "title", "summary", "source", "kind", "grade")}
    cat_item = _str(form, "category_item", 80)
    if cat_item and ":" in cat_item:
        body["category"], body["item"] = cat_item.split(":", 1)
    body["domestic_violence"] = form.get("domestic_violence") == "on"
    parties = []
    for i in range(1, 4):
        name = _str(form, f"p{i}_name", 100)
        if not name:
            continue
        parties.append({"role": _str(form, f"p{i}_role", 20) or "applicant", "name": name,
                        "phone": _str(form, f"p{i}_phone", 20) or None, "address": _str(form, f"p{i}_address", 200)
                        or None, "id_number": _str(form, f"p{i}_id", 18) or None,
                        "phone_confidential": form.get(f"p{i}_phone_conf") == "on",
                        "address_confidential": form.get(f"p{i}_address_conf") == "on"})
    body["parties"] = parties
    body = {k: v for k, v in body.items() if v not in ("", None)}
    c = ctx(request)
    try:
        draft = draft_from(body)
        async with services(request).db.session() as s:
            case = await service.register(s, c, actor, draft)
            code = case.code
    except (CaseError, ApiError) as e:
        return await case_new(request, error=refusal(e, language(request)), form={k: v for k, v in form.items() if isinstance(v, str)},
                              status=status_of(e) if status_of(e) in (400, 403, 409) else 400)
    raise web.HTTPSeeOther(f"/cases/{code}?" + urlencode({"ok": "Registered." if language(request) == "en" else "已登记"}))


# ---- the case file ---------------------------------------------------------------------------------------

async def case_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    code = request.match_info["code"]
    c = ctx(request)
    async with services(request).db.session() as s:
        try:
            if code.isascii() and code.isdigit():  # an internal number from an old link: go to the case's code
                raise web.HTTPFound(f"/cases/{(await find_case(s, actor, code, c.now)).code}")
            case = await get_visible(s, actor, code, c.now)
        except CaseError as e:
            raise ApiError(404, "not_found", e.localized(language(request))) from e
        f = await facts(s, case, c.now)
        d = await present.detail(s, case, actor, f, c.now)
        events = await present.timeline(s, case)
        verified = (await service.verify_case_chain(s, case)).ok
        extra: dict[str, Any] = {}
        if d["actions"]:
            candidates = await lookups.route_targets(s, case)
            # Each action offers only the units it may go to (下派: only below), none preselected.
            extra["targets"] = {a: service.route_choices(actor, workflow.Action(a), case, candidates)
                                for a in d["actions"] if a == "triage" or a in workflow.TRANSFER_ACTIONS}
        if d["actions"] or d["can"]["petition"] or d["can"]["manage_access"]:
            extra["line_staff"] = await lookups.line_staff(s, case, ON_CASE)
        if d["can"]["petition"]:
            extra["panel_staff"] = await lookups.line_staff(s, case, petitions.PANEL_ROLES)
        if d["can"]["consult"]:
            extra["suggested_specialty"], extra["experts"] = await consultations.suggested_experts(s, case)
    cache = services(request).units_cache
    await cache.all(services(request).db)
    for ev in events:
        ev["label"] = event_label(ev["type"], language(request))
    path = f"/cases/{case.code}"
    my_consultation = next((x for x in d["consultations"] if x["expert"] and x["expert"].get("id") == actor.id
                            and x["status"] == "accepted"), None)
    return await _page(request, "cases/detail.html", {
        "c": d, "events": list(reversed(events)), "verified": verified, "qr": Markup(publicurl.qr_or_placeholder(services(request), path, lang=language(request))),
        "case_url": publicurl.for_document(services(request), path, language(request)),
        "ok": request.query.get("ok", "")[:300], "error": request.query.get("error", "")[:300],
        "specialties": list(Specialty), "my_consultation": my_consultation, "case_path": case.unit_path,
        "needs": {a: workflow.RULES[workflow.Action(a)].needs for a in d["actions"]}, **extra,
        # The timeline names units, not their codes.
        "unit_name": lambda code: (cache.by_code.get(code) or {"json": {"name": code}})["json"]["name"],
    })


async def case_qr(request: web.Request) -> web.StreamResponse:
    """The case code as a QR code (SVG) linking to its page; only for those who can see the case."""
    actor = await require_login(request)
    c = ctx(request)
    async with services(request).db.session() as s:
        try:
            case = await get_visible(s, actor, request.match_info["code"], c.now)
        except CaseError as e:
            raise ApiError(404, "not_found", "no such case") from e
    # The QR code encodes CONCORD_PUBLIC_URL's address only; unset, it is the 未配置公开地址 drawing.
    return web.Response(text=publicurl.qr_or_placeholder(services(request), f"/cases/{case.code}",
                                                                  lang=language(request)), content_type="image/svg+xml",
                        headers={"Cache-Control": "private, no-store"})


async def party_copy(request: web.Request) -> web.StreamResponse:
    """A printable copy of the case for one party: the other side's confidential details are left out."""
    actor = await require_login(request)
    c = ctx(request)
    pid = path_id(request, "party_id", "no such party")
    async with services(request).db.session() as s:
        try:
            case = await get_visible(s, actor, request.match_info["code"], c.now)
        except CaseError as e:
            raise ApiError(404, "not_found", "no such case") from e
        # A copy is printed for a party by those handling the case: it holds that party's own contacts.
        facts = await access.case_facts(s, case.id, c.now)
        if not access.may(actor, access.Action.EDIT, access.Record(access.Kind.CASE, case.unit_path, case=facts)):
            raise ApiError(403, "forbidden", "only those handling the case print a party's copy")
        rows = await lookups.parties_of_case(s, case.id)
        unit = await s.get(Unit, case.unit_id)
    reader = next((p for p in rows if p.id == pid), None)
    if reader is None:
        raise ApiError(404, "not_found", "no such party")
    return await _page(request, "cases/party_copy.html", {
        "case": case, "unit": unit, "reader": reader,
        "parties": [privacy.party_copy_view(p, reader.side, privacy.secrets_of(rows)) for p in rows],
    })


# ---- forms on the case page ------------------------------------------------------------------------------

async def do_transition(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        params: dict[str, Any] = {}
        for k in ("reason", "unit", "grade", "note"):
            if _str(form, k):
                params[k] = _str(form, k, 2000)
        cat_item = _str(form, "category_item", 80)
        if ":" in cat_item:
            params["category"], params["item"] = cat_item.split(":", 1)
        if form.get("domestic_violence") == "on":
            params["domestic_violence"] = True
        assignees = [v for v in form.getall("assignees", []) if isinstance(v, str)]
        if assignees:
            params["assignees"] = await _ids(s, assignees)
        if _str(form, "action", 32) == "triage" and not params.get("grade"):
            raise CaseError("choose a risk grade", "invalid_grade", zh="请选择风险等级。")
        version = _str(form, "version", 12)
        await service.transition(s, c, actor, case, _str(form, "action", 32), params,
                                 parse_int(version, 0, MAX_ID))
        label = workflow.ACTION_LABELS.get(workflow.Action(_str(form, "action", 32)), ("办理", "Action"))
        return (f"已{label[0]}", f"{label[1]}: done.")
    return await _act(request, "actions", fn)


async def do_edit(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        body: dict[str, Any] = {}
        for k in ("title", "summary", "grade"):
            if k in form and (_str(form, k) or k == "summary"):
                body[k] = _str(form, k)
        if body.get("grade") == case.grade:
            body.pop("grade", None)  # no grade sent and none set: nothing to change
        version = _str(form, "version", 12)
        await service.edit(s, c, actor, case, body, parse_int(version, 0, MAX_ID))
        return ("已保存", "Saved.")
    return await _act(request, "edit", fn)


async def do_upload(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        f = form.get("file")
        if f is None or not hasattr(f, "file"):
            raise CaseError("choose a file to upload", "missing_field", zh="请选择要上传的文件。")
        data = f.file.read(documents.MAX_BYTES + 1)
        await documents.add_document(s, c, actor, case, services(request).config.data_dir, filename=f.filename,
                                     data=data, kind=_str(form, "kind", 16) or "evidence",
                                     description=_str(form, "description", 500))
        return ("已上传", "Uploaded.")
    return await _act(request, "documents", fn)


async def do_follow_up(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        perf = []
        for k, v in form.items():
            if k.startswith("ob_") and parse_id(k[3:]) and isinstance(v, str) and v:
                perf.append({"obligation_id": parse_id(k[3:]), "status": v})
        sat = _str(form, "satisfaction", 2)
        d = followups.follow_up_from({"method": _str(form, "method", 16),
                                      "satisfaction": parse_int(sat, 0, 99),
                                      "recurrence_risk": _str(form, "recurrence_risk", 8),
                                      "notes": _str(form, "notes"), "performance": perf})
        await followups.record_follow_up(s, c, actor, case, d)
        return ("回访已记录", "Follow-up recorded.")
    return await _act(request, "followups", fn)


async def do_obligation(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        due = _when(form, "due_at")
        item = followups.ObligationDraft(obligor=_str(form, "obligor", 100), obligee=_str(form, "obligee", 100),
                                         content=_str(form, "content", 2000), due_at=due)
        if not item.obligor or not item.content:
            raise CaseError("obligor and content are required", "missing_field", zh="请填写义务人和履行内容。")
        await followups.add_obligations(s, c, actor, case, [item])
        return ("已记录履行事项", "Obligation recorded.")
    return await _act(request, "followups", fn)


async def do_supervise(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        due = _when(form, "due_at")
        if due is None:
            raise CaseError("give a response deadline", "missing_field", zh="请填写回复期限。")
        await supervision.issue(s, c, actor, case, _str(form, "instruction", 2000), due)
        return ("已督办", "Supervision issued.")
    return await _act(request, "supervision", fn)


async def do_respond(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        oid = _str(form, "order_id", 12)
        await supervision.respond(s, c, actor, case, parse_id(oid) or -1, _str(form, "response"))
        return ("已回复", "Answered.")
    return await _act(request, "supervision", fn)


async def do_consult(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        expert = _str(form, "expert", 64)
        target = (await _ids(s, [expert]))[0] if expert else None
        specialty = _str(form, "specialty", 32)
        if target is not None:
            # A named expert is asked in their own field when the chosen one is not theirs.
            st = await s.get(Staff, target)
            if st is not None and st.specialties and specialty not in st.specialties:
                specialty = st.specialties[0]
        hours = _str(form, "grant_hours", 4)
        await consultations.request(s, c, actor, case, specialty, _str(form, "question", 2000),
                                    target, _int_or(parse_int(hours, 0, MAX_ID), consultations.DEFAULT_HOURS))
        return ("已发出远程指导请求", "Consultation requested.")
    return await _act(request, "consultations", fn)


async def do_opinion(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        cid = _str(form, "consultation_id", 12)
        await consultations.give_opinion(s, c, actor, case, parse_id(cid) or -1,
                                         _str(form, "opinion", 10000))
        return ("专家意见已提交", "Opinion recorded.")
    return await _act(request, "consultations", fn)


async def do_session(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        await case_sessions.schedule_mediation(s, c, actor, case, _str(form, "title", 200), _when(form, "scheduled_at"))
        return ("已安排视频调解", "Session scheduled.")
    return await _act(request, "sessions", fn)


async def do_joint(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        sid = _str(form, "session_id", 12)
        await case_sessions.joint_override(s, c, actor, case, parse_id(sid) or -1,
                                           _str(form, "reason", 1000))
        return ("已授权同室调解", "Override recorded.")
    return await _act(request, "sessions", fn)


async def do_dv(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        issued = _when(form, "issued_at") or c.now
        await dv.record_response(s, c, actor, case, _str(form, "stage", 32), _str(form, "authority", 100), issued,
                                 _str(form, "reference", 64), _str(form, "notes", 2000))
        return ("已记录处置措施", "Response recorded.")
    return await _act(request, "dv", fn)


async def do_named(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        add = await _ids(s, [_str(form, "add", 64)]) if _str(form, "add", 64) else []
        remove = await _ids(s, [_str(form, "remove", 64)]) if _str(form, "remove", 64) else []
        await service.set_named(s, c, actor, case, add, remove)
        return ("已更新授权人员", "Named staff updated.")
    return await _act(request, "access", fn)


async def do_petition(request: web.Request) -> web.StreamResponse:
    async def fn(s: Any, c: Ctx, actor: Actor, case: Case, form: Form) -> tuple[str, str]:
        step = _str(form, "step", 16)
        if step == "hearing":
            panel = [v for v in form.getall("panel", []) if isinstance(v, str)]
            at = _when(form, "scheduled_at")
            if at is None:
                raise CaseError("give the hearing time", "missing_field", zh="请填写听证时间。")
            await petitions.schedule_hearing(s, c, actor, case, await _ids(s, panel), at, _str(form, "title", 200))
        elif step == "outcome":
            await petitions.record_outcome(s, c, actor, case, _str(form, "outcome"), _when(form, "reply_due_at"))
        elif step == "reply":
            await petitions.record_reply(s, c, actor, case, _str(form, "reply"))
        else:
            raise CaseError("unknown step", "invalid_field", zh="没有这个步骤。")
        return ("已记录", "Recorded.")
    return await _act(request, "petition", fn)


# ---- notification centre, notices, consultations inbox -----------------------------------------------------

async def notifications_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.session() as s:
        rows, unread = await notifications.inbox(s, actor.id, limit=100)
    lang = language(request)
    items = [{**notifications.notification_json(n), "label": event_label(n.kind, lang),
              "shown_title": notification_title(n.kind, n.title, lang)} for n in rows]
    return await _page(request, "cases/notifications.html", {"items": items, "unread": unread})


async def notifications_read(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    nid = _str(form, "id", 12)
    async with services(request).db.session() as s:
        one = [parse_id(nid) or -1] if nid.isascii() and nid.isdigit() else None  # no id: all of them
        await notifications.mark_read(s, actor.id, one, ctx(request).now)
    raise web.HTTPSeeOther("/notifications")


async def notices_page(request: web.Request, error: str | None = None, status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.session() as s:
        items = await notices.board(s, actor, limit=100, now=now_of(request))
        choices = await pick_list(s, actor, ctx(request).now) if can_issue_notice(actor) else []
    return await _page(request, "cases/notices.html", {"items": items, "kinds": notices.KINDS, "error": error,
                                                       "can_issue": can_issue_notice(actor),
                                                       "case_choices": choices}, status=status)


async def notices_post(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    c = ctx(request)
    try:
        async with services(request).db.session() as s:
            await notices.publish(s, c, actor, _str(form, "kind", 16), _str(form, "title", 200),
                                  _str(form, "body", 10000), _str(form, "case", 32) or None)
    except CaseError as e:
        return await notices_page(request, error=e.localized(language(request)), status=http_status(e))
    raise web.HTTPSeeOther("/notices")


async def consultations_page(request: web.Request, error: str | None = None) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.session() as s:
        rows = await consultations.inbox(s, actor, now_of(request))
    items = [{**present.consultation_json(cons), "case_code": case.code, "case_title": case.title,
              "unit_name": unit.name, "item": case.item, "category": case.category} for cons, case, unit in rows]
    return await _page(request, "cases/consultations.html", {"items": items, "error": error,
                                                             "is_expert": actor.role == Role.EXPERT})


async def consultation_answer(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    cid = _str(form, "id", 12)
    c = ctx(request)
    try:
        async with services(request).db.session() as s:
            if _str(form, "decision", 8) == "decline":
                await consultations.decline(s, c, actor, parse_id(cid) or -1, _str(form, "reason", 1000))
                raise web.HTTPSeeOther("/consultations")
            cons = await consultations.accept(s, c, actor, parse_id(cid) or -1, _when(form, "scheduled_at"))
            case = await s.get(Case, cons.case_id)
            code = case.code if case else ""
    except CaseError as e:
        return await consultations_page(request, error=e.localized(language(request)))
    raise web.HTTPSeeOther(f"/cases/{code}#consultations")


async def unread_badge(request: web.Request, actor: Actor | None) -> dict[str, Any]:
    """The bell's count on every page; a page never fails because of it."""
    if actor is None:
        return {}
    try:
        async with services(request).db.read() as s:
            return {"unread_notifications": await notifications.unread_count(s, actor.id)}
    except (SQLAlchemyError, OSError):
        log.warning("unread notification count unavailable", exc_info=True)
        return {}


def setup(app: web.Application) -> None:
    services(app).page_extras.append(unread_badge)
    r = app.router
    r.add_get("/cases", case_list, name="cases")
    r.add_get("/cases/export.csv", case_export)
    r.add_get("/cases/export.xlsx", case_export_xlsx)
    r.add_get("/cases/new", case_new)
    r.add_post("/cases/new", case_create)
    r.add_get("/cases/{code}", case_page, name="case")
    r.add_get("/cases/{code}/qr.svg", case_qr)
    r.add_get("/cases/{code}/parties/{party_id}/copy", party_copy)
    for path, handler in [("transition", do_transition), ("edit", do_edit), ("upload", do_upload),
                          ("follow-up", do_follow_up), ("obligation", do_obligation), ("supervise", do_supervise),
                          ("respond", do_respond), ("consult", do_consult), ("opinion", do_opinion),
                          ("session", do_session), ("joint", do_joint), ("dv", do_dv), ("named", do_named),
                          ("petition", do_petition)]:
        r.add_post(f"/cases/{{code}}/{path}", handler)
    r.add_get("/notifications", notifications_page, name="notifications")
    r.add_post("/notifications/read", notifications_read)
    r.add_get("/notices", notices_page, name="notices")
    r.add_post("/notices", notices_post)
    r.add_get("/consultations", consultations_page, name="consultations")
    r.add_post("/consultations/answer", consultation_answer)

