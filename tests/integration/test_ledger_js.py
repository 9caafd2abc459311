"""The JavaScript verifier (tools/verify-ledger.mjs, written from docs/ledger.md) agrees with the Python one
on every chain the scenarios produce: v1, v2 and mixed chains; sessions, cases, the directory and
agreements; awkward numbers and text; and tampered copies, where both name the same event."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from server import checkpoints, ledger
from server.db import Database
from server.db.migrate import upgrade
from server.ledger_store import LedgerEvent, LedgerLeaf, append, events
from server.services import services
from tests.conftest import cli_env, login, need
from tests.integration.agreements.helpers import content, mediator_body, mediator_name
from tests.integration.agreements.test_signing_flow import party_sign, session_with_invitations

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "verify-ledger.mjs"

AWKWARD: list[Any] = [
    {"n": 10.0, "tiny": 1e-7, "big": 2**53 - 1, "neg": -(2**53 - 1), "zero": -0.0, "e21": 1e21, "e20": 1e20,
     "third": 1 / 3, "half": 0.5, "max": 1.7976931348623157e308, "min": 5e-324},
    {"text": "中文 😀 \u2028\u2029 \x7f \x01\x1f \"quoted\" back\\slash \t\n\r\b\f", "empty": ""},
    {"\ufb33": 1, "\U0001f600": 2, "\u20ac": 3, "\r": 4, "1": 5, "\u0080": 6, "\u00f6": 7},  # UTF-16 key order
    {"nested": {"list": [1, 2.5, [True, False, None], {"z": {"y": [{}]}}], "t": (1, 2)}, "null": None},
    [1, "two", 3.0],
    None,
    "just a string",
    123456789012345.67,
]


def node() -> str:
    path = shutil.which("node")
    need("node (for the JavaScript ledger verifier)", path is not None)
    assert path is not None
    return path


def js_verdict(path: Path) -> dict[str, Any]:
    r = subprocess.run([node(), str(TOOL), str(path), "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    out = json.loads(r.stdout)
    assert (r.returncode == 0) == out["ok"]
    return out


def export_file(tmp_path: Path, chain: str, evs: list[ledger.Event], v: ledger.Verification) -> Path:
    """As ``concord verify-log --json`` writes it."""
    p = tmp_path / (chain.replace(":", "_") + ".json")
    p.write_text(json.dumps({"chain": chain, "ok": v.ok, "count": v.count, "bad_seq": v.bad_seq,
                             "reason": v.reason, "events": [e.export() for e in evs]}, ensure_ascii=False, indent=1))
    return p


async def agree_on_every_chain(db: Database, tmp_path: Path) -> dict[str, ledger.Verification]:
    async with db.session() as s:
        chains = sorted(set((await s.execute(select(LedgerEvent.chain))).scalars()))
        out = {}
        for chain in chains:
            evs = await events(s, chain)
            py = ledger.verify(evs, chain)
            js = js_verdict(export_file(tmp_path, chain, evs, py))
            assert (js["ok"], js["count"], js["bad_seq"]) == (py.ok, py.count, py.bad_seq), (chain, js, str(py))
            out[chain] = py
    return out


async def _v1_rows(db: Database, chain: str, datas: list[Any]) -> None:
    """Rows as the code before ledger v2 wrote them (v1 canonical form, microsecond ISO times)."""
    t0 = datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=UTC)
    prev: ledger.Event | None = None
    async with db.session() as s:
        for i, data in enumerate(datas):
            at = t0 + timedelta(seconds=i, microseconds=i)
            data = json.loads(json.dumps(data, ensure_ascii=False))
            seq = prev.seq + 1 if prev else 1
            ph = prev.hash if prev else ledger.GENESIS
            h = ledger.link_hash(ph, ledger.canonical_v1(chain, seq, "old", at, data))
            prev = ledger.Event(chain, seq, "old", at, data, ph, h, 1)
            row = LedgerEvent(chain=chain, seq=seq, type="old", at=at, data=data, prev_hash=ph, hash=h, v=1)
            s.add(row)
            await s.flush()
            s.add(LedgerLeaf(event_id=row.id, chain=chain, seq=seq, event_hash=h))


@pytest.fixture
async def ldb(db_url: str):  # type: ignore[no-untyped-def]
    db = Database(db_url)
    await upgrade(db)
    yield db
    await db.close()


async def _tamper(db: Database, chain: str, seq: int, **values: Any) -> None:
    async with db.session() as s:
        await s.execute(update(LedgerEvent).where(LedgerEvent.chain == chain, LedgerEvent.seq == seq).values(**values))


async def test_js_and_python_agree_on_v1_v2_and_mixed_chains_and_tampering(ldb: Database, db_url: str,
                                                                           tmp_path: Path) -> None:
    await _v1_rows(ldb, "session:1", AWKWARD)  # v1 only
    await _v1_rows(ldb, "case:1", AWKWARD[:3])  # v1, then v2 below: mixed
    async with ldb.session() as s:
        for d in AWKWARD:
            await append(s, "case:1", "new", d)
            await append(s, "agreement:4", "agreement.note", d)
            await append(s, "directory", "account.created", {"username": "u", "data": d})
    verdicts = await agree_on_every_chain(ldb, tmp_path)
    assert set(verdicts) == {"session:1", "case:1", "agreement:4", "directory"}
    assert all(v.ok for v in verdicts.values())
    async with ldb.session() as s:
        assert [e.v for e in await events(s, "case:1")] == [1] * 3 + [2] * len(AWKWARD)

    # The CLI's own --json export goes straight into the JS verifier.
    r = subprocess.run([sys.executable, "-m", "server", "verify-log", "--chain", "case:1", "--json", "--data-dir",
                        str(tmp_path)], env=cli_env(CONCORD_DATABASE_URL=db_url), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    (tmp_path / "cli.json").write_text(r.stdout)
    assert js_verdict(tmp_path / "cli.json") == {"ok": True, "count": 3 + len(AWKWARD), "bad_seq": None, "reason": ""}

    # Flip one value on each chain: both name the same event.
    await _tamper(ldb, "session:1", 1, data={**AWKWARD[0], "n": 10.5})  # a v1 number
    await _tamper(ldb, "case:1", 5, data={"text": "改过"})  # a v2 event after v1 ones
    await _tamper(ldb, "agreement:4", 3, at=datetime(2026, 3, 1, tzinfo=UTC))  # a time
    await _tamper(ldb, "directory", 8, type="account.deleted")
    verdicts = await agree_on_every_chain(ldb, tmp_path)
    assert {c: v.bad_seq for c, v in verdicts.items()} == {"session:1": 1, "case:1": 5, "agreement:4": 3,
                                                            "directory": 8}


async def test_js_reads_jsonl_and_refuses_what_it_cannot_hash(tmp_path: Path) -> None:
    evs = []
    prev = None
    for d in AWKWARD:
        prev = ledger.make_event("session:9", prev, "chat", d, datetime(2026, 5, 1, tzinfo=UTC))
        evs.append(prev)
    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps(e.export(), ensure_ascii=False) + "\n" for e in evs))
    assert js_verdict(p)["ok"]
    # 10.0 written as 10 is the same v2 event (JCS hashes the number, not its spelling); 10.5 is not.
    lines = [x for x in p.read_text().split("\n") if x]  # not splitlines(): U+2028 is in the text
    p.write_text("\n".join([lines[0].replace('"n": 10.0', '"n": 10')] + lines[1:]) + "\n")
    assert js_verdict(p)["ok"]
    p.write_text("\n".join([lines[0].replace('"n": 10.0', '"n": 10.5')] + lines[1:]) + "\n")
    assert js_verdict(p)["bad_seq"] == 1
    # An integer beyond 2^53 cannot be hashed exactly: refused, as the server refuses to append it.
    p.write_text("\n".join([lines[0].replace('"n": 10.0', '"n": 9007199254740993')] + lines[1:]) + "\n")
    out = js_verdict(p)
    assert out["bad_seq"] == 1 and "2^53" in out["reason"]


async def test_js_agrees_on_every_chain_of_an_agreement_that_took_effect(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The real flow: a session with invitations, two parties, the mediator and the seal. The checkpoint
    signed when it took effect proves its effective event."""
    h = await login(client, "mediator")
    sid, zhang, li = await session_with_invitations(client, h)
    name = await mediator_name(client, h)
    body = {"session_id": sid, "content": content(mediator_name=name)}
    a = await (await client.post("/api/agreements", json=body, headers=h)).json()
    aid = a["id"]
    assert (await client.post(f"/api/agreements/{aid}/freeze", json={"version": 1}, headers=h)).status == 200
    assert (await party_sign(client, aid, zhang, "7774", name="张三")).status == 201
    assert (await party_sign(client, aid, li, li["code"], name="李四")).status == 201
    got = await (await client.get(f"/api/agreements/{aid}", headers=h)).json()
    assert (await client.post(f"/api/agreements/{aid}/sign/mediator", json=mediator_body(got, name),
                              headers=h)).status == 201
    r = await client.post(f"/api/agreements/{aid}/seal", json=mediator_body(got, name, image=None), headers=h)
    assert r.status == 201 and (await r.json())["state"] == "effective"

    db = services(client.app).db
    verdicts = await agree_on_every_chain(db, tmp_path)
    assert f"agreement:{aid}" in verdicts and f"session:{sid}" in verdicts and all(v.ok for v in verdicts.values())
    async with db.session() as s:
        evs = await events(s, f"agreement:{aid}")
        effective = next(e for e in evs if e.type == "agreement.effective")
        proof = await checkpoints.inclusion(s, effective.chain, effective.seq)
        latest = await checkpoints.latest(s)
    assert proof is not None and proof.ok() and proof.checkpoint == latest
    assert proof.event_hash == effective.hash
    # The JavaScript verifier checks the same proof and the checkpoint's signature.
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(proof.as_dict()))
    r = subprocess.run([node(), str(TOOL), "--proof", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith(f"OK agreement:{aid} seq {effective.seq} is leaf"), r.stdout
