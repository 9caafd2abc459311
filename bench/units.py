"""``GET /api/units`` on a real ``concord serve`` against a bare aiohttp handler serving the same bytes.

    python bench/units.py [--requests 400] [--concurrency 8]

Two networks: the demo network (``concord demo``, 92 units) and a synthetic full city of 1,200 units
and 5,000 staff. For each, Concord answers the city administrator's bearer-token request (token check,
actor lookup, tier scoping, the unit list), and the baseline is a bare aiohttp app in its own process
whose only handler returns the same JSON bytes, already in memory. Both are measured in the same run,
interleaved, with the same client: median and p95 latency of sequential requests, and requests/s with
``--concurrency`` requests in flight. Prints the ratios and each server's peak RSS.
Goal (issue 2): the full-city list within 3x of the bare handler.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

if __package__ in (None, ""):  # run as `python bench/x.py`: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import env, free_port, machine, median, pct, peak_rss_mib, python, stop, wait_for_200  # noqa: E402

PASSWORD = "bench-password-2026"

BARE = """
import sys
from aiohttp import web

BODY = open(sys.argv[2], "rb").read()

async def units(request):
    return web.Response(body=BODY, content_type="application/json")

async def healthz(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_get("/api/units", units)
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def build_full_city(data: Path, counties: int = 12, townships: int = 10, units: int = 1200,
                          staff: int = 5000) -> None:
    """A synthetic city (fictional codes and names) written straight through the ORM tables."""
    from sqlalchemy import insert

    from server.config import Config
    from server.db import Database, utcnow
    from server.db.migrate import upgrade
    from server.directory.models import Staff, Unit
    from server.security.passwords import hash_password

    cfg = Config.load(data)
    db = Database(cfg.database_url)
    await upgrade(db)
    now = utcnow()
    rows: list[dict] = []
    next_id = 1

    def add(code: str, name: str, tier: str, parent: dict | None) -> dict:
        nonlocal next_id
        row = {"id": next_id, "code": code, "name": name, "tier": tier, "parent_id": parent["id"] if parent else None,
               "path": (parent["path"] if parent else "") + code + "/", "created_at": now}
        next_id += 1
        rows.append(row)
        return row

    city = add("990100", "示例市", "city", None)
    towns = []
    for c in range(counties):
        county = add(f"9901{c + 2:02d}", f"示例{c + 1}区", "county", city)
        for t in range(townships):
            towns.append(add(f"{county['code']}{t + 1:03d}", f"示例{c + 1}区第{t + 1}镇", "township", county))
    v = 0
    while len(rows) < units:
        town = towns[v % len(towns)]
        add(f"{town['code']}{v // len(towns) + 1:03d}", f"示例村{v + 1}", "village", town)
        v += 1
    pw = hash_password(PASSWORD)
    roles = ["mediator", "grid_worker", "expert", "admin", "observer"]
    people = [{"username": "bench_admin", "name": "基准管理员", "password_hash": pw, "role": "admin",
               "unit_id": city["id"], "specialties": [], "active": True, "created_at": now}]
    for i in range(staff - 1):
        unit = rows[i % len(rows)]
        people.append({"username": f"bench_{i}", "name": f"工作人员{i}", "password_hash": pw, "role": roles[i % 5],
                       "unit_id": unit["id"], "specialties": ["land"] if i % 5 == 2 else [], "active": True,
                       "created_at": now})
    async with db.session() as s:
        await s.execute(insert(Unit), rows)
        await s.execute(insert(Staff), people)
    await db.close()


async def sequential(session: aiohttp.ClientSession, url: str, headers: dict, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        async with session.get(url, headers=headers) as r:
            await r.read()
            assert r.status == 200, r.status
        out.append(time.perf_counter() - t)
    return out


async def concurrent(session: aiohttp.ClientSession, url: str, headers: dict, n: int, width: int) -> float:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.get(url, headers=headers) as r:
                await r.read()
                assert r.status == 200

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(width)))
    return n / (time.perf_counter() - t)


def start(cmd: list[str], port: int) -> subprocess.Popen:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_200(proc, port, "/healthz", t0)
    return proc


