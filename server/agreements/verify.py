"""Offline verification of an exported agreement PDF, from the file and what the verifier trusts
(``TrustedKeys``: a keyring, the city root certificate and its CRL). No database, no network.

Checks, each with a stable name that the CLI and the /verify page report:
- ``manifest_missing``: not a readable PDF, or no ``concord-manifest.json`` inside;
- ``manifest_malformed``: the manifest is not valid JSON of the expected shape;
- ``text_changed``: the text does not hash to the signed document hash, or a page no longer draws what was
  sealed at export (manifest format 2: the drawn revision's bytes or the objects its pages use; format 1:
  the per-page digests), or something was overlaid on a page;
- ``unknown_key``: a signature names a key that is not in the file, not in the trusted keyring, or was
  retired before it signed;
- ``signature_invalid``: an Ed25519 signature does not verify, or a record belongs to another document or
  version, or its handwritten image was replaced, or the records' order/chain is broken;
- ``signer_missing``: a party, the mediator or the seal has no signature;
- ``ledger_proof``: the inclusion proof of the agreement's effective ledger event (manifest format 2) fails:
  the leaf, the audit path, the tree head's signature or the checkpoint key (server/agreements/ledger_proof.py);
- ``pades_missing``: the file has no PDF signature (PAdES) although every manifest says the export was
  sealed with one: it was stripped, or the revision that carried it was cut off;
- ``file_changed``: the PDF signature no longer matches: a byte inside its signed range was changed, or
  something was added after it (another revision, another signature);
- ``pades_untrusted``: the PDF signature's certificate does not chain to a trusted root (the city CA), or
  is another unit's, or no root was given to trust;
- ``pades_revoked``: the certificate was revoked (on the root's CRL) before the document was signed (the
  timestamp's time under B-T, else the time the signature claims).
The PAdES checks are the least basic, so a change that the checks above can name is reported by them.

The verdict is a list of named checks (``Result.checks``: name, ok, detail); a check from another module
is one ``Result.check(name, ok, detail)`` call plus its name in ``CHECKS`` (where it ranks) and
``CHECK_LABELS`` (and ``views.CHECK_EXPLAIN`` for the page). ``--json`` and ``/api/verify`` list every
check's result; a check not reached (an earlier one made the file unreadable) has ``ok: null``.
The CLI and the /verify page both call ``verify_pdf`` and report its verdict unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.agreements import ledger_proof
from server.agreements.commitments import CONTACT_FIELDS, EVIDENCE_FIELDS, HEX64, field_name, opens
from server.agreements.content import ContentError, canonical_json, parse_content
from server.agreements.document import FORMAT, FORMATS, document_hash
from server.agreements.keys import PublicKeyInfo, TrustedKeys, unb64
from server.agreements.manifest import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_V1,
    MANIFEST_FORMAT_V1,
    MANIFEST_FORMATS,
    MANIFEST_NAME,
    MAX_MANIFEST,
    DamagedPage,
    drawn_revision_failures,
    page_digests,
    unexpected_annotations,
)
from server.agreements.signing import (
    GENESIS,
    MEDIATOR,
    PARTY,
    RECORD_FORMAT,
    RECORD_FORMATS,
    SEAL,
    SignedRecord,
    required_signers,
)
from server.security.uploads import check_pdf, pypdf_limits

if TYPE_CHECKING:
    from pypdf import PdfReader

CHECKS = ["manifest_missing", "manifest_malformed", "text_changed", "unknown_key", "signature_invalid",
          "signer_missing", "ledger_proof", "pades_missing", "file_changed", "pades_untrusted", "pades_revoked"]
MANIFEST_CHECKS = CHECKS[:6]
PADES_CHECKS = CHECKS[7:11]
CHECK_LABELS = {
    "manifest_missing": ("缺少签署清单", "manifest missing"),
    "manifest_malformed": ("签署清单格式错误", "manifest malformed"),
    "text_changed": ("文本已被改动", "text changed"),
    "unknown_key": ("未知的签名密钥", "unknown key"),
    "signature_invalid": ("签名无效", "signature invalid"),
    "signer_missing": ("缺少签署人", "signer missing"),
    "ledger_proof": ("账本包含证明无效", "ledger inclusion proof invalid"),
    "pades_missing": ("缺少 PDF 电子签章", "PDF signature missing"),
    "file_changed": ("文件在签章后被改动", "file changed after signing"),
    "pades_untrusted": ("PDF 电子签章的证书不可信", "PDF signature not trusted"),
    "pades_revoked": ("PDF 电子签章的证书已吊销", "PDF signature certificate revoked"),
}
# What a passed check established (the JSON lists every check).
CHECK_PASSED = {
    "manifest_missing": "the PDF carries one concord-manifest.json",
    "manifest_malformed": "the manifest has the expected shape",
    "text_changed": "text, content and every page are as sealed",
    "unknown_key": "every signature's key is known",
    "signature_invalid": "every Ed25519 signature verifies, in order",
    "signer_missing": "every party, the mediator and the seal signed",
}
# How each signer's identity was checked, as the signature records name it.
METHOD_LABELS = {
    "id_last4": ("身份证号后四位", "last 4 of the ID number"),
    "code": ("一次性验证码", "one-time code"),
    "password": ("登录密码", "login password"),
}
KIND_LABELS = {"party": ("当事人", "party"), "mediator": ("人民调解员", "mediator"),
               "seal": ("人民调解委员会印章", "committee seal")}
MAX_PDF = 20 * 1024 * 1024

logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged input is reported by us, not logged


@dataclass
class Check:
    """One named check's result; ``ok`` None: not reached."""

    name: str
    ok: bool | None
    detail: str

    @property
    def check(self) -> str:
        return self.name

    @property
    def message(self) -> str:
        return self.detail

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


