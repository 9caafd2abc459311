"""Evidence uploads: photos and PDFs, checked by their first bytes (not by name or declared type), with a
size limit, stored under ``<data dir>/cases/<case id>/<sha256>.<ext>`` and ledgered with their SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.errors import Invalid, NotFound, TooLarge, Unreadable, UnsupportedType
from server.cases.models import Case, CaseDocument
from server.cases.service import Ctx, _text, actor_ref, append_event, require
from server.failures import Kind
from server.policy import Actor
from server.security.files import open_private, private_dir
from server.security.uploads import UploadRefused, check_image, check_pdf

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_CASE = 200
# "closing": the photo of the result, shown to the resident on the public status page once the case closes.
KINDS = ("evidence", "minutes", "opinion", "other", "closing")


@dataclass(frozen=True)
class FileType:
    content_type: str
    ext: str


def sniff(head: bytes) -> FileType | None:
    """The file's real type from its magic bytes; None for anything we do not accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("image/jpeg", "jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("image/png", "png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("image/webp", "webp")
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return FileType("image/heic", "heic")
    if head.startswith(b"%PDF-"):
        return FileType("application/pdf", "pdf")
    return None


def check_file(ftype: FileType, data: bytes) -> None:
    """The parsing limits of server/security/uploads.py: a PDF's objects and inflated size (other filters
    are fine, the server stores it without parsing it), a photo's pixel count from its header."""
    try:
        if ftype.content_type == "application/pdf":
            check_pdf(data, strict=False)
        elif ftype.content_type != "image/heic":  # Pillow cannot read HEIC headers without a plugin
            check_image(data)
    except UploadRefused as e:
        raise (TooLarge if e.kind is Kind.TOO_LARGE else Unreadable)(e.en, e.code, zh=e.zh) from e


_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff ]+")


def clean_filename(name: str | None, ext: str) -> str:
    """A display name without paths or odd characters, ending in the sniffed extension."""
    # Some clients percent-encode non-ASCII names in the multipart header; browsers send UTF-8.
    name = unquote(name or "")
    base = os.path.basename(name.replace("\\", "/")).strip() or f"upload.{ext}"
    base = _SAFE_NAME.sub("_", base)[:120].strip(". ") or "upload"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem}.{ext}"


def storage_path(data_dir: Path, case_id: int, sha256: str, ext: str) -> Path:
    return data_dir / "cases" / str(case_id) / f"{sha256}.{ext}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name, fsync, then rename: a crash never leaves half a file under the real name."""
    private_dir(path.parent)
    tmp = path.with_suffix(path.suffix + ".part")
    with open_private(tmp, "wb") as f:  # evidence is the data directory owner's only
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def add_document(s: AsyncSession, ctx: Ctx, actor: Actor, case: Case, data_dir: Path, *, filename: str | None,
                       data: bytes, kind: str = "evidence", description: str = "") -> CaseDocument:
    await require(s, ctx, actor, case, "upload")
    if len(data) > MAX_BYTES:
        raise TooLarge(f"files are limited to {MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise Invalid("the file is empty", "empty_file")
    ftype = sniff(data[:16])
    if ftype is None:
        raise UnsupportedType("only photos (JPEG, PNG, WebP, HEIC) and PDF files are accepted")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", "invalid_field")
    await asyncio.to_thread(check_file, ftype, data)
    description = _text(description, "description", 500, required=False)
    count = len((await s.execute(select(CaseDocument.id).where(CaseDocument.case_id == case.id))).all())
    if count >= MAX_PER_CASE:
        raise Invalid(f"a case holds at most {MAX_PER_CASE} documents", "too_many_documents")
    digest = hashlib.sha256(data).hexdigest()
    path = storage_path(data_dir, case.id, digest, ftype.ext)
    if not path.exists():
        write_atomically(path, data)
    doc = CaseDocument(case_id=case.id, kind=kind, filename=clean_filename(filename, ftype.ext),
                       content_type=ftype.content_type, bytes=len(data), sha256=digest,
                       path=str(path.relative_to(data_dir)), description=description, uploaded_by=actor.id,
                       uploaded_at=ctx.now)
    s.add(doc)
    await s.flush()
    await append_event(s, ctx, case, "document.added", {
        "id": doc.id, "kind": kind, "filename": doc.filename, "content_type": doc.content_type,
        "bytes": doc.bytes, "sha256": digest, "by": actor_ref(actor)})
    return doc


async def get_document(s: AsyncSession, case: Case, doc_id: int, data_dir: Path) -> tuple[CaseDocument, Path]:
    doc = (await s.execute(select(CaseDocument).where(CaseDocument.id == doc_id, CaseDocument.case_id == case.id))
           ).scalar_one_or_none()
    if doc is None:
        raise NotFound("no such document")
    path = (data_dir / doc.path).resolve()
    if not path.is_relative_to(data_dir.resolve()) or not path.exists():
        raise NotFound("the stored file is missing")
    return doc, path
