"""Dashboard figures against hand-computed values (dataset.py), access across tiers, exports, DV privacy,
hostile input, and the rollup triggers against a from-scratch recomputation. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook
from sqlalchemy import select, text

from server.cases.models import Case
from server.dashboard import figures, rollup_sql
from server.dashboard.models import CaseRollup
from server.services import services
from tests.integration.cases.helpers import hdr
from tests.integration.dashboard.dataset import build

COUNTIES = ["340302", "340303", "340304", "340311", "340321", "340322", "340323"]


async def dash(client, user: str, unit: str | None = None, status: int = 200, path: str = "/api/dashboard"):  # type: ignore[no-untyped-def]
    q = f"?unit={unit}" if unit is not None else ""
    r = await client.get(path + q, headers=await hdr(client, user))
    body = await r.json()
    assert r.status == status, body
    return body


def counts(rows: list[dict]) -> dict[str, int]:
    return {r["code"]: r["cases"] for r in rows}


async def test_figures_match_hand_computed_values(client) -> None:
    codes = await build(client)

    # --- The city, seen by the city admin (not named on the DV case G). ---
    d = await dash(client, "admin", "340300")
    t = d["totals"]
    # A B C D E F H I; G is restricted and hidden.
    assert t["cases"] == 8
    assert t["handling"] == 3  # D in mediation, E accepted, F registered
    assert t["overdue"] == 2 and d["overdue"]["total"] == 2  # E (4.0 days), D (1.0)
    assert (t["resolved"], t["failed"]) == (3, 1)  # A B I / C
    assert t["resolution_rate"] == 0.75
    assert t["on_time_rate"] == 0.5  # A, B on time; C, I late
    assert t["avg_days_to_close"] == round((5.0 + 36.0 + 2.0) / 3, 2)  # A, I closed; C failed; H withdrawn not counted
    assert t["satisfaction"] == 4.0 and t["rated"] == 3  # A 5, B (4+2)/2 = 3, I 4
    assert counts(d["by_category"]) == {"disputes": 6, "social_management": 1, "services": 1}
    assert counts(d["by_grade"]) == {"red": 1, "orange": 1, "yellow": 1, "blue": 1, "green": 3, "": 1}
    assert counts(d["by_status"]) == {"registered": 1, "accepted": 1, "in_mediation": 1, "follow_up": 1, "closed": 2,
                                      "failed": 1, "withdrawn": 1}
    assert [(c["code"], c["days_overdue"]) for c in d["overdue"]["cases"]] == [(codes["E"], 4.0), (codes["D"], 1.0)]
    trend = {w["week"]: (w["opened"], w["resolved"]) for w in d["trend"]}
    assert len(d["trend"]) == 12 and d["trend"][0]["week"] == "2025-12-29" and d["trend"][-1]["week"] == "2026-03-16"
    assert {k: v for k, v in trend.items() if v != (0, 0)} == {
        "2026-01-05": (0, 1),  # I resolved (opened 2025-12-01, before the window)
        "2026-03-02": (3, 1),  # A C B opened; A resolved
        "2026-03-09": (2, 1),  # E H opened; B resolved
        "2026-03-16": (2, 0),  # D F opened
    }
    tiers = {r["tier"]: (r["cases"], r["handling"], r["overdue"], r["resolved"], r["failed"]) for r in d["by_tier"]}
    assert tiers == {"city": (1, 1, 0, 0, 0), "county": (2, 0, 0, 0, 1), "township": (4, 2, 2, 2, 0),
                     "village": (1, 0, 0, 1, 0)}
    ev = {r["unit"]: r for r in d["evaluation"]}
    assert list(ev) == ["340300"] + COUNTIES  # own cases first, then every county, even without cases
    assert ev["340300"]["own"] is True and ev["340300"]["cases"] == 1
    hy = ev["340321"]  # A B C D I
    assert (hy["cases"], hy["handling"], hy["overdue"], hy["resolved"], hy["failed"]) == (5, 1, 1, 3, 1)
    assert (hy["resolution_rate"], hy["on_time_rate"], hy["avg_days_to_close"], hy["satisfaction"]) == (
        0.75, 0.5, 14.33, 4.0)
    wh = ev["340322"]  # E H
    assert (wh["cases"], wh["handling"], wh["overdue"], wh["resolution_rate"], wh["on_time_rate"],
            wh["avg_days_to_close"], wh["satisfaction"]) == (2, 1, 1, None, None, None, None)
    assert ev["340302"]["cases"] == 0 and ev["340302"]["resolution_rate"] is None
    assert d["restricted"] == {"hidden": None, "suppressed": True, "suppress_below": 5}  # G: 1, shown as "<5"

    # The evaluation endpoint is the same table.
    e = await dash(client, "admin", "340300", path="/api/evaluation")
    assert e["rows"] == d["evaluation"] and e["total"]["cases"] == 8

    # --- The county 怀远县 (its own subtree only), seen by its mediator. ---
    d = await dash(client, "mediator_340321", "340321")
    assert d["totals"]["cases"] == 5 and d["overdue"]["total"] == 1
    ev = {r["unit"]: r for r in d["evaluation"]}
    assert list(ev) == ["340321", "340321001", "340321002", "340321003"]
    assert ev["340321"]["cases"] == 1 and ev["340321"]["failed"] == 1  # C, the county's own
    assert ev["340321001"]["cases"] == 4 and ev["340321001"]["resolution_rate"] == 1.0  # A B D I
    assert ev["340321001"]["on_time_rate"] == round(2 / 3, 4)

    # --- The township 龙亢镇, seen by its mediator, who is named on the DV case: G counts for them. ---
    d = await dash(client, "mediator")  # default: the caller's own unit
    assert d["unit"]["code"] == "340321001"
    assert d["totals"]["cases"] == 5  # A B D I + G
    assert counts(d["by_category"]) == {"disputes": 3, "social_management": 1, "policing": 1}
    assert [c["code"] for c in d["overdue"]["cases"]] == [codes["G"], codes["D"]]
    assert d["restricted"]["hidden"] == 0
    ev = {r["unit"]: r["cases"] for r in d["evaluation"]}
    assert ev == {"340321001": 4, "340321001001": 1, "340321001002": 0, "340321001003": 0}


async def test_access_across_tiers_and_hostile_unit(client) -> None:
    for user, unit, status in [
        ("mediator", "340300", 403),  # a township cannot see the city dashboard
        ("mediator", "340321", 403),  # nor its own county's
        ("mediator", "340321002", 403),  # nor a sibling township's
        ("mediator_340321", "340322", 403),  # a county sees only its own subtree
        ("mediator_340321", "340300", 403),
        ("expert", "340321", 403),  # experts see only granted cases: no dashboards
        ("mediator_340321", "340321001001", 200),
        ("admin", "340323", 200),
        ("observer", "340300", 200),
        ("admin", "999999", 404),
        ("admin", "3403", 400),
        ("admin", "340300' OR '1'='1", 400),
        ("admin", "../../etc", 400),
        ("admin", "3" * 5000, 400),
        ("admin", "３４０３００", 400),  # full-width digits
        ("admin", "340300%00", 400),
    ]:
        r = await client.get("/api/dashboard", params={"unit": unit}, headers=await hdr(client, user))
        body = await r.json()
        assert r.status == status, (user, unit, body)
        if status >= 400:
            assert set(body["error"]) >= {"code", "message"}
    h = await hdr(client, "admin")
    for path in ("/api/dashboard?units=340300", "/api/dashboard.csv?table=nope", "/api/dashboard.csv",
                 "/api/evaluation?unit=340300&unit=x&weeks=3", "/api/dashboard.xlsx?lang=fr"):
        r = await client.get(path, headers=h)
        assert r.status == 400, (path, await r.text())
    assert (await client.get("/api/dashboard")).status == 401
    # The page: same rules, HTML error pages.
    r = await client.get("/dashboard?unit=340300", headers=await hdr(client, "mediator"))
    assert r.status == 403
    r = await client.get("/dashboard?unit=<script>", headers=h)
    assert r.status == 400 and "<script>" not in await r.text()


async def test_exports_parse_back_to_the_same_figures(client) -> None:
    codes = await build(client)
    h = await hdr(client, "admin")
    d = await dash(client, "admin", "340300")

    r = await client.get("/api/evaluation.csv?unit=340300", headers=h)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    raw = await r.read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["单位代码", "单位", "层级", "案件数"]
    body = {row[0]: row for row in rows[1:-1]}
    for ev in d["evaluation"]:
        row = body[ev["unit"]]
        assert int(row[3]) == ev["cases"] and int(row[6]) == ev["resolved"] and int(row[7]) == ev["failed"]
        for col, key in ((8, "resolution_rate"), (9, "on_time_rate")):
            assert (row[col] == "" and ev[key] is None) or float(row[col]) == round(ev[key] * 100, 1)
        assert (row[10] == "" and ev["avg_days_to_close"] is None) or float(row[10]) == round(ev["avg_days_to_close"], 1)
    total = rows[-1]
    assert total[1] == "合计" and int(total[3]) == 8 and float(total[8]) == 75.0 and float(total[9]) == 50.0

    r = await client.get("/api/dashboard.csv?unit=340300&table=overdue&lang=en", headers=h)
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0] == ["Case code", "Title", "Unit", "Grade", "Status", "Due", "Days overdue"]
    assert [(x[0], float(x[6])) for x in rows[1:]] == [(codes["E"], 4.0), (codes["D"], 1.0)]
    # A resident-typed title that looks like a formula is neutralised.
    assert rows[1][1].startswith("'=HYPERLINK")
    assert rows[1][5] == "2026-03-16 10:00"  # due time in Asia/Shanghai

    r = await client.get("/api/dashboard.xlsx?unit=340300", headers=h)
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    wb = load_workbook(io.BytesIO(await r.read()))
    assert wb.sheetnames == ["说明", "按类别", "按等级", "按状态", "按层级", "近12周趋势", "超期案件", "考核评价表"]
    # Labels, never internal codes ("disputes", "green"), in the reader's language.
    assert [c.value for c in wb["按类别"][1]] == ["类别", "案件数", "在办"]
    cat = {row[0]: row[1] for row in wb["按类别"].iter_rows(min_row=2, values_only=True)}
    assert cat == {r["zh"]: r["cases"] for r in d["by_category"]}
    grade = {row[0]: row[1] for row in wb["按等级"].iter_rows(min_row=2, values_only=True)}
    assert grade == {r["zh"]: r["cases"] for r in d["by_grade"]}
    status = {row[0] for row in wb["按状态"].iter_rows(min_row=2, values_only=True)}
    assert status and not any("_" in s or s.isascii() for s in status)
    r = await client.get("/api/dashboard.csv?unit=340300&table=by_status&lang=en", headers=h)
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0] == ["Status", "Cases", "Open"]
    assert {x[0] for x in rows[1:]} == {r["en"] for r in d["by_status"]}
    trend = [(row[0], row[1], row[2]) for row in wb["近12周趋势"].iter_rows(min_row=2, values_only=True)]
    assert trend == [(w["week"], w["opened"], w["resolved"]) for w in d["trend"]]
    ev_rows = list(wb["考核评价表"].iter_rows(min_row=2, values_only=True))
    hy = next(row for row in ev_rows if row[0] == "340321")
    assert hy[3:12] == (5, 1, 1, 3, 1, 75.0, 50.0, 14.3, 4.0)
    overdue_cell = wb["超期案件"]["B2"]
    assert overdue_cell.value.startswith("=HYPERLINK") and overdue_cell.data_type == "s"  # text, never a formula

    r = await client.get("/api/evaluation.xlsx?unit=340321&lang=en", headers=await hdr(client, "mediator_340321"))
    wb = load_workbook(io.BytesIO(await r.read()))
    assert wb.sheetnames == ["About", "Evaluation"]
    units = [row[0] for row in wb["Evaluation"].iter_rows(min_row=2, values_only=True)]
    assert units == ["340321", "340321001", "340321002", "340321003", "340321"]  # own, townships, total


async def test_dv_case_is_not_revealed_in_any_output(client) -> None:
    codes = await build(client)
    g = codes["G"]
    secrets = [g, "家暴求助孙七", "孙七", "13700009999", "幸福村9组", "domestic_violence", "policing"]
    for user, unit in (("admin", "340300"), ("mediator_340321", "340321"), ("supervisor", "340321001")):
        h = await hdr(client, user)
        outputs = [json.dumps(await dash(client, user, unit), ensure_ascii=False),
                   json.dumps(await dash(client, user, unit, path="/api/evaluation"), ensure_ascii=False)]
        for table in ("by_category", "by_grade", "by_status", "by_tier", "trend", "overdue", "evaluation"):
            r = await client.get(f"/api/dashboard.csv?unit={unit}&table={table}", headers=h)
            outputs.append((await r.read()).decode("utf-8-sig"))
        r = await client.get(f"/api/dashboard.xlsx?unit={unit}", headers=h)
        wb = load_workbook(io.BytesIO(await r.read()))
        outputs.append(" ".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row))
        r = await client.get(f"/dashboard?unit={unit}", headers=h)
        assert r.status == 200
        outputs.append(await r.text())
        for out in outputs:
            for s in secrets:
                assert s not in out, (user, s)
        d = await dash(client, user, unit)
        assert d["restricted"]["hidden"] is None  # one restricted case: fewer than 5, not even its count
    # The named township mediator sees it, as in the case list; the victim's contact details never appear.
    h = await hdr(client, "mediator")
    page = await (await client.get("/dashboard", headers=h)).text()
    assert g in page and "13700009999" not in page and "幸福村9组" not in page


async def test_page_renders_charts_and_prints(client) -> None:
    await build(client)
    for lang in ("zh-CN", "en"):
        r = await client.get(f"/dashboard?unit=340300&lang={lang}", headers=await hdr(client, "admin"))
        assert r.status == 200
        html = await r.text()
        assert html.count("<svg") >= 6 and "dashboard.css" in html
        assert ("考核评价" if lang == "zh-CN" else "Evaluation") in html
        for name in ("c-trend", "c-category", "c-grade", "c-tier", "c-status", "t-evaluation", "t-overdue"):
            assert f'id="{name}"' in html
    # Page for a unit with no cases at all still renders, with empty charts.
    r = await client.get("/dashboard?unit=340302&lang=zh-CN", headers=await hdr(client, "admin"))
    assert r.status == 200 and "暂无案件" in await r.text()


async def test_rollup_triggers_match_recomputation(client) -> None:
    await build(client)
    db = services(client.app).db
    # Edit, move and delete cases behind the workflow's back too: the triggers follow every write.
    async with db.session() as s:
        await s.execute(text("UPDATE cases SET category = 'services' WHERE status = 'registered'"))
        await s.execute(text("UPDATE cases SET warn_level = 2"))  # not a watched column
    async with db.session() as s:
        kept = await rollup_rows(s)
        cases = (await s.execute(select(Case))).scalars().all()
    expected: dict[tuple, list[float]] = {}
    for c in cases:
        row = figures.CaseRow(c.unit_path, c.status, c.category, c.grade, c.outcome, c.on_time, c.days_to_close,
                              c.satisfaction, c.opened_on, c.resolved_at)
        for dim, bucket, m in figures.contributions(row):
            acc = expected.setdefault((dim, bool(c.restricted), c.unit_path, bucket), [0.0] * 10)
            for i, col in enumerate(figures.ROLLUP_COLUMNS):
                acc[i] += getattr(m, col)
    expected = {k: [round(v, 6) for v in vals] for k, vals in expected.items()}
    assert kept == expected
    async with db.engine.begin() as conn:
        await rollup_sql.rebuild(conn)
    async with db.session() as s:
        assert await rollup_rows(s) == expected


async def rollup_rows(s) -> dict[tuple, list[float]]:  # type: ignore[no-untyped-def]
    out = {}
    for r in (await s.execute(select(CaseRollup))).scalars():
        vals = [round(float(getattr(r, c)), 6) for c in figures.ROLLUP_COLUMNS]
        if any(vals):
            out[(r.dim, bool(r.restricted), r.unit_path, r.bucket)] = vals
    return out
