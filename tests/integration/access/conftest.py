"""One world per database for the whole access module (building it is the slow part)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.config import Config
from server.directory.demo import seed
from server.services import services
from tests.conftest import _reset_pg
from tests.integration.access.world import World, build


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('matrix') / 'concord.db'}"
    url = request.getfixturevalue("pg_database")
    asyncio.run(_reset_pg(url))
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(world_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data: Path = tmp_path_factory.mktemp("matrix-data")
    (data / "recordings").mkdir()
    config = Config(data_dir=data, database_url=world_db_url, secret_key=b"matrix-secret-not-for-production",
                    recordings_dir=data / "recordings", schedulers=False)
    app = create_app(config)
    # No shared cookie jar: each request carries exactly its actor's credentials, and nothing else.
    client = TestClient(TestServer(app), cookie_jar=DummyCookieJar())
    await client.start_server()
    async with services(app).db.session() as s:
        await seed(s)
    try:
        yield await build(client)
    finally:
        await client.close()
