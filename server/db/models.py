"""Imports every table so Base.metadata is complete (Alembic and tests use it)."""

from server.db.base import Base
from server.directory.models import Staff, Unit
from server.ledger_store import LedgerEvent

__all__ = ["Base", "LedgerEvent", "Staff", "Unit"]
