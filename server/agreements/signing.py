"""Signature records and the signing order.

A signature record binds, in one canonical JSON payload: the document hash of the frozen version, the
signer's identity and role, how their identity was checked and with what result, their consent, when they
opened the full text, the time, IP address and user agent, and the SHA-256 of their handwritten image.
Format 2 signs the IP address and user agent masked (203.0.113.x, browser family) plus a salted
commitment to each full value; the values and salts stay on the server (``SignedRecord.evidence``) for
the staff copy and the archive. Format-1 records (older) sign them in full and are still verified.
The unit's Ed25519 key (its seal) signs the payload. Each record also carries the hash of the record
before it, so the order (parties, then the mediator, then the seal) is fixed and verifiable offline.
Plain Python.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.agreements.commitments import evidence_commitments, evidence_openings, mask_ip, ua_family
from server.agreements.content import AgreementContent, canonical_json, mask_id
from server.agreements.keys import PublicKeyInfo, b64, unb64
from server.failures import DomainError, Kind

RECORD_FORMAT_V1 = "concord-signature/1"
RECORD_FORMAT = "concord-signature/2"
RECORD_FORMATS = (RECORD_FORMAT_V1, RECORD_FORMAT)
GENESIS = "0" * 64

PARTY, MEDIATOR, SEAL = "party", "mediator", "seal"
ROLE_LABELS = {PARTY: "当事人", MEDIATOR: "人民调解员", SEAL: "人民调解委员会印章"}
CHECK_METHODS = {"id_last4", "code", "password"}


class SigningError(DomainError):
    """A refused signature: out of turn or stale (a conflict), or not allowed, or not valid."""

    def __init__(self, code: str, message: str, kind: Kind = Kind.CONFLICT) -> None:
        super().__init__(kind, code, message)


@dataclass(frozen=True)
class Signer:
    kind: str  # party | mediator | seal
    key: str  # party key, or "mediator" / "seal"
    name: str

    @property
    def slot(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class SignedRecord:
    payload: dict[str, Any]
    signature: str  # base64 Ed25519 signature over canonical_json(payload)
    # Format 2: the full IP address and user agent with their salts (server-side; staff copy only).
    evidence: dict[str, dict[str, str]] | None = None

    @property
    def slot(self) -> str:
        s = self.payload.get("signer") or {}
        return f"{s.get('kind')}:{s.get('key')}"

    @property
    def hash(self) -> str:
        return record_hash(self.payload, self.signature)

    def verify(self, key: PublicKeyInfo) -> bool:
        try:
            sig = unb64(self.signature)
        except ValueError:
            return False
        return key.verify(sig, canonical_json(self.payload))

    def as_dict(self) -> dict[str, Any]:
        return {"record": self.payload, "signature": self.signature}


def record_hash(payload: dict[str, Any], signature: str) -> str:
    return hashlib.sha256(canonical_json(payload) + b"." + signature.encode("ascii")).hexdigest()


def required_signers(content: AgreementContent) -> list[Signer]:
    """Every party, then the mediator, then the unit's seal: the order they must sign in."""
    return ([Signer(PARTY, p.key, p.name) for p in content.parties]
            + [Signer(MEDIATOR, MEDIATOR, content.mediator_name), Signer(SEAL, SEAL, content.unit_name)])


@dataclass(frozen=True)
class Evidence:
    """What the web layer observed when the signer acted."""

    check_method: str
    check_result: str  # "passed"; failures never produce a record
    consent: bool
    read_at: str  # when the full text was opened and scrolled to its end (ISO 8601 UTC)
    at: str  # signing time (ISO 8601 UTC)
    ip: str
    user_agent: str
    typed_name: str = ""
    image_sha256: str | None = None
    staff: str | None = None  # username for staff signers
    invitation: int | None = None  # invitation id for parties


