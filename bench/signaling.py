"""Signaling relay benchmark: Concord's /ws beside a bare aiohttp WebSocket relay, same clients, same run.

    python bench/signaling.py [--clients 100,500,1000] [--rates 1000,4000] [--seconds 8] [--no-redis]

For each client count (rooms of 5): start the servers as separate processes, connect the clients (in
``--procs`` driver processes), then each client sends ``signal`` messages (candidate-sized, carrying the
send time) to a random peer of its room at a fixed total rate. Reported per server: delivered messages/s,
p50/p99 relay latency (send -> receive, one way, CLOCK_MONOTONIC across processes) and the server
process's peak RSS. The baseline is a bare relay with no auth and no room logic (``--bare-serve``).
With PostgreSQL and Redis reachable it also runs Concord as two nodes over Redis, clients spread over
both nodes (so most relays cross nodes), and reports the ratio to one node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.servers import (  # noqa: E402
    Api,
    create_pg_database,
    drop_pg_database,
    free_port,
    run_cli,
    server_env,
    start_node,
    wait_healthy,
)

ROOM_SIZE = 5
PAD = "x" * 120  # a candidate line is ~100-200 bytes


# ---- the bare relay (baseline) --------------------------------------------------------------------


def bare_serve(port: int) -> None:
    rooms: dict[str, dict[str, web.WebSocketResponse]] = {}

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse(compress=False)
        await sock.prepare(request)
        first = json.loads((await sock.receive()).data)
        room, pid = first["room"], first["id"]
        members = rooms.setdefault(room, {})
        members[pid] = sock
        await sock.send_str('{"type":"welcome"}')
        try:
            async for msg in sock:
                m = json.loads(msg.data)
                dst = members.get(m["to"])
                if dst is not None:
                    await dst.send_str(json.dumps({"type": "signal", "from": pid, "data": m["data"]}))
        finally:
            members.pop(pid, None)
        return sock

    app = web.Application()
    app.router.add_get("/ws", ws)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ---- the driver (client processes) ----------------------------------------------------------------


class Client:
    def __init__(self, url: str, hello: dict[str, Any], room: int) -> None:
        self.url = url
        self.hello = hello
        self.room = room
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.peer_id: str | None = None
        self.peers: set[str] = set()


async def drive(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    kind, warmup = spec["kind"], spec["warmup"]
    clients = [Client(c["url"], c["hello"], c["room"]) for c in spec["clients"]]
    latencies: list[int] = []
    state = {"measuring": False, "received": 0, "errors": 0, "closed": 0}
    conn = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=conn)
    sem = asyncio.Semaphore(20)

    refusals: list[str] = []

    async def connect(c: Client) -> None:
        for attempt in range(5):
            async with sem:
                c.ws = await session.ws_connect(c.url, heartbeat=None, compress=0, max_msg_size=0)
                await c.ws.send_str(json.dumps(c.hello))
                msg = await c.ws.receive()
                first = json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else {"type": "closed",
                                                                                       "code": msg.data}
            if first["type"] == "welcome":
                break
            refusals.append(f"{first.get('type')}:{first.get('code')}")
            await c.ws.close()
            await asyncio.sleep(0.5 * (attempt + 1))
        else:
            raise RuntimeError(f"join refused 5 times: {refusals[-5:]}")
        if kind == "bare":
            c.peer_id = c.hello["id"]
        else:
            c.peer_id = first["peer_id"]
            c.peers = {p["id"] for p in first["peers"]}

    async def read(c: Client) -> None:
        assert c.ws is not None
        async for msg in c.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            m = json.loads(msg.data)
            t = m.get("type")
            if t == "signal":
                if state["measuring"]:
                    latencies.append(time.monotonic_ns() - m["data"]["candidate"]["t"])
                    state["received"] += 1
            elif t == "peer-joined":
                c.peers.add(m["peer"]["id"])
            elif t == "error":
                state["errors"] += 1

    await asyncio.gather(*(connect(c) for c in clients))
    if kind == "bare":
        by_room: dict[int, list[Client]] = {}
        for c in clients:
            by_room.setdefault(c.room, []).append(c)
        for members in by_room.values():
            for c in members:
                c.peers = {x.peer_id for x in members if x is not c}  # type: ignore[misc]
    readers = [asyncio.create_task(read(c)) for c in clients]
    deadline = time.monotonic() + 30
    while any(len(c.peers) < ROOM_SIZE - 1 for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    peer_lists = [(c, sorted(c.peers)) for c in clients]
    rnd = random.Random(1)
    i = 0
    while True:  # one measurement per "GO <rate> <seconds>" line, until "QUIT"
        cmd = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not cmd or cmd[0] != "GO":
            break
        rate, seconds = float(cmd[1]), float(cmd[2])
        latencies.clear()
        state.update(measuring=False, received=0, errors=0, closed=0)
        sent = sent_at_start = 0
        start = last = time.monotonic()
        measure_from, measure_to = start + warmup, start + warmup + seconds
        credit = 0.0
        while True:
            now = time.monotonic()
            if now >= measure_to:
                break
            if not state["measuring"] and now >= measure_from:
                state["measuring"] = True
                sent_at_start = sent
            credit = min(credit + (now - last) * rate, rate * 0.05)  # a stalled driver does not burst later
            last = now
            while credit >= 1.0:
                credit -= 1.0
                c, plist = peer_lists[i % len(peer_lists)]
                i += 1
                if not plist or c.ws is None or c.ws.closed:
                    state["closed"] += 1
                    continue
                data = {"candidate": {"candidate": f"candidate:1 1 udp 2122260223 192.0.2.2 5{i % 9999:04d} typ host "
                                                   f"{PAD}", "sdpMid": "0", "sdpMLineIndex": 0, "t": time.monotonic_ns()}}
                try:
                    await c.ws.send_str(json.dumps({"type": "signal", "to": rnd.choice(plist), "data": data}))
                    sent += 1
                except aiohttp.ClientError:
                    state["closed"] += 1
            await asyncio.sleep(0.002)
        state["measuring"] = False
        await asyncio.sleep(0.5)
        print(json.dumps({"sent": sent - sent_at_start, "received": state["received"], "seconds": seconds,
                          "errors": state["errors"] + state["closed"], "join_retries": len(refusals),
                          "lat_ns": latencies}), flush=True)
    for t in readers:
        t.cancel()
    for c in clients:
        if c.ws is not None:
            await c.ws.send_str('{"type":"leave"}') if kind == "concord" and not c.ws.closed else None
            await c.ws.close()
    await session.close()


# ---- the orchestrator -----------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Drivers:
    """The client processes of one server: connected once, measured many times."""

    def __init__(self, kind: str, clients: list[dict[str, Any]], procs: int, server_pids: list[int]) -> None:
        self.kind, self.clients, self.procs, self.server_pids = kind, clients, procs, server_pids
        self.procs_: list[subprocess.Popen] = []

    def start(self) -> None:
        by_room: dict[int, list[dict[str, Any]]] = {}
        for c in self.clients:
            by_room.setdefault(c["room"], []).append(c)
        shards: list[list[dict[str, Any]]] = [[] for _ in range(self.procs)]
        for i, members in enumerate(by_room.values()):
            shards[i % self.procs].extend(members)
        tmp = Path(tempfile.mkdtemp(prefix="concord-bench-"))
        for i, shard in enumerate(shards):
            spec = tmp / f"spec{i}.json"
            spec.write_text(json.dumps({"kind": self.kind, "warmup": 1.5, "clients": shard}))
            self.procs_.append(subprocess.Popen([sys.executable, __file__, "--drive", str(spec)], stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, text=True, env=server_env()))

    def ready(self) -> None:
        for d in self.procs_:
            line = d.stdout.readline()  # type: ignore[union-attr]
            if line.strip() != "READY":
                raise RuntimeError(f"driver failed to connect its clients: {line!r}")

    async def run(self, rate: float, seconds: float) -> dict[str, Any]:
        cpu0 = [cpu_seconds(p) for p in self.server_pids]
        for d in self.procs_:
            d.stdin.write(f"GO {rate / self.procs} {seconds}\n")  # type: ignore[union-attr]
            d.stdin.flush()  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        results = [json.loads(await loop.run_in_executor(None, d.stdout.readline)) for d in self.procs_]  # type: ignore[union-attr]
        cpu1 = [cpu_seconds(p) for p in self.server_pids]
        return {"sent": sum(r["sent"] for r in results), "received": sum(r["received"] for r in results),
                "seconds": seconds, "lat_ns": [x for r in results for x in r["lat_ns"]],
                "errors": sum(r["errors"] for r in results), "join_retries": sum(r["join_retries"] for r in results),
                "server_cpu_s": sum(b - a for a, b in zip(cpu0, cpu1, strict=True))}

    def stop(self) -> None:
        for d in self.procs_:
            try:
                d.stdin.write("QUIT\n")  # type: ignore[union-attr]
                d.stdin.flush()  # type: ignore[union-attr]
                d.wait(20)
            except Exception:
                d.kill()


def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the rounds of one server: pooled latency samples, summed counts."""
    lat = sorted(x for r in runs for x in r["lat_ns"])
    secs = sum(r["seconds"] for r in runs)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1e6 if lat else float("nan")

    return {"throughput": sum(r["received"] for r in runs) / secs, "sent": sum(r["sent"] for r in runs),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": statistics.fmean(lat) / 1e6 if lat else float("nan"),
            "round_p50_ms": [round(statistics.median(r["lat_ns"]) / 1e6, 3) if r["lat_ns"] else None for r in runs],
            "errors": sum(r["errors"] for r in runs), "join_retries": sum(r["join_retries"] for r in runs),
            "server_cpu_s": round(sum(r["server_cpu_s"] for r in runs), 2)}


