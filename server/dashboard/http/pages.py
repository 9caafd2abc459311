"""The dashboard page (驾驶舱): ``GET /dashboard?unit=CODE``, server-rendered SVG charts, printable."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from server.dashboard import present, svg
from server.dashboard.http.scope import dashboard_data, scope
from server.directory.labels import TIER_LABELS
from server.pages.render import language, render, require_login
from server.services import services

GRADE_COLORS = {"red": "#dc2626", "orange": "#ea580c", "yellow": "#eab308", "blue": "#2563eb", "green": "#16a34a"}
OPEN_COLOR, DONE_COLOR, OVERDUE_COLOR = "#d97706", "#16a34a", "#dc2626"


def charts(data: dict[str, Any], lang: str) -> dict[str, Markup]:
    en = lang == "en"

    def tr(zh: str, e: str) -> str:
        return e if en else zh

    def lab(row: dict[str, Any]) -> str:
        return row["en"] if en else row["zh"]

    cat = data["by_category"]
    grade = data["by_grade"]
    status = data["by_status"]
    tiers = data["by_tier"]
    weeks = data["trend"]
    ev = data["evaluation"]
    out = {
        "category": svg.stacked_bar_chart(
            [lab(x) for x in cat],
            [svg.Series(tr("在办", "Open"), [x["handling"] for x in cat], OPEN_COLOR),
             svg.Series(tr("已办结", "Finished"), [x["cases"] - x["handling"] for x in cat], DONE_COLOR)],
            title=tr("按类别统计", "Cases by category"), empty=tr("暂无案件", "No cases")),
        "grade": svg.bar_chart(
            [lab(x) for x in grade], [x["cases"] for x in grade], colors=[GRADE_COLORS.get(x["code"], "#6b7280")
                                                                           for x in grade],
            title=tr("按等级统计", "Cases by grade"), empty=tr("暂无案件", "No cases")),
        "status": svg.bar_chart(
            [lab(x) for x in status], [x["cases"] for x in status], horizontal=True, width=720,
            title=tr("按状态统计", "Cases by status"), empty=tr("暂无案件", "No cases")),
        "trend": svg.line_chart(
            [w["week"][5:] for w in weeks],
            [svg.Series(tr("新增", "Opened"), [w["opened"] for w in weeks], "#2563eb"),
             svg.Series(tr("化解", "Resolved"), [w["resolved"] for w in weeks], "#16a34a")],
            title=tr("近12周新增与化解", "Opened and resolved, last 12 weeks"), empty=tr("近12周无数据", "No data")),
        "tier": svg.stacked_bar_chart(
            [TIER_LABELS[t["tier"]][1 if en else 0] for t in tiers],
            [svg.Series(tr("超期", "Overdue"), [t["overdue"] for t in tiers], OVERDUE_COLOR),
             svg.Series(tr("在办未超期", "Open, on time"), [t["handling"] - t["overdue"] for t in tiers], OPEN_COLOR),
             svg.Series(tr("已办结", "Finished"), [t["cases"] - t["handling"] for t in tiers], DONE_COLOR)],
            title=tr("按层级统计", "Cases by tier"), empty=tr("暂无案件", "No cases")),
        "evaluation": svg.bar_chart(
            [x["name"] for x in ev if x["resolution_rate"] is not None],
            [round(x["resolution_rate"] * 100, 1) for x in ev if x["resolution_rate"] is not None],
            title=tr("各单位化解率(%)", "Resolution rate by unit (%)"), horizontal=True, width=720,
            empty=tr("暂无已结案件", "No concluded cases")),
    }
    return {k: Markup(v) for k, v in out.items()}


def unit_choices(request: web.Request, actor_path: str) -> list[dict[str, Any]]:
    rows = services(request).units_cache.rows
    base = actor_path.count("/")
    return [{"code": x["json"]["code"], "name": x["json"]["name"], "depth": x["path"].count("/") - base}
            for x in rows if x["path"].startswith(actor_path)]


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    sc = await scope(request)
    lang = language(request)
    data = await dashboard_data(request, sc)
    q = {"unit": sc.unit.code, "lang": lang}
    return await render(request, "dashboard.html", {
        "data": data, "unit": sc.unit, "charts": charts(data, lang), "tables": {t.name: t for t in
                                                                                 present.tables(data, lang)},
        "units": unit_choices(request, actor.unit_path), "children": sc.children,
        "export": {
            "xlsx": "/api/dashboard.xlsx?" + urlencode(q),
            "evaluation_xlsx": "/api/evaluation.xlsx?" + urlencode(q),
            "evaluation_csv": "/api/evaluation.csv?" + urlencode(q),
            "csv": {name: "/api/dashboard.csv?" + urlencode({**q, "table": name}) for name in
                    ("by_category", "by_grade", "by_status", "by_tier", "trend", "overdue")},
        },
        "pct": present.percent, "days": present.days, "as_of_local": present.local_time(data["as_of"]),
    })


def setup(app: web.Application) -> None:
    app.router.add_get("/dashboard", dashboard_page, name="dashboard")
