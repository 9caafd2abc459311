"""The city's trust chain for PDF signatures: one root CA, one seal certificate per unit, and a CRL.

Kept in ``<keyring dir>/ca/`` (``DATA_DIR/agreement_keys/ca/``): ``root.json`` (the root certificate and
its ECDSA P-256 private key), ``units/<code>.json`` (each certificate issued to the unit, newest last, with
its encrypted private key, when it was issued, retired or revoked) and ``crl.der`` (the current CRL).
Private keys are encrypted at rest as the units' Ed25519 keys are (keys.py): AES-256-GCM under a key
derived (HKDF) from the server's secret key, bound to the owner and certificate serial as associated data.

The root is made by ``concord ca init`` or, when missing, on the first seal, so nothing needs a manual
step. A unit's seal certificate is issued on its first seal (or by ``concord ca issue``); ``rotate``
retires the active one (its private half is erased; documents it signed still verify), ``revoke`` lists it
in the CRL from a given time: documents signed after that time fail verification. Plain Python; file I/O.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from server.agreements.keyfile import _UNIT_RE, KeyStoreError, b64, unb64

CA_FORMAT = "concord-ca/1"
DEFAULT_ROOT_NAME = "Concord 人民调解电子印章根证书"
ROOT_YEARS = 30
UNIT_YEARS = 10
CRL_DAYS = 30  # nextUpdate; the CRL is re-issued daily and on every revocation
REASONS = {"key_compromise": x509.ReasonFlags.key_compromise,
           "superseded": x509.ReasonFlags.superseded,
           "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
           "unspecified": x509.ReasonFlags.unspecified}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str) -> datetime:
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def public_url() -> str:
    """Where the CRL is published (CONCORD_PUBLIC_URL), or "" when unset: certificates then name no URL."""
    return os.environ.get("CONCORD_PUBLIC_URL", "").strip().rstrip("/")


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """One DER certificate, or any number of PEM ones."""
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def unit_name_attrs(cert: x509.Certificate) -> tuple[str, str]:
    """(unit code, common name) from a seal certificate's subject."""
    def one(oid: x509.ObjectIdentifier) -> str:
        attrs = cert.subject.get_attributes_for_oid(oid)
        return str(attrs[0].value) if attrs else ""
    return one(NameOID.SERIAL_NUMBER), one(NameOID.COMMON_NAME)


@dataclass(frozen=True)
class UnitSeal:
    """What a PAdES signature needs: the unit's certificate, its private key and the chain up to the root."""

    unit: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate


@dataclass(frozen=True)
class IssuedCert:
    unit: str
    serial: str  # hex
    certificate: x509.Certificate
    issued_at: str
    retired_at: str | None
    revoked_at: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "serial": self.serial, "subject": self.certificate.subject.rfc4514_string(),
                "not_after": _iso(self.certificate.not_valid_after_utc), "issued_at": self.issued_at,
                "retired_at": self.retired_at, "revoked_at": self.revoked_at, "reason": self.reason}


