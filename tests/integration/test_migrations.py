"""The migrated schema is exactly what the models declare, on both databases (no drift either way)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import server.app  # noqa: F401  (imports every feature's models)
from server.db import Base, Database


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    assert diff == []


async def test_a_migrated_database_is_at_every_head(db: Database) -> None:
    from alembic.script import ScriptDirectory

    from server.db.migrate import alembic_config

    async with db.engine.connect() as conn:
        current = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
    assert current == set(ScriptDirectory.from_config(alembic_config()).get_heads())
