"""Case files as JSON: list, filter, paginate, register, detail, edit, transitions, log, named staff.

Handlers parse and check input, call ``server.cases`` and map its errors to the API's error shape.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy import select

from server import ledger
from server.api import registry as r
from server.auth import require_actor
from server.cases import catalog, documents, followups, overdue, present, service
from server.cases.errors import CaseError
from server.cases.followups import follow_up_from, record_follow_up
from server.cases.http.context import ctx
from server.cases.http.forms import case_filter, draft_from, staff_ids
from server.cases.queries import facts, get_visible, page
from server.cases.workflow import Action, State
from server.directory.models import Unit
from server.errors import ApiError, bad_request, field, read_json
from server.http import http_status, path_id, query_int
from server.services import services

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Every case route refuses query parameters it does not document.
route = functools.partial(r.route, strict_query=True)


def req(required: list[str] | None = None, **props: dict[str, Any]) -> dict[str, Any]:
    """A request body schema. Optional fields may be null: the API reads null as "not given"."""
    out = r.obj(required, **{k: v if k in (required or []) or "$ref" in v else {**v, "nullable": True}
                             for k, v in props.items()})
    return out

CODE = r.string(pattern=r"^\d{6}-\d{4}-\d{6}$", example="340321-2026-000001")
NULL_STR = {"type": "string", "nullable": True}
UNIT_BRIEF = r.obj(["code", "name", "tier"], code=r.string(), name=r.string(), tier=r.string())
CASE_SUMMARY = r.schema("CaseSummary", r.obj(
    ["id", "code", "kind", "source", "title", "status", "unit", "version"],
    id=r.integer(), code=CODE, kind=r.string(enum=[str(k) for k in catalog.Kind]),
    source=r.string(enum=[str(k) for k in catalog.Source]), category=NULL_STR, item=NULL_STR, title=r.string(),
    status=r.string(enum=[str(x) for x in State]), grade=NULL_STR, risk_grade=NULL_STR,
    domestic_violence={"type": "boolean"}, unit=UNIT_BRIEF, created_at=r.string(format="date-time"),
    due_at=NULL_STR, overdue={"type": "boolean"}, outcome=NULL_STR, version=r.integer(), updated_at=r.string(),
))
CASE_DETAIL = r.schema("CaseDetail", {
    "allOf": [CASE_SUMMARY, r.obj(
        ["parties", "assignees", "actions"],
        summary=r.string(), parties=r.array(r.ref("CaseParty")), assignees=r.array({"type": "object"}),
        actions=r.array(r.string()), documents=r.array({"type": "object"}), sessions=r.array({"type": "object"}),
        supervision=r.array({"type": "object"}), follow_ups=r.array({"type": "object"}),
        obligations=r.array({"type": "object"}), consultations=r.array({"type": "object"}),
        transfers=r.array({"type": "object"}), can={"type": "object"},
    )],
})
PARTY_IN = r.schema("CasePartyInput", req(
    ["role", "name"],
    role=r.string(enum=[str(x) for x in catalog.PartyRole]), name=r.string(minLength=1, maxLength=100),
    id_number=r.string(maxLength=18), phone=r.string(maxLength=20), address=r.string(maxLength=200),
    phone_confidential={"type": "boolean"}, address_confidential={"type": "boolean"},
))
r.schema("CaseParty", r.obj(
    ["id", "role", "side", "name"], id=r.integer(), role=r.string(), side=r.string(), name=r.string(),
    id_number=NULL_STR, phone=NULL_STR, address=NULL_STR, phone_confidential={"type": "boolean"},
    address_confidential={"type": "boolean"},
))
CASE_CREATE = req(
    ["unit", "title"],
    unit=r.string(maxLength=32, description="owning unit code"), title=r.string(minLength=1, maxLength=200),
    summary=r.string(maxLength=5000), source=r.string(enum=[str(x) for x in catalog.Source]),
    kind=r.string(enum=[str(x) for x in catalog.Kind]), category=r.string(maxLength=32), item=r.string(maxLength=32),
    grade=r.string(enum=[str(g) for g in catalog.RISK_GRADES]), domestic_violence={"type": "boolean"},
    parties=r.array(PARTY_IN), named_staff=r.array(r.string(maxLength=64)),
)
CASE_EDIT = req(
    ["version"], version=r.integer(), title=r.string(maxLength=200), summary=r.string(maxLength=5000),
    category=r.string(maxLength=32), item=r.string(maxLength=32),
    grade=r.string(enum=[str(g) for g in catalog.RISK_GRADES]), source=r.string(enum=[str(x) for x in catalog.Source]),
    domestic_violence={"type": "boolean"}, parties=r.array(PARTY_IN),
)
TRANSITION = req(
    ["action"], action=r.string(enum=[str(a) for a in Action]), version=r.integer(),
    reason=r.string(maxLength=2000), unit=r.string(maxLength=32, description="target unit code"),
    assignees=r.array(r.string(maxLength=64)), category=r.string(maxLength=32), item=r.string(maxLength=32),
    grade=r.string(enum=[str(g) for g in catalog.RISK_GRADES]), domestic_violence={"type": "boolean"},
    agreement_id=r.integer(),
)
EVENT = r.schema("LedgerEvent", r.obj(
    ["seq", "type", "at", "data", "prev_hash", "hash"], seq=r.integer(), type=r.string(), at=r.string(),
    data={}, prev_hash=r.string(), hash=r.string(),
))
CODE_PARAM = r.path_param("code", CODE)


def domain(fn: Handler) -> Handler:
    """Map case-domain errors onto API errors."""

    @functools.wraps(fn)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except CaseError as e:
            raise ApiError(http_status(e), e.code, e.message) from e

    return wrapper


def path_int(request: web.Request, name: str) -> int:
    """An id from the path; anything else (or out of the database's range) is simply not found."""
    return path_id(request, name)


STATES_RE = "|".join(State)
LIST_PARAMS = [
    r.query("status", r.string(pattern=f"^({STATES_RE})(,({STATES_RE}))*$"), "comma-separated states"),
    r.query("category"), r.query("item"), r.query("grade"), r.query("kind"), r.query("source"),
    r.query("unit", r.string(minLength=1, maxLength=32), "unit code: its subtree"),
    r.query("overdue", r.string(enum=["1", "0", "true", "false"])),
    r.query("mine", r.string(enum=["1", "0", "true", "false"]), "only cases assigned to me"),
    r.query("q", description="title or code contains"),
    r.query("from", r.string(format="date"), "registered on or after"),
    r.query("to", r.string(format="date"), "registered on or before"),
    r.query("page", r.integer(minimum=1, maximum=100_000)), r.query("per_page", r.integer(minimum=1, maximum=200)),
]


@route("GET", "/api/case-catalog", summary="Sources, kinds, categories and items, grades", tag="cases",
         response={"type": "object"})
async def case_catalog(request: web.Request) -> web.Response:
    await require_actor(request)
    return web.json_response(catalog.catalog_json())


@route("GET", "/api/cases", summary="Cases the caller may see, filtered and paginated", tag="cases",
         params=LIST_PARAMS, errors=(404,),
         response=r.obj(["cases", "total", "page", "per_page"], cases=r.array(CASE_SUMMARY), total=r.integer(),
                        page=r.integer(), per_page=r.integer()))
@domain
async def list_cases(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    f = await case_filter(request, actor)
    page_no = query_int(request, "page", 1, 1, 100_000)
    per_page = query_int(request, "per_page", 20, 1, 200)
    c = ctx(request)
    async with services(request).db.session() as s:
        rows, total = await page(s, actor, f, c.now, page_no, per_page)
        units = {u.id: u for u in (await s.execute(select(Unit).where(
            Unit.id.in_({case.unit_id for case, _ in rows} or {-1})))).scalars()}
    return web.json_response({"cases": [present.summary(case, units.get(case.unit_id), c.now) for case, _ in rows],
                              "total": total, "page": page_no, "per_page": per_page})


@route("POST", "/api/cases", summary="Register a case (state registered)", tag="cases", status=201,
         request=CASE_CREATE, response=CASE_DETAIL, errors=(403,))
@domain
async def create_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    draft = draft_from(body)
    c = ctx(request)
    async with services(request).db.session() as s:
        draft.named_staff = await staff_ids(s, body.get("named_staff"), "named_staff")
        case = await service.register(s, c, actor, draft)
        out = await present.detail(s, case, actor, await facts(s, case, c.now), c.now)
    return web.json_response(out, status=201)


@route("GET", "/api/cases/{code}", summary="One case with parties, assignees, documents and work",
         tag="cases", params=[CODE_PARAM], response=CASE_DETAIL, errors=(404,))
@domain
async def get_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now)
        out = await present.detail(s, case, actor, await facts(s, case, c.now), c.now)
    return web.json_response(out)


@route("PATCH", "/api/cases/{code}", summary="Edit a case (optimistic locking on version)", tag="cases",
         params=[CODE_PARAM], request=CASE_EDIT, response=CASE_DETAIL, errors=(403, 404, 409))
@domain
async def edit_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = {k: v for k, v in (await read_json(request)).items() if v is not None}
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        version = body.pop("version", None)
        await service.edit(s, c, actor, case, body, version)
        out = await present.detail(s, case, actor, await facts(s, case, c.now), c.now)
    return web.json_response(out)


@route("POST", "/api/cases/{code}/transitions", summary="Take a workflow action on a case", tag="cases",
         params=[CODE_PARAM], request=TRANSITION, response=CASE_DETAIL, errors=(403, 404, 409))
@domain
async def transition_case(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    action = field(body, "action", max_len=32)
    version = field(body, "version", int, required=False)
    params: dict[str, Any] = {}
    for name in ("reason",):
        params[name] = field(body, name, required=False, max_len=2000)
    for name in ("unit", "category", "item", "grade"):
        params[name] = field(body, name, required=False, max_len=32)
    if body.get("domestic_violence") is not None:
        params["domestic_violence"] = field(body, "domestic_violence", bool)
    if body.get("agreement_id") is not None:
        params["agreement_id"] = field(body, "agreement_id", int)
    c = ctx(request)
    async with services(request).db.session() as s:
        if body.get("assignees") is not None:
            params["assignees"] = await staff_ids(s, body["assignees"], "assignees")
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        await service.transition(s, c, actor, case, action, {k: v for k, v in params.items() if v is not None},
                                 version)
        out = await present.detail(s, case, actor, await facts(s, case, c.now), c.now)
    return web.json_response(out)


@route("GET", "/api/cases/{code}/log", summary="The case's hash-chained event log (its timeline)",
         tag="cases", params=[CODE_PARAM], errors=(404,),
         response=r.obj(["events"], events=r.array(EVENT), verified={"type": "boolean"}))
@domain
async def case_log(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now)
        events = await present.timeline(s, case)
        ok = (await service.verify_case_chain(s, case)).ok
    return web.json_response({"events": events, "verified": ok, "chain": ledger.case_chain(case.id)})


@route("POST", "/api/cases/{code}/named-staff", summary="Add or remove named staff of a restricted case",
         tag="cases", params=[CODE_PARAM], errors=(403, 404, 409),
         request=req(None, add=r.array(r.string(maxLength=64)), remove=r.array(r.string(maxLength=64))),
         response=r.obj(["named"], named=r.array(r.integer())))
@domain
async def named_staff(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    c = ctx(request)
    async with services(request).db.session() as s:
        add = await staff_ids(s, body.get("add"), "add")
        remove = await staff_ids(s, body.get("remove"), "remove")
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        named = await service.set_named(s, c, actor, case, add, remove)
    return web.json_response({"named": named})


FOLLOW_UP = req(
    ["method", "satisfaction", "recurrence_risk"],
    method=r.string(enum=list(catalog.FOLLOW_UP_METHODS)), satisfaction=r.integer(minimum=1, maximum=5),
    recurrence_risk=r.string(enum=list(catalog.RECURRENCE_RISKS)), notes=r.string(maxLength=5000),
    performance=r.array(r.obj(["obligation_id", "status"], obligation_id=r.integer(),
                              status=r.string(enum=list(catalog.PERFORMANCE)), note=r.string(maxLength=500))),
)
OBLIGATION = req(["obligor", "content"], obligor=r.string(maxLength=100), obligee=r.string(maxLength=100),
                   content=r.string(maxLength=2000), due_at=r.string(format="date-time"))


@route("POST", "/api/cases/{code}/follow-ups", summary="Record a follow-up visit (回访)", tag="cases",
         params=[CODE_PARAM], request=FOLLOW_UP, status=201, errors=(403, 404, 409),
         response=r.obj(["id"], id=r.integer(), satisfaction=r.integer()))
@domain
async def add_follow_up(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    draft = follow_up_from(await read_json(request))
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        fu = await record_follow_up(s, c, actor, case, draft)
    return web.json_response({"id": fu.id, "satisfaction": fu.satisfaction}, status=201)


@route("POST", "/api/cases/{code}/obligations", summary="Record agreement obligations to follow up",
         tag="cases", params=[CODE_PARAM], status=201, errors=(403, 404, 409),
         request=req(["obligations"], obligations=r.array(OBLIGATION), agreement_id=r.integer()),
         response=r.obj(["obligations"], obligations=r.array({"type": "object"})))
@domain
async def add_obligations(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    body = await read_json(request)
    items = body.get("obligations")
    if not isinstance(items, list):
        raise bad_request("obligations must be a list", "invalid_field", field="obligations")
    drafts = [followups.obligation_from(x) for x in items]
    agreement_id = field(body, "agreement_id", int, required=False)
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        rows = await followups.add_obligations(s, c, actor, case, drafts, agreement_id)
        out = [present.obligation_json(o, c.now) for o in rows]
    return web.json_response({"obligations": out}, status=201)


@route("POST", "/api/cases/{code}/documents", summary="Upload evidence (photo or PDF, multipart field 'file')",
         tag="cases", params=[CODE_PARAM], status=201, errors=(400, 403, 404, 413, 415, 422),
         response=r.obj(["id", "sha256"], id=r.integer(), sha256=r.string(), filename=r.string(),
                        content_type=r.string(), bytes=r.integer(), url=r.string()))
@domain
async def upload_document(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data (field 'file')")
    if request.content_length is not None and request.content_length > documents.MAX_BYTES + 64 * 1024:
        raise ApiError(413, "too_large", f"files are limited to {documents.MAX_BYTES // (1024 * 1024)} MB")
    fields: dict[str, str] = {}
    data: bytes | None = None
    filename: str | None = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart/* part: not a field of this form
            if part.name == "file" and data is None:
                filename = part.filename
                buf = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    buf.extend(chunk)
                    if len(buf) > documents.MAX_BYTES:
                        raise ApiError(413, "too_large",
                                       f"files are limited to {documents.MAX_BYTES // (1024 * 1024)} MB")
                data = bytes(buf)
            elif part.name in ("kind", "description", "csrf_token"):
                fields[part.name] = (await part.read(decode=True))[:2000].decode("utf-8", "replace")
    except ApiError:
        raise
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError, LookupError) as e:
        raise bad_request("malformed multipart body", "invalid_multipart") from e
    if data is None:
        raise bad_request("no file: send it in the multipart field 'file'", "missing_field", field="file")
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now, lock=True)
        doc = await documents.add_document(s, c, actor, case, services(request).config.data_dir, filename=filename,
                                           data=data, kind=fields.get("kind") or "evidence",
                                           description=fields.get("description", ""))
        out = present.document_json(case, doc)
    return web.json_response(out, status=201)


@route("GET", "/api/cases/{code}/documents/{doc_id}", summary="Download one document", tag="cases",
         params=[CODE_PARAM, r.path_param("doc_id")], errors=(404,),
         response={"type": "string", "format": "binary"}, response_content_type="application/octet-stream")
@domain
async def download_document(request: web.Request) -> web.StreamResponse:
    from urllib.parse import quote

    actor = await require_actor(request)
    doc_id = path_int(request, "doc_id")
    c = ctx(request)
    async with services(request).db.session() as s:
        case = await get_visible(s, actor, request.match_info["code"], c.now)
        doc, path = await documents.get_document(s, case, doc_id, services(request).config.data_dir)
    resp = web.FileResponse(path, headers={
        "Content-Type": doc.content_type,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })
    return resp


def setup(app: web.Application) -> None:
    if services(app).config.schedulers:
        app.cleanup_ctx.append(_deadline_watch)


async def _deadline_watch(app: web.Application):  # type: ignore[no-untyped-def]
    """The overdue/deadline scanner runs inside the server (config.schedulers), on the app's clock."""
    import asyncio

    stop = asyncio.Event()
    task = asyncio.create_task(overdue.run(services(app).db, services(app).clock.now, services(app).config.secret_key,
                                           services(app).cases_scan_interval_s, stop))
    yield
    stop.set()
    await task
