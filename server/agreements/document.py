"""Freezing a version: its document hash is SHA-256 over the canonical content and the rendered text.

Two formats. ``concord-agreement/2`` (every version saved since redaction by audience): the content is
hashed as it travels, a confidential party's address and phone blanked, together with a salted
commitment to each blanked value (server/agreements/commitments.py); the salts stay on the server.
``concord-agreement/1`` (older versions): the full content is hashed, so its exports carry it in full;
they are still verified as they are.
"""

from __future__ import annotations

import hashlib
from typing import Any

from server.agreements.commitments import redact
from server.agreements.content import AgreementContent, canonical_json
from server.agreements.text import render_text

FORMAT_V1 = "concord-agreement/1"
FORMAT = "concord-agreement/2"
FORMATS = (FORMAT_V1, FORMAT)


def document_bytes(content: dict[str, Any], text: str, commitments: dict[str, str] | None = None) -> bytes:
    """Exactly the bytes that are hashed. Both the content and the text are bound, so neither a
    change in the data nor a change in the template's wording can pass unnoticed. With
    ``commitments`` (format 2) ``content`` is the redacted content."""
    if commitments is None:
        return canonical_json({"format": FORMAT_V1, "content": content, "text": text})
    return canonical_json({"format": FORMAT, "content": content, "commitments": commitments, "text": text})


def document_hash(content: dict[str, Any], text: str, commitments: dict[str, str] | None = None) -> str:
    return hashlib.sha256(document_bytes(content, text, commitments)).hexdigest()


def committed_hash(content: dict[str, Any], text: str, salts: dict[str, str] | None) -> str:
    """The document hash of stored (full) content: format 2 when the version has salts, else format 1."""
    if salts is None:
        return document_hash(content, text)
    redacted, commitments = redact(content, salts)
    return document_hash(redacted, text, commitments)


def short_hash(h: str) -> str:
    """What people compare aloud in a session: the first 8 hex digits, in two groups."""
    return f"{h[:4]}-{h[4:8]}".upper()


def freeze(content: AgreementContent, salts: dict[str, str]) -> tuple[str, str]:
    """The rendered text and the (format 2) document hash of a version being frozen."""
    text = render_text(content)
    return text, committed_hash(content.to_dict(), text, salts)
