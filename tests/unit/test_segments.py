"""TrackWriter on synthetic encoded frames: segment rules, keyframes, failures, manifest."""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import av
import numpy as np
import pytest

from server.media.codecs import h264_header, h264_nal_units, opus_packet_samples, vp8_header
from server.media.segments import SegmentInfo, TrackInfo, TrackWriter, sha256_file
from server.recording.compose import Segment, Track, compose, remux_track
from server.recording.recovery import salvage


class Events:
    def __init__(self) -> None:
        self.keyframe_requests = 0
        self.opened: list[SegmentInfo] = []
        self.closed: list[SegmentInfo] = []
        self.failures: list[str] = []

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def segment_opened(self, track: TrackInfo, seg: SegmentInfo) -> None:
        self.opened.append(seg)

    def segment_closed(self, track: TrackInfo, seg: SegmentInfo) -> None:
        self.closed.append(seg)

    def failed(self, track: TrackInfo, seg: SegmentInfo | None, error: str) -> None:
        self.failures.append(error)

    def resumed(self, track: TrackInfo) -> None:
        pass


def vp8_frames(n: int, fps: int = 15, keyframes: set[int] | None = None, size: tuple[int, int] = (160, 96),
               noise: bool = False):
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height = size
    enc.pix_fmt = "yuv420p"
    enc.time_base = fractions.Fraction(1, fps)
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    enc.gop_size = 10_000
    out = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        if noise:
            img = np.random.default_rng(i).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts = i
        if keyframes and i in keyframes:
            f.pict_type = av.video.frame.PictureType.I
        for p in enc.encode(f):
            out.append((bytes(p), int(i * 90000 / fps)))
    return out


