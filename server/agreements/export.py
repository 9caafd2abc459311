"""Exporting an agreement: draw the PDF, seal the drawn bytes and the document hash, embed the manifest (with
the inclusion proof of the effective ledger event), sign the whole file (PAdES)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader, PdfWriter

from server.agreements.ca import UnitSeal
from server.agreements.content import canonical_json
from server.agreements.document import FORMAT, FORMAT_V1
from server.agreements.keys import PublicKeyInfo, b64
from server.agreements.manifest import MANIFEST_FORMAT, MANIFEST_NAME, export_record
from server.agreements.pdf import PdfInput, local_time, render_agreement, render_plain_text
from server.agreements.signing import SignedRecord
from server.agreements.text import render_judicial_application


@dataclass(frozen=True)
class Sealer:
    """The unit key that seals an export (the same Ed25519 key that signs the records), and the unit's
    seal certificate from the city CA, whose ECDSA key makes the PDF signature (PAdES)."""

    unit: str
    key_id: str
    private_key: Ed25519PrivateKey
    unit_name: str = ""
    key_created_at: str = ""  # ISO 8601
    seal: UnitSeal | None = None

    def sign(self, payload: dict[str, Any]) -> str:
        return b64(self.private_key.sign(canonical_json(payload)))


def build_manifest(d: PdfInput, keys: list[PublicKeyInfo], export: dict[str, Any], export_sig: str,
                   extra: dict[str, Any] | None = None, ledger: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest holds only what the copy's reader may see: the content as it travels (format 2:
    confidential contact fields as salted commitments, the salts never leave the server) and, on the
    staff copy alone, each signature's full IP address and user agent with the salts that open the
    commitments its record signs."""
    if d.commitments is None:
        document = {"format": FORMAT_V1, "content": d.content.to_dict(), "text": d.text, "hash": d.document_hash}
    else:
        document = {"format": FORMAT, "content": d.content.to_dict(), "commitments": d.commitments,
                    "text": d.text, "hash": d.document_hash}
    return {
        "format": MANIFEST_FORMAT,
        "agreement": {"number": d.content.number, "version": d.version, "state": d.state,
                      "effective_at": d.effective_at, "amends": d.amends, "case_ref": d.content.case_ref,
                      "unit": d.content.unit_code, **(extra or {})},
        "document": document,
        "signatures": [signature_entry(d, r) for r in d.records],
        "keys": [k.as_dict() for k in keys],
        "export": {"record": export, "signature": export_sig},
        "ledger": ledger,
    }


def signature_entry(d: PdfInput, r: SignedRecord) -> dict[str, Any]:
    out = {**r.as_dict(), "image": b64(d.images[r.slot]) if d.images.get(r.slot) else None}
    if d.staff and r.evidence:
        out["evidence"] = r.evidence
    return out


def export_agreement_pdf(d: PdfInput, keys: list[PublicKeyInfo], sealer: Sealer, *, pades: bool = True,
                         proof: dict[str, Any] | None = None) -> bytes:
    """The full export: the drawn PDF, then as incremental updates the sealed manifest attachment and the
    PAdES signature. ``proof``: the manifest's ``ledger`` member (server/agreements/ledger_proof.py), the
    inclusion proof of the effective event; the export seal names that event, so it cannot be taken out."""
    raw = render_agreement(d)
    page_count = len(PdfReader(io.BytesIO(raw)).pages)
    effective_event = proof["event"]["hash"] if proof else None
    record = export_record(d.content.number, d.version, d.state, d.document_hash, raw, page_count,
                           effective_event, d.exported_at, sealer.unit, sealer.key_id)
    needed = {r.payload["key_id"] for r in d.records} | {sealer.key_id}
    used = [k for k in keys if k.key_id in needed]
    manifest = build_manifest(d, used, record, sealer.sign(record), ledger=proof)
    out = attach_manifest(raw, manifest)
    if pades:
        out = pades_sign(out, sealer, d)
    return out


def pades_sign(pdf: bytes, sealer: Sealer, d: PdfInput) -> bytes:
    from server.agreements import pades

    if sealer.seal is None:
        raise ValueError(f"unit {sealer.unit} has no seal certificate to sign the PDF with")
    return pades.sign_pdf(pdf, sealer.seal, reason=f"人民调解协议书 {d.content.number} 电子签章",
                          location=d.content.unit_name)


def attach_manifest(pdf: bytes, manifest: dict[str, Any]) -> bytes:
    """An incremental update: the drawn bytes stay, unchanged, the start of the file (format 2 seals them)."""
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    data = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    writer.add_attachment(MANIFEST_NAME, data)
    out = io.BytesIO()
    writer.write(out)
    result = out.getvalue()
    if not result.startswith(pdf):
        raise RuntimeError("the manifest was not appended as an incremental update")
    return result


def judicial_application_pdf(d: PdfInput, court: str = "") -> bytes:
    """司法确认申请书, prefilled from the effective agreement; signed on paper at the court."""
    # A Beijing date, like the agreement's 生效日期 (an effective time of 2026-12-05T17:00Z is 12月6日).
    effective = local_time(d.effective_at or d.exported_at, "%Y-%m-%d")
    text = render_judicial_application(d.content, effective, d.document_hash, court, d.text)
    return render_plain_text("司法确认申请书", text, f"{d.content.number} · 司法确认申请书")


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()