Failure = Check


@dataclass
class Result:
    checks: list[Check] = field(default_factory=list)
    number: str = ""
    version: int = 0
    document_hash: str = ""
    state: str = ""
    signers: list[dict[str, Any]] = field(default_factory=list)
    trusted_by: str | None = None
    warnings: list[str] = field(default_factory=list)
    pdf_signature: str = "not checked"  # PAdES: intact | absent | broken | extended
    pades: dict[str, Any] = field(default_factory=dict)  # profile, signer, unit, serial, signed_at, ...
    unit: str = ""  # the agreement's unit, whose certificate must sign
    manifest_format: str = ""
    ledger_proof: str = "not checked"  # verified: ... | absent | not applicable (...) | invalid | malformed

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    @property
    def ok(self) -> bool:
        return not self.failures and any(c.ok for c in self.checks)

    def check(self, name: str, ok: bool | None, detail: str) -> None:
        """Append one check's result (another module's check too: see the module docstring)."""
        self.checks.append(Check(name, ok, detail))

    def passed(self, names: list[str], detail: dict[str, str] | None = None) -> None:
        """Each of ``names`` that has not failed, as passed."""
        for n in names:
            if not self.failed(n):
                self.check(n, True, (detail or CHECK_PASSED).get(n, "passed"))

    def every_check(self) -> list[Check]:
        """One entry per check of CHECKS (then any other appended), failures' details joined."""
        names = list(CHECKS) + [c.name for c in self.checks if c.name not in CHECKS]
        out = []
        for n in dict.fromkeys(names):
            mine = [c for c in self.checks if c.name == n]
            bad = [c.detail for c in mine if c.ok is False]
            if bad:
                out.append(Check(n, False, "; ".join(bad)))
            elif mine:
                out.append(mine[-1])
            else:
                out.append(Check(n, None, "not checked"))
        return out

    @property
    def primary(self) -> Failure | None:
        """The most basic failure: the order of CHECKS."""
        if not self.failures:
            return None
        return min(self.failures, key=lambda f: CHECKS.index(f.name) if f.name in CHECKS else len(CHECKS))

    def fail(self, check: str, message: str) -> None:
        self.check(check, False, message)

    def failed(self, check: str) -> bool:
        return any(f.check == check for f in self.failures)

    def as_dict(self) -> dict[str, Any]:
        p = self.primary
        return {"ok": self.ok, "check": p.check if p else None, "message": p.message if p else "",
                "failures": [{"check": f.check, "message": f.message} for f in self.failures],
                "number": self.number, "version": self.version, "document_hash": self.document_hash,
                "state": self.state, "signers": self.signers, "trusted_by": self.trusted_by,
                "warnings": self.warnings, "pdf_signature": self.pdf_signature, "pades": self.pades,
                "manifest_format": self.manifest_format, "ledger_proof": self.ledger_proof,
                "checks": [c.as_dict() for c in self.every_check()]}

    def summary(self) -> str:
        if self.ok:
            return (f"OK agreement {self.number} version {self.version}: {len(self.signers)} signatures valid; "
                    f"document sha256 {self.document_hash}")
        return f"FAILED {self.primary}"