def h264_frames(n: int, fps: int = 15, keyframes: set[int] | None = None, size: tuple[int, int] = (160, 96),
                gop: int = 10_000):
    """H.264 access units as aiortc's depayloader hands them over: Annex B, constrained baseline (as
    FFmpeg's whip muxer sends), the SPS and PPS in-band before each IDR."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height = size
    enc.pix_fmt = "yuv420p"
    enc.time_base = fractions.Fraction(1, fps)
    enc.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast", "bf": "0",
                   "g": str(gop), "keyint_min": str(min(gop, 250)), "sc_threshold": "0"}
    out = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
        img[:, (i * 4) % (size[0] - 8):(i * 4) % (size[0] - 8) + 8] = (230, 200, 30)
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts = i
        if keyframes and i in keyframes:
            f.pict_type = av.video.frame.PictureType.I
        for p in enc.encode(f):
            out.append((bytes(p), int(i * 90000 / fps)))
    return out


def opus_packets(n: int):
    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "mono", "s16"
    enc.time_base = fractions.Fraction(1, 48000)
    out = []
    for i in range(n):
        a = (np.sin(np.arange(960) / 10) * 3000).astype(np.int16).reshape(1, -1)
        f = av.AudioFrame.from_ndarray(a, format="s16", layout="mono")
        f.sample_rate, f.pts = 48000, i * 960
        for p in enc.encode(f):
            out.append(bytes(p))
    return [(p, i * 960) for i, p in enumerate(out)]


def track(kind: str, codec: str | None = None) -> TrackInfo:
    return TrackInfo(session_id=1, peer="p1", peer_name="张三", role="party", kind=kind,
                     codec=codec or ("vp8" if kind == "video" else "opus"), track_id="t", track_no=1)


def durations(root: Path, segs: list[SegmentInfo]) -> list[float]:
    out = []
    for s in segs:
        with av.open(str(root / s.path)) as c:
            out.append(c.duration / 1e6)
    return out


def test_vp8_header_parsing() -> None:
    frames = vp8_frames(2)
    key = vp8_header(frames[0][0])
    assert key and key.keyframe and (key.width, key.height) == (160, 96)
    assert vp8_header(frames[1][0]) == vp8_header(b"\x01\x00\x00")
    assert vp8_header(b"\x00") is None
    assert vp8_header(b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00") is None  # keyframe without start code


def test_h264_header_parsing() -> None:
    frames = h264_frames(2)
    key, delta = h264_header(frames[0][0]), h264_header(frames[1][0])
    assert key and key.keyframe and key.params.startswith(b"\x00\x00\x00\x01\x67")  # SPS, then PPS
    assert [u[0] & 0x1F for u in h264_nal_units(key.params)] == [7, 8]
    assert delta and not delta.keyframe and not delta.params
    assert [u[0] & 0x1F for u in h264_nal_units(b"\x00\x00\x01\x65\xaa\x00\x00\x00\x01\x41\xbb")] == [5, 1]
    assert h264_header(b"") is None and h264_header(b"\x12\x34") is None  # no start code, no NAL unit
    assert h264_header(b"\x00\x00\x00\x01\xe5\x00") is None  # forbidden_zero_bit set


def test_opus_packet_durations() -> None:
    assert opus_packet_samples(b"\xf8\xff\xfe") == 960  # CELT FB 20 ms, one frame
    assert opus_packet_samples(b"\xf9\x00") == 1920  # two frames
    assert opus_packet_samples(b"\xfb\x03") == 2880  # code 3, three frames
    assert opus_packet_samples(b"\xfb\x00") is None
    assert opus_packet_samples(b"") is None


def test_video_cuts_on_requested_keyframe_and_never_exceeds_limit(tmp_path: Path) -> None:
    ev = Events()
    w = TrackWriter(tmp_path, track("video"), ev, max_segment_s=2.0)
    # 15 fps, 6 s; the "sender" answers a keyframe request two frames later.
    frames = vp8_frames(90, keyframes={33, 63})
    for data, ts in frames:
        w.write(data, ts)
    w.close()
    assert ev.keyframe_requests >= 1
    assert all(s.status == "closed" for s in ev.closed)
    durs = durations(tmp_path, ev.closed)
    assert all(d <= 2.0 + 1e-3 for d in durs), durs
    # Where no keyframe came in time the writer cut at the limit and dropped frames until one did.
    assert w.stats.dropped_waiting_keyframe > 0
    for s in ev.closed:
        with av.open(str(tmp_path / s.path)) as c:
            first = next(p for p in c.demux(c.streams.video[0]) if p.size)
            assert first.is_keyframe
        with av.open(str(tmp_path / s.path)) as c:
            assert sum(1 for _ in c.decode(video=0)) == s.frames
    manifest = json.loads((w.dir / "manifest.json").read_text())
    assert manifest["closed"] and [m["sha256"] for m in manifest["segments"]] == [s.sha256 for s in ev.closed]


def test_video_waits_for_first_keyframe_and_splits_on_resolution_change(tmp_path: Path) -> None:
    ev = Events()
    w = TrackWriter(tmp_path, track("video"), ev, max_segment_s=10.0)
    small = vp8_frames(10, size=(160, 96))
    big = vp8_frames(10, size=(320, 192))
    for data, ts in small[1:]:  # starts mid-stream: no keyframe yet
        w.write(data, ts)
    assert not ev.opened and ev.keyframe_requests >= 1
    w.write(small[0][0], 10 * 6000)
    for i, (data, _) in enumerate(big):
        w.write(data, (11 + i) * 6000)
    w.close()
    assert [(s.width, s.height) for s in ev.closed] == [(160, 96), (320, 192)]


def test_gap_closes_segment_and_waits_for_keyframe(tmp_path: Path) -> None:
    ev = Events()
    w = TrackWriter(tmp_path, track("video"), ev)
    frames = vp8_frames(20, keyframes={12})
    for i, (data, ts) in enumerate(frames):
        w.write(data, ts, gap=(i == 5))
    w.close()
    assert len(ev.closed) == 2
    assert ev.closed[0].frames == 5 and ev.closed[1].frames == 8


def test_audio_segments_are_contiguous_and_bounded(tmp_path: Path) -> None:
    ev = Events()
    w = TrackWriter(tmp_path, track("audio"), ev, max_segment_s=1.0)
    for data, ts in opus_packets(160):  # 3.2 s
        w.write(data, ts)
    w.close()
    durs = durations(tmp_path, ev.closed)
    assert len(durs) == 4 and all(d <= 1.0 + 1e-3 for d in durs)
    assert sum(durs) == pytest.approx(3.2, abs=0.03)
    assert [s.start_offset_s for s in ev.closed] == [0.0, 1.0, 2.0, 3.0]
    with av.open(str(tmp_path / ev.closed[0].path)) as c:
        assert c.streams.audio[0].codec_context.extradata[:8] == b"OpusHead"


def test_malformed_and_backwards_frames_are_dropped(tmp_path: Path) -> None:
    ev = Events()
    w = TrackWriter(tmp_path, track("audio"), ev)
    pk = opus_packets(5)
    w.write(pk[0][0], 960)
    w.write(b"", 1920)
    w.write(pk[1][0], 0)  # backwards
    w.write(pk[2][0], 1920)
    w.close()
    assert w.stats.dropped_malformed == 2 and ev.closed[0].frames == 2


def test_unwritable_directory_fails_segment_and_retries(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    ev = Events()
    w = TrackWriter(blocker, track("audio"), ev, retry_s=0.0)
    pk = opus_packets(3)
    for data, ts in pk:
        w.write(data, ts)
    w.close()
    assert ev.failures and not ev.closed
    assert w.stats.errors >= 1


def test_disk_full_mid_segment(tmp_path: Path) -> None:
    import subprocess

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        ev = Events()
        w = TrackWriter(mnt, track("video"), ev, retry_s=3600)
        for data, ts in vp8_frames(30, size=(320, 192), noise=True):
            w.write(data, ts)
        w.close()
        assert ev.failures, "a full disk must be reported"
        assert any("No space" in f or "space" in f.lower() for f in ev.failures), ev.failures
        # the failed segment's partial file is gone; the track stays listed in the manifest
        assert all(not (mnt / s.path).exists() for s in ev.opened if s.status == "failed")
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_h264_segments_are_matroska_keyframe_aligned_and_decodable(tmp_path: Path) -> None:
    """A WHIP terminal's H.264 is written as it came (no transcoding) into Matroska segments: avcC from the
    keyframe's SPS/PPS, each segment starting on an IDR, hashed like VP8; a new picture size starts a new
    segment."""
    ev = Events()
    w = TrackWriter(tmp_path, track("video", "h264"), ev, max_segment_s=2.0)
    frames = h264_frames(60, keyframes={25, 40})
    for data, ts in frames[3:]:  # joins mid-stream: nothing until the requested IDR
        w.write(data, ts)
    big = h264_frames(10, size=(320, 192))
    for i, (data, _) in enumerate(big):
        w.write(data, (60 + i) * 6000)
    w.close()
    assert w.stats.dropped_waiting_keyframe == 22 and ev.keyframe_requests >= 1
    assert [(s.width, s.height) for s in ev.closed] == [(160, 96), (160, 96), (320, 192)]
    assert [s.frames for s in ev.closed] == [15, 20, 10]
    manifest = json.loads((w.dir / "manifest.json").read_text())
    assert manifest["container"] == "matroska" and manifest["track"]["codec"] == "h264"
    assert [m["sha256"] for m in manifest["segments"]] == [s.sha256 for s in ev.closed]
    for s in ev.closed:
        assert s.path.endswith(".mkv") and s.status == "closed"
        assert sha256_file(tmp_path / s.path) == (s.sha256, s.bytes)
        with av.open(str(tmp_path / s.path)) as c:
            assert c.format.name.startswith("matroska")
            st = c.streams.video[0]
            assert st.codec_context.name == "h264" and st.codec_context.extradata[:1] == b"\x01"  # avcC
            first = next(p for p in c.demux(st) if p.size)
            assert first.is_keyframe
        with av.open(str(tmp_path / s.path)) as c:
            pics = list(c.decode(video=0))
            assert len(pics) == s.frames and (pics[0].width, pics[0].height) == (s.width, s.height)
        assert durations(tmp_path, [s])[0] <= 2.0 + 1e-3


def test_h264_keyframe_without_parameter_sets(tmp_path: Path) -> None:
    """An IDR whose SPS/PPS came earlier (their own RTP timestamp) gets the last ones in-band; an IDR before
    any parameter sets is not a starting point; malformed units are dropped."""
    ev = Events()
    w = TrackWriter(tmp_path, track("video", "h264"), ev, max_segment_s=10.0)
    frames = h264_frames(8)
    key = h264_header(frames[0][0])
    assert key is not None
    idr = b"".join(b"\x00\x00\x00\x01" + u for u in h264_nal_units(frames[0][0]) if u[0] & 0x1F not in (7, 8))
    w.write(idr, 0)  # no parameter sets known yet
    assert not ev.opened and w.stats.dropped_waiting_keyframe == 1
    w.write(b"\x00\x00\x00\x01\xe5\x00", 100)
    assert w.stats.dropped_malformed == 1
    w.write(key.params, 3000)  # SPS and PPS alone
    w.write(idr, 6000)
    for data, ts in frames[1:]:
        w.write(data, ts + 6000)
    w.close()
    assert len(ev.closed) == 1 and ev.closed[0].frames == 8
    with av.open(str(tmp_path / ev.closed[0].path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 8


def test_h264_half_written_segment_is_salvaged_then_remuxed_and_composed(tmp_path: Path) -> None:
    """After a crash the open H.264 segment is salvaged (Matroska, avcC kept); the per-track file stays
    H.264 in Matroska (packets copied) and the composite decodes it next to a VP8 track."""
    ev = Events()
    w = TrackWriter(tmp_path, track("video", "h264"), ev, max_segment_s=2.0)
    for data, ts in h264_frames(45, gop=15):
        w.write(data, ts)
    # No close(): the process "died" with its third segment open; what reached the file is salvaged.
    assert len(ev.closed) == 2 and ev.opened[-1].status == "writing"
    open_seg = tmp_path / ev.opened[-1].path
    result = salvage(open_seg, "video")
    assert result.ok and result.frames > 0, result
    with av.open(str(open_seg)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == result.frames

    t0 = 1_760_000_000.0
    segs = [Segment(tmp_path / s.path, t0 + s.start_offset_s, s.duration_s or result.duration_s)
            for s in ev.opened]
    h264_track = Track("video", "县指挥中心终端", segs)
    per_track = remux_track(h264_track, tmp_path / "track.mkv")
    with av.open(str(per_track.path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == 30 + result.frames
    vp8_ev = Events()
    vw = TrackWriter(tmp_path / "vp8", track("video"), vp8_ev, max_segment_s=10.0)
    for data, ts in vp8_frames(30):
        vw.write(data, ts)
    vw.close()
    vp8_track = Track("video", "张三", [Segment(tmp_path / "vp8" / s.path, t0, s.duration_s) for s in vp8_ev.closed])
    out = compose([h264_track, vp8_track], tmp_path / "composite.webm")
    assert out.duration_s >= 2.5
    with av.open(str(out.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 2.5 * 15
