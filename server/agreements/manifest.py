"""The machine-readable manifest embedded in every exported PDF, and the page digests it seals.

``concord-manifest.json`` holds: the document (canonical content, rendered text, hash), every signature
record with its Ed25519 signature and handwritten image, the public keys used, and an *export seal*: the
unit key's signature over the document hash and a digest of each page as drawn (its content stream and
every resource it uses: fonts, images). Changing the visible text, an image or a font glyph changes a page
digest; changing the manifest's text changes the document hash; neither can be re-sealed without the
unit's private key.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject

MANIFEST_NAME = "concord-manifest.json"
MANIFEST_FORMAT = "concord-agreement-manifest/1"
EXPORT_FORMAT = "concord-export/1"
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


def export_record(number: str, version: int, document_hash: str, pages: list[str], exported_at: str,
                  unit: str, key_id: str) -> dict[str, Any]:
    return {"format": EXPORT_FORMAT, "agreement": number, "version": version, "document_hash": document_hash,
            "page_count": len(pages), "pages": pages, "exported_at": exported_at, "unit": unit, "key_id": key_id}