async def make_tokens(base: str, rooms: int, title: str) -> list[list[str]]:
    """``rooms`` sessions with five moderator invitations each (direct entry: no lobby in the benchmark)."""
    out: list[list[str]] = []
    async with aiohttp.ClientSession() as s:
        api = await Api(base, s).login("mediator")
        sem = asyncio.Semaphore(8)

        async def one(n: int) -> list[str]:
            async with sem:
                sid = (await api.post("/api/sessions", {"kind": "consultation", "title": f"{title} {n}",
                                                        "unit": "340321001"}, 201))["id"]
                toks = []
                for k in range(ROOM_SIZE):
                    inv = await api.post(f"/api/sessions/{sid}/invitations",
                                         {"name": f"测试员{k}", "role": "mediator"}, 201)
                    toks.append(inv["token"])
                return toks

        out = list(await asyncio.gather(*(one(n) for n in range(rooms))))
    return out


def concord_clients(tokens: list[list[str]], bases: list[str]) -> list[dict[str, Any]]:
    out = []
    i = 0
    for room, toks in enumerate(tokens):
        for t in toks:
            base = bases[i % len(bases)]
            i += 1
            out.append({"url": base.replace("http", "ws") + "/ws", "hello": {"type": "join", "token": t},
                        "room": room})
    return out


