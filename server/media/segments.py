"""Writing one received track as a series of short WebM segments, without decoding or re-encoding.

A ``TrackWriter`` is fed encoded frames (VP8 frames, H.264 access units or Opus packets, as the RTP
depayloader produced them) with their RTP timestamps. It muxes them with PyAV into ``seg-NNNNN.webm``
files (VP8, Opus), or ``seg-NNNNN.mkv`` Matroska files (H.264, which WebM does not allow), of at most
``max_segment_s`` seconds each:

- a video segment always starts on a keyframe: one second before a segment is due to end the writer
  asks for a keyframe (RTCP PLI) and cuts there; if none has come when the limit is reached, it closes
  the segment anyway and drops frames until the next keyframe, so no segment is ever undecodable;
- an H.264 segment's CodecPrivate (avcC) comes from its first keyframe's SPS and PPS (the last ones
  seen are added in-band when a keyframe comes without them); new parameter sets start a new segment;
- each packet is muxed one frame late, so its duration is known exactly (the next frame's timestamp);
- when a segment closes it is synced to disk and hashed (SHA-256), and the per-track manifest is
  rewritten atomically;
- an I/O error (disk full, unwritable directory) fails the segment, not the session: the writer reports
  it, drops frames and retries after ``retry_s``.

Plain Python plus PyAV; it runs on whichever thread feeds it (aiortc's per-track decoder thread) and
reports through ``WriterEvents`` callbacks, which must not block.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from server.media.codecs import (
    OPUS_SAMPLE_RATE,
    VIDEO_CLOCK,
    h264_header,
    h264_template,
    opus_packet_samples,
    opus_template,
    vp8_header,
)
from server.security.files import open_private, private_dir

if TYPE_CHECKING:
    from av.stream import Stream

log = logging.getLogger("concord.recorder")

MAX_SEGMENT_S = 10.0
KEYFRAME_LEAD_S = 1.0
KEYFRAME_REQUEST_INTERVAL_S = 0.5
RETRY_S = 5.0
# Clusters of at most 0.5 s, flushed to the OS as they close: a killed process loses at most ~0.5 s of its
# open segment, and whatever reached the file can be salvaged on restart.
CONTAINER_OPTIONS = {"cluster_time_limit": "500", "flush_packets": "1"}
MANIFEST = "manifest.json"


@dataclass
class TrackInfo:
    session_id: int
    peer: str
    peer_name: str
    role: str
    kind: str  # "audio" | "video"
    codec: str  # "vp8" | "h264" | "opus"
    track_id: str
    track_no: int
    node: str = ""  # the server process writing it: recovery on a shared volume salvages only its own

    @property
    def clock(self) -> int:
        return VIDEO_CLOCK if self.kind == "video" else OPUS_SAMPLE_RATE

    @property
    def container(self) -> str:
        """The segments' container: Matroska for H.264 (WebM allows only VP8/VP9/AV1), WebM otherwise."""
        return "matroska" if self.codec == "h264" else "webm"

    @property
    def suffix(self) -> str:
        return ".mkv" if self.codec == "h264" else ".webm"

    @property
    def dirname(self) -> str:
        return f"track-{self.track_no:03d}-{self.kind}"


@dataclass
class SegmentInfo:
    index: int
    path: str  # relative to the recordings directory
    start_offset_s: float  # from the track's first recorded frame
    started_at: str  # ISO 8601 UTC, wall clock of the first frame
    ended_at: str | None = None
    duration_s: float = 0.0
    frames: int = 0
    bytes: int = 0
    sha256: str | None = None
    status: str = "writing"  # writing | closed | failed (recovery adds: recovered | discarded)
    error: str | None = None
    width: int | None = None
    height: int | None = None