class _Malformed(Exception):
    pass


def _req(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d or not isinstance(d[key], kind) or (
            isinstance(d[key], bool) and kind is int):
        raise _Malformed(f"{where}.{key} is missing or has the wrong type")
    return d[key]


def read_manifest(reader: PdfReader) -> bytes | None:
    try:
        found = reader.attachments.get(MANIFEST_NAME)
    except Exception:
        return None
    if not found:
        return None
    if len(found) > 1:
        raise _Malformed(f"the PDF carries {len(found)} manifests; a genuine export has exactly one")
    return found[0]


def verify_pdf(data: bytes, trusted: TrustedKeys | None = None, *, check_pades: bool = True,
               ledger_keys: set[str] | None = None) -> Result:
    """The one verdict on a file. ``check_pades=False`` skips the PAdES check (about 0.1 s), for tests
    that look only at the manifest checks; a broken PAdES signature is otherwise a failure.
    ``ledger_keys``: the key ids of the city's checkpoint key (``concord checkpoint export``); without
    them the inclusion proof's tree head is checked against the key it carries, with a warning.

    Raises UploadRefused for a PDF beyond the parsing limits (total inflated bytes, objects, filters,
    depth: server/security/uploads.py): a refusal to read it, not a verdict on an agreement."""
    if len(data) <= MAX_PDF and data.startswith(b"%PDF-"):
        check_pdf(data)
    with pypdf_limits():
        return _verify_pdf(data, trusted, check_pades, ledger_keys)


def _verify_pdf(data: bytes, trusted: TrustedKeys | None, check_pades: bool,
                ledger_keys: set[str] | None = None) -> Result:
    res = Result()
    if len(data) > MAX_PDF:
        res.fail("manifest_missing", f"the file is larger than {MAX_PDF // (1024 * 1024)} MiB")
        return res
    if not data.startswith(b"%PDF-"):
        res.fail("manifest_missing", "the file is not a PDF")
        return res
    try:
        from pypdf import PdfReader  # heavy: loaded on first use
        from pypdf.errors import PdfReadError  # heavy: loaded on first use

        reader = PdfReader(io.BytesIO(data), strict=False)
        _ = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError,
            IndexError, AssertionError, EOFError) as e:  # a damaged xref can raise any of these
        res.fail("manifest_missing", f"the PDF cannot be read ({type(e).__name__})")
        return res
    try:
        raw = read_manifest(reader)
    except _Malformed as e:
        res.fail("manifest_malformed", str(e))
        return res
    if raw is None:
        res.fail("manifest_missing", f"the PDF has no embedded {MANIFEST_NAME}")
        return res
    if len(raw) > MAX_MANIFEST:
        res.fail("manifest_malformed", "the manifest is too large")
        return res
    res.check("manifest_missing", True, CHECK_PASSED["manifest_missing"])
    try:
        manifest = json.loads(raw.decode("utf-8"))
        _check_manifest(manifest, reader, trusted if trusted and trusted.keys_given else None, res,
                        ledger_keys)
    except (ValueError, UnicodeDecodeError) as e:
        res.fail("manifest_malformed", f"the manifest is not valid JSON ({e.__class__.__name__})")
    except _Malformed as e:
        res.fail("manifest_malformed", str(e))
    else:
        res.passed(MANIFEST_CHECKS)
    if check_pades:  # every manifest says the export was sealed with a PDF signature: it must be there
        check_pdf_signature(data, trusted, res)
    return res


