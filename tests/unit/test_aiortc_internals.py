"""Pins the aiortc 1.16 internals the recorder relies on (server/media/passthrough.py).

If aiortc changes any of these, this fails before a recording silently decodes (or loses) media.
"""

from __future__ import annotations

import asyncio
import inspect
import queue

import aiortc
import pytest
from aiortc import rtcrtpreceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from server.media import passthrough


def test_version_is_pinned() -> None:
    assert aiortc.__version__.startswith(passthrough.SUPPORTED_AIORTC)
    import tomllib
    from pathlib import Path

    deps = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "aiortc==1.16.*" in deps


def test_receiver_has_the_attributes_we_swap_and_call() -> None:
    src = inspect.getsource(RTCRtpReceiver)
    assert "self.__decoder_queue" in src and "self.__decoder_thread" in src and "self.__rtx_ssrc" in src
    assert "self.__decoder_queue.put((codec, encoded_frame))" in src
    assert "self.__decoder_queue.put(None)" in src
    assert hasattr(RTCRtpReceiver, "_send_rtcp_pli")
    worker = inspect.getsource(rtcrtpreceiver.decoder_worker)
    assert "get_decoder(codec)" in worker and "input_q.get()" in worker and "decoder.decode(encoded_frame)" in worker
    passthrough.check_internals()


async def test_tap_routes_frames_and_bounds_the_queue() -> None:
    class Transport:
        state = "new"

    class Sink:
        def __init__(self) -> None:
            self.codec = None
            self.frames: list[tuple[bytes, int, bool]] = []
            self.closed = False

        def start(self, codec_name: str) -> None:
            self.codec = codec_name

        def frame(self, data: bytes, ts: int, gap: bool, arrival: float) -> None:
            self.frames.append((data, ts, gap))

        def close(self) -> None:
            self.closed = True

    receiver = RTCRtpReceiver("video", Transport())  # type: ignore[arg-type]
    sink = Sink()
    tap = passthrough.tap_receiver(receiver, "video", sink)
    assert rtcrtpreceiver.get_decoder is passthrough._get_decoder
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    q = getattr(receiver, passthrough.QUEUE_ATTR)
    assert q is tap and isinstance(q, queue.Queue)
    for i in range(tap.limit + 5):
        q.put((vp8, JitterFrame(b"\x01\x00\x00", i)))
    assert tap.dropped == 5 and tap.qsize() == tap.limit
    # Run aiortc's own worker on the tapped queue: frames reach the sink, nothing is decoded.
    q.put(None)  # the stop sentinel always fits
    loop = asyncio.get_running_loop()
    out: asyncio.Queue = asyncio.Queue()
    import threading

    t = threading.Thread(target=rtcrtpreceiver.decoder_worker, args=(loop, q, out, threading.Event()))
    t.start()
    await asyncio.to_thread(t.join, 10)
    assert sink.codec == "vp8" and len(sink.frames) == tap.limit and sink.closed
    assert await asyncio.wait_for(out.get(), 5) is None  # only the end-of-track marker, no decoded frames
    # The next frame after the overflow carries the gap mark.
    tap2 = passthrough.TapQueue("video", sink)
    for i in range(tap2.limit + 1):
        tap2.put((vp8, JitterFrame(b"\x01", i)))
    tap2.get()
    tap2.put((vp8, JitterFrame(b"\x01", 999)))
    items = [tap2.get() for _ in range(tap2.qsize())]
    assert getattr(items[-1][1], "gap", False) is True


def test_other_receivers_still_decode() -> None:
    passthrough.install()
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=96)
    dec = rtcrtpreceiver.get_decoder(opus)
    assert type(dec).__name__ == "OpusDecoder"


def test_tap_refuses_a_started_receiver() -> None:
    class Transport:
        state = "new"

    receiver = RTCRtpReceiver("audio", Transport())  # type: ignore[arg-type]
    setattr(receiver, passthrough.THREAD_ATTR, object())
    with pytest.raises(passthrough.InternalsChanged):
        passthrough.tap_receiver(receiver, "audio", object())  # type: ignore[arg-type]
