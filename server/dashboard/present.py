"""Figures as JSON and as tables (the same tables feed the page, the CSV and the Excel export).

Plain Python. Rates are fractions in JSON (0.6667) and percentages with one decimal in tables (66.7),
so a printed or exported table reads naturally and parses back to the JSON figure rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.cases import catalog
from server.cases.workflow import STATE_LABELS, State
from server.clock import BEIJING
from server.dashboard.figures import Figures, Measures, suppress
from server.directory.labels import TIER_LABELS
from server.directory.tiers import TIER_ORDER
from server.ledger import format_time
from server.tables import Table

UNSET = ("未分类", "Unclassified")
UNGRADED = ("未定级", "Not graded")
CATEGORY_LABELS = {code: (cat.zh, cat.en) for code, (cat, _items) in catalog.CATEGORIES.items()}
GRADE_LABELS = {g.code: (g.zh, g.en) for g in catalog.GRADES}
STATUS_LABELS = {str(k): v for k, v in STATE_LABELS.items()}
CATEGORY_ORDER = list(catalog.CATEGORIES)
GRADE_ORDER = [str(g.code) for g in catalog.GRADES]
STATUS_ORDER = [str(s) for s in State]


def rate(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def days(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def measures_json(m: Measures) -> dict[str, Any]:
    return {
        "cases": m.n, "handling": m.handling, "overdue": m.overdue, "resolved": m.resolved, "failed": m.failed,
        "resolution_rate": rate(m.resolution_rate), "on_time_rate": rate(m.on_time_rate),
        "avg_days_to_close": rate(m.avg_days_to_close, 2), "satisfaction": rate(m.satisfaction, 2),
        "rated": m.rated,
    }


def _ordered(counts: dict[str, Measures], order: list[str]) -> list[tuple[str, Measures]]:
    rank = {code: i for i, code in enumerate(order)}
    return sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(order)), kv[0]))


def _label(labels: dict[str, tuple[str, str]], code: str, unset: tuple[str, str]) -> tuple[str, str]:
    return labels.get(code, unset if code == "" else (code, code))


@dataclass
class UnitInfo:
    code: str
    name: str
    tier: str
    path: str


def breakdown(fig: Figures) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, counts, labels, order, unset in (
        ("by_category", fig.by_category, CATEGORY_LABELS, CATEGORY_ORDER, UNSET),
        ("by_grade", fig.by_grade, GRADE_LABELS, GRADE_ORDER, UNGRADED),
        ("by_status", fig.by_status, STATUS_LABELS, STATUS_ORDER, UNSET),
    ):
        out[name] = []
        for code, m in _ordered(counts, order):
            zh, en = _label(labels, code, unset)
            out[name].append({"code": code, "zh": zh, "en": en, "cases": m.n, "handling": m.handling})
    return out


def evaluation_rows(fig: Figures, unit: UnitInfo, children: list[UnitInfo]) -> list[dict[str, Any]]:
    """One row for the unit's own cases (when it has any), one per direct child (even without cases)."""
    rows = []
    own = fig.evaluation.get(unit.path)
    if own is not None and (own.n or own.overdue):
        rows.append({"unit": unit.code, "name": unit.name, "tier": unit.tier, "own": True, **measures_json(own)})
    for c in children:
        m = fig.evaluation.get(c.path, Measures())
        rows.append({"unit": c.code, "name": c.name, "tier": c.tier, "own": False, **measures_json(m)})
    return rows


def tier_rows(fig: Figures) -> list[dict[str, Any]]:
    return [{"tier": str(t), **measures_json(fig.by_tier[t])} for t in TIER_ORDER if t in fig.by_tier]


def overdue_json(fig: Figures, names: dict[str, str]) -> list[dict[str, Any]]:
    return [{
        "code": c.code, "title": c.title, "unit": names.get(c.unit_path, ""), "grade": c.grade, "status": c.status,
        "due_at": format_time(c.due_at) if c.due_at else None,
        "days_overdue": round((fig.now - c.due_at).total_seconds() / 86400, 1) if c.due_at else None,
    } for c in fig.overdue]


def dashboard_json(fig: Figures, unit: UnitInfo, children: list[UnitInfo], names: dict[str, str]) -> dict[str, Any]:
    hidden = suppress(fig.restricted_hidden)
    return {
        "unit": {"code": unit.code, "name": unit.name, "tier": unit.tier},
        "as_of": format_time(fig.now),
        "totals": measures_json(fig.totals) | {"overdue": fig.overdue_total},
        **breakdown(fig),
        "by_tier": tier_rows(fig),
        "overdue": {"total": fig.overdue_total, "cases": overdue_json(fig, names)},
        "trend": [{"week": w.isoformat(), "opened": o, "resolved": r} for w, o, r in fig.trend],
        "evaluation": evaluation_rows(fig, unit, children),
        # Restricted (domestic-violence) cases the caller may not open: one number, never broken down,
        # and withheld (null, "fewer than 5") when small.
        "restricted": {"hidden": hidden, "suppressed": hidden is None, "suppress_below": 5},
    }


