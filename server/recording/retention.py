"""Retention: each artefact type is kept for its own period, then ``concord prune`` deletes the file.

``CONCORD_RETENTION_DAYS`` sets the periods, e.g. ``segment=1095,track=365,composite=365`` (days; any
type left out keeps its default; ``0`` or ``forever`` keeps that type forever). A deleted recording's
row stays with its SHA-256 and status ``deleted``, and each deletion is ledgered (``recording_deleted``)
in the session's chain, so the record still proves what existed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from server import ledger
from server.db import Database
from server.db.base import utcnow
from server.ledger_store import append
from server.recording.models import ARTEFACTS, COMPOSITE, SEGMENT, TRACK, Recording

log = logging.getLogger("concord.recorder")

DEFAULT_DAYS: dict[str, int | None] = {SEGMENT: 3 * 365, TRACK: 365, COMPOSITE: 365}
PRUNABLE = ("closed", "recovered")


class RetentionError(ValueError):
    pass


def parse_retention(raw: str | None) -> dict[str, int | None]:
    """Days per artefact type (None = forever) from ``type=days,...``."""
    out = dict(DEFAULT_DAYS)
    if not raw:
        return out
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or name not in ARTEFACTS:
            raise RetentionError(f"CONCORD_RETENTION_DAYS: unknown entry {part!r} (types: {', '.join(ARTEFACTS)})")
        if value in ("0", "forever"):
            out[name] = None
            continue
        if not value.isdigit() or int(value) > 100 * 365:
            raise RetentionError(f"CONCORD_RETENTION_DAYS: {name} needs a number of days, not {value!r}")
        out[name] = int(value)
    return out


def expired(r: Recording, days: dict[str, int | None], now: datetime) -> bool:
    keep = days.get(r.artefact)
    if keep is None or r.status not in PRUNABLE:
        return False
    made = r.ended_at or r.started_at or r.created_at
    return made is not None and made + timedelta(days=keep) <= now


@dataclass
class PruneReport:
    deleted: list[Recording] = field(default_factory=list)
    missing: list[Recording] = field(default_factory=list)
    bytes: int = 0


async def prune(db: Database, root: Path, days: dict[str, int | None], now: datetime | None = None,
                dry_run: bool = False) -> PruneReport:
    now = now or utcnow()
    report = PruneReport()
    async with db.session() as s:
        rows = list((await s.execute(select(Recording).where(Recording.status.in_(PRUNABLE))
                                     .order_by(Recording.session_id, Recording.id))).scalars())
    for row in rows:
        if not expired(row, days, now):
            continue
        path = root / row.path
        if dry_run:
            report.deleted.append(row)
            report.bytes += row.bytes or 0
            continue
        async with db.session() as s:
            r = await s.get(Recording, row.id)
            if r is None or r.status not in PRUNABLE:
                continue
            existed = path.is_file()
            # Ledger first, in the same transaction as the status change; the unlink follows the commit.
            r.status, r.deleted_at = "deleted", now
            await append(s, ledger.session_chain(r.session_id), "recording_deleted", {
                "recording": r.id, "artefact": r.artefact, "path": r.path, "sha256": r.sha256, "bytes": r.bytes,
                "reason": f"retention: {r.artefact} kept {days[r.artefact]} days",
                "file_present": existed})
        try:
            os.unlink(path)
        except FileNotFoundError:
            report.missing.append(row)
        except OSError as e:
            log.warning("could not delete %s: %s", path, e)
        report.deleted.append(row)
        report.bytes += row.bytes or 0
    return report
