"""What Concord writes is its own user's only: data directory 0700, database, keys, evidence and
recordings 0600 (server/security/files.py), under ``concord demo``/``serve`` and in any other process."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from server.media.segments import TrackWriter, write_json_atomic
from server.security.files import lock_down, private_dir
from tests.conftest import cli_env
from tests.integration.cases.helpers import create, hdr
from tests.integration.cases.test_case_documents import PNG, form
from tests.support.servers import start_node, wait_healthy
from tests.unit.test_segments import Events, track, vp8_frames


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual 022: files would be world-readable unless Concord sets their mode itself."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def env() -> dict[str, str]:
    e = cli_env()
    for name in ("CONCORD_SECRET_KEY", "CONCORD_DATABASE_URL", "CONCORD_REDIS_URL", "CONCORD_RECORDINGS_DIR"):
        e.pop(name, None)
    return e


def test_demo_makes_a_private_data_directory_and_tightens_an_old_one(tmp_path: Path, loose_umask: None) -> None:
    data, rec = tmp_path / "data", tmp_path / "rec"
    # What an older version left: a world-readable tree.
    (data / "cases" / "1").mkdir(parents=True, mode=0o755)
    old = data / "cases" / "1" / "old-evidence.png"
    old.write_bytes(PNG)
    os.chmod(old, 0o644)
    os.chmod(data, 0o755)
    (rec / "session-1").mkdir(parents=True)
    (rec / "session-1" / "seg.webm").write_bytes(b"x")
    e = env()
    e["CONCORD_RECORDINGS_DIR"] = str(rec)
    r = subprocess.run([sys.executable, "-m", "server", "demo", "--data-dir", str(data)], env=e,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert mode(data) == 0o700
    for p in (data / "concord.db", data / "secret_key", old, rec / "session-1" / "seg.webm"):
        assert mode(p) == 0o600, p
    for d in (data / "cases", data / "cases" / "1", rec, rec / "session-1"):
        assert mode(d) == 0o700, d


def test_serve_writes_the_database_and_evidence_private(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    e = env()
    e["CONCORD_RECORDINGS_DIR"] = str(tmp_path / "rec")
    r = subprocess.run([sys.executable, "-m", "server", "demo", "--data-dir", str(data)], env=e,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    node = start_node(data, e)

    async def upload() -> None:
        from server.directory.demo import DEMO_PASSWORD

        await wait_healthy(node)
        async with aiohttp.ClientSession() as s:
            async with s.post(node.base + "/api/auth/login",
                              json={"username": "mediator", "password": DEMO_PASSWORD}) as resp:
                h = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            async with s.post(node.base + "/api/cases", headers=h, json={"unit": "340321001", "title": "宅基地"}) \
                    as resp:
                code = (await resp.json())["code"]
            async with s.post(f"{node.base}/api/cases/{code}/documents", headers=h, data=form(PNG)) as resp:
                assert resp.status == 201, await resp.text()

    try:
        asyncio.run(upload())
    finally:
        node.stop()
    files = [p for p in data.rglob("*") if p.is_file() and not p.name.endswith(".log")]
    dirs = [p for p in data.rglob("*") if p.is_dir()]
    assert any(p.suffix == ".png" for p in files) and (data / "concord.db") in files
    assert {p: oct(mode(p)) for p in files if mode(p) != 0o600} == {}
    assert {p: oct(mode(p)) for p in [data, *dirs] if mode(p) != 0o700} == {}


async def test_evidence_is_private_even_without_the_cli_umask(client, config, loose_umask: None) -> None:  # type: ignore[no-untyped-def]
    case = await create(client)
    r = await client.post(f"/api/cases/{case['code']}/documents", data=form(PNG), headers=await hdr(client, "mediator"))
    assert r.status == 201
    stored = config.data_dir / "cases" / str(case["id"]) / f"{(await r.json())['sha256']}.png"
    assert mode(stored) == 0o600
    assert mode(stored.parent) == mode(stored.parent.parent) == 0o700


def test_recording_segments_and_manifests_are_private(tmp_path: Path, loose_umask: None) -> None:
    w = TrackWriter(tmp_path / "rec", track("video"), Events(), max_segment_s=2.0)
    for data, ts in vp8_frames(40, keyframes={0, 20}):
        w.write(data, ts)
    w.close()
    files = [p for p in (tmp_path / "rec").rglob("*") if p.is_file()]
    assert any(p.suffix == ".webm" for p in files) and any(p.name == "manifest.json" for p in files)
    assert {p: oct(mode(p)) for p in files if mode(p) != 0o600} == {}
    assert all(mode(p) == 0o700 for p in (tmp_path / "rec").rglob("*") if p.is_dir())
    write_json_atomic(tmp_path / "x.json", {"a": 1})
    assert mode(tmp_path / "x.json") == 0o600


def test_lock_down_leaves_symlinks_and_counts_changes(tmp_path: Path, loose_umask: None) -> None:
    root = private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == mode(root) == 0o700
    target = tmp_path / "outside.txt"
    target.write_text("not ours")
    os.chmod(target, 0o644)
    (root / "link").symlink_to(target)
    (root / "f").write_text("x")
    assert lock_down([tmp_path / "a"]) == 1  # only f: the directories were already private
    assert mode(root / "f") == 0o600 and mode(target) == 0o644
    assert lock_down([tmp_path / "a"]) == 0
