"""The ``concord`` command line as a user runs it: real subprocesses on a fresh data directory."""

from __future__ import annotations

import asyncio
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.db import Database
from server.security.passwords import check_password
from tests.conftest import cli_env

TIMEOUT = 120  # generous: the machine is shared


def concord(*args: str, data_dir: Path, db_url: str | None = None, stdin: str | None = None,
            **env: str) -> subprocess.CompletedProcess[str]:
    e = cli_env()
    for name in ("CONCORD_SECRET_KEY", "CONCORD_DATABASE_URL", "CONCORD_REDIS_URL"):
        e.pop(name, None)
    e.update(env)
    if db_url:
        e["CONCORD_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "server", *args, "--data-dir", str(data_dir)], input=stdin,
                          capture_output=True, text=True, env=e, timeout=TIMEOUT)


async def _rows(url: str, sql: str, **params: str) -> list:
    """The first column of every row ``sql`` returns."""
    from sqlalchemy import text

    db = Database(url)
    try:
        async with db.session() as s:
            return list((await s.execute(text(sql), params)).scalars())
    finally:
        await db.close()


async def _count(url: str, sql: str) -> int:
    return int((await _rows(url, sql))[0])


async def _hash_of(url: str, username: str) -> str:
    return (await _rows(url, "SELECT password_hash FROM staff WHERE username = :u", u=username))[0]


def test_demo_is_idempotent(tmp_path: Path, db_url: str) -> None:
    first = concord("demo", data_dir=tmp_path, db_url=db_url)
    assert first.returncode == 0, first.stderr
    assert "concord-demo-2026" in first.stdout and "mediator" in first.stdout
    counts = asyncio.run(_count(db_url, "SELECT COUNT(*) FROM units")), asyncio.run(_count(db_url, "SELECT COUNT(*) FROM staff"))
    assert counts[0] >= 90 and counts[1] >= 60
    second = concord("demo", data_dir=tmp_path, db_url=db_url)
    assert second.returncode == 0, second.stderr
    assert "(0 accounts created" in second.stdout
    again = asyncio.run(_count(db_url, "SELECT COUNT(*) FROM units")), asyncio.run(_count(db_url, "SELECT COUNT(*) FROM staff"))
    assert again == counts