EVAL_COLUMNS = [
    ("unit", "单位代码", "Unit code"), ("name", "单位", "Unit"), ("tier", "层级", "Tier"),
    ("cases", "案件数", "Cases"), ("handling", "在办", "Open"), ("overdue", "超期", "Overdue"),
    ("resolved", "化解", "Resolved"), ("failed", "调解不成", "Failed"),
    ("resolution_rate", "化解率(%)", "Resolution rate (%)"), ("on_time_rate", "按期办结率(%)", "On-time rate (%)"),
    ("avg_days_to_close", "平均办结天数", "Avg days to close"), ("satisfaction", "满意度(1-5)", "Satisfaction (1-5)"),
    ("rated", "回访案件数", "Cases followed up"),
]


def _eval_cells(row: dict[str, Any], lang: str) -> list[Any]:
    tier = TIER_LABELS.get(row["tier"], (row["tier"], row["tier"]))
    return [row["unit"], row["name"] + ("（本级）" if row.get("own") and lang != "en" else
                                        " (own cases)" if row.get("own") else ""),
            tier[1] if lang == "en" else tier[0], row["cases"], row["handling"], row["overdue"], row["resolved"],
            row["failed"], percent(row["resolution_rate"]), percent(row["on_time_rate"]),
            days(row["avg_days_to_close"]), days(row["satisfaction"]) if row["satisfaction"] is None
            else round(row["satisfaction"], 2), row["rated"]]


def evaluation_table(data: dict[str, Any], lang: str = "zh-CN") -> Table:
    t = Table("evaluation", ("考核评价表", "Evaluation"), EVAL_COLUMNS)
    for row in data["evaluation"]:
        t.rows.append(_eval_cells(row, lang))
    tot = data["totals"]
    t.rows.append(_eval_cells({"unit": data["unit"]["code"], "name": "合计" if lang != "en" else "Total",
                               "tier": data["unit"]["tier"], **tot}, lang))
    return t


def tables(data: dict[str, Any], lang: str = "zh-CN") -> list[Table]:
    """Every table of the dashboard, in page order."""
    en = lang == "en"
    out = []
    # Labels only: a reader of the export never meets an internal code such as "agreement_effective".
    for name, title, col in (("by_category", ("按类别", "By category"), ("类别", "Category")),
                             ("by_grade", ("按等级", "By grade"), ("等级", "Grade")),
                             ("by_status", ("按状态", "By status"), ("状态", "Status"))):
        t = Table(name, title, [("label", *col), ("cases", "案件数", "Cases"), ("handling", "在办", "Open")])
        t.rows = [[r["en"] if en else r["zh"], r["cases"], r["handling"]] for r in data[name]]
        out.append(t)
    t = Table("by_tier", ("按层级", "By tier"), [
        ("tier", "层级", "Tier"), ("cases", "案件数", "Cases"), ("handling", "在办", "Open"),
        ("overdue", "超期", "Overdue"), ("resolved", "化解", "Resolved"),
        ("resolution_rate", "化解率(%)", "Resolution rate (%)")])
    for r in data["by_tier"]:
        lab = TIER_LABELS.get(r["tier"], (r["tier"], r["tier"]))
        t.rows.append([lab[1] if en else lab[0], r["cases"], r["handling"], r["overdue"], r["resolved"],
                       percent(r["resolution_rate"])])
    out.append(t)
    t = Table("trend", ("近12周趋势", "12-week trend"), [
        ("week", "周（起始日）", "Week (Monday)"), ("opened", "新增", "Opened"), ("resolved", "化解", "Resolved")])
    t.rows = [[r["week"], r["opened"], r["resolved"]] for r in data["trend"]]
    out.append(t)
    t = Table("overdue", ("超期案件", "Overdue cases"), [
        ("code", "案件编号", "Case code"), ("title", "标题", "Title"), ("unit", "承办单位", "Unit"),
        ("grade", "等级", "Grade"), ("status", "状态", "Status"), ("due_at", "办理期限", "Due"),
        ("days_overdue", "超期天数", "Days overdue")])
    for r in data["overdue"]["cases"]:
        st = STATUS_LABELS.get(r["status"], (r["status"], r["status"]))
        gr = GRADE_LABELS.get(r["grade"] or "", UNGRADED)
        t.rows.append([r["code"], r["title"], r["unit"], gr[1] if en else gr[0], st[1] if en else st[0],
                       local_time(r["due_at"]), r["days_overdue"]])
    out.append(t)
    out.append(evaluation_table(data, lang))
    return out


def local_time(iso: str | None) -> str | None:
    """An API time (UTC, ISO 8601) as Asia/Shanghai wall-clock time, as the pages show it."""
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
