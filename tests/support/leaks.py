"""Find marker strings anywhere in an exported file, decoding what a reader could decode.

``find_leaks(data, markers)`` takes the raw bytes of a response or download (PDF, XLSX, ZIP,
gzip, JSON, JSONL, CSV, HTML, plain text) and returns every place a marker appears. It looks
at the bytes as they are and at every layer below them:

* PDF: every ``stream … endstream`` is inflated (Flate, with or without a zlib header) by a
  raw scan that does not trust the cross-reference table, then pypdf decodes every stream
  object (all filters), every embedded file (``/EmbeddedFiles`` and file attachment
  annotations) and each page's extracted text;
* ZIP (XLSX, DOCX, archives): every member;
* gzip: the inflated body;
* JSON / JSONL: the parsed strings (so ``\\u4f4f`` escapes count), and base64 strings
  that decode to something;
* text: the marker as UTF-8, UTF-16 (both orders, as in PDF text strings), hex of those
  (PDF ``<…>`` strings), percent-encoding and HTML character references.

Every decoded layer is scanned again, recursively, so an embedded PDF inside a ZIP inside a
PDF is found. A hit names its path, e.g. ``pdf/embedded:concord-manifest.json/json``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import io
import json
import re
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.generic import (
    ByteStringObject,
    DictionaryObject,
    IndirectObject,
    StreamObject,
    TextStringObject,
)

MAX_DEPTH = 8
MAX_LAYER_BYTES = 64 * 1024 * 1024  # a decoded layer larger than this is truncated (a test, not a bomb sink)

_STREAM_RE = re.compile(rb"stream\r?\n(.*?)\r?\n?endstream", re.S)
_B64_RE = re.compile(r"^[A-Za-z0-9+/=\s]{16,}$")


@dataclass(frozen=True)
class Hit:
    marker: str
    where: str  # the decoding path, e.g. "pdf/stream#3/inflate"
    encoding: str  # how the marker was spelt there: utf-8, utf-16-be, hex, …

    def __str__(self) -> str:
        return f"{self.marker!r} at {self.where} ({self.encoding})"


def find_leaks(data: bytes | str, markers: Iterable[str], where: str = "body") -> list[Hit]:
    """Every occurrence (one per marker, layer and spelling) of a marker in ``data`` or below it."""
    wanted = [m for m in markers if m]
    if isinstance(data, str):
        data = data.encode("utf-8")
    hits: list[Hit] = []
    seen: set[tuple[str, str, str]] = set()
    for hit in _scan(data, wanted, where, 0):
        key = (hit.marker, hit.where, hit.encoding)
        if key not in seen:
            seen.add(key)
            hits.append(hit)
    return hits


def assert_no_leaks(data: bytes | str, markers: Iterable[str], where: str = "body") -> None:
    hits = find_leaks(data, markers, where)
    assert not hits, "confidential marker found:\n" + "\n".join(str(h) for h in hits)


# -- spellings -----------------------------------------------------------------------------

def _spellings(marker: str) -> Iterator[tuple[str, bytes]]:
    utf8 = marker.encode("utf-8")
    yield "utf-8", utf8
    for name in ("utf-16-be", "utf-16-le"):
        enc = marker.encode(name)
        yield name, enc
        yield f"hex({name})", binascii.hexlify(enc)
        yield f"HEX({name})", binascii.hexlify(enc).upper()
    yield "hex(utf-8)", binascii.hexlify(utf8)
    yield "HEX(utf-8)", binascii.hexlify(utf8).upper()
    quoted = urllib.parse.quote(marker, safe="")
    if quoted != marker:
        yield "percent", quoted.encode("ascii")
    json_escaped = json.dumps(marker)[1:-1]
    if json_escaped != marker:
        yield "json-escape", json_escaped.encode("ascii")
        upper = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json_escaped)
        if upper != json_escaped:
            yield "json-escape", upper.encode("ascii")


def _match(data: bytes, markers: list[str], where: str) -> Iterator[Hit]:
    for marker in markers:
        for encoding, needle in _spellings(marker):
            if needle and needle in data:
                yield Hit(marker, where, encoding)
    # HTML/XML character references (&#x4f4f; / &#20303;) and entities.
    if b"&" in data:
        try:
            text = data.decode("utf-8", "replace")
        except Exception:  # pragma: no cover - decode with replace does not raise
            return
        unescaped = html.unescape(text)
        if unescaped != text:
            for marker in markers:
                if marker in unescaped and marker not in text:
                    yield Hit(marker, where, "html-entity")


# -- layers --------------------------------------------------------------------------------

def _scan(data: bytes, markers: list[str], where: str, depth: int) -> Iterator[Hit]:
    data = data[:MAX_LAYER_BYTES]
    yield from _match(data, markers, where)
    if depth >= MAX_DEPTH:
        return
    head = data[:1024].lstrip()
    if data.startswith(b"%PDF") or b"%PDF-" in data[:1024]:
        yield from _scan_pdf(data, markers, where, depth)
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        yield from _scan_zip(data, markers, where, depth)
    if data.startswith(b"\x1f\x8b"):
        try:
            inner = gzip.decompress(data)
        except Exception:
            inner = b""
        if inner:
            yield from _scan(inner, markers, f"{where}/gunzip", depth + 1)
    if head[:1] in (b"{", b"["):
        yield from _scan_json(data, markers, where, depth)


def _inflate(raw: bytes) -> bytes | None:
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS, zlib.MAX_WBITS | 32):
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(raw, MAX_LAYER_BYTES)
            if out:
                return out
        except zlib.error:
            continue
    return None


def _scan_pdf(data: bytes, markers: list[str], where: str, depth: int) -> Iterator[Hit]:
    # Raw pass: inflate every stream body found by scanning, whatever the xref says.
    for n, m in enumerate(_STREAM_RE.finditer(data)):
        body = m.group(1)
        inflated = _inflate(body)
        if inflated:
            yield from _scan(inflated, markers, f"{where}/stream#{n}/inflate", depth + 1)
    # Structured pass: pypdf decodes every filter, embedded files and page text.
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception:
        return
    try:
        for name, contents in reader.attachments.items():
            for i, blob in enumerate(contents):
                yield from _scan(blob, markers, f"{where}/embedded:{name}#{i}", depth + 1)
                yield from _match(name.encode("utf-8"), markers, f"{where}/embedded-name")
    except Exception:
        pass
    for num in _object_ids(reader):
        try:
            obj = reader.get_object(IndirectObject(num, 0, reader))
        except Exception:
            continue
        if isinstance(obj, StreamObject):
            try:
                decoded = obj.get_data()
            except Exception:
                continue
            yield from _scan(decoded, markers, f"{where}/obj{num}", depth + 1)
        elif isinstance(obj, DictionaryObject):
            # Literal strings in dictionaries (e.g. /Info, /T of form fields) decoded by pypdf.
            for key, value in obj.items():
                text = _pdf_text(value)
                if text:
                    yield from _match(text.encode("utf-8"), markers, f"{where}/obj{num}{key}")
    try:
        for p, page in enumerate(reader.pages):
            try:
                text = page.extract_text() or ""
            except Exception:
                continue
            yield from _match_text(text, markers, f"{where}/page{p + 1}/text")
    except Exception:
        pass
    try:
        meta = reader.metadata or {}
        for key, value in meta.items():
            yield from _match(str(value).encode("utf-8"), markers, f"{where}/info{key}")
    except Exception:
        pass


def _object_ids(reader: PdfReader) -> list[int]:
    """Every object number the file defines (its xref tables and object streams)."""
    ids: set[int] = set()
    try:
        for table in reader.xref.values():
            ids.update(table)
        ids.update(reader.xref_objStm)
    except Exception:
        pass
    if not ids:
        try:
            ids = set(range(1, int(reader.trailer.get("/Size", 0))))
        except Exception:
            ids = set()
    return sorted(i for i in ids if i > 0)


def _match_text(text: str, markers: list[str], where: str) -> Iterator[Hit]:
    """Text extracted from a page: CID fonts can come out with NULs between the glyphs (fpdf2's Identity
    encoding read by pypdf), and line breaks or spaces can fall inside a marker."""
    clean = text.replace("\x00", "")
    squeezed = re.sub(r"\s+", "", clean)
    for marker in markers:
        if marker in clean:
            yield Hit(marker, where, "page-text")
        elif re.sub(r"\s+", "", marker) in squeezed:
            yield Hit(marker, where, "page-text-squeezed")


def _pdf_text(value: object) -> str | None:
    if isinstance(value, TextStringObject):
        return str(value)
    if isinstance(value, ByteStringObject):
        return bytes(value).decode("utf-8", "replace")
    return None


def _scan_zip(data: bytes, markers: list[str], where: str, depth: int) -> Iterator[Hit]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return
    for info in archive.infolist():
        yield from _match(info.filename.encode("utf-8"), markers, f"{where}/zip-name")
        try:
            blob = archive.read(info)
        except Exception:
            continue
        yield from _scan(blob, markers, f"{where}/{info.filename}", depth + 1)


def _scan_json(data: bytes, markers: list[str], where: str, depth: int) -> Iterator[Hit]:
    docs: list[object] = []
    text = data.decode("utf-8", "replace")
    try:
        docs.append(json.loads(text))
    except ValueError:
        for line in text.splitlines():  # JSONL
            line = line.strip()
            if not line:
                continue
            try:
                docs.append(json.loads(line))
            except ValueError:
                continue
    for doc in docs:
        for path, value in _walk_json(doc, "json"):
            blob = value.encode("utf-8")
            yield from _match(blob, markers, f"{where}/{path}")
            if _B64_RE.match(value) and len(value) % 4 == 0:
                try:
                    raw = base64.b64decode(value, validate=False)
                except (binascii.Error, ValueError):
                    raw = b""
                if raw:
                    yield from _scan(raw, markers, f"{where}/{path}/base64", depth + 1)


def _walk_json(doc: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(doc, str):
        yield path, doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield f"{path}.key", str(k)
            yield from _walk_json(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _walk_json(v, f"{path}[{i}]")
