"""Hostile files, generated: decompression bombs, deep and wide PDFs, huge image headers, truncations.

Used by tests/integration/test_hostile_uploads.py and bench/hostile_uploads.py. Each PDF is written by
hand (objects, then a classic cross-reference table), so its structure is exactly what is named.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

from server.agreements.manifest import MANIFEST_NAME

MIB = 1024 * 1024


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF whose object ``i + 1`` is ``objects[i]`` (the part between "obj" and "endobj")."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"", filters: bytes = b"/FlateDecode") -> bytes:
    head = b"<< /Length %d" % len(data) + (b" /Filter " + filters if filters else b"") + b" " + extra + b" >>"
    return head + b"\nstream\n" + data + b"\nendstream"


@cache
def zeros_deflated(mib: int) -> bytes:
    """``mib`` MiB of zero bytes, deflated (about 1/1000 of the size)."""
    c = zlib.compressobj(9)
    chunk = bytes(MIB)
    return b"".join(c.compress(chunk) for _ in range(mib)) + c.flush()


def _page_doc(extra_objects: list[bytes], names: bytes = b"") -> list[bytes]:
    """Catalog (1), Pages (2), one Page (3), then ``extra_objects`` from 4."""
    return [b"<< /Type /Catalog /Pages 2 0 R" + names + b" >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>", *extra_objects]


def flate_bomb(files: int = 14, mib_each: int = 64) -> bytes:
    """Embedded files all named concord-manifest.json, each inflating to ``mib_each`` MiB (the finding:
    865 KB of these took the server from 157 MB to 1.1 GB)."""
    bomb = zeros_deflated(mib_each)
    extra: list[bytes] = []
    pairs = []
    for i in range(files):
        n_file = 4 + 2 * i
        extra.append(stream(bomb, b"/Type /EmbeddedFile"))
        extra.append(b"<< /Type /Filespec /F (%s) /UF (%s) /EF << /F %d 0 R >> >>"
                     % (MANIFEST_NAME.encode(), MANIFEST_NAME.encode(), n_file))
        pairs.append(b"(%s) %d 0 R" % (MANIFEST_NAME.encode(), n_file + 1))
    names = b" /Names << /EmbeddedFiles << /Names [" + b" ".join(pairs) + b"] >> >>"
    return raw_pdf(_page_doc(extra, names))


def content_bomb(mib: int = 200) -> bytes:
    """One page whose content stream inflates to ``mib`` MiB."""
    objs = _page_doc([stream(zeros_deflated(mib))])
    objs[2] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>"
    return raw_pdf(objs)


def deep_page_tree(depth: int = 5000) -> bytes:
    """A page tree ``depth`` levels deep: each /Pages node holds the next (the finding: a 500)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        n = 2 + level
        parent = b" /Parent %d 0 R" % (n - 1) if level else b""
        objs.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1%s >>" % (n + 1, parent))
    objs.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>" % (depth + 1))
    return raw_pdf(objs)


def deep_nesting(depth: int = 100_000) -> bytes:
    """An object made of ``depth`` nested arrays."""
    return raw_pdf(_page_doc([b"[" * depth + b"]" * depth]))


def many_objects(count: int = 200_000) -> bytes:
    """``count`` tiny objects."""
    return raw_pdf(_page_doc([b"0"] * count))


def wrapped_flate_bomb(mib: int = 64) -> bytes:
    """A Flate bomb behind an ASCIIHex wrapper, so the raw bytes do not start with zlib."""
    hexed = zeros_deflated(mib).hex().encode() + b">"
    return raw_pdf(_page_doc([stream(hexed, b"/Type /EmbeddedFile", b"[/ASCIIHexDecode /FlateDecode]")]))


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[:max(1, int(len(data) * keep))]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_huge(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG declaring ``width`` × ``height`` pixels (a decoder would need tens of GB), a few KB long."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = bytes(width + 1)
    c = zlib.compressobj(9)
    idat = b"".join(c.compress(row) for _ in range(64)) + c.flush()
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_small(width: int = 64, height: int = 48) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes((width + 1) * height))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def jpeg_huge(width: int = 65_000, height: int = 65_000) -> bytes:
    """A JPEG header (SOI, a baseline SOF0) declaring ``width`` × ``height``, then nothing."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof


PDF_BOMBS = {
    "flate_bomb": flate_bomb,
    "content_bomb": content_bomb,
    "wrapped_flate_bomb": wrapped_flate_bomb,
    "deep_page_tree": deep_page_tree,
    "deep_nesting": deep_nesting,
    "many_objects": many_objects,
}
