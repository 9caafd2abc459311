"""Taking encoded frames out of an aiortc receiver instead of decoding them.

This leans on aiortc 1.16 internals (pinned in pyproject.toml and checked by
``tests/unit/test_aiortc_internals.py``):

1. ``RTCRtpReceiver`` keeps its jitter-buffer output in ``_RTCRtpReceiver__decoder_queue`` (a
   ``queue.Queue`` of ``(codec, JitterFrame)`` items, ``None`` to stop) and starts a thread running
   ``aiortc.rtcrtpreceiver.decoder_worker`` on it when ``receive()`` is called (after the ``track``
   event). Before that we swap in a ``TapQueue``: bounded for media (it drops, counts and marks the
   gap rather than grow), always room for the stop sentinel, and it tags each codec as ``TappedCodec``.
2. ``decoder_worker`` looks up ``get_decoder`` in the ``aiortc.rtcrtpreceiver`` module each time the
   codec changes. We wrap that name: a ``TappedCodec`` gets a ``PassthroughDecoder`` that hands the
   encoded frame to our sink and returns no frames; every other receiver in the process still gets
   aiortc's real decoder.
3. Keyframes are requested with ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.

So the muxing runs on aiortc's own per-track thread, off the event loop, and nothing is decoded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import queue
import threading
import time
from typing import Any, Protocol

import aiortc
from aiortc import rtcrtpreceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver

log = logging.getLogger("concord.recorder")

SUPPORTED_AIORTC = "1.16."
QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"
RTX_ATTR = "_RTCRtpReceiver__rtx_ssrc"

# Media items a tap holds at most: about 4 s of 30 fps video, 5 s of 20 ms Opus packets.
QUEUE_LIMIT = {"video": 120, "audio": 250}


class FrameSink(Protocol):
    """Receives one track's encoded frames on aiortc's decoder thread."""

    def start(self, codec_name: str) -> None: ...
    def frame(self, data: bytes, timestamp: int, gap: bool, arrival: float) -> None: ...
    def close(self) -> None: ...


class InternalsChanged(RuntimeError):
    """aiortc no longer looks the way this module expects: refuse to record rather than decode."""


@dataclasses.dataclass
class TappedCodec(RTCRtpCodecParameters):
    sink: Any = None


class PassthroughDecoder:
    """Stands where aiortc's decoder would: forwards the encoded frame, decodes nothing."""

    def __init__(self, codec: TappedCodec) -> None:
        self.sink: FrameSink = codec.sink
        try:
            self.sink.start(codec.name.lower())
        except Exception:
            log.exception("recorder sink failed to start")

    def decode(self, encoded_frame: Any) -> list:
        try:
            self.sink.frame(encoded_frame.data, encoded_frame.timestamp, getattr(encoded_frame, "gap", False),
                            getattr(encoded_frame, "arrival", time.time()))
        except Exception:
            # Never let a recording fault reach aiortc's thread: it would stop receiving.
            log.exception("recorder sink failed on a frame")
        return []


_original_get_decoder = rtcrtpreceiver.get_decoder


def _get_decoder(codec: RTCRtpCodecParameters) -> Any:
    if isinstance(codec, TappedCodec):
        return PassthroughDecoder(codec)
    return _original_get_decoder(codec)


_install_lock = threading.Lock()


def check_internals() -> None:
    if not aiortc.__version__.startswith(SUPPORTED_AIORTC):
        raise InternalsChanged(f"recorder supports aiortc {SUPPORTED_AIORTC}x, found {aiortc.__version__}")
    if not hasattr(RTCRtpReceiver, "_send_rtcp_pli"):
        raise InternalsChanged("RTCRtpReceiver._send_rtcp_pli is gone")
    if "get_decoder" not in rtcrtpreceiver.decoder_worker.__code__.co_names:
        raise InternalsChanged("decoder_worker no longer calls get_decoder")


def install() -> None:
    """Wrap aiortc's decoder factory once per process (idempotent)."""
    with _install_lock:
        if rtcrtpreceiver.get_decoder is _get_decoder:
            return
        check_internals()
        rtcrtpreceiver.get_decoder = _get_decoder


class TapQueue(queue.Queue):
    """The receiver's decoder queue, bounded for media and tagging codecs for the passthrough."""

    def __init__(self, kind: str, sink: FrameSink) -> None:
        super().__init__()  # unbounded underneath: the stop sentinel must always fit
        self.kind = kind
        self.sink = sink
        self.limit = QUEUE_LIMIT[kind]
        self.dropped = 0
        self._gap = False
        self._codecs: dict[int | None, TappedCodec] = {}  # by payload type, which aiortc types Optional
        self._closed = False

    def _tapped(self, codec: RTCRtpCodecParameters) -> TappedCodec:
        tapped = self._codecs.get(codec.payloadType)
        if tapped is None:
            fields = {f.name: getattr(codec, f.name) for f in dataclasses.fields(RTCRtpCodecParameters)}
            tapped = self._codecs[codec.payloadType] = TappedCodec(**fields, sink=self.sink)
        return tapped

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)
            return
        if self.qsize() >= self.limit:
            self.dropped += 1
            self._gap = True
            return
        codec, frame = item
        frame.arrival = time.time()
        if self._gap:
            frame.gap = True
            self._gap = False
        super().put((self._tapped(codec), frame))

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        item = super().get(block, timeout)
        if item is None and not self._closed:
            self._closed = True
            try:
                self.sink.close()  # on the decoder thread, after every queued frame was written
            except Exception:
                log.exception("recorder sink failed to close")
        return item


def tap_receiver(receiver: RTCRtpReceiver, kind: str, sink: FrameSink) -> TapQueue:
    """Route ``receiver``'s encoded frames to ``sink``. Call from the ``track`` event, before receive()."""
    install()
    if getattr(receiver, THREAD_ATTR, "missing") is not None:
        raise InternalsChanged("receiver already started, or its decoder thread attribute is gone")
    if not isinstance(getattr(receiver, QUEUE_ATTR, None), queue.Queue):
        raise InternalsChanged("receiver has no decoder queue")
    tap = TapQueue(kind, sink)
    setattr(receiver, QUEUE_ATTR, tap)
    return tap


def request_keyframe(receiver: RTCRtpReceiver, loop: asyncio.AbstractEventLoop) -> None:
    """Thread-safe: send an RTCP PLI for each media SSRC heard in the last 10 s."""

    def send() -> None:
        rtx = set(getattr(receiver, RTX_ATTR, {}) or {})
        for source in receiver.getSynchronizationSources():
            if source.source not in rtx:
                asyncio.ensure_future(receiver._send_rtcp_pli(source.source))

    try:
        loop.call_soon_threadsafe(send)
    except RuntimeError:
        pass  # the loop is closing: nothing left to record
