"""Just enough VP8 and Opus bitstream knowledge to mux encoded frames without decoding them.

- VP8 (RFC 6386 §9.1): the frame tag's low bit is 0 on a keyframe; a keyframe carries the start code
  ``9d 01 2a`` and the picture size.
- Opus (RFC 6716 §3.1): the TOC byte gives each frame's duration and the packet's frame count.
- WebM needs an ``OpusHead`` as the Opus track's CodecPrivate. PyAV cannot set extradata on a stream
  that has no codec context, so we build a tiny Ogg Opus stream in memory and use its stream as a
  template: the muxer then copies the header without ever opening an encoder.
"""

from __future__ import annotations

import io
import struct
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from av.stream import Stream

VP8_START_CODE = b"\x9d\x01\x2a"
OPUS_SAMPLE_RATE = 48000
VIDEO_CLOCK = 90000


@dataclass(frozen=True)
class Vp8Header:
    keyframe: bool
    width: int = 0
    height: int = 0


def vp8_header(frame: bytes) -> Vp8Header | None:
    """Parse a VP8 frame's header; None when it is too short or a keyframe lacks its start code."""
    if len(frame) < 3:
        return None
    if frame[0] & 0x01:
        return Vp8Header(keyframe=False)
    if len(frame) < 10 or frame[3:6] != VP8_START_CODE:
        return None
    width = struct.unpack_from("<H", frame, 6)[0] & 0x3FFF
    height = struct.unpack_from("<H", frame, 8)[0] & 0x3FFF
    if not width or not height:
        return None
    return Vp8Header(True, width, height)


# Frame duration in 48 kHz samples for each of the 32 TOC configurations.
_OPUS_FRAME_SAMPLES = (
    [480, 960, 1920, 2880] * 3  # SILK NB/MB/WB: 10, 20, 40, 60 ms
    + [480, 960] * 2  # hybrid SWB/FB: 10, 20 ms
    + [120, 240, 480, 960] * 4  # CELT NB/WB/SWB/FB: 2.5, 5, 10, 20 ms
)


def opus_packet_samples(packet: bytes) -> int | None:
    """Samples (at 48 kHz) in one Opus packet, or None when the packet is malformed."""
    if not packet:
        return None
    toc = packet[0]
    per_frame = _OPUS_FRAME_SAMPLES[toc >> 3]
    code = toc & 0x03
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        if len(packet) < 2:
            return None
        frames = packet[1] & 0x3F
        if frames == 0:
            return None
    total = per_frame * frames
    return total if total <= 5760 else None  # at most 120 ms per packet


def opus_head(channels: int = 2, pre_skip: int = 0) -> bytes:
    """RFC 7845 §5.1 identification header. Pre-skip 0: RTP Opus has no encoder delay to trim."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, OPUS_SAMPLE_RATE, 0, 0)


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(payload: bytes, seq: int, flags: int, granule: int = 0) -> bytes:
    lacing = [255] * (len(payload) // 255) + [len(payload) % 255]
    header = b"OggS" + struct.pack("<BBqIII", 0, flags, granule, 1, seq, 0) + bytes([len(lacing)]) + bytes(lacing)
    page = header + payload
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def _ogg_opus(channels: int) -> bytes:
    tags = b"OpusTags" + struct.pack("<I", 7) + b"concord" + struct.pack("<I", 0)
    silence = b"\xf8\xff\xfe"  # one 20 ms CELT frame of silence: the demuxer wants one data page
    return _ogg_page(opus_head(channels), 0, 0x02) + _ogg_page(tags, 1, 0) + _ogg_page(silence, 2, 0x04, 960)


_templates: dict[int, Stream] = {}
_templates_lock = threading.Lock()


def opus_template(channels: int = 2) -> Stream:
    """An Opus stream whose parameters (OpusHead, 48 kHz, channels) new WebM streams copy."""
    with _templates_lock:
        stream = _templates.get(channels)
        if stream is None:
            import av  # heavy: loaded on first use

            container = av.open(io.BytesIO(_ogg_opus(channels)), format="ogg")
            stream = container.streams.audio[0]
            _templates[channels] = stream  # the stream keeps its container alive
        return stream
