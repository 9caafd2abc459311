"""The composite recording keeps each video's proportions and names each tile (server/recording/compose.py),
checked on the pixels of a real composed file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from server.recording.compose import OUT_FPS, Segment, Track, compose, fit, label_for

T0 = 1_760_000_000.0
PICTURE_Y = 170  # the synthetic pictures' brightness (grey)


def video_segment(path: Path, width: int, height: int, seconds: float = 1.0) -> Segment:
    with av.open(str(path), "w", format="webm") as out:
        st = out.add_stream("libvpx", rate=OUT_FPS)
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        img = np.full((height, width, 3), PICTURE_Y, np.uint8)
        for i in range(int(seconds * OUT_FPS)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, OUT_FPS)
            out.mux(st.encode(frame))
        out.mux(st.encode(None))
    return Segment(path, T0, seconds)


def luma_at(path: Path, t: float) -> np.ndarray:
    with av.open(str(path)) as src:
        for frame in src.decode(video=0):
            if frame.pts is not None and float(frame.pts * frame.time_base) >= t:
                return frame.to_ndarray(format="gray").astype(int)
    raise AssertionError("no frame")


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    d = tmp_path_factory.mktemp("compose")
    landscape = Track("video", "张三", [video_segment(d / "a.webm", 320, 240)])  # 4:3 in a 320x360 cell
    portrait = Track("video", "李四（代理人）", [video_segment(d / "b.webm", 180, 320)])  # 9:16
    out = compose([landscape, portrait], d / "composite.webm")
    assert out.duration_s >= 1.0 and out.bytes > 0
    return luma_at(out.path, 0.5)


def test_fit_keeps_proportions() -> None:
    assert fit(320, 240, 320, 360) == (0, 60, 320, 240)  # letterbox: bars above and below
    x, y, w, h = fit(180, 320, 320, 360)  # pillarbox: bars left and right
    assert (y, h) == (0, 360) and abs(w / h - 180 / 320) < 0.02 and x == (320 - w) // 2 & ~1
    assert fit(1280, 720, 640, 360) == (0, 0, 640, 360)


def test_letterbox_bars_are_black_and_the_picture_is_not_stretched(composed: np.ndarray) -> None:
    y = composed
    assert y.shape == (360, 640)
    a = y[:, :320]  # 张三's 4:3 picture: letterboxed, bars of 60 rows above and below
    assert a[5:55, 10:310].mean() < 30 and a[305:315, 200:310].mean() < 30
    assert abs(a[70:290, 10:310].mean() - PICTURE_Y) < 25
    b = y[:, 320:]  # 李四's portrait picture: pillarboxed, bars of ~59 columns left and right
    x, _, w, _ = fit(180, 320, 320, 360)
    assert b[10:300, 5:x - 4].mean() < 30 and b[10:300, x + w + 4:315].mean() < 30
    assert abs(b[10:300, x + 6:x + w - 6].mean() - PICTURE_Y) < 25


def test_each_tile_carries_its_name(composed: np.ndarray) -> None:
    for cx, name in ((0, "张三"), (320, "李四（代理人）")):
        label = label_for(name, 320, 360)
        assert label is not None and label.w > len(name) * 20  # a band wide enough for the whole name
        area = composed[label.y:label.y + label.h, cx + label.x:cx + label.x + label.w]
        text = label.alpha > 0.6
        assert text.sum() > 80  # the glyphs cover a real share of the band
        assert area[text].mean() > 150  # white text ...
        assert area[label.alpha < 0.05].mean() < 90  # ... on a dark band
    # 张三's label sits in the black bar under the picture: without it the bar would be black there.
    label = label_for("张三", 320, 360)
    assert label is not None and label.y >= 300


def test_long_names_are_cut_to_fit_the_tile() -> None:
    label = label_for("非常长的当事人姓名" * 10, 160, 90)
    assert label is not None and label.x + label.w <= 160
    assert label_for("", 320, 360) is None

