"""Each unit's seal: one Ed25519 key pair per unit, kept in the data directory.

Private keys are encrypted at rest with AES-256-GCM under a key derived from the server's secret key
(HKDF), bound to the unit and key id as associated data, so a file copied between units or edited does not
decrypt. Rotation makes a new active key and keeps the old public key (its private half is erased), so
everything signed before stays verifiable. Plain Python; file I/O only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from server.agreements.ca import CityCA, load_certificates, stored_trust
from server.agreements.keyfile import _UNIT_RE, KeyStoreError, b64, unb64

KEYRING_FORMAT = "concord-keyring/1"
CA_SUBDIR = "ca"  # the city trust chain (ca.py) lives beside the unit keys
def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PublicKeyInfo:
    unit: str
    key_id: str
    public_key: str  # base64 of the 32 raw bytes
    created_at: str
    retired_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "key_id": self.key_id, "public_key": self.public_key,
                "created_at": self.created_at, "retired_at": self.retired_at}

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(unb64(self.public_key))

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.verifier().verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False

    @classmethod
    def from_dict(cls, d: Any) -> PublicKeyInfo:
        if not isinstance(d, dict):
            raise ValueError("key entry is not an object")
        unit, kid, pub, created = d.get("unit"), d.get("key_id"), d.get("public_key"), d.get("created_at")
        if not (isinstance(unit, str) and isinstance(kid, str) and isinstance(pub, str)
                and isinstance(created, str)):
            raise ValueError("key entry lacks unit, key_id, public_key or created_at")
        raw = unb64(pub)
        if len(raw) != 32:
            raise ValueError("public key is not 32 bytes")
        if key_id_of(raw) != kid:
            raise ValueError(f"key id {kid} does not match its public key")
        retired = d.get("retired_at")
        return cls(unit, kid, pub, created, retired if isinstance(retired, str) else None)


class Keyring:
    """The units' key pairs in ``<dir>/<unit>.json``; the private halves only decrypt with ``secret``."""

    def __init__(self, directory: Path, secret: bytes) -> None:
        self.dir = Path(directory)
        self._secret = secret
        self._ca: CityCA | None = None
        self._wrap = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=b"concord-agreement-keys",
                                 info=b"unit-seal-keys/1").derive(secret))
        self._cache: dict[str, tuple[str, Ed25519PrivateKey]] = {}

    # --- files ---------------------------------------------------------------------------------
    def _path(self, unit: str) -> Path:
        if not _UNIT_RE.match(unit):
            raise KeyStoreError(f"bad unit code {unit!r}")
        return self.dir / f"{unit}.json"

    @contextmanager
    def _locked(self, unit: str) -> Iterator[None]:
        self._path(unit)  # validates the unit code before any file is touched
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / f".{unit}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, unit: str) -> dict[str, Any] | None:
        path = self._path(unit)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise KeyStoreError(f"key file for unit {unit} is unreadable: {e}") from e

    def _write(self, unit: str, doc: dict[str, Any]) -> None:
        path = self._path(unit)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _new_entry(self, unit: str) -> tuple[dict[str, Any], Ed25519PrivateKey]:
        key = Ed25519PrivateKey.generate()
        pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        kid = key_id_of(pub)
        nonce = os.urandom(12)
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        ct = self._wrap.encrypt(nonce, seed, f"{unit}:{kid}".encode())
        entry = {"unit": unit, "key_id": kid, "public_key": b64(pub), "created_at": _now(), "retired_at": None,
                 "private": {"alg": "AES-256-GCM", "nonce": b64(nonce), "ciphertext": b64(ct)}}
        return entry, key

    # --- use -----------------------------------------------------------------------------------
    def signing_key(self, unit: str) -> tuple[str, Ed25519PrivateKey]:
        """The unit's active key, made on first use."""
        if unit in self._cache:
            return self._cache[unit]
        with self._locked(unit):
            doc = self._read(unit)
            if doc is None or not any(k.get("retired_at") is None for k in doc.get("keys", [])):
                doc = doc or {"unit": unit, "keys": []}
                entry, key = self._new_entry(unit)
                doc["keys"].append(entry)
                self._write(unit, doc)
                self._cache[unit] = (entry["key_id"], key)
                return self._cache[unit]
        active = next(k for k in doc["keys"] if k.get("retired_at") is None)
        key = self._decrypt(unit, active)
        self._cache[unit] = (active["key_id"], key)
        return self._cache[unit]

    def _decrypt(self, unit: str, entry: dict[str, Any]) -> Ed25519PrivateKey:
        priv = entry.get("private")
        if not priv:
            raise KeyStoreError(f"key {entry.get('key_id')} of unit {unit} has no private half")
        try:
            seed = self._wrap.decrypt(unb64(priv["nonce"]), unb64(priv["ciphertext"]),
                                      f"{unit}:{entry['key_id']}".encode())
        except (InvalidTag, KeyError, ValueError) as e:
            raise KeyStoreError(f"the key of unit {unit} does not decrypt with this server's secret key") from e
        key = Ed25519PrivateKey.from_private_bytes(seed)
        if key_id_of(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)) != entry["key_id"]:
            raise KeyStoreError(f"key file of unit {unit} is inconsistent")
        return key

    def rotate(self, unit: str) -> str:
        """Retire the active key (erasing its private half) and make a new one; returns the new key id."""
        with self._locked(unit):
            doc = self._read(unit) or {"unit": unit, "keys": []}
            for k in doc["keys"]:
                if k.get("retired_at") is None:
                    k["retired_at"] = _now()
                    k["private"] = None
            entry, key = self._new_entry(unit)
            doc["keys"].append(entry)
            self._write(unit, doc)
        self._cache[unit] = (entry["key_id"], key)
        return entry["key_id"]

    def public_keys(self, unit: str | None = None) -> list[PublicKeyInfo]:
        units = [unit] if unit else sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.exists() else []
        out = []
        for u in units:
            doc = self._read(u)
            for k in (doc or {}).get("keys", []):
                out.append(PublicKeyInfo.from_dict(k))
        return out

    def public_key(self, key_id: str) -> PublicKeyInfo | None:
        return next((k for k in self.public_keys() if k.key_id == key_id), None)

    def city_ca(self) -> CityCA:
        """The city's trust chain for the PDF signatures, kept beside the keys (``<dir>/ca``)."""
        if self._ca is None:

            self._ca = CityCA(self.dir / CA_SUBDIR, self._secret)
        return self._ca

    def trusted(self, source: str = "this server's keyring") -> TrustedKeys:
        """What this server trusts: its public keys, its root certificate and its current CRL."""
        ca = self.city_ca()
        crl = ca.crl() if ca.exists() else None
        root = ca.root_certificate()
        return TrustedKeys(self.public_keys(), source, [root] if root else [], [crl] if crl else [])

    def export(self) -> dict[str, Any]:
        """The public keyring, to publish for offline verifiers (no private material): the Ed25519 keys,
        and the city root certificate (PEM) and current CRL (base64 DER) when the CA exists."""
        from cryptography.hazmat.primitives.serialization import Encoding as Enc

        out: dict[str, Any] = {"format": KEYRING_FORMAT, "keys": [k.as_dict() for k in self.public_keys()]}
        ca = self.city_ca()
        root = ca.root_certificate()
        if root is not None:
            out["ca"] = {"roots": [root.public_bytes(Enc.PEM).decode("ascii")], "crls": [b64(ca.crl())]}
        return out