def bare_clients(n: int, base: str) -> list[dict[str, Any]]:
    return [{"url": base.replace("http", "ws") + "/ws", "hello": {"type": "join", "room": str(i // ROOM_SIZE),
                                                                  "id": f"b{i}"}, "room": i // ROOM_SIZE}
            for i in range(n)]


def fmt(r: dict[str, Any]) -> str:
    return (f"{r['throughput']:8.0f} msg/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
            f"server CPU {r['server_cpu_s']:5.1f} s  peak RSS {r['rss_mb']:6.1f} MB  errors {r['errors']}"
            + (f"  join retries {r['join_retries']}" if r.get("join_retries") else ""))


async def main(args: argparse.Namespace) -> None:
    counts = [int(x) for x in args.clients.split(",")]
    rates = [float(x) for x in args.rates.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="concord-bench-"))
    env = server_env(CONCORD_WS_JOIN_LIMIT="1000000/1", CONCORD_SECRET_KEY="bench-secret-not-for-production",
                     CONCORD_RECORDINGS_DIR=str(tmp / "rec"))
    assert run_cli(["demo", "--data-dir", str(tmp / "one")], env).returncode == 0
    print(f"# signaling bench: rooms of {ROOM_SIZE}, {args.rounds} x {args.seconds:.0f} s per server, {args.procs} driver "
          f"processes, python {sys.version.split()[0]}, {os.cpu_count()} cores", flush=True)
    pg_url = None
    two_env = None
    if not args.no_redis:
        try:
            import redis as _redis

            _redis.Redis.from_url(args.redis).ping()
            pg_url = await create_pg_database(args.pg)
            two_env = server_env(CONCORD_WS_JOIN_LIMIT="1000000/1", CONCORD_SECRET_KEY="bench-secret-not-for-production",
                                 CONCORD_DATABASE_URL=pg_url, CONCORD_REDIS_URL=args.redis,
                                 CONCORD_REDIS_PREFIX=f"concord-bench-{uuid.uuid4().hex[:6]}",
                                 CONCORD_RECORDINGS_DIR=str(tmp / "rec"))
            assert run_cli(["demo", "--data-dir", str(tmp / "two")], two_env).returncode == 0
        except Exception as e:  # no Redis or PostgreSQL: the one-node figures still stand
            print(f"# two-node run skipped: {type(e).__name__}: {e}", flush=True)
            two_env = None
    summary = []
    try:
        for n in counts:
            rooms = n // ROOM_SIZE
            bare_port = free_port()
            bare = subprocess.Popen([sys.executable, __file__, "--bare-serve", str(bare_port)], env=server_env())
            one = start_node(tmp / "one", env, name=f"one-{n}")
            nodes2 = []
            try:
                await wait_healthy(one)
                await _wait_port(bare_port)
                tokens1 = await make_tokens(one.base, rooms, f"bench-{n}")
                tokens2 = None
                if two_env is not None:
                    nodes2 = [start_node(tmp / "two", two_env, name=f"a-{n}"),
                              start_node(tmp / "two", two_env, name=f"b-{n}")]
                    for x in nodes2:
                        await wait_healthy(x)
                    tokens2 = await make_tokens(nodes2[0].base, rooms, f"bench2-{n}")
                servers: dict[str, Drivers] = {
                    "bare": Drivers("bare", bare_clients(n, f"http://127.0.0.1:{bare_port}"), args.procs, [bare.pid]),
                    "concord": Drivers("concord", concord_clients(tokens1, [one.base]), args.procs, [one.proc.pid]),
                }
                if tokens2 is not None:
                    servers["two_nodes"] = Drivers("concord", concord_clients(tokens2, [x.base for x in nodes2]),
                                                   args.procs, [x.proc.pid for x in nodes2])
                for d in servers.values():
                    d.start()
                    d.ready()
                await asyncio.sleep(3.0)  # let the servers finish what the joins caused (ledger writes)
                for rate in rates:
                    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
                    for rnd in range(args.rounds):
                        order = list(servers) if rnd % 2 == 0 else list(reversed(servers))
                        for k in order:
                            runs[k].append(await servers[k].run(rate, args.seconds))
                    res = {k: pooled(v) for k, v in runs.items()}
                    res["bare"]["rss_mb"] = peak_rss_mb(bare.pid)
                    res["concord"]["rss_mb"] = peak_rss_mb(one.proc.pid)
                    if "two_nodes" in res:
                        res["two_nodes"]["rss_mb"] = max(peak_rss_mb(x.proc.pid) for x in nodes2)
                    print(f"\n## {n} clients ({rooms} rooms), offered {rate:.0f} msg/s, {args.rounds} alternating "
                          f"rounds of {args.seconds:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
                    for k, r in res.items():
                        print(f"{k:>10}: {fmt(r)}   round p50s {r['round_p50_ms']}", flush=True)
                    c, b = res["concord"], res["bare"]
                    line = (f"   ratios: concord/bare p50 {c['p50_ms'] / b['p50_ms']:.2f}x, p99 "
                            f"{c['p99_ms'] / b['p99_ms']:.2f}x, throughput {c['throughput'] / b['throughput']:.2f}x")
                    if "two_nodes" in res:
                        t = res["two_nodes"]
                        line += (f"; two nodes/one node p50 {t['p50_ms'] / c['p50_ms']:.2f}x, p99 "
                                 f"{t['p99_ms'] / c['p99_ms']:.2f}x, throughput {t['throughput'] / c['throughput']:.2f}x")
                    print(line, flush=True)
                    summary.append({"clients": n, "rate": rate, "load_avg": os.getloadavg()[0], **res})
            finally:
                for d in locals().get("servers", {}).values():
                    d.stop()
                bare.terminate()
                bare.wait(10)
                one.stop()
                for x in nodes2:
                    x.stop()
    finally:
        if pg_url:
            await drop_pg_database(args.pg, pg_url)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "signaling.json").write_text(json.dumps(summary, indent=1))
    worst = max((s["concord"]["rss_mb"] for s in summary), default=0)
    print(f"\npeak RSS of the Concord process: {worst:.0f} MB (goal < 300 MB at 1,000 clients)")


async def _wait_port(port: int) -> None:
    for _ in range(100):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError("bare relay did not start")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="100,500,1000")
    p.add_argument("--rates", default="1000,3000", help="offered signal messages per second (total); keep it under "
                   "clients x 50/s, the per-connection limit")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per server (samples pooled)")
    p.add_argument("--procs", type=int, default=2, help="client driver processes")
    p.add_argument("--no-redis", action="store_true")
    p.add_argument("--redis", default=os.environ.get("CONCORD_TEST_REDIS", "redis://127.0.0.1:6379/15"))
    p.add_argument("--pg", default=os.environ.get("CONCORD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--bare-serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--drive", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.bare_serve:
        bare_serve(a.bare_serve)
    elif a.drive:
        asyncio.run(drive(a.drive))
    else:
        asyncio.run(main(a))
