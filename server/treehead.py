"""The signed tree head of the ledger's Merkle tree (docs/ledger.md, "Checkpoints"): what the city key
signs, and how anyone checks it. Plain Python: ``server.checkpoints`` keeps them in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server import jcs, ledger
from server.agreements.keys import PublicKeyInfo, b64, key_id_of, unb64

FORMAT = "concord-checkpoint/1"
KEY_NAME = "city"  # the one ledger key of the deployment, under checkpoints.KEY_DIR



def signed_message(size: int, root: str, timestamp_ms: int) -> bytes:
    """The bytes the city key signs: JCS of the format, root (hex), size and time (ms since the epoch)."""
    return jcs.canonicalize({"format": FORMAT, "root": root, "size": size, "timestamp": timestamp_ms})


@dataclass(frozen=True)
class SignedTreeHead:
    size: int
    root: str  # hex
    timestamp_ms: int
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    signature: str  # base64 of the 64 bytes

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "size": self.size, "root": self.root, "timestamp": self.timestamp_ms,
                "time": ledger.from_epoch_ms(self.timestamp_ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "key_id": self.key_id, "public_key": self.public_key, "signature": self.signature}

    def signature_ok(self) -> bool:
        try:
            key = PublicKeyInfo(KEY_NAME, self.key_id, self.public_key, "")
            raw = unb64(self.public_key)
            return (len(raw) == 32 and key_id_of(raw) == self.key_id
                    and key.verify(unb64(self.signature), signed_message(self.size, self.root, self.timestamp_ms)))
        except ValueError:
            return False

    @classmethod
    def from_dict(cls, d: Any) -> SignedTreeHead:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"not a Concord checkpoint ({FORMAT})")
        size, root, ts = d.get("size"), d.get("root"), d.get("timestamp")
        kid, pub, sig = d.get("key_id"), d.get("public_key"), d.get("signature")
        if not (isinstance(size, int) and size >= 0 and isinstance(root, str) and len(root) == 64
                and isinstance(ts, int) and all(isinstance(x, str) for x in (kid, pub, sig))):
            raise ValueError("the checkpoint lacks size, root, timestamp, key_id, public_key or signature")
        return cls(size, root, ts, str(kid), str(pub), str(sig))


def sign_head(size: int, root: str, timestamp_ms: int, key_id: str, key: Ed25519PrivateKey) -> SignedTreeHead:
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sig = key.sign(signed_message(size, root, timestamp_ms))
    return SignedTreeHead(size, root, timestamp_ms, key_id, b64(pub), b64(sig))
