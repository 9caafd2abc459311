"""Shared fixtures.

Databases: every DB test runs on SQLite and on PostgreSQL (a throwaway database per test session).
PostgreSQL, Redis and Chromium tests skip with a visible notice when the service is missing, unless
CONCORD_REQUIRE_SERVICES=1 (CI), where a missing service is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.config import Config
from server.db import Database
from server.db.migrate import upgrade
from server.services import services

PG_ADMIN_URL = os.environ.get("CONCORD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CONCORD_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRED = os.environ.get("CONCORD_REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"

_skipped: list[str] = []


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def need(service: str, available: bool) -> None:
    if available:
        return
    if REQUIRED:
        pytest.fail(f"{service} is required in CI (CONCORD_REQUIRE_SERVICES=1) but is not reachable")
    _skipped.append(service)
    pytest.skip(f"{service} not available")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if _skipped:
        names = ", ".join(sorted(set(_skipped)))
        terminalreporter.write_sep("!", f"NOTICE: tests skipped because these were unavailable: {names}", yellow=True)


def pg_available() -> bool:
    return _port_open("127.0.0.1", 5432)


def redis_available() -> bool:
    return _port_open("127.0.0.1", 6379)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """Create one throwaway PostgreSQL database for the test session; yields its asyncpg URL."""
    need("PostgreSQL", pg_available())
    import asyncpg

    name = f"concord_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _reset_pg(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"
    url = request.getfixturevalue("pg_database")
    asyncio.run(_reset_pg(url))
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await upgrade(database)
    yield database
    await database.close()


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Config:
    rec = tmp_path / "recordings"
    rec.mkdir()
    return Config(
        data_dir=tmp_path,
        database_url=db_url,
        secret_key=b"test-secret-key-not-for-production",
        recordings_dir=rec,
        schedulers=False,
    )


@pytest.fixture
async def client(aiohttp_client, config: Config):  # type: ignore[no-untyped-def]
    """A test client on a migrated app, with the demo network seeded."""
    from server.app import create_app
    from server.directory.demo import seed

    app = create_app(config)
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    return c


async def login(client, username: str = "admin", password: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Bearer headers for a demo account."""
    from server.directory.demo import DEMO_PASSWORD

    r = await client.post("/api/auth/login", json={"username": username, "password": password or DEMO_PASSWORD})
    assert r.status == 200, await r.text()
    return {"Authorization": f"Bearer {(await r.json())['token']}"}


@pytest.fixture
def redis_url() -> str:
    need("Redis", redis_available())
    return REDIS_URL


@pytest.fixture
def chromium() -> str:
    need("Chromium", chromium_available() and shutil.which("chromium") is not None)
    return CHROMIUM


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a ``python -m server`` subprocess that imports this checkout's code."""
    from server.config import ROOT

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
