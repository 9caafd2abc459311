"""Synthetic aiortc tracks for media tests and benches: real frames, paced in real time."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc import MediaStreamTrack

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class SyntheticVideo(MediaStreamTrack):
    """A moving bar, ``fps`` frames per second; a small cycle of prebuilt frames keeps the CPU low."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 180, fps: int = 15, cycle: int = 30) -> None:
        super().__init__()
        self.fps = fps
        self.frames_sent = 0
        self._start: float | None = None
        self._images = []
        for i in range(cycle):
            img = np.full((height, width, 3), 40, np.uint8)
            x = (i * width // cycle) % width
            img[:, x:x + max(4, width // 16)] = (230, 200, 30)
            img[(i * height // cycle) % height, :] = 255
            self._images.append(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p"))

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.time()
        n = self.frames_sent
        wait = self._start + n / self.fps - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        src = self._images[n % len(self._images)]
        frame = av.VideoFrame.from_ndarray(src.to_ndarray(), format="yuv420p")
        frame.pts = int(n * 90000 / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self.frames_sent += 1
        return frame


class SyntheticAudio(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames at 48 kHz."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.frames_sent = 0
        self._start: float | None = None
        t = np.arange(960 * 50) / 48000
        self._tone = (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16)

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.time()
        n = self.frames_sent
        wait = self._start + n * 0.02 - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        chunk = self._tone[(n % 50) * 960:(n % 50 + 1) * 960]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self.frames_sent += 1
        return frame
