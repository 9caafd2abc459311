"""Crash recovery at start-up: what a killed process left half-done is finished or discarded, honestly.

A recording run still ``on`` for this node when the server starts means the process died while
recording. Then:
- the run is marked ``interrupted``, and a session still ``live`` becomes ``interrupted``;
- every segment still ``writing`` (in the database or in a track manifest) is salvaged: the packets
  that reached the file are remuxed into a finished WebM (video from its first keyframe), hashed and
  marked ``recovered``; a segment with nothing usable is deleted and marked ``discarded``;
- each step is ledgered (``recording_interrupted``, ``session_interrupted``, ``segment_recovered``,
  ``segment_discarded``), so the record says what was lost.
Closed segments are not touched: their hashes are already in the ledger.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import select

from server import ledger
from server.db import Database
from server.db.base import utcnow
from server.ledger_store import append
from server.media.codecs import opus_template
from server.media.segments import CONTAINER_OPTIONS, MANIFEST, sha256_file, time_base, write_json_atomic
from server.recording.models import SEGMENT, Recording, RecordingRun
from server.recording.store import parse_time
from server.security.files import private
from server.sessions.models import Session

if TYPE_CHECKING:
    from av.stream import Stream

log = logging.getLogger("concord.recorder")


@dataclass
class Salvage:
    ok: bool
    frames: int = 0
    duration_s: float = 0.0
    sha256: str | None = None
    bytes: int = 0
    error: str = ""


@dataclass
class RecoveryReport:
    runs: list[int] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)


def salvage(path: Path, kind: str) -> Salvage:
    """Remux whatever packets of a half-written segment can be read into a finished file, in place."""
    import av  # heavy: loaded on first use; PyAV loads when something needs salvaging, not at every start-up
    from av.video.codeccontext import VideoCodecContext  # heavy: loaded on first use

    if not path.is_file():
        return Salvage(False, error="no file")
    packets = []
    try:
        with av.open(str(path)) as src:
            stream = src.streams[0]
            tb = time_base(stream.time_base)
            if kind == "video":
                vctx = cast(VideoCodecContext, stream.codec_context)  # a video segment's one stream
                width, height = vctx.width, vctx.height
            else:
                width, height = 0, 0
            started = kind != "video"
            try:
                for p in src.demux(stream):
                    if p.size == 0 or p.pts is None:
                        continue
                    if not started and not p.is_keyframe:
                        continue
                    started = True
                    packets.append((bytes(p), p.pts, p.duration or 0, p.is_keyframe))
            except (av.FFmpegError, OSError) as e:  # truncated cluster: keep what came before
                log.info("salvage of %s stopped at a damaged packet: %s", path, e)
    except (av.FFmpegError, OSError, IndexError) as e:
        return Salvage(False, error=f"unreadable: {e}")
    if not packets:
        return Salvage(False, error="no complete frames")
    tmp = path.with_name(path.name + ".salvage")
    base = packets[0][1]
    end = 0
    h264 = path.suffix == ".mkv"  # Matroska segments hold H.264 (the writer's only non-WebM codec)
    with av.open(str(tmp), "w", format="matroska" if h264 else "webm", container_options=CONTAINER_OPTIONS) as out:
        st: Stream
        if h264:
            # The avcC CodecPrivate comes from the damaged file's header, which the writer wrote first.
            with av.open(str(path)) as src:
                st = out.add_stream_from_template(src.streams.video[0])
        elif kind == "video":
            st = out.add_mux_stream("vp8", width=width, height=height)
        else:
            st = out.add_stream_from_template(opus_template())
        st.time_base = Fraction(1, 1000)
        for data, pts, dur, key in packets:
            pkt = av.Packet(data)
            pkt.stream = st
            pkt.time_base = tb
            pkt.pts = pkt.dts = pts - base
            pkt.duration = dur
            pkt.is_keyframe = key
            out.mux(pkt)
            end = max(end, pts - base + dur)
    private(tmp)
    os.replace(tmp, path)
    digest, size = sha256_file(path)
    return Salvage(True, len(packets), round(float(end * tb), 6), digest, size)


def _update_manifest(track_dir: Path, index: int, values: dict) -> None:
    mf = track_dir / MANIFEST
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for seg in manifest.get("segments", []):
        if seg.get("index") == index:
            seg.update(values)
    manifest["recovered_at"] = ledger.format_time(utcnow())
    write_json_atomic(mf, manifest)


async def recover(db: Database, root: Path, node: str) -> RecoveryReport:
    report = RecoveryReport()
    async with db.session() as s:
        runs = list((await s.execute(select(RecordingRun).where(RecordingRun.status == "on",
                                                                RecordingRun.node == node))).scalars())
        for run in runs:
            run.status, run.ended_at = "interrupted", utcnow()
            report.runs.append(run.id)
            chain = ledger.session_chain(run.session_id)
            await append(s, chain, "recording_interrupted", {
                "run": run.id, "node": node, "started_at": ledger.format_time(run.started_at),
                "reason": "server stopped while recording (found at start-up)"})
            sess = await s.get(Session, run.session_id)
            if sess is not None and sess.state == "live":
                sess.state = "interrupted"
                report.sessions.append(sess.id)
                await append(s, chain, "session_interrupted", {"reason": "server stopped while recording"})
    session_ids = sorted({r.session_id for r in runs})

    # Segments left open, from the database and from the manifests (a row may never have been written).
    async with db.session() as s:
        open_rows = list((await s.execute(select(Recording).where(
            Recording.status == "writing", Recording.node == node, Recording.artefact == SEGMENT))).scalars())
    known = {r.path: r for r in open_rows}
    from_manifests: list[tuple[Path, dict, dict]] = []
    for sid in sorted(set(session_ids) | {r.session_id for r in open_rows}):
        sdir = root / f"session-{sid}"
        for mf in sorted(sdir.glob(f"*/{MANIFEST}")) if sdir.is_dir() else []:
            try:
                manifest = json.loads(mf.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            owner = (manifest.get("track") or {}).get("node")
            if owner and owner != node:
                continue  # another node's track on the shared volume: it may be writing it right now
            for seg in manifest.get("segments", []):
                if seg.get("status") == "writing":
                    from_manifests.append((mf.parent, manifest, seg))

    todo: dict[str, tuple[Path, dict | None, dict | None, Recording | None]] = {}
    for track_dir, manifest, seg in from_manifests:
        todo[seg["path"]] = (track_dir, manifest, seg, known.get(seg["path"]))
    for path, known_row in known.items():
        if path not in todo:
            todo[path] = ((root / path).parent, None, None, known_row)

    for rel, (track_dir, manifest, seg, row) in sorted(todo.items()):
        kind = row.kind if row else manifest["track"]["kind"]  # type: ignore[index]
        result = salvage(root / rel, kind)
        index = row.segment_index if row else seg["index"]  # type: ignore[index]
        async with db.session() as s:
            if row is None:
                t = manifest["track"]  # type: ignore[index]
                row = Recording(session_id=t["session_id"], artefact=SEGMENT, peer=t["peer"],
                                peer_name=t["peer_name"], role=t["role"], kind=t["kind"], codec=t["codec"],
                                track_no=t["track_no"], track_id=str(t["track_id"])[:100], segment_index=index,
                                path=rel, start_offset_s=seg.get("start_offset_s"),  # type: ignore[union-attr]
                                started_at=parse_time(seg.get("started_at")), node=node,  # type: ignore[union-attr]
                                width=seg.get("width"), height=seg.get("height"), status="writing")  # type: ignore[union-attr]
                s.add(row)
                await s.flush()
            else:
                row = await s.get(Recording, row.id)
                assert row is not None
            chain = ledger.session_chain(row.session_id)
            if result.ok:
                row.status, row.sha256, row.bytes = "recovered", result.sha256, result.bytes
                row.duration_s, row.frames = result.duration_s, result.frames
                row.error = "salvaged after a crash: the last second before it may be missing"
                await append(s, chain, "segment_recovered", {
                    "peer": row.peer, "name": row.peer_name, "kind": row.kind, "track": row.track_no,
                    "index": row.segment_index, "path": rel, "sha256": result.sha256, "bytes": result.bytes,
                    "duration_s": result.duration_s, "frames": result.frames})
                report.recovered.append(rel)
            else:
                try:
                    (root / rel).unlink(missing_ok=True)
                except OSError:
                    pass
                row.status, row.error = "discarded", result.error
                await append(s, chain, "segment_discarded", {
                    "peer": row.peer, "name": row.peer_name, "kind": row.kind, "track": row.track_no,
                    "index": row.segment_index, "path": rel, "reason": result.error})
                report.discarded.append(rel)
            values = {"status": row.status, "sha256": row.sha256, "bytes": row.bytes or 0,
                      "duration_s": row.duration_s or 0.0, "frames": row.frames or 0, "error": row.error}
        _update_manifest(track_dir, index, values)
    if report.runs or report.recovered or report.discarded:
        log.warning("recording recovery: %d run(s) interrupted, %d segment(s) recovered, %d discarded",
                    len(report.runs), len(report.recovered), len(report.discarded))
    return report