class SigningState:
    """Who has signed a frozen version and who may sign next."""

    def __init__(self, content: AgreementContent, version: int, document_hash: str,
                 records: list[SignedRecord] | None = None) -> None:
        self.content = content
        self.version = version
        self.document_hash = document_hash
        self.records = list(records or [])

    @property
    def signed_slots(self) -> set[str]:
        return {r.slot for r in self.records}

    def missing(self) -> list[Signer]:
        done = self.signed_slots
        return [s for s in required_signers(self.content) if s.slot not in done]

    @property
    def complete(self) -> bool:
        return not self.missing()

    def signer(self, kind: str, key: str) -> Signer:
        for s in required_signers(self.content):
            if s.kind == kind and s.key == key:
                return s
        raise SigningError("not_a_signer", "this person is not a signer of the agreement", Kind.FORBIDDEN)

    def check_may_sign(self, kind: str, key: str, version: int, document_hash: str) -> Signer:
        """Refuse a stale version, a stranger, a second signature and a signature out of order."""
        if version != self.version or document_hash != self.document_hash:
            raise SigningError("stale_version",
                               f"this is not the version being signed (current: version {self.version}, "
                               f"hash {self.document_hash[:8]}); reload and read it again")
        signer = self.signer(kind, key)
        if signer.slot in self.signed_slots:
            raise SigningError("already_signed", f"{signer.name} has already signed this version")
        missing = self.missing()
        if kind == MEDIATOR and any(s.kind == PARTY for s in missing):
            names = "、".join(s.name for s in missing if s.kind == PARTY)
            raise SigningError("out_of_order", f"the mediator signs after every party; still to sign: {names}")
        if kind == SEAL and any(s.kind != SEAL for s in missing):
            raise SigningError("out_of_order", "the seal is applied last, after the parties and the mediator")
        return signer

    def sign(self, kind: str, key: str, version: int, document_hash: str, evidence: Evidence,
             unit: str, key_id: str, private_key: Ed25519PrivateKey) -> SignedRecord:
        signer = self.check_may_sign(kind, key, version, document_hash)
        if evidence.check_method not in CHECK_METHODS or evidence.check_result != "passed":
            raise SigningError("identity_not_checked", "the signer's identity was not checked", Kind.FORBIDDEN)
        if not evidence.consent:
            raise SigningError("no_consent", "explicit consent to sign electronically is required", Kind.INVALID)
        if kind != SEAL and not evidence.image_sha256:
            raise SigningError("signature_empty", "a handwritten signature is required", Kind.INVALID)
        if kind != SEAL and evidence.typed_name.strip() != signer.name:
            raise SigningError("typed_name_mismatch", f"the typed name must be exactly {signer.name}", Kind.INVALID)
        id_masked = ""
        if kind == PARTY:
            id_masked = mask_id(self.content.party(key).id_number)
        opened = evidence_openings(evidence.ip, evidence.user_agent[:300])
        payload = {
            "format": RECORD_FORMAT,
            "agreement": self.content.number,
            "version": self.version,
            "document_hash": self.document_hash,
            "seq": len(self.records) + 1,
            "prev": self.records[-1].hash if self.records else GENESIS,
            "signer": {"kind": kind, "key": key, "name": signer.name, "role": ROLE_LABELS[kind],
                       "id_masked": id_masked, "staff": evidence.staff, "invitation": evidence.invitation},
            "check": {"method": evidence.check_method, "result": evidence.check_result},
            "consent": evidence.consent,
            "read_at": evidence.read_at,
            "typed_name": evidence.typed_name.strip(),
            "at": evidence.at,
            "ip": mask_ip(evidence.ip),
            "user_agent": ua_family(evidence.user_agent),
            "evidence_commitments": evidence_commitments(opened),
            "image_sha256": evidence.image_sha256,
            "unit": unit,
            "key_id": key_id,
        }
        record = SignedRecord(payload, b64(private_key.sign(canonical_json(payload))), opened)
        self.records.append(record)
        return record
