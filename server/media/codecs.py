"""Just enough VP8, H.264 and Opus bitstream knowledge to mux encoded frames without decoding them.

- VP8 (RFC 6386 §9.1): the frame tag's low bit is 0 on a keyframe; a keyframe carries the start code
  ``9d 01 2a`` and the picture size.
- H.264 (ITU-T H.264 §7.3.1, Annex B): aiortc's depayloader hands over one access unit as Annex B NAL
  units (``00 00 00 01`` start codes). A keyframe is an access unit with an IDR slice (NAL type 5); its
  parameter sets (SPS 7, PPS 8) usually travel with it in the same RTP timestamp (STAP-A). Matroska wants
  them as the track's CodecPrivate (avcC): a segment's stream is copied from a template made by
  libavformat's raw H.264 demuxer reading that one keyframe in memory (it parses the parameter sets; the
  muxer writes the avcC and stores the access units length-prefixed). Nothing is re-encoded.
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
    from av.container import InputContainer
    from av.stream import Stream
    from av.video.stream import VideoStream

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


H264_IDR, H264_SPS, H264_PPS = 5, 7, 8
_START = b"\x00\x00\x01"


def h264_nal_units(au: bytes) -> list[bytes]:
    """The NAL units (without start codes) of an Annex B access unit."""
    units: list[bytes] = []
    i = au.find(_START)
    while i >= 0:
        start = i + 3
        j = au.find(_START, start)
        end = len(au) if j < 0 else j
        unit = au[start:end]
        if j >= 0 and unit.endswith(b"\x00"):  # the next unit's four-byte start code
            unit = unit.rstrip(b"\x00")
        if unit:
            units.append(unit)
        i = j
    return units


@dataclass(frozen=True)
class H264Header:
    keyframe: bool
    params: bytes = b""  # the access unit's SPS and PPS, Annex B, when it carries both


def h264_header(au: bytes) -> H264Header | None:
    """Parse an H.264 access unit; None when it holds no NAL unit or a NAL unit with the forbidden bit."""
    units = h264_nal_units(au)
    if not units or any(u[0] & 0x80 for u in units):
        return None
    types = [u[0] & 0x1F for u in units]
    sps = [u for u in units if u[0] & 0x1F == H264_SPS]
    pps = [u for u in units if u[0] & 0x1F == H264_PPS]
    params = b"".join(b"\x00\x00\x00\x01" + u for u in sps + pps) if sps and pps else b""
    return H264Header(H264_IDR in types, params)


def h264_template(keyframe: bytes) -> tuple[InputContainer, VideoStream]:
    """(container, stream): an H.264 stream whose parameters (avcC, size) a new Matroska stream copies.

    ``keyframe`` is one Annex B access unit with its SPS and PPS. The caller closes the container once
    the new stream was added. Raises ``av.FFmpegError`` or ``ValueError`` when it cannot be parsed."""
    import av  # heavy: loaded on first use

    container = av.open(io.BytesIO(keyframe), "r", format="h264")
    try:
        stream = container.streams.video[0]
        if not stream.codec_context.width or not stream.codec_context.extradata:
            raise ValueError("no H.264 parameter sets in the keyframe")
    except BaseException:
        container.close()
        raise
    return container, stream


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