class WriterEvents(Protocol):
    def request_keyframe(self) -> None: ...
    def segment_opened(self, track: TrackInfo, seg: SegmentInfo) -> None: ...
    def segment_closed(self, track: TrackInfo, seg: SegmentInfo) -> None: ...
    def failed(self, track: TrackInfo, seg: SegmentInfo | None, error: str) -> None: ...
    def resumed(self, track: TrackInfo) -> None: ...


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_base(tb: Fraction | None) -> Fraction:
    """The time base of a stream or frame read from a segment. PyAV types it Optional (a new output stream
    has none yet); streams that libavformat demuxes, and the frames decoded from them, always have one."""
    if tb is None:
        raise ValueError("a demuxed stream or frame without a time base")
    return tb


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
        os.fsync(f.fileno())
    return h.hexdigest(), size


def write_json_atomic(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "w") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class _Pending:
    data: bytes
    ts: int
    keyframe: bool


@dataclass
class _Open:
    info: SegmentInfo
    container: Any
    stream: Any
    start_ts: int
    end_ts: int = 0  # end of the last muxed frame, segment-relative ticks


@dataclass
class WriterStats:
    frames_in: int = 0
    frames_written: int = 0
    dropped_waiting_keyframe: int = 0
    dropped_gap: int = 0
    dropped_failed: int = 0
    dropped_malformed: int = 0
    keyframe_requests: int = 0
    segments: int = 0
    errors: int = 0


