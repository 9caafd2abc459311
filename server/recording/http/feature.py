"""Wires the recording feature into the app: recovery at start, the recorder service, the job queue."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select, update

from server.recording.jobs import JobQueue, QueueFull
from server.recording.models import PlaybackJob
from server.recording.playback import Playback
from server.recording.recovery import recover
from server.recording.service import RecordingService
from server.recording.store import node_id
from server.services import services
from server.sessions.http.pages import add_room_module

log = logging.getLogger("concord.recorder")


async def queue_playback(app: web.Application, session_id: int, requested_by: int | None = None) -> int:
    """Queue (or find already queued) the playback job for a session. Raises QueueFull."""
    playback: Playback = services(app).playback
    jobs: JobQueue = services(app).jobs
    key = f"playback:{session_id}"
    if key in jobs._pending:
        job = await playback.latest_job(session_id)
        assert job is not None
        return job.id
    job_id = await playback.create_job(session_id, requested_by)
    try:
        jobs.submit(key, lambda: playback.run(session_id, job_id))
    except QueueFull:
        async with services(app).db.session() as s:
            await s.execute(update(PlaybackJob).where(PlaybackJob.id == job_id)
                            .values(status="failed", error="job queue full; try again later"))
        raise
    return job_id


def segment_seconds() -> float:
    """``CONCORD_RECORDING_SEGMENT_S``: segment length, 1 to 10 s (default 10; shorter in tests)."""
    raw = os.environ.get("CONCORD_RECORDING_SEGMENT_S")
    try:
        return min(10.0, max(1.0, float(raw))) if raw else 10.0
    except ValueError:
        return 10.0


def setup(app: web.Application) -> None:
    # Room page panel modules (join.html loads each): the minutes (笔录) panel, with its control-bar button.
    add_room_module("/static/js/minutes.js", button=("minutes", "doc", "笔录", "Minutes"))
    config = services(app).config
    node = node_id(config.port)
    services(app).recording_node = node
    services(app).playback = Playback(services(app).db, config.recordings_dir, node)
    services(app).jobs = JobQueue(limit=8)

    async def after_recording(session_id: int) -> None:
        try:
            await queue_playback(app, session_id)
        except QueueFull:
            log.warning("playback for session %s not queued: job queue full", session_id)

    service = RecordingService(services(app).db, config.recordings_dir, node, ice_servers=config.ice_servers,
                               on_stopped=after_recording, max_segment_s=segment_seconds())
    services(app).recording = service

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await recover(services(app).db, config.recordings_dir, node)
        services(app).jobs.start()
        # Jobs cut short by a restart run again.
        async with services(app).db.session() as s:
            stale = list((await s.execute(select(PlaybackJob).where(
                PlaybackJob.status.in_(("queued", "running"))))).scalars())
            for job in stale:
                job.status, job.error = "failed", "interrupted by a restart; queued again"
        for sid in sorted({j.session_id for j in stale}):
            try:
                await queue_playback(app, sid)
            except QueueFull:
                break
        hub = services(app).room_hub
        if hub is not None:
            service.attach(hub)
        yield
        await service.close()
        await services(app).jobs.close()

    app.cleanup_ctx.append(lifecycle)
