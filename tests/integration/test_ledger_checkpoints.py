"""Checkpoints nobody can roll back: a kept signed tree head catches deleted newest rows on any chain;
every chain has a verify-log option; a fresh demo's directory chain verifies. SQLite and PostgreSQL, the
real CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from server import checkpoint_watch, checkpoints, ledger, merkle
from server.db import Database
from server.db.migrate import upgrade
from server.ledger_store import append, events, integrate
from server.services import services
from tests.conftest import cli_env, login

SECRET = "test-secret-key-not-for-production"


def concord(db_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args, "--data-dir", str(data_dir)],
                          env=cli_env(CONCORD_DATABASE_URL=db_url), capture_output=True, text=True, timeout=180)


@pytest.fixture
async def ldb(db_url: str):  # type: ignore[no-untyped-def]
    db = Database(db_url)
    await upgrade(db)
    yield db
    await db.close()


async def _sql(db: Database, *stmts: str) -> None:
    async with db.engine.begin() as conn:
        for st in stmts:
            await conn.execute(text(st))


async def _write(db: Database, chains: list[str], n: int) -> None:
    async with db.session() as s:
        for i in range(n):
            await append(s, chains[i % len(chains)], "note", {"i": i, "x": 10.0, "text": f"第{i}条"})


async def test_deleting_the_newest_row_fails_against_a_kept_checkpoint(ldb: Database, db_url: str,
                                                                       tmp_path: Path) -> None:
    await _write(ldb, ["case:1"], 43)
    assert concord(db_url, tmp_path, "checkpoint", "sign").returncode == 0
    r = concord(db_url, tmp_path, "checkpoint", "export")
    assert r.returncode == 0, r.stderr
    kept = tmp_path / "checkpoint.json"
    kept.write_text(r.stdout)
    head = json.loads(r.stdout)
    assert head["size"] == 43 and head["format"] == "concord-checkpoint/1"
    # Intact: OK, and later events on other chains only extend the tree.
    await _write(ldb, ["session:5"], 3)
    ok = concord(db_url, tmp_path, "verify-log", "--case", "1", "--checkpoint", str(kept))
    assert ok.returncode == 0 and ok.stdout.startswith("OK 43 events"), ok.stdout + ok.stderr
    assert "extend the checkpoint consistently" in ok.stdout
    # The chain alone still says OK 42 after its newest row goes; the checkpoint does not.
    await _sql(ldb, "DELETE FROM ledger_events WHERE chain = 'case:1' AND seq = 43")
    alone = concord(db_url, tmp_path, "verify-log", "--case", "1")
    assert alone.returncode == 0 and alone.stdout.strip() == "OK 42 events"
    bad = concord(db_url, tmp_path, "verify-log", "--case", "1", "--checkpoint", str(kept))
    assert bad.returncode == 1 and "tree leaf 42 (case:1 seq 43): its event row is gone" in bad.stdout, bad.stdout
    # A careful attacker removes the leaf too: the log is now smaller than the checkpoint.
    await _sql(ldb, "DELETE FROM ledger_leaves WHERE chain = 'case:1' AND seq = 43",
               "DELETE FROM ledger_leaves WHERE chain = 'session:5'", "DELETE FROM ledger_events WHERE chain = 'session:5'")
    bad = concord(db_url, tmp_path, "verify-log", "--checkpoint", str(kept))
    assert bad.returncode == 1 and "fewer than the checkpoint's 43" in bad.stdout, bad.stdout


async def test_a_rewritten_past_fails_and_a_forged_checkpoint_is_refused(ldb: Database, db_url: str,
                                                                         tmp_path: Path) -> None:
    await _write(ldb, ["case:1", "directory"], 10)
    kept = tmp_path / "c.json"
    kept.write_text(concord(db_url, tmp_path, "checkpoint", "sign").stdout)
    # Rewrite event 2 of case:1 and every hash after it, leaves included: the chain verifies, the tree not.
    async with ldb.session() as s:
        rows = (await s.execute(text("SELECT id, seq, type, at, data, hash FROM ledger_events WHERE chain = 'case:1' "
                                     "ORDER BY seq"))).all()
    prev = ledger.GENESIS
    stmts = []
    for id_, seq, type_, _at, data, _old in rows:
        d = json.loads(data)
        if seq == 2:
            d["text"] = "改过"
        ev = ledger.make_event("case:1", ledger.Event("case:1", seq - 1, "", ledger.EPOCH, None, "", prev, 2)
                               if seq > 1 else None, type_, d, ledger.EPOCH)
        stmts.append(f"UPDATE ledger_events SET data = '{json.dumps(d, ensure_ascii=False)}', at = '1970-01-01 00:00:00', "
                     f"prev_hash = '{ev.prev_hash}', hash = '{ev.hash}' WHERE id = {id_}")
        stmts.append(f"UPDATE ledger_leaves SET event_hash = '{ev.hash}' WHERE event_id = {id_}")
        prev = ev.hash
    await _sql(ldb, *stmts)
    assert concord(db_url, tmp_path, "verify-log", "--case", "1").returncode == 0  # the chain alone is fooled
    bad = concord(db_url, tmp_path, "verify-log", "--case", "1", "--checkpoint", str(kept))
    assert bad.returncode == 1 and "do not hash to the checkpoint's root" in bad.stdout, bad.stdout
    # A checkpoint edited to a smaller size no longer verifies; one signed elsewhere is not the city's key.
    forged = json.loads(kept.read_text())
    forged["size"] = 3
    kept.write_text(json.dumps(forged))
    bad = concord(db_url, tmp_path, "verify-log", "--checkpoint", str(kept))
    assert bad.returncode == 1 and "signature does not verify" in bad.stdout


async def test_every_chain_has_a_verify_log_option(ldb: Database, db_url: str, tmp_path: Path) -> None:
    await _write(ldb, ["agreement:7", "session:2", "case:3", "directory", "minutes:x"], 10)
    for args in (["--agreement", "7"], ["--session", "2"], ["--case", "3"], ["--directory"], ["--chain", "minutes:x"],
                 ["--chain", "agreement:7"]):
        r = concord(db_url, tmp_path, "verify-log", *args)
        assert r.returncode == 0 and r.stdout.strip() == "OK 2 events", (args, r.stdout, r.stderr)
    r = concord(db_url, tmp_path, "verify-log", "--agreement", "8")
    assert r.returncode == 1 and "no events on agreement:8" in r.stderr
    r = concord(db_url, tmp_path, "verify-log", "--chain", "agreement:7", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["ok"] and out["chain"] == "agreement:7" and out["count"] == 2
    assert out["events"][0]["v"] == 2 and isinstance(out["events"][0]["at"], int)
    assert out["events"][0]["data"] == {"i": 0, "x": 10.0, "text": "第0条"}
    assert concord(db_url, tmp_path, "verify-log").returncode == 2


async def test_inclusion_proof_of_an_event_against_its_first_checkpoint(ldb: Database, db_url: str,
                                                                        tmp_path: Path) -> None:
    await _write(ldb, ["case:1", "session:1"], 9)
    ring = checkpoints.ledger_keyring(tmp_path, SECRET.encode())
    async with ldb.session() as s:
        first = await checkpoints.sign_checkpoint(s, ring, "test")
    await _write(ldb, ["case:1"], 4)
    async with ldb.session() as s:
        second = await checkpoints.sign_checkpoint(s, ring, "test")
        proof = await checkpoints.inclusion(s, "case:1", 3)
        late = await checkpoints.inclusion(s, "case:1", 7)
        assert await checkpoints.inclusion(s, "case:1", 99) is None
    assert (first.size, second.size) == (9, 13)
    assert proof is not None and proof.checkpoint == first and proof.ok()
    assert late is not None and late.checkpoint == second and late.ok()
    forged = checkpoints.InclusionProof(proof.chain, proof.seq, "f" * 64, proof.index, proof.path, proof.checkpoint)
    assert not forged.ok()
    # The CLI prints the same proof; it verifies from its own numbers.
    r = concord(db_url, tmp_path, "checkpoint", "prove", "--chain", "case:1", "--seq", "3")
    d = json.loads(r.stdout)
    assert r.returncode == 0 and d["checkpoint"]["size"] == 9
    assert merkle.verify_inclusion(merkle.leaf_hash(bytes.fromhex(d["event_hash"])), d["leaf_index"], 9,
                                   [bytes.fromhex(p) for p in d["path"]], bytes.fromhex(d["checkpoint"]["root"]))


async def test_leaves_are_integrated_in_event_order_once(ldb: Database) -> None:
    await _write(ldb, ["a", "b", "c"], 7)
    async with ldb.session() as s:
        assert await integrate(s) == 7
        assert await integrate(s) == 7
    async with ldb.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT leaf_index, event_id FROM ledger_leaves ORDER BY leaf_index"))).all()
    assert [r[0] for r in rows] == list(range(7)) and [r[1] for r in rows] == sorted(r[1] for r in rows)


def test_checkpoint_export_before_any_checkpoint_says_so(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"
    r = concord(url, tmp_path, "checkpoint", "export")
    assert r.returncode == 1 and "no checkpoint yet" in r.stderr


def _count(data_dir: Path, table: str) -> int:
    with sqlite3.connect(data_dir / "concord.db") as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_a_fresh_demo_directory_chain_verifies(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"
    assert concord(url, tmp_path, "demo").returncode == 0
    r = concord(url, tmp_path, "verify-log", "--directory")
    assert r.returncode == 0 and r.stdout.startswith("OK "), r.stdout + r.stderr
    n = int(r.stdout.split()[1])
    assert n == _count(tmp_path, "units") + _count(tmp_path, "staff")  # every unit and account
    # Running demo again creates nothing and ledgers nothing.
    assert concord(url, tmp_path, "demo").returncode == 0
    assert concord(url, tmp_path, "verify-log", "--directory").stdout.strip() == f"OK {n} events"


async def test_the_next_head_extends_the_last_frontier_and_a_bad_one_is_not_trusted(ldb: Database,
                                                                                     tmp_path: Path) -> None:
    ring = checkpoints.ledger_keyring(tmp_path, SECRET.encode())
    for n in (5, 6, 1):
        await _write(ldb, ["case:1", "case:2"], n)
        async with ldb.session() as s:
            sth = await checkpoints.sign_checkpoint(s, ring, "test")
            all_leaves = [x.hash() for x in await checkpoints.ledger_store.leaves(s)]
        assert sth.size == len(all_leaves) and sth.root == merkle.root_of_hashes(all_leaves).hex()
    # A frontier edited in the database does not fold to its signed root: the head is recomputed in full.
    await _sql(ldb, "UPDATE ledger_checkpoints SET frontier = '[[12, \"" + "ab" * 32 + "\"]]'")
    await _write(ldb, ["case:3"], 2)
    async with ldb.session() as s:
        sth = await checkpoints.sign_checkpoint(s, ring, "test")
        all_leaves = [x.hash() for x in await checkpoints.ledger_store.leaves(s)]
    assert sth.size == 14 and sth.root == merkle.root_of_hashes(all_leaves).hex()


async def test_checkpoints_signed_while_two_processes_append_stay_consistent(ldb: Database, db_url: str,
                                                                             tmp_path: Path) -> None:
    """Appends to different chains commit in any order; every head signed meanwhile is a prefix of the final
    tree (leaves are numbered at checkpoint time, never inside the appending transactions)."""
    n = 60
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-m", "tests.integration.ledger_appender", db_url, chain, str(n),
                               str(barrier), "2"], env=cli_env()) for chain in ("session:1", "case:2")]
    ring = checkpoints.ledger_keyring(tmp_path, SECRET.encode())
    heads = []
    while any(p.poll() is None for p in procs):
        async with ldb.session() as s:
            heads.append(await checkpoints.sign_checkpoint(s, ring, "concurrent"))
        await asyncio.sleep(0.02)
    assert all(p.wait(timeout=240) == 0 for p in procs)
    async with ldb.session() as s:
        heads.append(await checkpoints.sign_checkpoint(s, ring, "final"))
        final = [x.hash() for x in await checkpoints.ledger_store.leaves(s)]
        for h in heads:
            assert (await checkpoints.check_log(s, h)).ok
    assert len(final) == 2 * n and heads[-1].size == 2 * n
    assert len({h.size for h in heads}) > 2  # heads were signed while the appends went on
    for h in heads:
        assert merkle.root_of_hashes(final, 0, h.size).hex() == h.root


async def test_a_checkpoint_is_signed_at_intervals_when_the_tree_grew(ldb: Database, tmp_path: Path) -> None:
    ring = checkpoints.ledger_keyring(tmp_path, SECRET.encode())
    t0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    hour = 3600 * 1000
    async with ldb.session() as s:
        assert await checkpoints.sign_if_due(s, ring, hour, t0) is None  # an empty log: nothing to sign
    await _write(ldb, ["case:1"], 3)
    async with ldb.session() as s:
        first = await checkpoints.sign_if_due(s, ring, hour, t0)
    assert first is not None and first.size == 3
    await _write(ldb, ["case:1"], 2)
    async with ldb.session() as s:
        assert await checkpoints.sign_if_due(s, ring, hour, t0 + timedelta(minutes=59)) is None  # too soon
    async with ldb.session() as s:
        later = await checkpoints.sign_if_due(s, ring, hour, t0 + timedelta(minutes=61))
    assert later is not None and later.size == 5
    async with ldb.session() as s:  # nothing new: nothing signed, however late
        assert await checkpoints.sign_if_due(s, ring, hour, t0 + timedelta(days=1)) is None


async def test_the_server_signs_on_its_schedule(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "mediator")  # the login itself is on no chain; make some events
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "调解", "unit": "340321001"},
                          headers=h)
    assert r.status == 201
    sth = await checkpoint_watch.tick(client.app)
    assert sth is not None and sth.size >= 1 and sth.signature_ok()
    assert await checkpoint_watch.tick(client.app) is None
    key_dir = services(client.app).config.data_dir / checkpoints.KEY_DIR
    assert (key_dir / "city.json").exists() and b"private" in (key_dir / "city.json").read_bytes()


async def test_upgrading_a_database_with_v1_rows_keeps_them_verifiable_and_puts_them_in_the_tree(
        db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        await upgrade(db, "0010_sign_out")  # the schema before ledger v2
        t0 = datetime(2026, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)
        prev = ledger.GENESIS
        async with db.engine.begin() as conn:
            for seq in (1, 2):
                data = {"n": 10.0, "text": f"旧的第{seq}条"}
                h = ledger.link_hash(prev, ledger.canonical_v1("case:1", seq, "old", t0, data))
                await conn.execute(text("INSERT INTO ledger_events (chain, seq, type, at, data, prev_hash, hash) "
                                        "VALUES ('case:1', :seq, 'old', :at, :data, :prev, :h)"),
                                   {"seq": seq, "at": t0.replace(tzinfo=None), "data": json.dumps(data, ensure_ascii=False),
                                    "prev": prev, "h": h})
                prev = h
        await upgrade(db)
        await _write(db, ["case:1"], 2)
        ring = checkpoints.ledger_keyring(tmp_path, SECRET.encode())
        async with db.session() as s:
            evs = await events(s, "case:1")
            assert [e.v for e in evs] == [1, 1, 2, 2] and ledger.verify(evs, "case:1").ok
            sth = await checkpoints.sign_checkpoint(s, ring, "after upgrade")
            assert sth.size == 4 and (await checkpoints.check_log(s, sth)).ok
            first = await checkpoints.inclusion(s, "case:1", 1)
            assert first is not None and first.index == 0 and first.ok()
    finally:
        await db.close()