class CityCA:
    def __init__(self, directory: Path, secret: bytes) -> None:
        self.dir = Path(directory)
        self._wrap = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=b"concord-agreement-ca",
                                 info=b"city-ca-keys/1").derive(secret))
        self._root: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        self._seals: dict[str, UnitSeal] = {}

    # --- files ---------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, path: Path) -> dict[str, Any] | None:
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise KeyStoreError(f"{path} is unreadable: {e}") from e
        if not isinstance(doc, dict) or doc.get("format") != CA_FORMAT:
            raise KeyStoreError(f"{path} is not a {CA_FORMAT} file")
        return doc

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _write_json(self, path: Path, doc: dict[str, Any]) -> None:
        self._write(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))

    def _unit_path(self, unit: str) -> Path:
        if not _UNIT_RE.match(unit):
            raise KeyStoreError(f"bad unit code {unit!r}")
        return self.dir / "units" / f"{unit}.json"

    def _seal_key(self, owner: str, serial: str, key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
        nonce = os.urandom(12)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return {"alg": "AES-256-GCM", "nonce": b64(nonce),
                "ciphertext": b64(self._wrap.encrypt(nonce, der, f"{owner}:{serial}".encode()))}

    def _open_key(self, owner: str, serial: str, sealed: Any) -> ec.EllipticCurvePrivateKey:
        if not isinstance(sealed, dict):
            raise KeyStoreError(f"the key of {owner} certificate {serial} has no private half")
        try:
            der = self._wrap.decrypt(unb64(sealed["nonce"]), unb64(sealed["ciphertext"]), f"{owner}:{serial}".encode())
        except (InvalidTag, KeyError, ValueError) as e:
            raise KeyStoreError(f"the {owner} CA key does not decrypt with this server's secret key") from e
        key = serialization.load_der_private_key(der, None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError(f"the {owner} key is not an ECDSA key")
        return key

    # --- the root ------------------------------------------------------------------------------
    @property
    def root_path(self) -> Path:
        return self.dir / "root.json"

    @property
    def crl_path(self) -> Path:
        return self.dir / "crl.der"

    def exists(self) -> bool:
        return self.root_path.exists()

    def init(self, name: str = DEFAULT_ROOT_NAME) -> tuple[x509.Certificate, bool]:
        """The root, made now unless it exists; returns (certificate, made)."""
        with self._locked():
            doc = self._read(self.root_path)
            if doc is not None:
                return x509.load_pem_x509_certificate(doc["certificate"].encode()), False
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Concord"),
                                 x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")])
            now = _now()
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - timedelta(minutes=5))
                    .not_valid_after(now + timedelta(days=365 * ROOT_YEARS))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                 key_encipherment=False, data_encipherment=False,
                                                 key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                 encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(ski, critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                   critical=False)
                    .sign(key, hashes.SHA256()))
            serial = format(cert.serial_number, "x")
            self._write_json(self.root_path, {
                "format": CA_FORMAT, "serial": serial, "created_at": _iso(now),
                "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                "private": self._seal_key("root", serial, key), "crl_number": 0})
            self._root = (cert, key)
            self._write_crl_locked()
            return cert, True

    def root_certificate(self) -> x509.Certificate | None:
        doc = self._read(self.root_path)
        return x509.load_pem_x509_certificate(doc["certificate"].encode()) if doc else None

    def _root_pair(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if self._root is None:
            if not self.exists():
                self.init()
            doc = self._read(self.root_path)
            assert doc is not None
            self._root = (x509.load_pem_x509_certificate(doc["certificate"].encode()),
                          self._open_key("root", doc["serial"], doc.get("private")))
        return self._root

    # --- unit certificates ---------------------------------------------------------------------
    def certificates(self, unit: str | None = None) -> list[IssuedCert]:
        if unit:
            paths = [self._unit_path(unit)]
        else:
            paths = sorted((self.dir / "units").glob("*.json")) if (self.dir / "units").is_dir() else []
        out = []
        for p in paths:
            doc = self._read(p)
            for c in (doc or {}).get("certs", []):
                assert doc is not None
                out.append(IssuedCert(doc["unit"], c["serial"], x509.load_pem_x509_certificate(c["certificate"].encode()),
                                      c["issued_at"], c.get("retired_at"), c.get("revoked_at"), c.get("reason")))
        return out

    def _issue(self, unit: str, name: str) -> tuple[dict[str, Any], UnitSeal]:
        root, root_key = self._root_pair()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                             x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                             x509.NameAttribute(NameOID.SERIAL_NUMBER, unit),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(root.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(min(now + timedelta(days=365 * UNIT_YEARS), root.not_valid_after_utc))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                                  critical=False))
        if public_url():
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(f"{public_url()}/ca/crl.der")], None, None, None)]), critical=False)
        cert = builder.sign(root_key, hashes.SHA256())
        serial = format(cert.serial_number, "x")
        entry = {"serial": serial, "certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                 "issued_at": _iso(now), "retired_at": None, "revoked_at": None, "reason": None,
                 "private": self._seal_key(unit, serial, key)}
        return entry, UnitSeal(unit, cert, key, root)

    def unit_seal(self, unit: str, name: str) -> UnitSeal:
        """The unit's active seal certificate, issued now when it has none, or none for its current name."""
        name = name if name.endswith("人民调解委员会") else f"{name}人民调解委员会"
        cached = self._seals.get(unit)
        if cached is not None and unit_name_attrs(cached.certificate)[1] == name:
            return cached
        self._root_pair()  # made first, outside the lock it takes itself
        with self._locked():
            path = self._unit_path(unit)
            doc = self._read(path) or {"format": CA_FORMAT, "unit": unit, "certs": []}
            active = next((c for c in reversed(doc["certs"]) if not c.get("retired_at") and not c.get("revoked_at")),
                          None)
            if active is not None:
                cert = x509.load_pem_x509_certificate(active["certificate"].encode())
                if unit_name_attrs(cert)[1] == name and cert.not_valid_after_utc > _now() + timedelta(days=1):
                    seal = UnitSeal(unit, cert, self._open_key(unit, active["serial"], active.get("private")),
                                    self._root_pair()[0])
                    self._seals[unit] = seal
                    return seal
                self._retire(active)  # renamed or about to expire: a new certificate
            entry, seal = self._issue(unit, name)
            doc["certs"].append(entry)
            self._write_json(path, doc)
        self._seals[unit] = seal
        return seal

    @staticmethod
    def _retire(entry: dict[str, Any]) -> None:
        entry["retired_at"] = entry.get("retired_at") or _iso(_now())
        entry["private"] = None

    def rotate(self, unit: str, name: str) -> IssuedCert:
        """Retire the unit's active certificate (erasing its key) and issue a new one. Documents signed
        with the old certificate still verify: it is not revoked."""
        self._root_pair()
        with self._locked():
            path = self._unit_path(unit)
            doc = self._read(path) or {"format": CA_FORMAT, "unit": unit, "certs": []}
            for c in doc["certs"]:
                if not c.get("retired_at"):
                    self._retire(c)
            entry, seal = self._issue(unit, name if name.endswith("人民调解委员会") else f"{name}人民调解委员会")
            doc["certs"].append(entry)
            self._write_json(path, doc)
        self._seals[unit] = seal
        return self.certificates(unit)[-1]

    def revoke(self, unit: str, *, serial: str | None = None, at: datetime | None = None,
               reason: str = "key_compromise") -> list[IssuedCert]:
        """Revoke the unit's certificates (every one, or the one ``serial``) from ``at`` (default now; an
        earlier time than a previous revocation's moves it back); the next seal issues a new certificate.
        Re-writes the CRL."""
        if reason not in REASONS:
            raise KeyStoreError(f"reason must be one of {', '.join(REASONS)}")
        when = _iso(at or _now())
        with self._locked():
            path = self._unit_path(unit)
            doc = self._read(path)
            # Not yet revoked, or revoked from a later time (the key turned out to have leaked earlier).
            hit = [c for c in (doc or {}).get("certs", []) if (not c.get("revoked_at") or c["revoked_at"] > when)
                   and (serial is None or c["serial"] == serial.lower())]
            if doc is None or not hit:
                raise KeyStoreError(f"unit {unit} has no {'certificate ' + serial if serial else 'certificate'} "
                                    "to revoke")
            for c in hit:
                c["revoked_at"], c["reason"] = when, reason
                self._retire(c)
            self._write_json(path, doc)
            self._write_crl_locked()
        self._seals.pop(unit, None)
        return [c for c in self.certificates(unit) if c.serial in {h["serial"] for h in hit}]

    # --- the CRL -------------------------------------------------------------------------------
    def _write_crl_locked(self) -> bytes:
        root, key = self._root_pair()
        doc = self._read(self.root_path)
        assert doc is not None
        doc["crl_number"] = int(doc.get("crl_number") or 0) + 1
        self._write_json(self.root_path, doc)
        now = _now()
        b = (x509.CertificateRevocationListBuilder().issuer_name(root.subject).last_update(now)
             .next_update(now + timedelta(days=CRL_DAYS))
             .add_extension(x509.CRLNumber(doc["crl_number"]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False))
        for c in self.certificates():
            if c.revoked_at:
                b = b.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(c.certificate.serial_number)
                    .revocation_date(parse_iso(c.revoked_at))
                    .add_extension(x509.CRLReason(REASONS.get(c.reason or "", x509.ReasonFlags.unspecified)),
                                   critical=False).build())
        der = b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        self._write(self.crl_path, der)
        return der

    def crl(self) -> bytes:
        """The current CRL (DER), re-issued when a day old."""
        if not self.exists():
            self.init()
        if self.crl_path.exists():
            der = self.crl_path.read_bytes()
            if load_crl(der).last_update_utc > _now() - timedelta(days=1):
                return der
        with self._locked():
            return self._write_crl_locked()


def stored_trust(directory: Path) -> tuple[list[x509.Certificate], list[bytes]]:
    """The root and CRL of a CA directory, public parts only (no secret needed)."""
    root_path, crl_path = Path(directory) / "root.json", Path(directory) / "crl.der"
    if not root_path.exists():
        return [], []
    doc = json.loads(root_path.read_text("utf-8"))
    roots = [x509.load_pem_x509_certificate(doc["certificate"].encode())]
    return roots, [crl_path.read_bytes()] if crl_path.exists() else []
