"""Tampering with ledger rows is caught by ``concord verify-log``; concurrent appenders never fork a chain.

Both run on SQLite and PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from server import ledger
from server.db import Database
from server.db.migrate import upgrade
from server.ledger_store import append, events, verify_chain
from tests.conftest import cli_env

CHAIN = ledger.session_chain(1)


async def _chain_of(db: Database, n: int) -> list[ledger.Event]:
    for i in range(n):
        async with db.session() as s:
            await append(s, CHAIN, "chat", {"peer": "p1", "text": f"第{i + 1}条"})
    async with db.session() as s:
        return await events(s, CHAIN)


def _verify_cli(db_url: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = cli_env(CONCORD_DATABASE_URL=db_url)
    return subprocess.run([sys.executable, "-m", "server", "verify-log", "--session", "1", "--data-dir",
                           str(data_dir)], env=env, capture_output=True, text=True, timeout=120)


async def _sql(db: Database, *stmts: str) -> None:
    async with db.engine.begin() as conn:
        for st in stmts:
            await conn.execute(text(st))


@pytest.fixture
async def ledger_db(db_url: str):  # type: ignore[no-untyped-def]
    db = Database(db_url)
    await upgrade(db)
    yield db
    await db.close()


async def _ids(db: Database) -> dict[int, int]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT seq, id FROM ledger_events WHERE chain = :c"), {"c": CHAIN})).all()
    return {seq: id_ for seq, id_ in rows}


async def test_intact_chain_verifies(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    await _chain_of(ledger_db, 5)
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "OK 5 events", r.stdout + r.stderr


async def test_edited_row_is_named(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    await _chain_of(ledger_db, 5)
    ids = await _ids(ledger_db)
    await _sql(ledger_db, f"""UPDATE ledger_events SET data = '{{"peer": "p1", "text": "改过的"}}' WHERE id = {ids[3]}""")
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 1 and "seq=3" in r.stdout and "edited" in r.stdout, r.stdout


async def test_edited_time_is_named(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    await _chain_of(ledger_db, 4)
    ids = await _ids(ledger_db)
    await _sql(ledger_db, f"UPDATE ledger_events SET at = '2020-01-01 00:00:00' WHERE id = {ids[2]}")
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 1 and "seq=2" in r.stdout, r.stdout


async def test_deleted_row_is_named(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    await _chain_of(ledger_db, 5)
    ids = await _ids(ledger_db)
    await _sql(ledger_db, f"DELETE FROM ledger_events WHERE id = {ids[3]}")
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 1 and "seq=4" in r.stdout, r.stdout  # the event after the gap


async def test_inserted_row_is_named(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    evs = await _chain_of(ledger_db, 4)
    ids = await _ids(ledger_db)
    # Make room in storage order after event 2, shift the later events' seq, insert a forged event 3
    # whose hash is correctly computed on event 2: only its successor's link can give it away.
    forged = ledger.make_event(CHAIN, evs[1], "chat", {"peer": "p1", "text": "伪造"}, evs[1].at)
    stmts = [f"UPDATE ledger_events SET id = id + 1000, seq = seq + 100 WHERE id IN ({ids[3]}, {ids[4]})",
             f"UPDATE ledger_events SET seq = seq - 99 WHERE id IN ({ids[3] + 1000}, {ids[4] + 1000})"]
    at = forged.at.strftime("%Y-%m-%d %H:%M:%S.%f")
    stmts.append(
        "INSERT INTO ledger_events (id, chain, seq, type, at, data, prev_hash, hash, v) VALUES "
        f"({ids[2] + 500}, '{CHAIN}', 3, 'chat', '{at}', '{{\"peer\": \"p1\", \"text\": \"伪造\"}}', "
        f"'{forged.prev_hash}', '{forged.hash}', 2)")
    await _sql(ledger_db, *stmts)
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 1 and "seq=4" in r.stdout and "prev_hash" in r.stdout, r.stdout
    # A careless forger who does not compute the hash is named exactly.
    await _sql(ledger_db, f"UPDATE ledger_events SET hash = '{'f' * 64}' WHERE id = {ids[2] + 500}")
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 1 and "seq=3" in r.stdout, r.stdout


async def test_reordered_rows_are_named(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    await _chain_of(ledger_db, 5)
    ids = await _ids(ledger_db)
    a, b = ids[2], ids[3]
    await _sql(ledger_db, f"UPDATE ledger_events SET id = {a + 100000} WHERE id = {a}",
               f"UPDATE ledger_events SET id = {a} WHERE id = {b}",
               f"UPDATE ledger_events SET id = {b} WHERE id = {a + 100000}")
    r = _verify_cli(db_url, tmp_path)
    assert r.returncode == 1 and "seq=3" in r.stdout and "reorder" in r.stdout, r.stdout


async def test_two_processes_appending_never_fork(ledger_db: Database, db_url: str, tmp_path: Path) -> None:
    n = 80
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-m", "tests.integration.ledger_appender", db_url, CHAIN, str(n),
                               str(barrier), "2"], env=cli_env()) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=240) == 0
    async with ledger_db.session() as s:
        evs = await events(s, CHAIN)
        v = await verify_chain(s, CHAIN)
    assert v.ok and v.count == 2 * n, str(v)
    assert [e.seq for e in evs] == list(range(1, 2 * n + 1))
    pids = {e.data["pid"] for e in evs}
    assert len(pids) == 2
    # Both processes really interleaved (otherwise this test proves nothing about serialisation).
    owners = [e.data["pid"] for e in evs]
    switches = sum(1 for x, y in zip(owners, owners[1:], strict=False) if x != y)
    assert switches >= 2
