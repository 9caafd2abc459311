"""The after-session job: per-track files and the composite, persisted as recordings and ledgered."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from server import ledger
from server.db import Database
from server.db.base import utcnow
from server.ledger_store import append
from server.recording.jobs import in_background_thread
from server.recording.models import COMPOSITE, SEGMENT, TRACK, PlaybackJob, Recording

if TYPE_CHECKING:  # PyAV and numpy load with the first playback job, not at start-up
    from server.recording import compose

log = logging.getLogger("concord.recorder")

USABLE = ("closed", "recovered")


async def tracks_of(db: Database, root: Path, session_id: int) -> list[tuple[int, compose.Track, Recording]]:
    from server.recording import compose

    async with db.session() as s:
        rows = list((await s.execute(select(Recording).where(
            Recording.session_id == session_id, Recording.artefact == SEGMENT, Recording.status.in_(USABLE))
            .order_by(Recording.track_no, Recording.segment_index))).scalars())
    out: dict[int, tuple[compose.Track, Recording]] = {}
    for r in rows:
        if r.started_at is None or not (root / r.path).is_file():
            continue
        if r.track_no not in out:
            out[r.track_no] = (compose.Track(r.kind, r.peer_name or r.peer or "?"), r)
        out[r.track_no][0].segments.append(compose.Segment(root / r.path, r.started_at.timestamp(),
                                                           r.duration_s or 0.0))
    return [(no, t, first) for no, (t, first) in sorted(out.items())]


class Playback:
    """Runs playback jobs and reports their progress (in memory while running, in the table always)."""

    def __init__(self, db: Database, root: Path, node: str) -> None:
        self.db = db
        self.root = root
        self.node = node
        self.progress: dict[int, float] = {}

    async def create_job(self, session_id: int, requested_by: int | None = None) -> int:
        async with self.db.session() as s:
            job = PlaybackJob(session_id=session_id, status="queued", progress=0.0, requested_by=requested_by)
            s.add(job)
            await s.flush()
            return job.id

    async def run(self, session_id: int, job_id: int) -> None:
        async with self.db.session() as s:
            await s.execute(update(PlaybackJob).where(PlaybackJob.id == job_id)
                            .values(status="running", started_at=utcnow()))
        self.progress[session_id] = 0.0
        try:
            rec_id = await self._compose(session_id)
        except Exception as e:
            log.exception("playback for session %s failed", session_id)
            async with self.db.session() as s:
                await s.execute(update(PlaybackJob).where(PlaybackJob.id == job_id).values(
                    status="failed", error=str(e)[:500], finished_at=utcnow()))
            return
        finally:
            self.progress.pop(session_id, None)
        async with self.db.session() as s:
            await s.execute(update(PlaybackJob).where(PlaybackJob.id == job_id).values(
                status="done", progress=1.0, recording_id=rec_id, finished_at=utcnow()))

    async def _compose(self, session_id: int) -> int:
        from server.recording import compose

        tracks = await tracks_of(self.db, self.root, session_id)
        if not tracks:
            raise ValueError("nothing was recorded in this session")
        chain = ledger.session_chain(session_id)
        for no, track, first in tracks:
            suffix = ".mkv" if first.codec == "h264" else ".webm"  # WebM allows no H.264: Matroska
            out = self.root / f"session-{session_id}" / f"track-{no:03d}-{track.kind}" / f"track{suffix}"
            result = await in_background_thread(compose.remux_track, track, out)
            await self._store(session_id, TRACK, no, first, result, chain, "track_file_made")

        def report(f: float) -> None:
            self.progress[session_id] = round(f, 3)

        out = self.root / f"session-{session_id}" / "composite" / "playback.webm"
        result = await in_background_thread(compose.compose, [t for _, t, _ in tracks], out, report)
        t0 = min(t.start for _, t, _ in tracks)
        return await self._store(session_id, COMPOSITE, 0, None, result, chain, "playback_composed", t0)

    async def _store(self, session_id: int, artefact: str, track_no: int, first: Recording | None,
                     result: compose.Output, chain: str, event: str, t0: float | None = None) -> int:
        from datetime import UTC, datetime

        rel = str(result.path.relative_to(self.root))
        async with self.db.session() as s:
            row = (await s.execute(select(Recording).where(
                Recording.session_id == session_id, Recording.artefact == artefact,
                Recording.track_no == track_no, Recording.segment_index == 0))).scalar_one_or_none()
            if row is None:
                row = Recording(session_id=session_id, artefact=artefact, track_no=track_no, segment_index=0,
                                kind="av" if artefact == COMPOSITE else (first.kind if first else "av"), path=rel)
                s.add(row)
            if first is not None:
                row.peer, row.peer_name, row.role, row.codec = first.peer, first.peer_name, first.role, first.codec
                row.started_at = first.started_at
            elif t0 is not None:
                row.started_at = datetime.fromtimestamp(t0, UTC)
            row.path, row.sha256, row.bytes, row.duration_s = rel, result.sha256, result.bytes, result.duration_s
            row.status, row.node, row.error, row.deleted_at = "closed", self.node, None, None
            await s.flush()
            await append(s, chain, event, {"recording": row.id, "artefact": artefact, "track": track_no,
                                           "path": rel, "sha256": result.sha256, "bytes": result.bytes,
                                           "duration_s": result.duration_s})
            return row.id

    async def latest_job(self, session_id: int) -> PlaybackJob | None:
        async with self.db.session() as s:
            return (await s.execute(select(PlaybackJob).where(PlaybackJob.session_id == session_id)
                                    .order_by(PlaybackJob.id.desc()).limit(1))).scalar_one_or_none()