def check_pdf_signature(data: bytes, trusted: TrustedKeys | None, res: Result) -> None:
    """The PAdES checks, in order; each stops at the first that fails (the later ones are not reached)."""
    from server.agreements.pades import check_seal

    seal = check_seal(data, trusted.roots if trusted else [], trusted.crls if trusted else [], unit=res.unit)
    res.pdf_signature, res.pades = seal.state, seal.as_dict()
    res.warnings += seal.warnings
    if seal.state == "absent":
        res.fail("pades_missing", f"{seal.detail}, though the manifest says the export was sealed with one "
                                  "(it was removed, or the revision carrying it was cut off)")
        return
    res.check("pades_missing", True, f"a PAdES {seal.profile or ''} signature is present".replace("  ", " "))
    if seal.state != "intact":
        res.fail("file_changed", seal.detail)
        return
    res.check("file_changed", True, seal.detail)
    res.check("pades_untrusted", seal.trusted, seal.trust_detail)
    if seal.trusted:
        res.check("pades_revoked", None if seal.revoked is None else not seal.revoked, seal.revocation_detail)


def _commitments(doc: dict[str, Any], content: dict[str, Any]) -> dict[str, str]:
    """Format 2: one 64-hex commitment per non-empty confidential contact field, and that field blank."""
    commitments = _req(doc, "commitments", dict, "document")
    allowed = {field_name(p["key"], f) for p in content["parties"] if p.get("confidential") for f in CONTACT_FIELDS}
    for name, value in commitments.items():
        if name not in allowed or not isinstance(value, str) or not HEX64.match(value):
            raise _Malformed(f"document.commitments.{name} is not a commitment to a confidential field")
    for p in content["parties"]:
        if p.get("confidential") and any(p.get(f) for f in CONTACT_FIELDS):
            raise _Malformed(f"document.content carries party {p['key']}'s confidential contact in plain text")
    return commitments


