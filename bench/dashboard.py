"""Dashboard benchmark: 100,000 cases and 1,000,000 ledger events on SQLite and on PostgreSQL.

    python bench/dashboard.py                       # both backends, full size
    python bench/dashboard.py --cases 10000 --backend sqlite

For each backend, in a throwaway database (a temp file; a fresh PostgreSQL database, dropped after):
1. migrate, seed the demo network, bulk-load cases, their case_units/case_access rows and valid
   hash-chained ledger events (sqlite3 ``executemany`` / asyncpg ``COPY``; not through the API), with the
   rollup triggers off, then rebuild ``case_rollup`` in one pass and switch the triggers back on;
2. time, as the median of ``--runs`` (default 20) after two warm-ups, each in its own session like a
   request:
   - floor: one indexed ``COUNT(*)`` of the city's cases (a unit-path range on ``cases``);
   - the city dashboard: the whole query set plus assembling the JSON and the export tables;
   - a county dashboard;
   - the case list, filtered (open statuses, a category, a county) and paginated (page 2 of 20),
     through the case module's own visibility-checked query;
   - for comparison only, the category/grade/status counts computed live from ``cases`` (what the
     rollup saves);
3. print each figure with its ratio to the floor, and the peak RSS of this process.

The goal (issue 5): the city dashboard under 300 ms on PostgreSQL and within 10x of the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from server import ledger  # noqa: E402
from server.auth import actor_of  # noqa: E402
from server.cases import catalog  # noqa: E402
from server.cases.models import Case  # noqa: E402
from server.cases.queries import CaseFilter, page, path_prefix  # noqa: E402
from server.clock import BEIJING  # noqa: E402
from server.dashboard import present, queries, rollup_sql  # noqa: E402
from server.dashboard.present import UnitInfo  # noqa: E402
from server.db import Database  # noqa: E402
from server.db.migrate import upgrade  # noqa: E402
from server.directory.demo import seed  # noqa: E402
from server.directory.models import Staff, Unit  # noqa: E402

NOW = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
PG_ADMIN = os.environ.get("CONCORD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CHUNK = 20_000
TIER_WEIGHT = {"city": 0.03, "county": 0.12, "township": 0.35, "village": 0.50}
HANDLING_WEIGHTS = {"registered": 10, "triaged": 10, "accepted": 15, "assigned": 15, "in_mediation": 35,
                    "suspended": 5, "agreement_signing": 10}
RISK_WEIGHTS = {"red": 5, "orange": 15, "yellow": 40, "blue": 40}
DV_WEIGHTS = {"red": 30, "orange": 40, "blue": 30}
SOURCES = [str(s) for s in catalog.Source if s != catalog.Source.PETITION]
TITLES = ["宅基地边界纠纷", "邻里噪音纠纷", "婚姻家庭纠纷", "拖欠工资", "民间借贷纠纷", "物业费纠纷", "交通事故赔偿",
          "环境卫生投诉", "违章建设", "法律咨询"]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# ---------------------------------------------------------------------------------------------------------
# Data generation (deterministic; the same rows for both backends)


def make_cases(n: int, units: list[dict[str, Any]], seed_: int = 42) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed_)
    by_tier: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        by_tier.setdefault(u["tier"], []).append(u)
    tiers = list(TIER_WEIGHT)
    counters: dict[tuple[str, int], int] = {}
    cats = list(catalog.CATEGORIES)
    for i in range(1, n + 1):
        unit = rng.choice(by_tier[rng.choices(tiers, weights=[TIER_WEIGHT[t] for t in tiers])[0]])
        age = rng.uniform(0, 730)
        created = NOW - timedelta(days=age)
        dv = rng.random() < 0.015
        if dv:
            category, item, risk = "policing", "domestic_violence", pick(rng, DV_WEIGHTS)
        else:
            category = rng.choice(cats)
            item = rng.choice([x for x in catalog.item_codes(category) if x != "domestic_violence"])
            risk = pick(rng, RISK_WEIGHTS)
        days = catalog.GRADE_DAYS[catalog.Grade(risk)]
        c: dict[str, Any] = {
            "id": i, "kind": "dispute", "source": rng.choice(SOURCES), "category": category, "item": item,
            "title": rng.choice(TITLES), "summary": "", "grade": risk, "risk_grade": risk, "domestic_violence": dv,
            "restricted": dv, "unit_id": unit["id"], "unit_path": unit["path"], "unit_tier": unit["tier"],
            "origin_unit_id": unit["id"], "registered_by": None, "created_at": created,
            "opened_on": created.astimezone(BEIJING).date(), "triaged_at": None, "due_at": None,
            "resolved_at": None, "closed_at": None, "archived_at": None, "outcome": None, "on_time": None,
            "days_to_close": None, "satisfaction": None, "warn_level": 0, "intake": None, "version": 3,
            "updated_at": created,
        }
        triaged = min(NOW, created + timedelta(hours=rng.uniform(0.5, 24)))
        due = triaged + timedelta(days=days)
        if rng.random() >= min(0.97, age / 30):  # still being handled
            status = pick(rng, HANDLING_WEIGHTS)
            c["status"] = status
            if status == "registered":
                c.update(grade=None, risk_grade=None)
            else:
                c.update(triaged_at=triaged, due_at=due)
        else:
            c.update(triaged_at=triaged, due_at=due)
            outcome = rng.choices(["resolved", "failed", "withdrawn", "rejected"], weights=[80, 10, 6, 4])[0]
            end = min(NOW, triaged + timedelta(days=days * rng.uniform(0.2, 1.6)))
            c["outcome"] = outcome
            if outcome == "resolved":
                c.update(resolved_at=end, on_time=end <= due, grade="green")
                closed = end + timedelta(days=rng.uniform(2, 20))
                if closed <= NOW:
                    c.update(status="closed", closed_at=closed,
                             days_to_close=round((closed - created).total_seconds() / 86400, 3),
                             satisfaction=float(rng.choices([1, 2, 3, 4, 5], weights=[2, 3, 10, 35, 50])[0]))
                else:
                    c.update(status=rng.choice(["agreement_effective", "performing", "follow_up"]))
                    if c["status"] == "follow_up":
                        c["satisfaction"] = float(rng.choice([3, 4, 5]))
            else:
                c.update(status=outcome, closed_at=end,
                         days_to_close=round((end - created).total_seconds() / 86400, 3))
                if outcome == "failed":
                    c["on_time"] = end <= due
            if c["closed_at"] is not None and age > 180 and rng.random() < 0.5:
                c.update(status="archived", archived_at=min(NOW, c["closed_at"] + timedelta(days=30)))
        scope = unit["path"].split("/")[1] if unit["path"].count("/") > 1 else unit["path"].split("/")[0]
        year = c["opened_on"].year
        counters[(scope, year)] = counters.get((scope, year), 0) + 1
        c["code"] = f"{scope}-{year}-{counters[(scope, year)]:06d}"
        yield c


EVENT_TYPES = ["case.registered", "case.triage", "case.accept", "case.assign", "case.start_mediation",
               "case.begin_signing", "case.make_effective", "case.begin_follow_up", "follow_up.recorded",
               "case.close", "case.archive", "case.edited"]


def make_events(cases: int, total: int, seed_: int = 7) -> Iterator[tuple[Any, ...]]:
    """Valid hash chains ``case:<id>``: (chain, seq, type, at, data_json, prev_hash, hash).

    The canonical bytes are put together by hand for speed (a million events); the first events are
    checked against ``ledger.canonical`` so the chains stay verifiable by ``concord verify-log``.
    """
    rng = random.Random(seed_)
    per, extra = divmod(total, cases)
    stored = {}
    compact = {}
    for seq in range(1, per + 2):
        data = {"by": {"id": 1, "username": "mediator", "unit": "340321001"}, "n": seq}
        stored[seq] = json.dumps(data, ensure_ascii=False, sort_keys=True)
        compact[seq] = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    checked = 0
    for cid in range(1, cases + 1):
        chain = ledger.case_chain(cid)
        prev = ledger.GENESIS
        at = (NOW - timedelta(days=rng.uniform(1, 700))).replace(microsecond=0)
        for seq in range(1, per + (1 if cid <= extra else 0) + 1):
            at = at + timedelta(minutes=rng.randint(1, 600))
            typ = EVENT_TYPES[(seq - 1) % len(EVENT_TYPES)]
            at_s = f"{at:%Y-%m-%dT%H:%M:%S}.000000Z"
            body = (f'{{"at":"{at_s}","chain":"{chain}","data":{compact[seq]},"seq":{seq},"type":"{typ}"}}'
                    ).encode()
            if checked < 50:
                assert body == ledger.canonical(chain, seq, typ, at, json.loads(stored[seq]))
                checked += 1
            h = ledger.link_hash(prev, body)
            yield (chain, seq, typ, at, stored[seq], prev, h)
            prev = h


def chunks(it: Iterator[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


# ---------------------------------------------------------------------------------------------------------
# Loading


def _sqlite_value(v: Any) -> Any:
    # SQLAlchemy's SQLite storage formats, so the server's own queries compare like with like.
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if hasattr(v, "isoformat") and not isinstance(v, str):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    return v


def _pg_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


async def table_columns(db: Database, table: str) -> list[tuple[str, bool, bool]]:
    """(name, nullable, has_default) of each column, in table order."""
    async with db.engine.connect() as conn:
        def inspect(sync_conn: Any) -> list[tuple[str, bool, bool]]:
            from sqlalchemy import inspect as sa_inspect

            return [(c["name"], c["nullable"], c.get("default") is not None)
                    for c in sa_inspect(sync_conn).get_columns(table)]

        return await conn.run_sync(inspect)


def rows_for(columns: list[tuple[str, bool, bool]], records: list[dict[str, Any]], conv: Callable[[Any], Any]
             ) -> tuple[list[str], list[tuple[Any, ...]]]:
    # Columns the records fill, plus any required one they do not (an error); ids left out autoincrement.
    names = [n for n, nullable, has_default in columns
             if n in records[0] or not (nullable or has_default or n == "id")]
    missing = [n for n in names if n not in records[0]]
    if missing:
        raise SystemExit(f"bench does not know how to fill required columns: {missing}")
    return names, [tuple(conv(r[n]) for n in names) for r in records]


async def load(db: Database, n_cases: int, n_events: int) -> dict[str, float]:
    """Bulk-load everything; returns timings in seconds."""
    timings: dict[str, float] = {}
    async with db.session() as s:
        await seed(s)
    async with db.session() as s:
        units = [{"id": u.id, "path": u.path, "tier": u.tier, "code": u.code}
                 for u in (await s.execute(select(Unit))).scalars()]
        named = (await s.execute(select(Staff.id).where(Staff.username == "mediator"))).scalar_one()
    case_cols = await table_columns(db, "cases")
    cu_cols = await table_columns(db, "case_units")
    ca_cols = await table_columns(db, "case_access")
    dialect = "sqlite" if db.is_sqlite else "postgresql"

    def side_rows(batch: list[dict[str, Any]], first_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        cu = [{"id": c["id"], "case_id": c["id"], "unit_id": c["unit_id"], "unit_path": c["unit_path"],
               "relation": "origin", "at": c["created_at"]} for c in batch]
        ca = [{"case_id": c["id"], "staff_id": named, "kind": "named", "expires_at": None, "revoked_at": None,
               "granted_by": None, "granted_at": c["created_at"]} for c in batch if c["restricted"]]
        return cu, ca

    await db.close()
    t0 = time.perf_counter()
    if db.is_sqlite:
        path = db.url.split("///", 1)[1]
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        for stmt in rollup_sql.drop_triggers("sqlite"):
            conn.execute(stmt)
        for batch in chunks(make_cases(n_cases, units)):
            cu, ca = side_rows(batch, 0)
            for table, cols, recs in (("cases", case_cols, batch), ("case_units", cu_cols, cu),
                                      ("case_access", ca_cols, ca)):
                if recs:
                    names, rows = rows_for(cols, recs, _sqlite_value)
                    conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                                     f"({', '.join('?' * len(names))})", rows)
        conn.commit()
        timings["cases_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        for batch in chunks(make_events(n_cases, n_events), 50_000):
            conn.executemany("INSERT INTO ledger_events (chain, seq, type, at, data, prev_hash, hash) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", [(e[0], e[1], e[2], _sqlite_value(e[3]), e[4], e[5], e[6])
                                                            for e in batch])
        conn.commit()
        timings["events_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        for stmt in rollup_sql.rebuild_statements("sqlite") + rollup_sql.create_triggers("sqlite"):
            conn.execute(stmt)
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
        timings["rollup_and_analyze_s"] = time.perf_counter() - t2
        return timings

    import asyncpg

    pg = await asyncpg.connect(db.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await pg.execute("ALTER TABLE cases DISABLE TRIGGER USER")
        for batch in chunks(make_cases(n_cases, units)):
            cu, ca = side_rows(batch, 0)
            for table, cols, recs in (("cases", case_cols, batch), ("case_units", cu_cols, cu),
                                      ("case_access", ca_cols, ca)):
                if recs:
                    names, rows = rows_for(cols, recs, _pg_value)
                    await pg.copy_records_to_table(table, records=rows, columns=names)
        timings["cases_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        for batch in chunks(make_events(n_cases, n_events), 50_000):
            await pg.copy_records_to_table("ledger_events", records=[e[:3] + (_pg_value(e[3]),) + e[4:] for e in batch],
                                           columns=["chain", "seq", "type", "at", "data", "prev_hash", "hash"])
        timings["events_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        async with pg.transaction():
            for stmt in rollup_sql.rebuild_statements(dialect):
                await pg.execute(stmt)
            await pg.execute("ALTER TABLE cases ENABLE TRIGGER USER")
        for table in ("cases", "case_units"):
            await pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await pg.execute("VACUUM ANALYZE")
        timings["rollup_and_analyze_s"] = time.perf_counter() - t2
    finally:
        await pg.close()
    return timings


# ---------------------------------------------------------------------------------------------------------
# Measuring


async def median_ms(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    for _ in range(2):
        await fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


async def measure(db: Database, runs: int) -> dict[str, Any]:
    async with db.session() as s:
        rows = (await s.execute(select(Unit).order_by(Unit.path))).scalars().all()
        admin, admin_unit = (await s.execute(select(Staff, Unit).join(Unit, Staff.unit_id == Unit.id)
                                             .where(Staff.username == "admin"))).one()
        n_cases = (await s.execute(select(func.count()).select_from(Case))).scalar_one()
        n_events = (await s.execute(text("SELECT count(*) FROM ledger_events"))).scalar_one()
    actor = actor_of(admin, admin_unit)
    info = {u.path: UnitInfo(u.code, u.name, u.tier, u.path) for u in rows}
    code_of = {u.id: u.code for u in rows}
    city = info[admin_unit.path]
    county = info[next(u.path for u in rows if u.code == "340321")]
    tiers = {p: u.tier for p, u in info.items()}
    names = {p: u.name for p, u in info.items()}

    def children(unit: UnitInfo) -> list[UnitInfo]:
        return [info[u.path] for u in rows if u.parent_id is not None and code_of[u.parent_id] == unit.code]

    async def floor() -> int:
        async with db.session() as s:
            return (await s.execute(select(func.count()).select_from(Case)
                                    .where(path_prefix(Case.unit_path, city.path)))).scalar_one()

    def dashboard(unit: UnitInfo) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def run() -> dict[str, Any]:
            async with db.session() as s:
                fig = await queries.load(s, actor, unit.path, NOW, tiers.get)
            data = present.dashboard_json(fig, unit, children(unit), names)
            present.tables(data)
            return data
        return run

    async def case_list() -> int:
        f = CaseFilter(status=["accepted", "assigned", "in_mediation"], category="disputes", unit_path=county.path)
        async with db.session() as s:
            rows_, total = await page(s, actor, f, NOW, 2, 20)
        return total

    async def live_counts() -> int:
        async with db.session() as s:
            q = (select(Case.status, Case.category, Case.grade, func.count())
                 .where(Case.restricted.is_(False), path_prefix(Case.unit_path, city.path))
                 .group_by(Case.status, Case.category, Case.grade))
            return len((await s.execute(q)).all())

    # Interleave rounds so that background load on the shared machine hits every figure alike.
    results: dict[str, Any] = {"cases": n_cases, "events": n_events, "city_total": await floor()}
    city_data = await dashboard(city)()
    results["city_dashboard_cases"] = city_data["totals"]["cases"]
    results["city_overdue"] = city_data["overdue"]["total"]
    results["list_total"] = await case_list()
    for name, fn in (("floor_count", floor), ("city_dashboard", dashboard(city)), ("county_dashboard", dashboard(county)),
                     ("case_list", case_list), ("live_counts", live_counts)):
        results[name] = await median_ms(fn, runs)
    return results


async def run_backend(backend: str, n_cases: int, n_events: int, runs: int, keep: bool) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="concord-dashbench-"))
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    else:
        import asyncpg

        pg_name = f"concord_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + pg_name
    try:
        db = Database(url)
        await upgrade(db)
        t = time.perf_counter()
        timings = await load(db, n_cases, n_events)
        timings["seed_total_s"] = time.perf_counter() - t
        db = Database(url)
        res = await measure(db, runs)
        await db.close()
        res["timings"] = timings
        res["rss_mib"] = peak_rss_mib()
        return res
    finally:
        if pg_name and not keep:
            import asyncpg

            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()
        if not keep:
            for p in tmp.glob("*"):
                p.unlink()
            tmp.rmdir()


def report(backend: str, r: dict[str, Any]) -> None:
    floor = r["floor_count"][0]
    t = r["timings"]
    print(f"\n== {backend}: {r['cases']:,} cases, {r['events']:,} ledger events "
          f"(seeded in {t['seed_total_s']:.1f} s: cases {t['cases_s']:.1f}, events {t['events_s']:.1f}, "
          f"rollup+analyze {t['rollup_and_analyze_s']:.1f})")
    print(f"   city dashboard: {r['city_dashboard_cases']:,} unrestricted cases, {r['city_overdue']:,} overdue; "
          f"case list matches {r['list_total']:,}")
    print(f"   {'figure':<34}{'median ms':>10}{'p90 ms':>9}{'x floor':>9}")
    for key, label in (("floor_count", "floor: indexed COUNT(*) (city)"), ("city_dashboard", "city dashboard (all)"),
                       ("county_dashboard", "county dashboard (all)"), ("case_list", "case list, filtered, page 2"),
                       ("live_counts", "live GROUP BY on cases (no rollup)")):
        med, p90 = r[key]
        print(f"   {label:<34}{med:>10.2f}{p90:>9.2f}{med / floor:>9.1f}")
    goal_ms = r["city_dashboard"][0] < 300
    goal_x = r["city_dashboard"][0] <= 10 * floor
    print(f"   goal: city dashboard < 300 ms: {'met' if goal_ms else 'NOT met'}; within 10x of floor: "
          f"{'met' if goal_x else 'NOT met'}")
    print(f"   peak RSS of this process so far: {r['rss_mib']:.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=None, help="ledger events (default: 10 per case)")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the databases (for EXPLAIN)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args(argv)
    events = a.events if a.events is not None else a.cases * 10
    backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {a.cases:,} cases, {events:,} events, "
          f"median of {a.runs}")
    out = {}
    for b in backends:
        out[b] = asyncio.run(run_backend(b, a.cases, events, a.runs, a.keep))
        report(b, out[b])
    if a.json:
        a.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
