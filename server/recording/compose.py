"""After the session: one file per track (remuxed, no transcoding) and one composite playback file.

The composite is a grid of every video track with all audio tracks mixed, laid on one timeline by each
segment's wall-clock start. Each video keeps its proportions inside its cell (letterboxed or pillarboxed
in black) and carries its participant's display name in the bottom-left corner. It is the only place media is decoded and re-encoded, and it runs after
the session in the job queue's background thread. Memory stays bounded: each track is decoded as a
stream (one frame held per video track, a second of samples per audio track).

Plain Python + PyAV + numpy; the caller persists and ledgers the result.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext

from server.agreements.fonts import FontMissing, find_font
from server.media.codecs import opus_template
from server.media.segments import sha256_file, time_base
from server.security.files import private, private_dir

OUT_W, OUT_H, OUT_FPS = 640, 360, 15
SAMPLE_RATE = 48000
HOLD_S = 0.5  # a video cell keeps its last frame this long past the end of its track's segments


@dataclass
class Segment:
    path: Path
    start: float  # wall clock, epoch seconds
    duration: float


@dataclass
class Track:
    kind: str  # audio | video
    label: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.segments[0].start

    @property
    def end(self) -> float:
        return max(s.start + s.duration for s in self.segments)


@dataclass
class Output:
    path: Path
    sha256: str
    bytes: int
    duration_s: float


# ---- per-track files ----------------------------------------------------------------------------------

def remux_track(track: Track, out_path: Path) -> Output:
    """Concatenate a track's segments into one file, packets copied, timestamps laid end to end: WebM, or
    Matroska for H.264 (``out_path`` ending in ``.mkv``; each keyframe carries its SPS and PPS in-band)."""
    tmp = out_path.with_name(out_path.name + ".part")
    t0 = track.start
    end = 0.0
    h264 = out_path.suffix == ".mkv"
    with av.open(str(tmp), "w", format="matroska" if h264 else "webm") as out:
        ost = None
        for seg in track.segments:
            with av.open(str(seg.path)) as src:
                ist = src.streams[0]
                tb = time_base(ist.time_base)
                if ost is None:
                    if h264:
                        ost = out.add_stream_from_template(ist)
                    elif track.kind == "video":
                        vctx = cast(VideoCodecContext, ist.codec_context)  # a video segment's one stream
                        ost = out.add_mux_stream("vp8", width=vctx.width, height=vctx.height)
                    else:
                        ost = out.add_stream_from_template(opus_template())
                    ost.time_base = Fraction(1, 1000)
                offset = round((seg.start - t0) / float(tb))
                for p in src.demux(ist):
                    if p.size == 0 or p.pts is None:
                        continue
                    p.pts += offset
                    p.dts = p.pts
                    p.stream = ost
                    out.mux(p)
                    end = max(end, float((p.pts + (p.duration or 0)) * tb))
    private(tmp)
    os.replace(tmp, out_path)
    digest, size = sha256_file(out_path)
    return Output(out_path, digest, size, round(end, 3))


# ---- composite ----------------------------------------------------------------------------------------

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V of one cell (yuv420p)
BLACK_Y, NEUTRAL_UV = 16, 128


def fit(fw: int, fh: int, cw: int, ch: int) -> tuple[int, int, int, int]:
    """A ``fw``×``fh`` picture scaled into a ``cw``×``ch`` cell keeping its proportions: (x, y, w, h) of
    the picture in the cell, even numbers (yuv420p), centred; the rest of the cell is black bars."""
    scale = min(cw / fw, ch / fh)
    w = max(2, min(cw, round(fw * scale)) & ~1)
    h = max(4, min(ch, round(fh * scale)) & ~3)  # the chroma planes pack two rows to a luma row
    return ((cw - w) // 2) & ~1, ((ch - h) // 2) & ~1, w, h


def _letterboxed(frame: av.VideoFrame, cw: int, ch: int) -> Planes:
    """The frame in a cell: scaled to fit without distortion, letterboxed or pillarboxed in black."""
    x, y, w, h = fit(frame.width, frame.height, cw, ch)
    img = frame.reformat(width=w, height=h, format="yuv420p").to_ndarray()
    yp = np.full((ch, cw), BLACK_Y, np.uint8)
    up = np.full((ch // 2, cw // 2), NEUTRAL_UV, np.uint8)
    vp = np.full((ch // 2, cw // 2), NEUTRAL_UV, np.uint8)
    q = h // 4  # the chroma planes follow the luma rows, packed two chroma rows to a luma row
    yp[y:y + h, x:x + w] = img[:h]
    up[y // 2:(y + h) // 2, x // 2:(x + w) // 2] = img[h:h + q].reshape(h // 2, w // 2)
    vp[y // 2:(y + h) // 2, x // 2:(x + w) // 2] = img[h + q:h + 2 * q].reshape(h // 2, w // 2)
    return yp, up, vp


def _video_frames(track: Track, t0: float, cw: int, ch: int) -> Iterator[tuple[float, Planes]]:
    """(time on the composite timeline, the cell's planes), in order."""
    for seg in track.segments:
        try:
            with av.open(str(seg.path)) as src:
                for frame in src.decode(video=0):
                    if frame.pts is None:
                        continue
                    t = seg.start - t0 + float(frame.pts * time_base(frame.time_base))
                    yield t, _letterboxed(frame, cw, ch)
        except (av.FFmpegError, OSError):
            continue  # a damaged segment leaves a black cell, not a failed compose


@dataclass
class Label:
    """A name drawn on a tile: white text on a dark band in the cell's bottom-left corner."""
    x: int
    y: int
    alpha: np.ndarray  # (h, w) text coverage, 0..1

    @property
    def h(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def w(self) -> int:
        return int(self.alpha.shape[1])


def label_for(name: str, cw: int, ch: int) -> Label | None:
    """The participant's display name as a label for a ``cw``×``ch`` tile, in the agreements' CJK font
    (server/agreements/fonts.py); a name too wide for the tile is cut with "…"."""
    from PIL import Image, ImageDraw, ImageFont  # heavy: loaded on first use


    name = " ".join(name.split())[:64]
    if not name or cw < 40 or ch < 24:
        return None
    size = max(10, min(24, ch // 12))
    try:
        path, index = find_font()
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(path, size, index=index)
    except (FontMissing, OSError):
        font = ImageFont.load_default()
    pad = max(2, size // 4) & ~1
    room = cw - 4 * pad
    text = name
    while text and font.getlength(text) > room:
        text = text[:-1]
    if text != name:
        text = text[:-1] + "…" if len(text) > 1 else text
    tw = int(math.ceil(font.getlength(text)))
    w, h = (tw + 2 * pad + 1) & ~1, (size + 2 * pad + 1) & ~1
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((pad, pad + size // 2), text, fill=255, font=font, anchor="lm")
    return Label(pad, (ch - h - pad) & ~1, np.asarray(img, np.float32) / 255.0)


def draw_label(y: np.ndarray, u: np.ndarray, v: np.ndarray, cx: int, cy: int, label: Label) -> None:
    """The label on the frame's planes at the tile whose top-left corner is (cx, cy)."""
    x0, y0 = cx + label.x, cy + label.y
    band = y[y0:y0 + label.h, x0:x0 + label.w].astype(np.float32)
    band = band * 0.35 + BLACK_Y * 0.65  # a dark band keeps the name legible on any picture
    y[y0:y0 + label.h, x0:x0 + label.w] = (band + (235.0 - band) * label.alpha).astype(np.uint8)
    u[y0 // 2:(y0 + label.h) // 2, x0 // 2:(x0 + label.w) // 2] = NEUTRAL_UV
    v[y0 // 2:(y0 + label.h) // 2, x0 // 2:(x0 + label.w) // 2] = NEUTRAL_UV


def _audio_chunks(track: Track, t0: float) -> Iterator[tuple[int, np.ndarray]]:
    """(first sample index on the timeline, mono int16 samples), in order."""
    for seg in track.segments:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            with av.open(str(seg.path)) as src:
                base = round((seg.start - t0) * SAMPLE_RATE)
                pos = None
                for frame in src.decode(audio=0):
                    if pos is None:
                        pos = base + round(float((frame.pts or 0) * time_base(frame.time_base)) * SAMPLE_RATE)
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1)
                        yield pos, samples
                        pos += samples.shape[0]
        except (av.FFmpegError, OSError):
            continue


class _Cell:
    def __init__(self, frames: Iterator[tuple[float, Planes]], end: float, label: Label | None = None) -> None:
        self.frames = frames
        self.end = end
        self.label = label
        self.current: Planes | None = None
        self.next: tuple[float, Planes] | None = next(frames, None)

    def at(self, t: float) -> Planes | None:
        while self.next is not None and self.next[0] <= t:
            self.current = self.next[1]
            self.next = next(self.frames, None)
        if t > self.end + HOLD_S:
            return None
        return self.current


class _Voice:
    def __init__(self, chunks: Iterator[tuple[int, np.ndarray]]) -> None:
        self.chunks = chunks
        self.pending: list[tuple[int, np.ndarray]] = []
        self.done = False

    def mix_into(self, mix: np.ndarray, start: int) -> None:
        stop = start + mix.shape[0]
        while not self.done and (not self.pending or self.pending[-1][0] + self.pending[-1][1].shape[0] < stop):
            item = next(self.chunks, None)
            if item is None:
                self.done = True
            else:
                self.pending.append(item)
        keep = []
        for pos, samples in self.pending:
            a, b = max(pos, start), min(pos + samples.shape[0], stop)
            if a < b:
                mix[a - start:b - start] += samples[a - pos:b - pos]
            if pos + samples.shape[0] > stop:
                keep.append((pos, samples))
        self.pending = keep


def grid(n: int) -> tuple[int, int]:
    cols = max(1, math.ceil(math.sqrt(n)))
    return cols, max(1, math.ceil(n / cols))


def compose(tracks: list[Track], out_path: Path, progress: Callable[[float], None] = lambda f: None) -> Output:
    tracks = [t for t in tracks if t.segments]
    videos = [t for t in tracks if t.kind == "video"]
    audios = [t for t in tracks if t.kind == "audio"]
    if not tracks:
        raise ValueError("nothing was recorded")
    t0 = min(t.start for t in tracks)
    total = max(t.end for t in tracks) - t0
    cols, rows = grid(len(videos))
    cw, ch = (OUT_W // cols) & ~1, (OUT_H // rows) & ~1
    cells = [_Cell(_video_frames(t, t0, cw, ch), t.end - t0, label_for(t.label, cw, ch)) for t in videos]
    voices = [_Voice(_audio_chunks(t, t0)) for t in audios]

    tmp = out_path.with_name(out_path.name + ".part")
    private_dir(out_path.parent)
    n_frames = max(1, math.ceil(total * OUT_FPS))
    with av.open(str(tmp), "w", format="webm") as out:
        vs = out.add_stream("libvpx", rate=OUT_FPS)
        vs.width, vs.height, vs.pix_fmt = OUT_W, OUT_H, "yuv420p"
        vs.bit_rate = 700_000
        vs.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        aus = out.add_stream("libopus", rate=SAMPLE_RATE)
        aus.layout = "mono"
        aus.bit_rate = 48_000
        y = np.zeros((OUT_H, OUT_W), np.uint8)
        u = np.full((OUT_H // 2, OUT_W // 2), 128, np.uint8)
        v = np.full((OUT_H // 2, OUT_W // 2), 128, np.uint8)
        samples_per_frame = SAMPLE_RATE // OUT_FPS
        for i in range(n_frames):
            t = i / OUT_FPS
            y[:] = 16
            u[:] = 128
            v[:] = 128
            for k, cell in enumerate(cells):
                img = cell.at(t)
                if img is None:
                    continue
                cx, cy = (k % cols) * cw, (k // cols) * ch
                y[cy:cy + ch, cx:cx + cw] = img[0]
                u[cy // 2:cy // 2 + ch // 2, cx // 2:cx // 2 + cw // 2] = img[1]
                v[cy // 2:cy // 2 + ch // 2, cx // 2:cx // 2 + cw // 2] = img[2]
                if cell.label is not None:
                    draw_label(y, u, v, cx, cy, cell.label)
            frame = av.VideoFrame.from_ndarray(np.concatenate([y.ravel(), u.ravel(), v.ravel()])
                                               .reshape(OUT_H * 3 // 2, OUT_W), format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, OUT_FPS)
            out.mux(vs.encode(frame))

            mix = np.zeros(samples_per_frame, np.int32)
            for voice in voices:
                voice.mix_into(mix, i * samples_per_frame)
            pcm = np.clip(mix, -32768, 32767).astype(np.int16).reshape(1, -1)
            af = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            af.sample_rate = SAMPLE_RATE
            af.pts = i * samples_per_frame
            af.time_base = Fraction(1, SAMPLE_RATE)
            out.mux(aus.encode(af))
            if i % OUT_FPS == 0:
                progress(i / n_frames)
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    private(tmp)
    os.replace(tmp, out_path)
    progress(1.0)
    digest, size = sha256_file(out_path)
    return Output(out_path, digest, size, round(n_frames / OUT_FPS, 3))