@dataclass
class TrackWriter:
    root: Path  # the recordings directory
    track: TrackInfo
    events: WriterEvents
    first_ts_wall: float | None = None  # wall clock of timestamp 0 (set from the first frame)
    max_segment_s: float = MAX_SEGMENT_S
    keyframe_lead_s: float = KEYFRAME_LEAD_S
    retry_s: float = RETRY_S
    stats: WriterStats = field(default_factory=WriterStats)

    def __post_init__(self) -> None:
        self.dir = self.root / f"session-{self.track.session_id}" / self.track.dirname
        self._open: _Open | None = None
        self._pending: _Pending | None = None
        self._segments: list[SegmentInfo] = []
        self._next_index = 0
        self._first_ts: int | None = None
        self._last_ts: int | None = None
        self._need_keyframe = self.track.kind == "video"
        self._last_request = 0.0
        self._requested_for_cut = False
        self._failed_until: float | None = None
        self._size: tuple[int, int] | None = None
        self._params = b""  # H.264: the SPS and PPS of the open segment's stream
        self._last_params = b""  # H.264: the last SPS and PPS seen, for a keyframe that comes without
        self._closed = False
        self._max_ticks = int(self.max_segment_s * self.track.clock)
        self._lead_ticks = int((self.max_segment_s - self.keyframe_lead_s) * self.track.clock)

    # -- feeding ---------------------------------------------------------------------------------------

    def write(self, data: bytes, timestamp: int, gap: bool = False, arrival: float | None = None) -> None:
        """One encoded frame at ``timestamp`` (codec clock ticks, monotonic per track)."""
        if self._closed:
            return
        now = arrival if arrival is not None else time.time()
        self.stats.frames_in += 1
        if self._first_ts is None:
            self._first_ts = timestamp
            if self.first_ts_wall is None:
                self.first_ts_wall = now
        if self._last_ts is not None and timestamp <= self._last_ts and self.track.kind == "audio":
            self.stats.dropped_malformed += 1  # repeated or backwards audio timestamp
            return
        if self._last_ts is not None and timestamp < self._last_ts:
            self.stats.dropped_malformed += 1
            return

        keyframe, size, params = True, None, b""
        if self.track.codec == "h264":
            h264 = h264_header(data)
            if h264 is None:
                self.stats.dropped_malformed += 1
                return
            if h264.params:
                self._last_params = h264.params
            params = h264.params or self._last_params
            keyframe = h264.keyframe and bool(params)  # no parameter sets yet: undecodable on its own
            if keyframe and not h264.params:
                data = params + data  # in-band, so the segment stands on its own
        elif self.track.kind == "video":
            header = vp8_header(data)
            if header is None:
                self.stats.dropped_malformed += 1
                return
            keyframe = header.keyframe
            if keyframe:
                size = (header.width, header.height)
        elif opus_packet_samples(data) is None:
            self.stats.dropped_malformed += 1
            return

        if gap and self.track.kind == "video":
            # Frames were dropped upstream: what follows cannot be decoded until a keyframe.
            self._close_segment()
            self._need_keyframe = True

        if self._failed_until is not None:
            if time.monotonic() < self._failed_until:
                self.stats.dropped_failed += 1
                return
            self._failed_until = None
            self._need_keyframe = self.track.kind == "video"

        seg = self._open
        if seg is not None:
            age = timestamp - seg.start_ts
            if self.track.kind == "video":
                changed = bool(size and size != self._size) or bool(params and params != self._params)
                if keyframe and (age >= self._lead_ticks or changed):
                    self._close_segment(cut_ts=timestamp)
                    seg = None
                elif age >= self._max_ticks:
                    # No keyframe in time: end here and wait for one rather than exceed the limit.
                    self._close_segment(cut_ts=timestamp)
                    seg = None
                    self._need_keyframe = True
                elif age >= self._lead_ticks and not self._requested_for_cut:
                    self._requested_for_cut = True
                    self._request_keyframe(force=True)
            else:
                samples = opus_packet_samples(data) or 0
                if age + samples > self._max_ticks:
                    self._close_segment(cut_ts=timestamp)
                    seg = None

        if seg is None:
            if self.track.kind == "video" and not keyframe:
                self.stats.dropped_waiting_keyframe += 1
                self._request_keyframe()
                return
            if not self._open_segment(timestamp, now, size, data if params else None):
                return

        self._push(data, timestamp, keyframe)
        self._last_ts = timestamp

    def _push(self, data: bytes, ts: int, keyframe: bool) -> None:
        if self._pending is not None and self._open is not None:
            self._mux(self._pending, ts - self._pending.ts)
        self._pending = _Pending(data, ts, keyframe)

    def _mux(self, p: _Pending, duration: int) -> None:
        seg = self._open
        assert seg is not None
        rel = p.ts - seg.start_ts
        duration = max(1, min(duration, self._max_ticks - rel))
        import av  # heavy: loaded on first use

        packet = av.Packet(p.data)
        packet.stream = seg.stream
        packet.time_base = Fraction(1, self.track.clock)
        packet.pts = packet.dts = rel
        packet.duration = duration
        packet.is_keyframe = p.keyframe
        try:
            seg.container.mux(packet)
        except (OSError, av.FFmpegError) as e:
            self._fail(f"write failed: {e}")
            return
        seg.end_ts = rel + duration
        seg.info.frames += 1
        self.stats.frames_written += 1

    # -- segments ----------------------------------------------------------------------------------------

    def _open_segment(self, ts: int, now: float, size: tuple[int, int] | None, h264_key: bytes | None) -> bool:
        index = self._next_index
        self._next_index += 1
        rel_path = f"session-{self.track.session_id}/{self.track.dirname}/seg-{index:05d}{self.track.suffix}"
        start_offset = (ts - (self._first_ts or 0)) / self.track.clock
        started = (self.first_ts_wall or now) + start_offset
        info = SegmentInfo(index=index, path=rel_path, start_offset_s=round(start_offset, 6), started_at=iso(started))
        if size:
            self._size = size
        if self.track.kind == "video" and self._size:
            info.width, info.height = self._size
        import av  # heavy: loaded on first use

        try:
            private_dir(self.dir)
            open_private(self.root / rel_path).close()  # created 0600 first: PyAV then writes into it
            container = av.open(str(self.root / rel_path), "w", format=self.track.container,
                                container_options=CONTAINER_OPTIONS)
            try:
                stream: Stream
                if h264_key is not None:
                    template, tstream = h264_template(h264_key)
                    try:
                        stream = container.add_stream_from_template(tstream)
                        info.width, info.height = tstream.codec_context.width, tstream.codec_context.height
                    finally:
                        template.close()
                    self._params = self._last_params
                elif self.track.kind == "video":
                    w, h = self._size or (0, 0)
                    stream = container.add_mux_stream("vp8", width=w, height=h)
                else:
                    stream = container.add_stream_from_template(opus_template())
                stream.time_base = Fraction(1, 1000)
                container.metadata["title"] = f"{self.track.peer_name} {self.track.kind} #{index}"
                container.start_encoding()
            except BaseException:
                container.close()
                raise
        except (OSError, av.FFmpegError, ValueError) as e:
            self._segments.append(info)
            self._fail(f"cannot open segment: {e}", info)
            return False
        self._open = _Open(info, container, stream, start_ts=ts)
        self._pending = None
        self._requested_for_cut = False
        self._need_keyframe = False
        self._segments.append(info)
        self.stats.segments += 1
        self._write_manifest()
        self.events.segment_opened(self.track, info)
        return True

    def _close_segment(self, cut_ts: int | None = None) -> None:
        seg = self._open
        if seg is None:
            self._pending = None
            return
        if self._pending is not None:
            if cut_ts is not None:
                dur = cut_ts - self._pending.ts
            else:
                dur = self._typical_duration()
            self._mux(self._pending, dur)
            self._pending = None
        seg = self._open
        if seg is None:  # the last mux failed
            return
        self._open = None
        info = seg.info
        import av  # heavy: loaded on first use

        try:
            seg.container.close()
            info.sha256, info.bytes = sha256_file(self.root / info.path)
        except (OSError, av.FFmpegError) as e:
            self._open = seg
            self._fail(f"cannot close segment: {e}")
            return
        info.duration_s = round(seg.end_ts / self.track.clock, 6)
        info.ended_at = iso(self._wall(seg.start_ts) + info.duration_s)
        info.status = "closed"
        self._write_manifest()
        self.events.segment_closed(self.track, info)

    def _typical_duration(self) -> int:
        if self.track.kind == "audio" and self._pending is not None:
            return opus_packet_samples(self._pending.data) or 960
        return self.track.clock // 15  # one frame at 15 fps when nothing better is known

    def _wall(self, ts: int) -> float:
        return (self.first_ts_wall or time.time()) + (ts - (self._first_ts or 0)) / self.track.clock

    def _fail(self, error: str, info: SegmentInfo | None = None) -> None:
        self.stats.errors += 1
        seg = self._open
        self._open = None
        self._pending = None
        if seg is not None:
            info = seg.info
            try:
                seg.container.close()
            except Exception:  # noqa: BLE001 - the container is already broken; we only free it
                pass
        if info is not None:
            info.status = "failed"
            info.error = error[:300]
            try:
                (self.root / info.path).unlink(missing_ok=True)
            except OSError:
                pass
        log.warning("recording %s track %s: %s", self.track.session_id, self.track.dirname, error)
        self._failed_until = time.monotonic() + self.retry_s
        self._need_keyframe = self.track.kind == "video"
        self._write_manifest()
        self.events.failed(self.track, info, error)

    def _request_keyframe(self, force: bool = False) -> None:
        if self.track.kind != "video":
            return
        now = time.monotonic()
        if not force and now - self._last_request < KEYFRAME_REQUEST_INTERVAL_S:
            return
        self._last_request = now
        self.stats.keyframe_requests += 1
        self.events.request_keyframe()

    # -- manifest ----------------------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        return {
            "format": "concord-track-manifest/1",
            "track": asdict(self.track),
            "container": self.track.container,
            "clock_rate": self.track.clock,
            "first_frame_at": iso(self.first_ts_wall) if self.first_ts_wall else None,
            "max_segment_s": self.max_segment_s,
            "segments": [asdict(s) for s in self._segments],
            "stats": asdict(self.stats),
            "closed": self._closed,
        }

    def _write_manifest(self) -> None:
        try:
            private_dir(self.dir)
            write_json_atomic(self.dir / MANIFEST, self.manifest())
        except OSError as e:  # the segment's own I/O reports the failure; the manifest follows later
            log.warning("manifest for %s not written: %s", self.dir, e)

    @property
    def segments(self) -> list[SegmentInfo]:
        return list(self._segments)

    def close(self) -> None:
        """End of track: close the open segment and finish the manifest."""
        if self._closed:
            return
        self._close_segment()
        self._closed = True
        if self._segments:
            self._write_manifest()
