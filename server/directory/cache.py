"""The unit tree changes rarely and is read on every request: keep it in memory, reload on change."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from server.db import Database
from server.directory.models import Unit
from server.directory.tree import UnitRow


class UnitCache:
    TTL_S = 30.0  # another node or `concord demo` may add units

    def __init__(self) -> None:
        self._at = 0.0
        self.rows: list[dict[str, Any]] = []
        self.by_code: dict[str, dict[str, Any]] = {}
        self.tree_rows: list[UnitRow] = []
        self._loaded = False
        # Derived answers (e.g. the serialised unit list of a subtree), dropped on every reload.
        self.memo: dict[Any, Any] = {}

    def invalidate(self) -> None:
        self._loaded = False

    async def all(self, db: Database) -> list[dict[str, Any]]:
        if not self._loaded or time.monotonic() - self._at > self.TTL_S:
            async with db.read() as s:
                units = list((await s.execute(select(Unit).order_by(Unit.path))).scalars())
            code_of: dict[int | None, str] = {u.id: u.code for u in units}
            rows: list[dict[str, Any]] = []
            for u in units:
                j: dict[str, Any] = {"code": u.code, "name": u.name, "tier": u.tier, "parent": code_of.get(u.parent_id)}
                rows.append({"id": u.id, "path": u.path, "json": j})
            self.rows = rows
            self.by_code = {row["json"]["code"]: row for row in rows}
            self.tree_rows = [UnitRow(r["json"]["code"], r["json"]["name"], r["json"]["tier"], r["path"],
                                      r["json"]["parent"]) for r in rows]
            self.memo = {}
            self._loaded = True
            self._at = time.monotonic()
        return self.rows

    async def get(self, db: Database, code: str) -> dict[str, Any] | None:
        await self.all(db)
        return self.by_code.get(code)