def _check_manifest(m: Any, reader: PdfReader, trusted: TrustedKeys | None, res: Result,
                    ledger_keys: set[str] | None = None) -> None:
    if not isinstance(m, dict) or m.get("format") not in MANIFEST_FORMATS:
        raise _Malformed(f"the manifest's format is not one of {', '.join(MANIFEST_FORMATS)}")
    v1 = m["format"] == MANIFEST_FORMAT_V1
    res.manifest_format = m["format"]
    doc = _req(m, "document", dict, "manifest")
    if doc.get("format") not in FORMATS:
        raise _Malformed(f"document.format is not one of {', '.join(FORMATS)}")
    content_raw = _req(doc, "content", dict, "document")
    text = _req(doc, "text", str, "document")
    claimed = _req(doc, "hash", str, "document")
    try:
        content = parse_content(content_raw)
        res.unit = content.unit_code
    except ContentError as e:
        raise _Malformed(f"document.content is invalid: {e}") from e
    if canonical_json(content.to_dict()) != canonical_json(content_raw):
        raise _Malformed("document.content is not in canonical form")
    commitments = _commitments(doc, content_raw) if doc["format"] == FORMAT else None
    sigs_raw = _req(m, "signatures", list, "manifest")
    keys_raw = _req(m, "keys", list, "manifest")
    export = _req(m, "export", dict, "manifest")
    exp_rec = _req(export, "record", dict, "export")
    exp_sig = _req(export, "signature", str, "export")
    agreement = m.get("agreement")
    if not isinstance(agreement, dict):
        agreement = {}
    try:
        keys = {k.key_id: k for k in (PublicKeyInfo.from_dict(k) for k in keys_raw)}
    except (ValueError, binascii.Error) as e:
        raise _Malformed(f"keys: {e}") from e
    records: list[tuple[SignedRecord, bytes | None]] = []
    for i, s in enumerate(sigs_raw):
        payload = _req(s, "record", dict, f"signatures[{i}]")
        sig = _req(s, "signature", str, f"signatures[{i}]")
        for k, kind in (("format", str), ("document_hash", str), ("seq", int), ("prev", str), ("signer", dict),
                        ("check", dict), ("at", str), ("key_id", str), ("unit", str), ("version", int)):
            _req(payload, k, kind, f"signatures[{i}].record")
        _req(payload["signer"], "kind", str, f"signatures[{i}].record.signer")
        _req(payload["signer"], "key", str, f"signatures[{i}].record.signer")
        img = s.get("image")
        try:
            image = base64.b64decode(img, validate=True) if isinstance(img, str) else None
        except (binascii.Error, ValueError) as e:
            raise _Malformed(f"signatures[{i}].image is not base64") from e
        opened = s.get("evidence")
        if opened is not None and not (isinstance(opened, dict) and all(
                isinstance(opened.get(k), dict) and isinstance(opened[k].get("value"), str)
                and isinstance(opened[k].get("salt"), str) for k in EVIDENCE_FIELDS)):
            raise _Malformed(f"signatures[{i}].evidence is not a value and salt per field")
        records.append((SignedRecord(payload, sig, opened), image))
    for k in ("document_hash", "pages" if v1 else "drawn", "key_id", "version", "agreement"):
        _req(exp_rec, k, (str, list, int, dict), "export.record")

    res.number = content.number
    res.version = exp_rec.get("version") if isinstance(exp_rec.get("version"), int) else 0
    res.document_hash = claimed
    res.state = str(agreement.get("state", ""))
    res.trusted_by = trusted.source if trusted else None
    if trusted is None:
        res.warnings.append("no trusted keyring given: keys were checked only against those inside the file")

    def key_for(key_id: str, what: str, at: str | None) -> PublicKeyInfo | None:
        k = keys.get(key_id)
        if k is None:
            res.fail("unknown_key", f"{what} was made with key {key_id}, which is not in the file")
            return None
        if trusted is not None and key_id not in trusted:
            res.fail("unknown_key", f"{what} was made with key {key_id} ({k.unit}), which the trusted "
                                    f"keyring ({trusted.source}) does not know")
            return None
        if trusted is not None:
            k = trusted.by_id[key_id]
        if at and k.retired_at and at > k.retired_at:
            res.fail("unknown_key", f"{what} was made at {at} with key {key_id}, retired at {k.retired_at}")
            return None
        return k

    # 1. The text: the document hash, the export seal and every page as drawn.
    actual = document_hash(content_raw, text, commitments)
    if actual != claimed:
        res.fail("text_changed", "the agreement text or content does not match its document hash")
    if exp_rec.get("format") != (EXPORT_FORMAT_V1 if v1 else EXPORT_FORMAT):
        raise _Malformed(f"export.record.format is not {EXPORT_FORMAT_V1 if v1 else EXPORT_FORMAT}")
    if exp_rec["document_hash"] != actual:
        res.fail("text_changed", "the document is not the one sealed at export")
    ek = key_for(exp_rec["key_id"], "the export seal", None)
    if ek is not None:
        try:
            ok = ek.verify(unb64(exp_sig), canonical_json(exp_rec))
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            res.fail("signature_invalid", "the export seal does not verify (the export record was altered)")
    if not v1:
        try:
            reader.stream.seek(0)
            for problem in drawn_revision_failures(reader.stream.read(), reader, exp_rec["drawn"]):
                res.fail("text_changed", problem)
        except ValueError as e:
            raise _Malformed(str(e)) from e
    else:
        _sealed_pages_v1(reader, exp_rec, res)
    overlays = unexpected_annotations(reader)
    if overlays:
        res.fail("text_changed", f"page {', '.join(map(str, overlays))} has content laid over it")

    # 2. Each signature record.
    prev = GENESIS
    expected_seq = 1
    seen: set[str] = set()
    order = {PARTY: 0, MEDIATOR: 1, SEAL: 2}
    last_rank = 0
    parties = {p.key: p for p in content.parties}
    for i, (rec, image) in enumerate(records, start=1):
        p = rec.payload
        who = f"signature {i} ({p['signer'].get('name', '?')})"
        if p["format"] not in RECORD_FORMATS:
            raise _Malformed(f"{who} has an unknown record format")
        key = key_for(p["key_id"], who, p["at"])
        if key is not None and not rec.verify(key):
            res.fail("signature_invalid", f"{who}: the Ed25519 signature does not verify")
        if p["format"] == RECORD_FORMAT:
            committed = p.get("evidence_commitments")
            if not isinstance(committed, dict) or any(not isinstance(committed.get(k), str)
                                                      for k in EVIDENCE_FIELDS):
                raise _Malformed(f"{who} has no evidence commitments")
            if rec.evidence is not None and not all(
                    opens(committed[k], rec.evidence[k]["value"], rec.evidence[k]["salt"]) for k in EVIDENCE_FIELDS):
                res.fail("signature_invalid", f"{who}: the IP address or device shown is not the one signed")
        elif rec.evidence is not None:
            raise _Malformed(f"{who}: a format-1 record carries no separate evidence")
        if p["document_hash"] != claimed or p.get("agreement") != content.number:
            res.fail("signature_invalid", f"{who} was made for a different document")
        elif p["version"] != res.version:
            res.fail("signature_invalid", f"{who} was made for version {p['version']}, not {res.version}")
        if p["seq"] > expected_seq:
            # A gap: records were taken out. Whose is reported below, as signers missing.
            res.fail("signer_missing", f"signature records {expected_seq}–{p['seq'] - 1} were removed")
        elif p["seq"] < expected_seq or p["prev"] != prev:
            res.fail("signature_invalid", f"{who} is out of sequence (a record was added, copied or moved)")
        expected_seq = max(expected_seq, p["seq"]) + 1
        prev = rec.hash
        want = p.get("image_sha256")
        if want:
            if image is None or hashlib.sha256(image).hexdigest() != want:
                res.fail("signature_invalid", f"{who}: the handwritten signature image was replaced")
        kind, key = p["signer"]["kind"], p["signer"]["key"]
        if kind not in order:
            res.fail("signature_invalid", f"{who} has an unknown signer kind")
            continue
        if order[kind] < last_rank:
            res.fail("signature_invalid", f"{who} signed out of order (parties, then mediator, then seal)")
        last_rank = max(last_rank, order[kind])
        if kind == PARTY and (key not in parties or parties[key].name != p["signer"].get("name")):
            res.fail("signature_invalid", f"{who} is not a party named in the agreement")
        if rec.slot in seen:
            res.fail("signature_invalid", f"{who} signed twice")
        seen.add(rec.slot)
        res.signers.append({"seq": p["seq"], "name": p["signer"].get("name"), "role": p["signer"].get("role"),
                            "kind": kind, "at": p["at"], "check": p["check"].get("method"),
                            "ip": p.get("ip"), "key_id": p["key_id"]})

    # 3. Everyone who must sign has signed.
    missing = [s for s in required_signers(content) if s.slot not in seen]
    if missing:
        names = "、".join(f"{s.name or s.kind}（{ {PARTY: '当事人', MEDIATOR: '调解员', SEAL: '印章'}[s.kind] }）"
                         for s in missing)
        res.fail("signer_missing", f"not signed by: {names}")

    # 4. Format 2: the inclusion proof of the effective ledger event.
    if not v1:

        ledger_proof.check(m, exp_rec, res, ledger_keys)
    else:
        res.ledger_proof = f"absent ({MANIFEST_FORMAT_V1}: exported before inclusion proofs)"
        res.check("ledger_proof", None, res.ledger_proof)


def _sealed_pages_v1(reader: PdfReader, exp_rec: dict[str, Any], res: Result) -> None:
    """Format 1's export seal: a digest per page over a walk of the pypdf objects it uses."""
    try:
        pages = page_digests(reader)
        sealed = exp_rec["pages"]
        if len(pages) != len(sealed):
            res.fail("text_changed", f"the PDF has {len(pages)} pages; {len(sealed)} were sealed")
        else:
            changed = [str(i + 1) for i, (a, b) in enumerate(zip(pages, sealed, strict=True)) if a != b]
            if changed:
                res.fail("text_changed", f"page {', '.join(changed)} no longer shows what was signed")
    except DamagedPage as e:
        res.fail("text_changed", f"page {e.page} was changed: it {e.reason}")
