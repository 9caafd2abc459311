"""The dashboard and the evaluation table as JSON, CSV and Excel (``/api/dashboard*``, ``/api/evaluation*``).

Handlers parse ``unit`` (a unit code; default the caller's own unit), check ``access.may`` on the unit's figures,
read the figures (``server.dashboard.queries``) and shape them (``server.dashboard.present``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import tables
from server.api import registry as r
from server.dashboard import present
from server.dashboard.http.scope import UNIT_CODE, dashboard_data, scope
from server.errors import bad_request
from server.pages.render import attachment, language

TABLE_NAMES = ["by_category", "by_grade", "by_status", "by_tier", "trend", "overdue", "evaluation"]

UNIT_Q = r.query("unit", r.string(pattern=UNIT_CODE.pattern, maxLength=12),
                 "unit code: the figures of this unit and everything below it (default: your own unit)")
LANG_Q = r.query("lang", r.string(enum=["zh-CN", "en"]), "language of labels and headers")
TABLE_Q = {**r.query("table", r.string(enum=TABLE_NAMES), "which table"), "required": True}

NUM = {"type": "number", "nullable": True}
MEASURES = {
    "cases": r.integer(), "handling": r.integer(), "overdue": r.integer(), "resolved": r.integer(),
    "failed": r.integer(), "resolution_rate": NUM, "on_time_rate": NUM, "avg_days_to_close": NUM,
    "satisfaction": NUM, "rated": r.integer(),
}
UNIT_REF = r.obj(["code", "name", "tier"], code=r.string(), name=r.string(), tier=r.string())
EVAL_ROW = r.schema("EvaluationRow", r.obj(["unit", "name", "tier", "cases"], unit=r.string(), name=r.string(),
                                           tier=r.string(), own={"type": "boolean"}, **MEASURES))
COUNT_ROW = r.obj(["code", "cases"], code=r.string(), zh=r.string(), en=r.string(), cases=r.integer(),
                  handling=r.integer())
DASHBOARD = r.schema("Dashboard", r.obj(
    ["unit", "as_of", "totals", "by_category", "by_grade", "by_status", "by_tier", "overdue", "trend",
     "evaluation", "restricted"],
    unit=UNIT_REF, as_of=r.string(format="date-time"), totals=r.obj(None, **MEASURES),
    by_category=r.array(COUNT_ROW), by_grade=r.array(COUNT_ROW), by_status=r.array(COUNT_ROW),
    by_tier=r.array(r.obj(["tier"], tier=r.string(), **MEASURES)),
    overdue=r.obj(["total", "cases"], total=r.integer(), cases=r.array(r.obj(
        ["code", "title"], code=r.string(), title=r.string(), unit=r.string(), grade={"type": "string", "nullable": True},
        status=r.string(), due_at={"type": "string", "nullable": True}, days_overdue=NUM))),
    trend=r.array(r.obj(["week", "opened", "resolved"], week=r.string(format="date"), opened=r.integer(),
                        resolved=r.integer())),
    evaluation=r.array(EVAL_ROW),
    restricted=r.obj(["hidden", "suppressed"], hidden={"type": "integer", "nullable": True},
                     suppressed={"type": "boolean"}, suppress_below=r.integer()),
))
EVALUATION = r.obj(["unit", "as_of", "rows", "total"], unit=UNIT_REF, as_of=r.string(format="date-time"),
                   rows=r.array(EVAL_ROW), total=r.obj(None, **MEASURES))


def export_language(request: web.Request) -> str:
    raw = request.query.get("lang")
    if raw is not None and raw not in ("zh-CN", "en"):
        raise bad_request("lang must be zh-CN or en", "invalid_lang", field="lang")
    return language(request)


def _stamp(data: dict[str, Any]) -> str:
    return data["as_of"][:10].replace("-", "")


def about(data: dict[str, Any], lang: str) -> list[tuple[str, Any]]:
    en = lang == "en"
    hidden = data["restricted"]["hidden"]
    return [
        ("Unit" if en else "单位", f"{data['unit']['name']} ({data['unit']['code']})"),
        ("As of (UTC)" if en else "统计时间(UTC)", data["as_of"]),
        ("Cases" if en else "案件总数", data["totals"]["cases"]),
        ("Restricted cases not included" if en else "未计入的受限案件",
         ("fewer than 5" if en else "少于5件") if hidden is None else hidden),
    ]


@r.route("GET", "/api/dashboard", summary="Dashboard figures of a unit and its subtree", tag="dashboard",
         params=[UNIT_Q], response=DASHBOARD, errors=(403, 404), strict_query=True)
async def get_dashboard(request: web.Request) -> web.Response:
    sc = await scope(request)
    return web.json_response(await dashboard_data(request, sc))


@r.route("GET", "/api/evaluation", summary="Evaluation table (考核) of a unit's direct sub-units", tag="dashboard",
         params=[UNIT_Q], response=EVALUATION, errors=(403, 404), strict_query=True)
async def get_evaluation(request: web.Request) -> web.Response:
    sc = await scope(request)
    data = await dashboard_data(request, sc)
    return web.json_response({"unit": data["unit"], "as_of": data["as_of"], "rows": data["evaluation"],
                              "total": data["totals"]})


@r.route("GET", "/api/dashboard.csv", summary="One dashboard table as CSV", tag="dashboard",
         params=[UNIT_Q, TABLE_Q, LANG_Q], response=r.string(), response_content_type="text/csv",
         errors=(403, 404), strict_query=True)
async def dashboard_csv(request: web.Request) -> web.Response:
    name = request.query.get("table")
    if name not in TABLE_NAMES:
        raise bad_request(f"table must be one of: {', '.join(TABLE_NAMES)}", "invalid_table", field="table")
    sc = await scope(request)
    lang = export_language(request)
    data = await dashboard_data(request, sc)
    table = next(t for t in present.tables(data, lang) if t.name == name)
    return attachment(tables.csv_bytes(table, lang), "text/csv",
                 f"dashboard-{sc.unit.code}-{name}-{_stamp(data)}.csv")


@r.route("GET", "/api/dashboard.xlsx", summary="Every dashboard table as an Excel workbook", tag="dashboard",
         params=[UNIT_Q, LANG_Q], response=r.string(format="binary"), response_content_type=tables.XLSX,
         errors=(403, 404), strict_query=True)
async def dashboard_xlsx(request: web.Request) -> web.Response:
    sc = await scope(request)
    lang = export_language(request)
    data = await dashboard_data(request, sc)
    body = tables.xlsx_bytes(present.tables(data, lang), lang, about(data, lang))
    return attachment(body, tables.XLSX, f"dashboard-{sc.unit.code}-{_stamp(data)}.xlsx")


@r.route("GET", "/api/evaluation.csv", summary="The evaluation table as CSV", tag="dashboard",
         params=[UNIT_Q, LANG_Q], response=r.string(), response_content_type="text/csv",
         errors=(403, 404), strict_query=True)
async def evaluation_csv(request: web.Request) -> web.Response:
    sc = await scope(request)
    lang = export_language(request)
    data = await dashboard_data(request, sc)
    return attachment(tables.csv_bytes(present.evaluation_table(data, lang), lang), "text/csv",
                 f"evaluation-{sc.unit.code}-{_stamp(data)}.csv")


@r.route("GET", "/api/evaluation.xlsx", summary="The evaluation table as an Excel workbook", tag="dashboard",
         params=[UNIT_Q, LANG_Q], response=r.string(format="binary"), response_content_type=tables.XLSX,
         errors=(403, 404), strict_query=True)
async def evaluation_xlsx(request: web.Request) -> web.Response:
    sc = await scope(request)
    lang = export_language(request)
    data = await dashboard_data(request, sc)
    body = tables.xlsx_bytes([present.evaluation_table(data, lang)], lang, about(data, lang))
    return attachment(body, tables.XLSX, f"evaluation-{sc.unit.code}-{_stamp(data)}.xlsx")


def setup(app: web.Application) -> None:
    """Nothing to add: the routes are registered by the decorators above (server.api.registry); the clock
    is the app's (server.services), which tests set to a fixed time."""
