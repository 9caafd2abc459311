"""Apply Alembic migrations programmatically (at start of every command that touches the DB)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.engine import Connection

from server.db.engine import Database

HERE = Path(__file__).parent / "migrations"


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def _upgrade(conn: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


async def upgrade(db: Database, revision: str = "heads") -> None:
    async with db.engine.begin() as conn:
        if not db.is_sqlite:
            # Two nodes starting together must not both migrate.
            await conn.execute(text("SELECT pg_advisory_xact_lock(7242001)"))
        await conn.run_sync(_upgrade, revision)
