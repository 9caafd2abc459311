"""A secret council vote with many members in the live room, beside a plain chat message in the same room.

    python bench/councils.py [--members 300] [--database-url postgresql+asyncpg://...]

A real ``concord serve`` process (SQLite in a temporary data directory unless a database URL is given). The
convenor (the community's grid worker) seats ``--members`` resident representatives (plus their own convenor's
seat, which votes from the room like the others), schedules a meeting
with a live room, issues every member their invitation and code, and joins as host. Every member joins the
room over the WebSocket (with the invitation's code check) and is admitted; the room marks them present
online. Then, in the same run:

- **chat**: the host sends one chat message; the time until every member has received it (median, max);
- **vote**: a secret vote opens; every member sends its ``vote`` message at once; each gets its ``ballot``
  answer (counted, with a receipt). The convenor then closes the vote over HTTP; measured is the time from
  the last ballot's answer to the moment every member has the published tally (``council_vote``, closed);
- **checks**: the tally counts every ballot; one member's receipt is checked over the API.

Prints the figures and the server's peak RSS; writes bench/out/councils.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_mib  # noqa: E402
from tests.support.servers import Api, run_cli, server_env, start_node, wait_healthy  # noqa: E402

UNIT = "340321001001"
CONVENOR = "grid_340321001001"


class Member:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.peer_id = ""
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.waiters: list[tuple[Any, asyncio.Future[float]]] = []
        self.reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            m = json.loads(msg.data)
            now = time.perf_counter()
            for pred, fut in list(self.waiters):
                if not fut.done() and pred(m):
                    fut.set_result(now)
                    self.waiters.remove((pred, fut))
            self.inbox.put_nowait(m)

    def expect(self, pred: Any) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.append((pred, fut))
        return fut


async def join(session: aiohttp.ClientSession, ws_url: str, token: str, check: str | None) -> tuple[Member, dict]:
    ws = await session.ws_connect(ws_url, max_msg_size=0)
    msg: dict[str, Any] = {"type": "join", "token": token}
    if check:
        msg["check"] = check
    await ws.send_str(json.dumps(msg))
    first = json.loads((await ws.receive(timeout=60)).data)
    return Member(ws), first


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="concord-councils-"))
    # Every member connects from this one address: lift the per-address join limit (docs/operations.md).
    extra = {"CONCORD_SECRET_KEY": "bench-secret-not-for-production", "CONCORD_RECORDINGS_DIR": str(tmp / "rec"),
             "CONCORD_WS_JOIN_LIMIT": "100000/10"}
    if args.database_url:
        extra["CONCORD_DATABASE_URL"] = args.database_url
    env = server_env(**extra)
    assert run_cli(["demo", "--data-dir", str(tmp)], env).returncode == 0
    node = start_node(tmp, env, name="councils")
    n = args.members
    try:
        await wait_healthy(node)
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as s:
            api = await Api(node.base, s).login(CONVENOR)
            c = await api.post("/api/councils", {"unit": UNIT, "name": "压力测试议事会"}, 201)
            term = {"term_start": "2026-01-01", "term_end": "2030-12-31"}
            await api.post(f"/api/councils/{c['id']}/members", {"role": "convenor", "name": "", "username": CONVENOR,
                                                                **term}, 201)
            t0 = time.perf_counter()
            for i in range(n):
                await api.post(f"/api/councils/{c['id']}/members", {"role": "resident_rep", "name": f"居民{i:03d}",
                                                                    **term}, 201)
            seat_s = time.perf_counter() - t0
            m = await api.post(f"/api/councils/{c['id']}/meetings", {
                "title": "压力测试会议", "place": "议事厅", "scheduled_at": "2026-12-07T10:00:00"}, 201)
            mid, sid = m["id"], m["session_id"]
            item = (await api.post(f"/api/councils/meetings/{mid}/items", {"title": "表决事项"}, 201))["id"]
            codes = [e for e in (await api.post(f"/api/councils/meetings/{mid}/codes"))["codes"] if "url" in e]
            await api.post(f"/api/councils/meetings/{mid}/open")
            host_tok = (await api.post(f"/api/sessions/{sid}/join-token"))
            ws_url = node.base.replace("http", "ws", 1) + "/ws"
            host, welcome = await join(s, ws_url, host_tok["token"], None)
            assert welcome["type"] == "welcome", welcome
            host.start()

            # Everyone joins; the host admits each knock.
            async def admit_loop() -> None:
                while True:
                    msg = await host.inbox.get()
                    if msg.get("type") == "knock":
                        await host.ws.send_str(json.dumps({"type": "admit", "peer": msg["peer"]["id"]}))

            admitter = asyncio.create_task(admit_loop())
            t0 = time.perf_counter()
            members: list[Member] = []
            welcomed: list[asyncio.Future[float]] = []
            for batch in range(0, len(codes), 50):
                joined = await asyncio.gather(*(join(s, ws_url, e["url"].rsplit("/", 1)[1], e["code"])
                                                for e in codes[batch:batch + 50]))
                for mem, first in joined:
                    assert first["type"] in ("lobby", "welcome"), first
                    admitted = mem.expect(lambda x: x.get("type") == "welcome")
                    if first["type"] == "welcome":
                        admitted.set_result(time.perf_counter())
                    mem.start()
                    members.append(mem)
                    welcomed.append(admitted)
            await asyncio.wait_for(asyncio.gather(*welcomed), 120)
            # Wait until the room has marked everyone present (attendance is written as each is admitted).
            deadline = time.perf_counter() + 120
            while True:
                att = (await api.get(f"/api/councils/meetings/{mid}"))["attendance"]
                if att["present"] >= len(members) or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.25)
            join_s = time.perf_counter() - t0
            admitter.cancel()

            # A plain chat message from the host, relayed to every member.
            text = "请各位代表准备表决"
            chat_futs = [mem.expect(lambda x: x.get("type") == "chat" and x.get("text") == text) for mem in members]
            t_chat = time.perf_counter()
            await host.ws.send_str(json.dumps({"type": "chat", "text": text}))
            chat_at = await asyncio.wait_for(asyncio.gather(*chat_futs), 60)
            chat = [a - t_chat for a in chat_at]

            # The secret vote.
            vote = await api.post(f"/api/councils/items/{item}/votes", {"question": "是否同意安装充电桩",
                                                                        "secret": True, "window_s": 1800}, 201)
            vid = vote["id"]
            await api.post(f"/api/councils/votes/{vid}/open")
            choices = ["agree", "against", "abstain"]
            ballot_futs = [mem.expect(lambda x: x.get("type") in ("ballot", "error") and
                                      (x.get("type") == "ballot" or x.get("ref") == "vote")) for mem in members]
            sent_at = time.perf_counter()
            await asyncio.gather(*(mem.ws.send_str(json.dumps({"type": "vote", "vote": vid, "choice": choices[i % 3]}))
                                   for i, mem in enumerate(members)))
            ballot_at = await asyncio.wait_for(asyncio.gather(*ballot_futs), 300)
            answers = [await _last(mem, "ballot") for mem in members]
            counted = [a for a in answers if a and a.get("type") == "ballot" and a.get("counted")]
            last_ballot = max(ballot_at)
            tally_futs = [mem.expect(lambda x: x.get("type") == "council_vote" and x["vote"]["state"] == "closed")
                          for mem in members]
            closed = await api.post(f"/api/councils/votes/{vid}/close")
            tally_at = await asyncio.wait_for(asyncio.gather(*tally_futs), 120)
            tally_s = max(tally_at) - last_ballot
            receipt = counted[len(counted) // 2]["receipt"]
            receipt_ok = (await api.post(f"/api/councils/votes/{vid}/receipt", {"receipt": receipt}))["counted"]
            out = {
                "members": n, "voters_in_room": len(members), "database": "postgresql" if args.database_url else "sqlite",
                "seat_members_s": seat_s, "join_and_admit_all_s": join_s, "present": att["present"],
                "ballots_sent": len(members), "ballots_counted": len(counted), "tally": closed["result"]["tally"],
                "outcome": closed["result"]["outcome"],
                "ballot_answer_median_s": statistics.median(a - sent_at for a in ballot_at),
                "all_ballots_answered_s": last_ballot - sent_at,
                "last_ballot_to_tally_everywhere_s": tally_s,
                "chat_median_s": statistics.median(chat), "chat_all_s": max(chat),
                "receipt_checked": receipt_ok, "server_peak_rss_mib": peak_rss_mib(node.proc.pid),
                "bench_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "load_avg": os.getloadavg(),
            }
            for mem in [*members, host]:
                await mem.ws.close()
        print(f"\nsecret vote, {len(members)} voting members in the room over WebSocket ({out['database']}):")
        print(f"  ballots: {out['ballots_counted']} of {out['ballots_sent']} counted; tally {out['tally']}; "
              f"{out['outcome']}")
        print(f"  every ballot answered {out['all_ballots_answered_s']:.3f} s after they were sent "
              f"(median answer {out['ballot_answer_median_s']:.3f} s)")
        print(f"  last ballot -> tally published to every member: {tally_s:.3f} s")
        print(f"  plain chat to every member in the same room: median {out['chat_median_s'] * 1000:.1f} ms, "
              f"all {out['chat_all_s'] * 1000:.1f} ms")
        print(f"  a receipt checked: {receipt_ok}; joining and admitting all: {join_s:.1f} s")
        print(f"  peak RSS: server {out['server_peak_rss_mib']:.0f} MiB, bench {out['bench_peak_rss_mib']:.0f} MiB; "
              f"load average {out['load_avg'][0]:.1f}")
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        (ROOT / "bench" / "out" / "councils.json").write_text(json.dumps(out, indent=1, ensure_ascii=False))
        voters = out["ballots_sent"]
        ok = out["ballots_counted"] == voters and closed["result"]["tally"]["cast"] == voters and receipt_ok
        if not ok:
            raise SystemExit("FAILED: not every ballot was counted, or the receipt was not found")
    finally:
        node.stop()


async def _last(mem: Member, kind: str) -> dict[str, Any] | None:
    """The member's answer to its vote (drained from its inbox)."""
    found = None
    while not mem.inbox.empty():
        m = mem.inbox.get_nowait()
        if m.get("type") == kind or (m.get("type") == "error" and m.get("ref") == "vote"):
            found = m
    return found


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=300)
    p.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite in the data directory)")
    asyncio.run(main(p.parse_args()))
