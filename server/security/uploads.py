"""Hard limits for reading untrusted files: PDFs (the public /api/verify, evidence uploads) and photos.

Every limit is checked on the raw bytes before a parser sees them, with memory bounded by the limit, so a
small hostile file cannot make the server inflate gigabytes or recurse without end:

- size: the upload itself (each endpoint's own byte limit);
- total inflated bytes: every Flate stream in the file is inflated in bounded pieces and the output
  counted, not kept; over ``max_inflated`` in total, the file is refused;
- objects: the objects in the file, those packed in object streams included;
- filters: in ``strict`` mode (files pypdf/pyHanko will parse), only filters that cannot hide an expansion
  from that count (Flate first, then image codecs pypdf passes through undecoded);
- depth: the page tree and form/outline depth, through pypdf's own configuration (``pypdf_limits``);
- pixels: a photo's declared width × height, read from its header without decoding it.

Refusals are :class:`UploadRefused`: an HTTP status (413 for "too much", 422 for "cannot be read as
asked") and a bilingual message. No aiohttp here.
"""

from __future__ import annotations

import io
import itertools
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from server.failures import DomainError, Kind

MIB = 1024 * 1024


@dataclass(frozen=True)
class PdfLimits:
    max_inflated: int = 32 * MIB  # all streams together; a genuine 5-page export inflates to under 1 MiB
    max_objects: int = 20_000  # a genuine export has about 50
    max_depth: int = 32  # page tree, outlines, form fields (pypdf's own walks)
    max_pages: int = 2_000


PDF_LIMITS = PdfLimits()
MAX_IMAGE_PIXELS = 50_000_000  # 50 megapixels: any phone photo; a decoded RGBA image this size is 200 MB


class UploadRefused(DomainError):
    """A file beyond a parsing limit (``Kind.TOO_LARGE``), or one that cannot be read (``Kind.UNREADABLE``)."""

    def __init__(self, kind: Kind, code: str, zh: str, en: str) -> None:
        super().__init__(kind, code, f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class PdfStats:
    objects: int
    streams: int
    inflated: int


_OBJ = re.compile(rb"(?<![0-9])[0-9]{1,10}[ \t\r\n\f\x00]+[0-9]{1,5}[ \t\r\n\f\x00]+obj\b")
_STREAM = re.compile(rb"stream(?:\r\n|\n|\r)")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+|\d+\s+\d+\s+R)")
_NAME = re.compile(rb"/([^\s/\[\]<>()]+)")
_OBJSTM_N = re.compile(rb"/N\s+(\d{1,12})")
_XREF_LINE = re.compile(rb"\d{10} \d{5} [nf]")
_INDEX = re.compile(rb"/Index\s*\[([\d\s]{0,4000})\]")
_SIZE = re.compile(rb"/Size\s+(\d{1,12})")
# Filters pypdf passes through without expanding (image codecs), and Flate, which this module counts.
_FLATE = {b"FlateDecode", b"Fl"}
_PASS_THROUGH = {b"DCTDecode", b"DCT", b"JPXDecode", b"CCITTFaxDecode", b"CCF"}
_CHUNK = 256 * 1024


def _too_much(what_zh: str, what_en: str) -> UploadRefused:
    return UploadRefused(Kind.TOO_LARGE, "pdf_too_complex", f"PDF 文件超出处理上限：{what_zh}。",
                         f"The PDF exceeds a processing limit: {what_en}.")


def _inflated_size(data: bytes, start: int, budget: int) -> int:
    """Bytes a Flate stream starting at ``start`` inflates to, stopping once over ``budget``.

    Output is counted and dropped: memory stays at one chunk whatever the ratio. A stream that is not
    valid zlib counts what inflated before the error (pypdf's byte-wise recovery is off, see pypdf_limits)."""
    d = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header, like pypdf's fallback
    total = 0
    pos = start
    try:
        while pos < len(data) and not d.eof:
            buf = data[pos:pos + _CHUNK]
            pos += _CHUNK
            while buf and not d.eof:
                total += len(d.decompress(buf, _CHUNK))
                if total > budget:
                    return total
                buf = d.unconsumed_tail
    except zlib.error:
        pass
    return total