async def measure(label: str, data: Path, username: str, password: str, args: argparse.Namespace,
                  tmp: Path) -> dict:
    cport, bport = free_port(), free_port()
    concord = start([python(), "-m", "server", "serve", "--port", str(cport), "--data-dir", str(data)], cport)
    bare = None
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{cport}/api/auth/login",
                                    json={"username": username, "password": password}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            # The first request loads the unit tree from the database and serialises it (as after any
            # change to the tree); later ones reuse that until the tree changes or 30 s pass.
            t = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{cport}/api/units", headers=headers) as r:
                body = await r.read()
            first_ms = (time.perf_counter() - t) * 1000
            units = body.count(b'"code"')
            body_file = tmp / f"{label}.json"
            body_file.write_bytes(body)
            bare = start([python(), "-c", BARE, str(bport), str(body_file)], bport)
            async with session.get(f"http://127.0.0.1:{bport}/api/units") as r:
                assert await r.read() == body  # the baseline serves exactly the same bytes
            targets = {"concord": (f"http://127.0.0.1:{cport}/api/units", headers),
                       "bare": (f"http://127.0.0.1:{bport}/api/units", {})}
            lat: dict[str, list[float]] = {"concord": [], "bare": []}
            rps: dict[str, list[float]] = {"concord": [], "bare": []}
            for url, h in targets.values():  # warm-up
                await sequential(session, url, h, 30)
            rounds = 4
            for _ in range(rounds):  # interleaved so load changes hit both alike
                for name, (url, h) in targets.items():
                    lat[name] += await sequential(session, url, h, args.requests // rounds)
                    rps[name].append(await concurrent(session, url, h, args.requests // rounds, args.concurrency))
        rss = {"concord": peak_rss_mib(concord.pid), "bare": peak_rss_mib(bare.pid)}
    finally:
        stop(concord)
        if bare is not None:
            stop(bare)
    return {"label": label, "units": units, "bytes": len(body), "first_ms": first_ms, "lat": lat, "rps": {k: median(v) for k, v in rps.items()},
            "rss": rss}


def report(r: dict, concurrency: int) -> tuple[float, float]:
    c, b = r["lat"]["concord"], r["lat"]["bare"]
    print(f"\n{r['label']}: {r['units']} units, {r['bytes'] / 1024:.0f} KiB of JSON")
    print(f"{'':<10} {'p50 ms':>8} {'p95 ms':>8} {f'req/s @{concurrency}':>11} {'peak RSS MiB':>13}")
    for name, lat in (("concord", c), ("bare", b)):
        print(f"{name:<10} {median(lat) * 1000:>8.2f} {pct(lat, 95) * 1000:>8.2f} {r['rps'][name]:>11.0f} "
              f"{r['rss'][name]:>13.1f}")
    ratio_p50 = median(c) / median(b)
    ratio_rps = r["rps"]["bare"] / r["rps"]["concord"]
    print(f"ratio concord/bare: p50 latency {ratio_p50:.2f}x, throughput {ratio_rps:.2f}x")
    print(f"concord's first request (tree loaded from the database and serialised): {r['first_ms']:.1f} ms")
    return ratio_p50, ratio_rps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400, help="requests per server per mode")
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        demo = tmp / "demo"
        subprocess.run([python(), "-m", "server", "demo", "--data-dir", str(demo)], env=env(), check=True,
                       stdout=subprocess.DEVNULL)
        city = tmp / "city"
        t0 = time.perf_counter()
        subprocess.run([python(), "-c", "import asyncio, sys; from bench.units import build_full_city; "
                        f"asyncio.run(build_full_city(__import__('pathlib').Path({str(city)!r})))"],
                       env=env(PYTHONPATH=str(Path(__file__).resolve().parent.parent)), check=True)
        print(f"synthetic city built in {time.perf_counter() - t0:.1f} s")
        results = [asyncio.run(measure("demo network", demo, "admin", "concord-demo-2026", args, tmp)),
                   asyncio.run(measure("full city (1,200 units, 5,000 staff)", city, "bench_admin", PASSWORD, args, tmp))]
    ratios = [report(r, args.concurrency) for r in results]
    worst = max(ratios[-1])
    print(f"\ngoal: full-city list within 3x of bare -> {'met' if worst <= 3 else 'NOT met'} (worst ratio {worst:.2f}x)")


if __name__ == "__main__":
    main()
