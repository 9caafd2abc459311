"""The machine-readable manifest embedded in every exported PDF, and what its export seal covers.

``concord-manifest.json`` holds: the document (canonical content, rendered text, hash), every signature
record with its Ed25519 signature and handwritten image, the public keys used, an *export seal* (the unit
key's Ed25519 signature over an export record) and, for an effective agreement, the inclusion proof of its
effective ledger event (server/agreements/ledger_proof.py).

Two manifest formats (docs/agreements.md "The manifest"):

- ``concord-agreement-manifest/2`` (current): the export record seals the document hash (SHA-256 of the
  frozen content's canonical JSON) and the SHA-256 of the *drawn revision*, the byte range ``[0, N)`` of
  the file: the PDF as rendered, before the manifest and the PAdES signature were appended to it as
  incremental updates. Anyone recomputes both with ``head -c N file.pdf | sha256sum``. The verifier also
  checks that the file's pages still draw that revision: each page's drawing entries are those of the
  same page in the drawn revision, and no object they use is redefined after byte ``N``.
- ``concord-agreement-manifest/1`` (exports before): the export record seals a digest per page over a walk
  of the pypdf objects the page uses (``page_digests``); still verified as it is.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject

MANIFEST_NAME = "concord-manifest.json"
MANIFEST_FORMAT_V1 = "concord-agreement-manifest/1"
MANIFEST_FORMAT = "concord-agreement-manifest/2"
MANIFEST_FORMATS = (MANIFEST_FORMAT_V1, MANIFEST_FORMAT)
EXPORT_FORMAT_V1 = "concord-export/1"
EXPORT_FORMAT = "concord-export/2"
MAX_MANIFEST = 8 * 1024 * 1024

# Keys that describe how an object is stored, not what it shows.
_STORAGE_KEYS = {"/Length", "/Filter", "/DecodeParms", "/Parent", "/Annots", "/StructParents", "/B", "/PieceInfo",
                 "/LastModified", "/Metadata"}


class DamagedPage(Exception):
    def __init__(self, page: int, reason: str) -> None:
        super().__init__(f"page {page}: {reason}")
        self.page = page
        self.reason = reason


class _Digester:
    """A canonical walk over the objects a page uses. Shared objects (fonts) are hashed once."""

    def __init__(self) -> None:
        from pypdf import generic  # heavy: loaded on first use

        self.g = generic
        self.memo: dict[tuple[int, int], bytes] = {}

    def digest(self, obj: Any, path: tuple = ()) -> bytes:
        g = self.g
        if isinstance(obj, g.IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in self.memo:
                return self.memo[ref]
            if ref in path:
                return b"<cycle>"
            out = hashlib.sha256(self.digest(obj.get_object(), path + (ref,))).digest()
            self.memo[ref] = out
            return out
        if isinstance(obj, g.StreamObject):
            head = self._dict(obj, path)
            return b"S" + head + hashlib.sha256(obj.get_data()).digest()
        if isinstance(obj, g.DictionaryObject):
            return self._dict(obj, path)
        if isinstance(obj, g.ArrayObject):
            return b"[" + b",".join(self.digest(x, path) for x in obj) + b"]"
        if isinstance(obj, g.NameObject):
            return b"/" + str(obj).encode("utf-8", "surrogatepass")
        if isinstance(obj, g.TextStringObject):
            return b"(" + obj.get_original_bytes() + b")"
        if isinstance(obj, bytes):
            return b"(" + bytes(obj) + b")"
        if isinstance(obj, g.BooleanObject):
            return b"T" if obj else b"F"
        if isinstance(obj, g.NumberObject):
            return b"%d" % int(obj)
        if isinstance(obj, g.FloatObject):
            return f"{float(obj):.6f}".encode()
        if obj is None or isinstance(obj, g.NullObject):
            return b"null"
        return repr(obj).encode()

    def _dict(self, d: DictionaryObject, path: tuple) -> bytes:
        parts = []
        for k in sorted(d.keys()):
            if k in _STORAGE_KEYS:
                continue
            parts.append(str(k).encode() + b"=" + self.digest(d.raw_get(k), path))
        return b"{" + b";".join(parts) + b"}"


def page_digests(reader: PdfReader) -> list[str]:
    """SHA-256 per page over what the page draws. Damaged streams raise DamagedPage."""
    dg = _Digester()
    out = []
    for i, page in enumerate(reader.pages, start=1):
        try:
            out.append(hashlib.sha256(dg.digest(page)).hexdigest())
        except DamagedPage:
            raise
        except Exception as e:  # zlib errors, bad objects: the page was changed or broken
            raise DamagedPage(i, f"cannot be read ({type(e).__name__})") from e
    return out


def unexpected_annotations(reader: PdfReader) -> list[int]:
    """Pages with annotations other than links, file attachments and signature fields (overlays)."""
    allowed = {"/Link", "/FileAttachment", "/Widget"}
    bad = []
    for i, page in enumerate(reader.pages, start=1):
        for a in page.get("/Annots") or []:
            try:
                sub = a.get_object().get("/Subtype")
            except Exception:
                sub = None
            if sub not in allowed:
                bad.append(i)
                break
    return bad


def export_record_v1(number: str, version: int, document_hash: str, pages: list[str], exported_at: str,
                     unit: str, key_id: str) -> dict[str, Any]:
    """The format-1 export record (per-page digests); kept to test that old exports still verify."""
    return {"format": EXPORT_FORMAT_V1, "agreement": number, "version": version, "document_hash": document_hash,
            "page_count": len(pages), "pages": pages, "exported_at": exported_at, "unit": unit, "key_id": key_id}


def export_record(number: str, version: int, state: str, document_hash: str, drawn: bytes, page_count: int,
                  effective_event: str | None, exported_at: str, unit: str, key_id: str) -> dict[str, Any]:
    """The format-2 export record: what the unit's key seals at export. ``drawn`` is the PDF as rendered,
    which stays the first ``len(drawn)`` bytes of the exported file; ``effective_event`` the hash of the
    ledger event recording that the agreement took effect (its inclusion proof is in the manifest)."""
    return {"format": EXPORT_FORMAT, "agreement": number, "version": version, "state": state,
            "document_hash": document_hash,
            "drawn": {"byte_range": [0, len(drawn)], "sha256": hashlib.sha256(drawn).hexdigest(),
                      "page_count": page_count},
            "effective_event": effective_event, "exported_at": exported_at, "unit": unit, "key_id": key_id}


# Page entries that say how a page is stored or what lies over it, not what it draws: they may change
# after the drawn revision (the PAdES signature adds its widget to /Annots).
_PAGE_FREE = {"/Parent", "/Annots", "/StructParents", "/PieceInfo", "/LastModified", "/Metadata", "/Tabs"}


def _defined_at(reader: PdfReader, idnum: int, gen: int) -> int | None:
    """Byte offset of the definition of object ``idnum`` that the file's newest cross-reference names (for
    an object inside an object stream, the stream's), or None when it has none."""
    if idnum in reader.xref_objStm:
        idnum, gen = int(reader.xref_objStm[idnum][0]), 0
    off = reader.xref.get(gen, {}).get(idnum)
    return int(off) if off is not None else None