class TrustedKeys:
    """What a verifier trusts: public keys, and root certificates (with their CRLs) for the PDF signature;
    from a published keyring file or a server's key directory."""

    def __init__(self, keys: list[PublicKeyInfo], source: str, roots: list[x509.Certificate] | None = None,
                 crls: list[bytes] | None = None, *, keys_given: bool = True) -> None:
        self.by_id = {k.key_id: k for k in keys}
        self.source = source
        self.keys_given = keys_given  # False: only roots were given; keys are checked against the file
        self.roots = list(roots or [])
        self.crls = list(crls or [])

    def __contains__(self, key_id: str) -> bool:
        return key_id in self.by_id

    @classmethod
    def load(cls, path: Path) -> TrustedKeys:
        """A keyring export (JSON file) or a key directory of a server."""

        path = Path(path)
        if path.is_dir():
            keys = []
            for f in sorted(path.glob("*.json")):
                doc = json.loads(f.read_text("utf-8"))
                keys += [PublicKeyInfo.from_dict(k) for k in doc.get("keys", [])]
            roots, crls = stored_trust(path / CA_SUBDIR)
            return cls(keys, str(path), roots, crls)
        doc = json.loads(path.read_text("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != KEYRING_FORMAT:
            raise ValueError(f"{path} is not a Concord keyring ({KEYRING_FORMAT})")
        ca: dict[str, Any] = doc["ca"] if isinstance(doc.get("ca"), dict) else {}
        roots = [c for pem in ca.get("roots", []) for c in load_certificates(str(pem).encode())]
        crls = [unb64(c) for c in ca.get("crls", [])]
        return cls([PublicKeyInfo.from_dict(k) for k in doc.get("keys", [])], str(path), roots, crls)

    def add_trust(self, roots: list[x509.Certificate], crls: list[bytes]) -> None:
        """More roots and CRLs (``--root``, ``--crl``)."""
        self.roots += roots
        self.crls += crls
