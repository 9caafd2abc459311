"""Freezing a version: its document hash is SHA-256 over the canonical content and the rendered text."""

from __future__ import annotations

import hashlib
from typing import Any

from server.agreements.content import AgreementContent, canonical_json
from server.agreements.text import render_text

FORMAT = "concord-agreement/1"


def document_bytes(content: dict[str, Any], text: str) -> bytes:
    """Exactly the bytes that are hashed. Both the content and the text are bound, so neither a
    change in the data nor a change in the template's wording can pass unnoticed."""
    return canonical_json({"format": FORMAT, "content": content, "text": text})


def document_hash(content: dict[str, Any], text: str) -> str:
    return hashlib.sha256(document_bytes(content, text)).hexdigest()


def short_hash(h: str) -> str:
    """What people compare aloud in a session: the first 8 hex digits, in two groups."""
    return f"{h[:4]}-{h[4:8]}".upper()


def freeze(content: AgreementContent) -> tuple[str, str]:
    """The rendered text and the document hash of a version being frozen."""
    text = render_text(content)
    return text, document_hash(content.to_dict(), text)