def test_user_add_password_stdin(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"
    assert concord("demo", data_dir=tmp_path).returncode == 0
    r = concord("user", "add", "zhangsan", "--role", "mediator", "--unit", "340321001", "--name", "张三",
                "--password-stdin", data_dir=tmp_path, stdin="a long secret 密码\n")
    assert r.returncode == 0, r.stderr
    assert "zhangsan" in r.stdout and "340321001" in r.stdout
    assert "a long secret" not in r.stdout + r.stderr
    assert check_password("a long secret 密码", asyncio.run(_hash_of(url, "zhangsan")))
    # Failures: clear message, non-zero exit, nothing created.
    dup = concord("user", "add", "zhangsan", "--role", "mediator", "--unit", "340321001", "--password-stdin",
                  data_dir=tmp_path, stdin="another-password\n")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    unit = concord("user", "add", "lisi", "--role", "mediator", "--unit", "999999", "--password-stdin",
                   data_dir=tmp_path, stdin="long-enough\n")
    assert unit.returncode == 1 and "unknown unit" in unit.stderr
    role = concord("user", "add", "lisi", "--role", "king", "--unit", "340321001", "--password-stdin",
                   data_dir=tmp_path, stdin="long-enough\n")
    assert role.returncode == 1 and "unknown role" in role.stderr
    short = concord("user", "add", "lisi", "--role", "mediator", "--unit", "340321001", "--password-stdin",
                    data_dir=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "8 characters" in short.stderr
    nostdin = concord("user", "add", "lisi", "--role", "mediator", "--unit", "340321001", data_dir=tmp_path)
    assert nostdin.returncode == 2 and "--password-stdin" in nostdin.stderr
    assert asyncio.run(_count(url, "SELECT COUNT(*) FROM staff WHERE username = 'lisi'")) == 0


def test_user_passwd_deactivate_and_activate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"
    assert concord("demo", data_dir=tmp_path).returncode == 0
    r = concord("user", "passwd", "mediator", "--password-stdin", data_dir=tmp_path, stdin="另一个 long secret\n")
    assert r.returncode == 0, r.stderr
    assert "long secret" not in r.stdout + r.stderr and "sessions have ended" in r.stdout
    assert check_password("另一个 long secret", asyncio.run(_hash_of(url, "mediator")))
    assert asyncio.run(_count(url, "SELECT signed_out_ms FROM staff WHERE username = 'mediator'")) > 0
    short = concord("user", "passwd", "mediator", "--password-stdin", data_dir=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "8 characters" in short.stderr
    ghost = concord("user", "passwd", "ghost", "--password-stdin", data_dir=tmp_path, stdin="long-enough\n")
    assert ghost.returncode == 1 and "unknown user" in ghost.stderr
    assert concord("user", "passwd", "mediator", data_dir=tmp_path).returncode == 2
    off = concord("user", "deactivate", "mediator", data_dir=tmp_path)
    assert off.returncode == 0 and "deactivated" in off.stdout
    assert asyncio.run(_count(url, "SELECT COUNT(*) FROM staff WHERE username = 'mediator' AND active")) == 0
    on = concord("user", "activate", "mediator", data_dir=tmp_path)
    assert on.returncode == 0 and "activated" in on.stdout
    assert asyncio.run(_count(url, "SELECT COUNT(*) FROM staff WHERE username = 'mediator' AND active")) == 1
    assert concord("user", "deactivate", "ghost", data_dir=tmp_path).returncode == 1
    # Each change is on the directory chain, which verifies; refused changes left nothing.
    # (After the demo's own unit.created and account.created events.)
    types = asyncio.run(_rows(url, "SELECT type FROM ledger_events WHERE chain = 'directory' ORDER BY seq"))
    assert set(types[:-3]) == {"unit.created", "account.created"}
    assert types[-3:] == ["account.password_changed", "account.deactivated", "account.activated"]
    v = concord("verify-log", "--directory", data_dir=tmp_path)
    assert v.returncode == 0 and v.stdout.startswith(f"OK {len(types)} events"), v.stdout + v.stderr


def test_user_add_works_on_a_new_data_dir_before_demo(tmp_path: Path) -> None:
    # Every command migrates first; with no units yet the unit is simply unknown.
    r = concord("user", "add", "x", "--role", "admin", "--unit", "340300", "--password-stdin",
                data_dir=tmp_path / "fresh", stdin="long-enough\n")
    assert r.returncode == 1 and "unknown unit" in r.stderr


def test_secret_key_generated_with_mode_0600_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert concord("db", "upgrade", data_dir=data).returncode == 0
    key = data / "secret_key"
    assert key.exists()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_text()
    assert len(first) >= 40
    assert concord("db", "upgrade", data_dir=data).returncode == 0
    assert key.read_text() == first
    # With CONCORD_SECRET_KEY set, no file is written.
    other = tmp_path / "e"
    assert concord("db", "upgrade", data_dir=other, CONCORD_SECRET_KEY="from-the-environment").returncode == 0
    assert not (other / "secret_key").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_logs_one_line_and_answers_healthz(tmp_path: Path) -> None:
    port = _free_port()
    env = cli_env()
    env.pop("CONCORD_SECRET_KEY", None)
    env.pop("CONCORD_DATABASE_URL", None)
    env.pop("CONCORD_REDIS_URL", None)
    env.pop("CONCORD_PUBLIC_URL", None)  # as `make run`: it serves, and warns
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        assert "database=sqlite" in line and str(tmp_path / "concord.db") in line
        assert "bus=in-process" in line
        secret = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    body = r.read().decode()
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"serve exited: {proc.stderr.read()}")
                time.sleep(0.1)
        else:
            pytest.fail("no 200 from /healthz within 60 s")
        assert '"status": "ok"' in body and '"database": "sqlite"' in body
        secret = (tmp_path / "secret_key").read_text()
        assert secret not in line
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode in (0, -15), err
    # Exactly one line of its own on stdout; the key never appears in any output.
    assert out.strip() == ""
    assert secret and secret not in out + err
    assert "WARNING concord: CONCORD_PUBLIC_URL is not set" in err and "未配置公开地址" in err


def test_serve_redacts_database_password(tmp_path: Path) -> None:
    from server.config import redact_url

    assert redact_url("postgresql+asyncpg://concord:hunter2@db:5432/concord") == "postgresql+asyncpg://concord:***@db:5432/concord"
    assert redact_url("redis://:hunter2@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("sqlite+aiosqlite:////data/concord.db") == "sqlite+aiosqlite:////data/concord.db"


def test_bad_ice_servers_env_is_a_clear_error(tmp_path: Path) -> None:
    r = concord("db", "upgrade", data_dir=tmp_path, CONCORD_ICE_SERVERS="[not json")
    assert r.returncode == 2 and "CONCORD_ICE_SERVERS" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_public_url_is_a_clear_error(tmp_path: Path) -> None:
    r = concord("db", "upgrade", data_dir=tmp_path, CONCORD_PUBLIC_URL="https://user@evil.example/")
    assert r.returncode == 2 and "CONCORD_PUBLIC_URL" in r.stderr
    assert "Traceback" not in r.stderr


def test_unit_add_builds_a_tree(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"
    ok = concord("unit", "add", "340300", "--name", "蚌埠市", "--tier", "city", data_dir=tmp_path)
    assert ok.returncode == 0, ok.stderr
    ok = concord("unit", "add", "340321", "--name", "怀远县", "--tier", "county", "--parent", "340300", data_dir=tmp_path)
    assert ok.returncode == 0 and "under 340300" in ok.stdout, ok.stderr
    bad = [
        (("unit", "add", "340321", "--name", "x", "--tier", "county", "--parent", "340300"), "already exists"),
        (("unit", "add", "340321009", "--name", "x", "--tier", "village", "--parent", "340321"), "cannot sit under"),
        (("unit", "add", "340399", "--name", "x", "--tier", "county"), "only a city has no parent"),
        (("unit", "add", "340398", "--name", "x", "--tier", "planet"), "unknown tier"),
        (("unit", "add", "34'; --", "--name", "x", "--tier", "city"), "digits only"),
        (("unit", "add", "340397", "--name", "x", "--tier", "county", "--parent", "999"), "unknown parent"),
    ]
    for args, message in bad:
        r = concord(*args, data_dir=tmp_path)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
    assert asyncio.run(_count(url, "SELECT COUNT(*) FROM units")) == 2
    r = concord("user", "add", "admin", "--role", "admin", "--unit", "340321", "--password-stdin",
                data_dir=tmp_path, stdin="long-enough-pw\n")
    assert r.returncode == 0, r.stderr
    types = asyncio.run(_rows(url, "SELECT type FROM ledger_events WHERE chain = 'directory' ORDER BY seq"))
    assert types == ["unit.created", "unit.created", "account.created"]  # the refused ones left nothing
    data = asyncio.run(_rows(url, "SELECT data FROM ledger_events WHERE chain = 'directory' ORDER BY seq"))
    assert '"parent": "340300"' in data[1] and '"username": "admin"' in data[2] and "long-enough" not in str(data)