def _same(a: Any, b: Any) -> bool:
    """Structural equality of two direct values read from two readers; references compare by number."""
    from pypdf.generic import IndirectObject  # heavy: loaded on first use

    if isinstance(a, IndirectObject) or isinstance(b, IndirectObject):
        return (isinstance(a, IndirectObject) and isinstance(b, IndirectObject)
                and (a.idnum, a.generation) == (b.idnum, b.generation))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a.raw_get(k) if hasattr(a, "raw_get") else a[k],
                              b.raw_get(k) if hasattr(b, "raw_get") else b[k]) for k in a))
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            _same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def drawn_revision_failures(data: bytes, reader: PdfReader, drawn: Any) -> list[str]:
    """What is wrong with format 2's sealed drawn revision in file ``data`` (read by ``reader``); empty when
    the file's first N bytes hash to the sealed digest and its pages still draw exactly that revision."""
    from pypdf import PdfReader as Reader  # heavy: loaded on first use

    if not (isinstance(drawn, dict) and isinstance(drawn.get("byte_range"), list)
            and len(drawn["byte_range"]) == 2 and drawn["byte_range"][0] == 0
            and isinstance(drawn["byte_range"][1], int) and not isinstance(drawn["byte_range"][1], bool)
            and isinstance(drawn.get("sha256"), str) and isinstance(drawn.get("page_count"), int)):
        raise ValueError("export.record.drawn lacks byte_range [0, N], sha256 or page_count")
    n = drawn["byte_range"][1]
    if not 0 < n <= len(data):
        return [f"the file is {len(data)} bytes, shorter than the {n} bytes that were drawn and sealed"]
    if hashlib.sha256(data[:n]).hexdigest() != drawn["sha256"]:
        return [f"the drawn revision (bytes 0–{n}) does not hash to the sealed SHA-256: the file was rewritten or its pages were changed"]
    try:
        before = Reader(io.BytesIO(data[:n]), strict=False)
        old_pages = list(before.pages)
    except Exception as e:  # the sealed bytes themselves are the genuine render; this is not expected
        return [f"the drawn revision cannot be read ({type(e).__name__})"]
    out: list[str] = []
    try:
        pages = list(reader.pages)
    except Exception as e:
        return [f"the page tree cannot be read ({type(e).__name__})"]
    if not len(pages) == len(old_pages) == drawn["page_count"]:
        return [f"the PDF has {len(pages)} pages; {drawn['page_count']} were drawn and sealed"]
    seen: set[int] = set()
    for i, (page, old) in enumerate(zip(pages, old_pages, strict=True), start=1):
        try:
            keys = (set(page.keys()) | set(old.keys())) - _PAGE_FREE
            if not all(k in page and k in old and _same(page.raw_get(k), old.raw_get(k)) for k in keys):
                out.append(f"page {i} no longer draws what was sealed (its page entries changed)")
                continue
            later = _later_objects(reader, [page.raw_get(k) for k in keys], n, seen)
        except Exception as e:  # a damaged object: the page was changed or broken
            out.append(f"page {i} was changed: it cannot be read ({type(e).__name__})")
            continue
        if later is not None:
            out.append(f"page {i} no longer draws what was sealed (object {later} was redefined after export)")
    return out


def _later_objects(reader: PdfReader, roots: list[Any], n: int, seen: set[int]) -> int | None:
    """The first object reachable from ``roots`` whose newest definition lies at or after byte ``n``."""
    from pypdf.generic import IndirectObject  # heavy: loaded on first use

    stack = list(roots)
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if obj.idnum in seen:
                continue
            seen.add(obj.idnum)
            at = _defined_at(reader, obj.idnum, obj.generation)
            if at is None or at >= n:
                return obj.idnum
            stack.append(obj.get_object())
        elif isinstance(obj, dict):
            stack.extend(obj.raw_get(k) if hasattr(obj, "raw_get") else obj[k] for k in obj)
        elif isinstance(obj, list):
            stack.extend(obj)
    return None
