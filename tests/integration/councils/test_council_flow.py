"""A council end to end through the JSON API and the service, on SQLite and PostgreSQL: members, a resident's
topic and household support, a hybrid meeting, an open and a secret vote (tablet codes, staff), refusals
(twice, non-member, outside the window, no quorum), tasks with a photo, supervision, publication, figures,
and the council's ledger chain. The secret ballots are checked for unlinkability in the database itself."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select, text

from server import ledger, ledger_store
from server.councils import room_votes, service
from server.councils.models import Ballot, Council, Topic, VoteMark
from server.councils.rules import CouncilError
from server.services import services
from tests.conftest import cli_env, login
from tests.integration.access.world import PNG

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Bengbu
PHONE_A, PHONE_B = "13900001111", "13900002222"


async def ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, f"{r.method} {r.url.path}: {r.status} {await r.text()}"
    return await r.json()


async def refused(r: Any, status: int, code: str) -> dict[str, Any]:
    body = await r.json()
    assert r.status == status and body["error"]["code"] == code, (r.status, body)
    return body


async def chain_types(client: Any, council_id: int) -> list[str]:
    async with services(client.server.app).db.session() as s:
        return [e.type for e in await ledger_store.events(s, ledger.council_chain(council_id))]


async def setup_council(client: Any) -> dict[str, Any]:
    services(client.server.app).clock.set(T0)
    conv = await login(client, "grid_340321001001")  # the community's grid worker convenes
    c = await ok(await client.post("/api/councils", headers=conv, json={
        "unit": "340321001001", "name": "幸福小区居民议事会", "neighbourhood": "幸福小区", "support_threshold": 2}), 201)
    term = {"term_start": "2026-01-01", "term_end": "2028-12-31"}
    members = {}
    members["convenor"] = await ok(await client.post(f"/api/councils/{c['id']}/members", headers=conv, json={
        "role": "convenor", "name": "", "username": "grid_340321001001", **term}), 201)
    for key, role, name in (("party", "party_rep", "王党员"), ("res1", "resident_rep", "李居民"),
                            ("res2", "resident_rep", "赵居民"), ("prop", "property", "物业孙经理"),
                            ("guest", "guest", "钱律师")):
        phone = {"phone": "13800001234"} if key == "res1" else {}
        members[key] = await ok(await client.post(f"/api/councils/{c['id']}/members", headers=conv, json={
            "role": role, "name": name, **phone, **term}), 201)
    return {"council": c, "conv": conv, "members": members}


async def test_a_council_decides_and_follows_through(client, config) -> None:  # type: ignore[no-untyped-def]
    app = client.server.app
    db = services(app).db
    w = await setup_council(client)
    c, conv, mem = w["council"], w["conv"], w["members"]
    cid = c["id"]
    # No phone stored for the resident member: only its keyed hash.
    async with db.session() as s:
        dump = " ".join(str(v) for row in (await s.execute(text("SELECT * FROM council_members"))).all() for v in row)
    assert "13800001234" not in dump

    # A resident proposes on the public page (the service the page calls), neighbours support.
    ctx = service.Ctx(T0, config.secret_key)
    async with db.session() as s:
        council = await s.get(Council, cid)
        assert council is not None
        topic = await service.propose_topic(s, ctx, council, title="小区安装充电桩", body="地面停车场加装充电桩",
                                            proposer_name="周女士")
        await service.support_topic(s, ctx, topic, phone=PHONE_A, name="吴先生")
        tid, tcode = topic.id, topic.public_code
    try:
        async with service.transaction(db, ctx) as s:
            topic = await s.get(Topic, tid)
            assert topic is not None
            await service.support_topic(s, ctx, topic, phone="139 0000 1111")
        raise AssertionError("a household supported twice")
    except CouncilError as e:
        assert e.code == "already_supported"
    async with db.session() as s:
        topic = await s.get(Topic, tid)
        assert topic is not None
        await service.support_topic(s, ctx, topic, phone=PHONE_B)
        assert topic.state == "supported" and topic.supports == 2
        dump = " ".join(str(v) for row in (await s.execute(text("SELECT * FROM council_supports"))).all() for v in row)
        assert PHONE_A not in dump and PHONE_B not in dump
    assert "support_refused" in await chain_types(client, cid)

    # The convenor schedules a hybrid meeting with the topic on the agenda.
    meeting = await ok(await client.post(f"/api/councils/{cid}/meetings", headers=conv, json={
        "title": "第一次议事会", "place": "社区议事厅", "scheduled_at": "2026-12-07T10:00:00", "topics": [tid]}), 201)
    mid = meeting["id"]
    assert meeting["session_id"] and meeting["agenda"][0]["topic"] == tid
    codes = {e["member"]: e for e in (await ok(await client.post(f"/api/councils/meetings/{mid}/codes",
                                                                  headers=conv)))["codes"]}
    assert mem["guest"]["id"] not in codes and len(codes) == 5 and all(len(e["code"]) == 6 for e in codes.values())
    await ok(await client.post(f"/api/councils/meetings/{mid}/open", headers=conv))
    for key, mode in (("convenor", "in_person"), ("party", "in_person"), ("res1", "in_person"), ("res2", "online")):
        att = await ok(await client.post(f"/api/councils/meetings/{mid}/attendance", headers=conv, json={
            "member": mem[key]["id"], "mode": mode}))
    assert att["members"] == 5 and att["present"] == 4 and att["online"] == 1 and att["quorate"]
    item = meeting["agenda"][0]["id"]
    await ok(await client.post(f"/api/councils/items/{item}/views", headers=conv, json={
        "member": mem["prop"]["id"], "body": "物业同意配合选址"}), 201)

    # An open vote: tablet codes and the convenor's own login.
    v = await ok(await client.post(f"/api/councils/items/{item}/votes", headers=conv, json={
        "question": "是否同意在地面停车场东侧安装充电桩", "secret": False, "window_s": 600}), 201)
    vid = v["id"]
    await refused(await client.post(f"/api/councils/votes/{vid}/ballots", headers=conv,
                                    json={"choice": "agree", "code": codes[mem["party"]["id"]]["code"]}),
                  409, "outside_window")  # a draft takes no ballots
    await ok(await client.post(f"/api/councils/votes/{vid}/open", headers=conv))
    await refused(await client.post(f"/api/councils/votes/{vid}/secrecy", headers=conv, json={"secret": True}),
                  409, "vote_started")
    cast = await ok(await client.post(f"/api/councils/votes/{vid}/ballots", headers=conv, json={"choice": "agree"}), 201)
    assert cast["receipt"] is None and not cast["secret"]
    for key, choice in (("party", "agree"), ("res1", "against")):
        await ok(await client.post(f"/api/councils/votes/{vid}/ballots", headers=conv, json={
            "choice": choice, "code": codes[mem[key]["id"]]["code"]}), 201)
    await refused(await client.post(f"/api/councils/votes/{vid}/ballots", headers=conv, json={
        "choice": "agree", "code": codes[mem["party"]["id"]]["code"]}), 409, "already_voted")
    await refused(await client.post(f"/api/councils/votes/{vid}/ballots", headers=conv, json={
        "choice": "agree", "code": "000000" if codes[mem["party"]["id"]]["code"] != "000000" else "111111"}),
        403, "not_member")
    await refused(await client.post(f"/api/councils/votes/{vid}/ballots", headers=conv,
                                    json={"choice": "maybe"}), 400, "invalid_field")
    closed = await ok(await client.post(f"/api/councils/votes/{vid}/close", headers=conv))
    assert closed["result"]["outcome"] == "passed"
    assert closed["result"]["tally"] == {"agree": 2, "against": 1, "abstain": 0, "cast": 3}
    assert {b["name"]: b["choice"] for b in closed["ballots"]}["李居民"] == "against"  # open: who voted what
    await refused(await client.post(f"/api/councils/votes/{vid}/open", headers=conv), 409, "vote_closed")
    topic_now = await ok(await client.get(f"/api/councils/topics/{tid}", headers=conv))
    assert topic_now["state"] == "decided"

    # A secret vote on a second item; ballots cast in a known order.
    item2 = (await ok(await client.post(f"/api/councils/meetings/{mid}/items", headers=conv,
                                        json={"title": "充电桩收费标准"}), 201))["id"]
    sv = await ok(await client.post(f"/api/councils/items/{item2}/votes", headers=conv, json={
        "question": "是否同意每度电0.8元", "secret": True}), 201)
    svid = sv["id"]
    await ok(await client.post(f"/api/councils/votes/{svid}/open", headers=conv))
    receipts = []
    order = [("party", "agree"), ("res1", "abstain"), ("res2", "against"), ("prop", "agree")]
    for key, choice in order:
        r = await ok(await client.post(f"/api/councils/votes/{svid}/ballots", headers=conv, json={
            "choice": choice, "code": codes[mem[key]["id"]]["code"]}), 201)
        assert r["secret"] and r["receipt"]
        receipts.append(r["receipt"])
    # Outside the window: the clock passes closes_at; the next ballot is refused and the vote closes.
    services(app).clock.set(T0 + timedelta(seconds=301))
    await refused(await client.post(f"/api/councils/votes/{svid}/ballots", headers=conv, json={"choice": "agree"}),
                  409, "outside_window")
    sv = await ok(await client.get(f"/api/councils/votes/{svid}", headers=conv))
    assert sv["state"] == "closed" and sv["result"]["tally"]["cast"] == 4 and "ballots" not in sv
    assert len(sv["receipts"]) == 4
    for rc in receipts:
        assert (await ok(await client.post(f"/api/councils/votes/{svid}/receipt", headers=conv,
                                           json={"receipt": rc})))["counted"]
    assert not (await ok(await client.post(f"/api/councils/votes/{svid}/receipt", headers=conv,
                                           json={"receipt": "AAAA-BBBB-CCCC"})))["counted"]

    # Unlinkable in the database: no member, no time column in the ballots; the marks hold no choice;
    # the ballot rows' ids are random and their stored order is not the casting order.
    async with db.session() as s:
        cols = await s.run_sync(lambda ss: [col["name"] for col in inspect(ss.connection()).get_columns("council_ballots")])
        assert set(cols) == {"id", "vote_id", "choice", "receipt_hash"}
        mark_cols = await s.run_sync(lambda ss: [col["name"] for col in inspect(ss.connection())
                                                 .get_columns("council_vote_marks")])
        assert not any("at" == col[-2:] or "time" in col for col in mark_cols)
        marks = (await s.execute(select(VoteMark.member_id, VoteMark.choice).where(VoteMark.vote_id == svid))).all()
        assert len(marks) == 4 and all(ch is None for _, ch in marks)
        stored = (await s.execute(text("SELECT id, choice FROM council_ballots WHERE vote_id = :v"), {"v": svid})).all()
        assert len(stored) == 4 and all(len(i) == 32 and int(i, 16) >= 0 for i, _ in stored)
        ids = [i for i, _ in stored]
        assert len(set(ids)) == 4
        # Storage order carries nothing: on SQLite WITHOUT ROWID rows come back by their random key; on
        # PostgreSQL the vote's ballots were rewritten shuffled at close. Either way the stored sequence
        # is a permutation not tied to arrival: it matches the id order (SQLite) or a fresh shuffle (PG).
        if db.engine.dialect.name == "sqlite":
            assert ids == sorted(ids)
            ddl = (await s.execute(text("SELECT sql FROM sqlite_master WHERE name = 'council_ballots'"))).scalar_one()
            assert "WITHOUT ROWID" in ddl.upper()
        counts = sorted(ch for _, ch in stored)
        assert counts == sorted(ch for _, ch in order)
        hashes = set((await s.execute(select(Ballot.receipt_hash).where(Ballot.vote_id == svid))).scalars())
        assert hashes == set(sv["receipts"])

    # No quorum: only two present; opening a vote is refused and ledgered.
    services(app).clock.set(T0 + timedelta(seconds=400))
    for key in ("party", "res1"):
        await ok(await client.post(f"/api/councils/meetings/{mid}/attendance", headers=conv, json={
            "member": mem[key]["id"], "mode": "in_person", "present": False}))
    item3 = (await ok(await client.post(f"/api/councils/meetings/{mid}/items", headers=conv,
                                        json={"title": "临时动议"}), 201))["id"]
    v3 = await ok(await client.post(f"/api/councils/items/{item3}/votes", headers=conv, json={"question": "临时动议"}),
                  201)
    body = await refused(await client.post(f"/api/councils/votes/{v3['id']}/open", headers=conv), 409, "no_quorum")
    assert "2 of 5" in body["error"]["message"]
    types = await chain_types(client, cid)
    assert "vote_refused" in types and types.count("ballot_refused") >= 4

    # Tasks: a photo is the proof; the tier above supervises; the topic resolves when all are done.
    task = await ok(await client.post(f"/api/councils/{cid}/tasks", headers=conv, json={
        "title": "实地考察充电桩位置", "owner": "李居民", "owner_member": mem["res1"]["id"], "deadline": "2026-12-20",
        "vote": vid}), 201)
    assert task["topic"] == tid
    await refused(await client.post(f"/api/councils/tasks/{task['id']}/done", headers=conv, json={}),
                  409, "photo_required")
    sup = await login(client, "mediator")  # 龙亢镇, the tier above the community
    await ok(await client.post(f"/api/councils/tasks/{task['id']}/notes", headers=sup,
                               json={"body": "请按期完成", "kind": "supervision"}), 201)
    await refused(await client.post(f"/api/councils/tasks/{task['id']}/notes", headers=conv,
                                    json={"body": "自己督办自己", "kind": "supervision"}), 403, "forbidden")
    await refused(await client.post(f"/api/councils/tasks/{task['id']}/done", headers=sup, json={}), 403, "forbidden")
    await refused(await client.post(f"/api/councils/tasks/{task['id']}/photos", headers=conv, data=b"GIF89a..."),
                  415, "unsupported_type")
    await ok(await client.post(f"/api/councils/tasks/{task['id']}/photos", headers=conv, data=PNG), 201)
    done = await ok(await client.post(f"/api/councils/tasks/{task['id']}/done", headers=conv, json={"note": "已选定"}))
    assert done["state"] == "done" and done["on_time"] and len(done["photos"]) == 1
    assert (await ok(await client.get(f"/api/councils/topics/{tid}", headers=conv)))["state"] == "resolved"

    # Publication: refused while it would show a phone; then published, secret votes as totals.
    await ok(await client.post(f"/api/councils/meetings/{mid}/close", headers=conv))
    await refused(await client.post(f"/api/councils/meetings/{mid}/publish", headers=conv, json={
        "minutes": "联系人李居民 13800001234"}), 400, "personal_data")
    await ok(await client.post(f"/api/councils/meetings/{mid}/publish", headers=conv, json={
        "minutes": "会议同意在地面停车场东侧安装充电桩。"}))
    async with db.session() as s:
        council = await s.get(Council, cid)
        assert council is not None
        page = await service.public_view(s, council, T0.date())
        status = await service.topic_status(s, await service.topic_by_public_code(s, tcode), T0.date())
    flat = repr(page)
    assert "13800001234" not in flat and PHONE_A not in flat and "李居民" in flat  # the task's owner, by name
    secret_votes = [x for x in page["meetings"][0]["votes"] if x["secret"]]
    assert secret_votes and all(set(x) == {"id", "question", "secret", "result"} for x in page["meetings"][0]["votes"])
    async with db.session() as s:
        council = await s.get(Council, cid)
        assert council is not None
        pv = await service.public_vote(s, council, secret_votes[0]["id"])
        assert await service.check_receipt(s, pv, receipts[0])
    assert status["state"] == "resolved" and status["tasks"][0]["state"] == "done" and status["proposer"] == "周**"

    # Dashboard figures, for the tier above.
    figs = await ok(await client.get("/api/councils/figures", headers=sup))
    assert figs["councils"] == 1 and figs["meetings_held"] == 1 and figs["topics_raised"] == 1
    assert figs["topics_accepted"] == 1 and figs["topics_resolved"] == 1 and figs["decisions"] == 1
    assert figs["decisions_with_tasks"] == 1 and figs["decisions_done_on_time"] == 1
    other = await login(client, "mediator_340322")  # another county sees nothing
    assert (await ok(await client.get("/api/councils/figures", headers=other)))["councils"] == 0
    assert (await client.get(f"/api/councils/{cid}", headers=other)).status == 404

    # A topic that is really a dispute becomes a case; a case raises a topic.
    t2 = await ok(await client.post(f"/api/councils/{cid}/topics", headers=conv, json={"title": "楼上漏水纠纷"}), 201)
    spawned = await ok(await client.post(f"/api/councils/topics/{t2['id']}/case", headers=conv), 201)
    await refused(await client.post(f"/api/councils/topics/{t2['id']}/case", headers=conv), 409, "already_spawned")
    t3 = await ok(await client.post(f"/api/councils/{cid}/topics", headers=conv, json={
        "title": "公共区域漏水维修", "case_id": spawned["case_id"]}), 201)
    assert t3["source"] == "case" and t3["case_id"] == spawned["case_id"]
    await refused(await client.post(f"/api/councils/{cid}/topics", headers=conv, json={
        "title": "看不见的案件", "case_id": 999999}), 404, "not_found")
    await refused(await client.post(f"/api/councils/{cid}/topics", headers=conv, json={
        "title": "请联系我", "body": "电话13912345678"}), 400, "personal_data")

    types = await chain_types(client, cid)
    for t in ("topic_spawned_case", "council_created", "member_added", "topic_proposed", "topic_supported", "topic_accepted",
              "meeting_scheduled", "vote_opened", "vote_closed", "topic_decided", "task_created", "task_photo",
              "task_supervision", "task_done", "topic_resolved", "publication_refused", "meeting_published"):
        assert t in types, t


async def test_verify_log_catches_an_edited_tally(client, config, db_url) -> None:  # type: ignore[no-untyped-def]
    w = await setup_council(client)
    conv, mem, cid = w["conv"], w["members"], w["council"]["id"]
    meeting = await ok(await client.post(f"/api/councils/{cid}/meetings", headers=conv, json={
        "title": "议事会", "place": "议事厅", "scheduled_at": "2026-12-07T10:00:00", "room": False}), 201)
    mid = meeting["id"]
    item = (await ok(await client.post(f"/api/councils/meetings/{mid}/items", headers=conv,
                                       json={"title": "充电桩"}), 201))["id"]
    codes = {e["member"]: e["code"] for e in (await ok(await client.post(f"/api/councils/meetings/{mid}/codes",
                                                                          headers=conv)))["codes"]}
    await ok(await client.post(f"/api/councils/meetings/{mid}/open", headers=conv))
    for key in ("convenor", "party", "res1"):
        await ok(await client.post(f"/api/councils/meetings/{mid}/attendance", headers=conv,
                                   json={"member": mem[key]["id"], "mode": "in_person"}))
    v = await ok(await client.post(f"/api/councils/items/{item}/votes", headers=conv,
                                   json={"question": "安装", "secret": True}), 201)
    await ok(await client.post(f"/api/councils/votes/{v['id']}/open", headers=conv))
    for key in ("party", "res1"):
        await ok(await client.post(f"/api/councils/votes/{v['id']}/ballots", headers=conv,
                                   json={"choice": "against", "code": codes[mem[key]["id"]]}), 201)
    res = await ok(await client.post(f"/api/councils/votes/{v['id']}/close", headers=conv))
    assert res["result"]["outcome"] == "not_passed"

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "server", "verify-log", "--council", str(cid), "--data-dir",
                               str(config.data_dir)], env=cli_env(CONCORD_DATABASE_URL=db_url),
                              capture_output=True, text=True, timeout=120)

    good = verify()
    assert good.returncode == 0 and good.stdout.startswith("OK"), good.stdout + good.stderr
    # Someone edits the stored tally to make the vote pass.
    db = services(client.server.app).db
    async with db.session() as s:
        row = (await s.execute(select(ledger_store.LedgerEvent).where(
            ledger_store.LedgerEvent.chain == ledger.council_chain(cid),
            ledger_store.LedgerEvent.type == "vote_closed"))).scalar_one()
        data = dict(row.data)
        data["tally"] = {"agree": 2, "against": 0, "abstain": 0, "cast": 2}
        data["outcome"] = "passed"
        row.data = data
        seq = row.seq
    bad = verify()
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert str(seq) in bad.stdout + bad.stderr


async def test_the_sweeper_closes_votes_past_their_window_and_reminds_overdue_tasks(client, config) -> None:  # type: ignore[no-untyped-def]
    app = client.server.app
    w = await setup_council(client)
    conv, mem, cid = w["conv"], w["members"], w["council"]["id"]
    meeting = await ok(await client.post(f"/api/councils/{cid}/meetings", headers=conv, json={
        "title": "议事会", "place": "议事厅", "scheduled_at": "2026-12-07T10:00:00", "room": False}), 201)
    item = (await ok(await client.post(f"/api/councils/meetings/{meeting['id']}/items", headers=conv,
                                       json={"title": "充电桩"}), 201))["id"]
    await ok(await client.post(f"/api/councils/meetings/{meeting['id']}/open", headers=conv))
    for key in ("convenor", "party", "res1"):
        await ok(await client.post(f"/api/councils/meetings/{meeting['id']}/attendance", headers=conv,
                                   json={"member": mem[key]["id"], "mode": "in_person"}))
    v = await ok(await client.post(f"/api/councils/items/{item}/votes", headers=conv,
                                   json={"question": "安装", "window_s": 60}), 201)
    await ok(await client.post(f"/api/councils/votes/{v['id']}/open", headers=conv))
    task = await ok(await client.post(f"/api/councils/{cid}/tasks", headers=conv, json={
        "title": "物业提交安装方案", "owner": "物业孙经理", "deadline": "2026-12-07"}), 201)
    svc = services(app)
    assert await room_votes.sweep(svc.db, svc.clock, config.secret_key, None) == 0
    svc.clock.set(T0 + timedelta(days=2))
    assert await room_votes.sweep(svc.db, svc.clock, config.secret_key, None) == 1
    assert await room_votes.sweep(svc.db, svc.clock, config.secret_key, None) == 0  # once
    got = await ok(await client.get(f"/api/councils/votes/{v['id']}", headers=conv))
    assert got["state"] == "closed" and got["result"]["outcome"] == "not_passed"  # quorate, nobody voted
    t = await ok(await client.get(f"/api/councils/tasks/{task['id']}", headers=conv))
    assert t["overdue"] and [n["kind"] for n in t["notes"]] == ["reminder"]
    types = await chain_types(client, cid)
    assert types.count("task_overdue") == 1 and "vote_closed" in types