def check_pdf(data: bytes, limits: PdfLimits = PDF_LIMITS, *, strict: bool = True) -> PdfStats:
    """Refuse a PDF beyond ``limits`` before any parser reads it; the counts when it is within them.

    ``strict``: also refuse filters this check cannot count (LZW, run-length, ASCII wrappers in front of
    Flate, JBIG2, crypt filters, an indirect /Filter). Use it for files the server parses; evidence files
    are stored, not parsed, so there other filters are fine (their Flate streams are still counted)."""
    if not data.startswith(b"%PDF-"):
        raise UploadRefused(Kind.UNREADABLE, "not_pdf", "文件不是 PDF。", "The file is not a PDF.")
    too_many = _too_much(f"对象超过 {limits.max_objects} 个", f"more than {limits.max_objects} objects")
    starts: list[int] = []
    for m in _OBJ.finditer(data):
        starts.append(m.start())
        if len(starts) > limits.max_objects:
            raise too_many
    # Cross-reference entries become a table in memory: bounded like the objects (incremental updates
    # repeat entries, hence twice).
    xref_entries = sum(1 for _ in itertools.islice(_XREF_LINE.finditer(data), 2 * limits.max_objects + 1))
    objects = len(starts)
    inflated = 0
    streams = 0
    for m in _STREAM.finditer(data):
        # The stream's dictionary: from its "N G obj" to the keyword (streams are never inside object streams).
        i = _last_before(starts, m.start())
        head = data[starts[i]:m.start()] if i >= 0 else data[max(0, m.start() - 4096):m.start()]
        if not head.rstrip().endswith(b">>"):
            continue  # the word "stream" inside some other stream's bytes
        streams += 1
        names = _filters(head)
        if strict:
            _check_filters(names)
        if b"/ObjStm" in head:
            n = _OBJSTM_N.search(head)
            objects += int(n.group(1)) if n else 0
        if b"/XRef" in head:
            xref_entries += _xref_stream_entries(head)
        if objects > limits.max_objects or xref_entries > 2 * limits.max_objects:
            raise too_many
        if names and names[0] in _FLATE:
            inflated += _inflated_size(data, m.end(), limits.max_inflated - inflated)
            if inflated > limits.max_inflated:
                mib = limits.max_inflated // MIB
                raise _too_much(f"解压后超过 {mib} MB", f"its streams inflate to more than {mib} MiB")
    if xref_entries > 2 * limits.max_objects:
        raise too_many
    return PdfStats(objects, streams, inflated)


def _xref_stream_entries(head: bytes) -> int:
    index = _INDEX.search(head)
    if index is not None:
        nums = [int(x) for x in index.group(1).split()]
        return sum(nums[1::2])
    size = _SIZE.search(head)
    return int(size.group(1)) if size else 0


def _last_before(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] < pos:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _filters(head: bytes) -> list[bytes]:
    m = _FILTER.search(head)
    if m is None:
        return []
    value = m.group(1)
    if value.endswith(b"R"):
        return [b"<indirect>"]
    return _NAME.findall(value)


def _check_filters(names: list[bytes]) -> None:
    for i, name in enumerate(names):
        if (name in _FLATE and i == 0) or name in _PASS_THROUGH:
            continue
        shown = name.decode("latin-1")[:40]
        raise UploadRefused(Kind.UNREADABLE, "pdf_unsupported", f"PDF 使用了不支持的压缩方式（{shown}）。",
                            f"The PDF uses an unsupported stream filter ({shown}).")


@contextmanager
def pypdf_limits(limits: PdfLimits = PDF_LIMITS) -> Iterator[None]:
    """pypdf's own limits for the parse that follows ``check_pdf``: depth, pages, no byte-wise zlib recovery
    (its output is not what check_pdf counted). A context variable: other threads keep pypdf's defaults."""
    from pypdf._configuration import CURRENT_CONFIGURATION, get_configuration  # heavy: loaded on first use
    from pypdf.errors import LimitReachedError  # heavy: loaded on first use

    config = get_configuration().with_overwrites(
        zlib_maximum_output_length=limits.max_inflated, zlib_maximum_recovery_input_length=0,
        lzw_maximum_output_length=limits.max_inflated, run_length_maximum_output_length=limits.max_inflated,
        page_tree_maximum_depth=limits.max_depth, page_tree_maximum_entries=limits.max_pages,
        outline_maximum_depth=limits.max_depth, form_fields_maximum_depth=limits.max_depth,
        jbig2dec_binary=None)
    token = CURRENT_CONFIGURATION.set(config)
    try:
        yield
    except LimitReachedError as e:  # pypdf's own limits, within ours: a refusal like check_pdf's
        raise _too_much("结构层级过深或页数过多", "its page tree is too deep or too large") from e
    finally:
        CURRENT_CONFIGURATION.reset(token)


def check_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """A photo's (width, height) from its header, refused over ``max_pixels`` or when unreadable.

    Nothing is decoded: Pillow reads only the header here. Formats Pillow cannot open (HEIC without a
    plugin) are not judged: the caller decides."""
    from PIL import Image, UnidentifiedImageError  # heavy: loaded on first use

    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
    except Image.DecompressionBombError as e:
        raise _pixels(max_pixels) from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise UploadRefused(Kind.UNREADABLE, "image_unreadable", "图片无法读取（文件不完整或已损坏）。",
                            "The image cannot be read (incomplete or damaged).") from e
    if w <= 0 or h <= 0 or w * h > max_pixels:
        raise _pixels(max_pixels)
    return w, h


def _pixels(max_pixels: int) -> UploadRefused:
    mp = max_pixels // 1_000_000
    return UploadRefused(Kind.TOO_LARGE, "image_too_large", f"图片尺寸超过 {mp} 百万像素。",
                         f"The image is larger than {mp} megapixels.")
