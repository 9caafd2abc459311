"""Engine and session factory. SQLite gets WAL, foreign keys and serialised write transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def dialect_name(s: AsyncSession) -> str:
    """"postgresql" or "sqlite". Every session comes from ``Database``, bound to its engine."""
    if s.bind is None:
        raise RuntimeError("the session is not bound to an engine")
    return s.bind.dialect.name


def rowcount(res: Result[Any]) -> int:
    """Rows matched by an UPDATE or DELETE. ``AsyncSession.execute`` is typed as returning a ``Result``, but
    a DML statement gives a ``CursorResult``, which has the count."""
    return cast(CursorResult[Any], res).rowcount


def _sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so SAVEPOINTs work (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn):  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front: no lock-upgrade deadlocks between connections.
        # Read-only sessions (Database.read) begin deferred: in WAL mode they never wait for a writer.
        if conn.get_execution_options().get("concord_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_hooks(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(concord_read_only=True), expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as s:
            async with s.begin():
                yield s

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only. On SQLite it does not take the write lock, so many readers and
        one writer proceed together; do not write through it (use ``session()``)."""
        async with self._read_sessionmaker() as s:
            async with s.begin():
                yield s

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    @property
    def backend(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    async def close(self) -> None:
        await self.engine.dispose()
