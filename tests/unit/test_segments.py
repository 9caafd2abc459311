"""TrackWriter on synthetic encoded frames: segment rules, keyframes, failures, manifest."""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import av
import numpy as np
import pytest

from server.media.codecs import opus_packet_samples, vp8_header
from server.media.segments import SegmentInfo, TrackInfo, TrackWriter


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


def track(kind: str) -> TrackInfo:
    return TrackInfo(session_id=1, peer="p1", peer_name="张三", role="party", kind=kind,
                     codec="vp8" if kind == "video" else "opus", track_id="t", track_no=1)


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
