"""Regenerate the examples of docs/ledger.md in place (tests/unit/test_ledger_doc.py checks them).

    python tools/ledger_doc_examples.py

Keys and text avoid characters that Unicode normalisation (NFC) changes, such as U+FB33: editors may
normalise a document, and the ledger hashes text as it is, never normalised.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from server import ledger, merkle, treehead  # noqa: E402
from server.agreements.keys import key_id_of  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "ledger.md"
RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"


def chain() -> list[ledger.Event]:
    c = "case:9"
    at1 = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    d1 = {"title": "邻里纠纷", "amount": 10.0}
    h1 = ledger.link_hash(ledger.GENESIS, ledger.canonical_v1(c, 1, "case.created", at1, d1))
    e1 = ledger.Event(c, 1, "case.created", at1, d1, ledger.GENESIS, h1, 1)
    d2 = {"amount": 10.0, "ratio": 1e-7, "big": 9007199254740991, "text": "中文 \"引号\" 😀\n",
          "€": 1, "😀": 2, "ｚ": 3}
    e2 = ledger.make_event(c, e1, "note", d2, datetime(2026, 1, 2, 3, 5, 6, 7000, tzinfo=UTC))
    d3 = {"obligations": [{"due": "2026-02-01", "sum": 1e21}], "ok": True, "none": None}
    e3 = ledger.make_event(c, e2, "agreement.effective", d3, datetime(2026, 1, 2, 3, 6, 0, tzinfo=UTC))
    return [e1, e2, e3]


def blocks() -> dict[str, str]:
    evs = chain()
    leaves = [merkle.leaf_hash(bytes.fromhex(e.hash)) for e in evs]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SEED))
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    root = merkle.root_of_hashes(leaves).hex()
    sth = treehead.sign_head(3, root, evs[-1].export()["at"], key_id_of(pub), key)
    tree = [f"leaf {i}: {x.hex()}" for i, x in enumerate(leaves)]
    tree += [f"root 2: {merkle.root_of_hashes(leaves[:2]).hex()}", f"root 3: {root}",
             "inclusion of leaf 1 in size 3: " + " ".join(p.hex() for p in merkle.inclusion_proof(leaves, 1)),
             "consistency of size 2 with size 3: " + " ".join(p.hex() for p in merkle.consistency_proof(leaves, 2))]
    return {
        "export": "\n".join(json.dumps(e.export(), ensure_ascii=False) for e in evs),
        "canonical": "\n".join(ledger.canonical(e.chain, e.seq, e.type, e.at, e.data, e.v).decode() for e in evs),
        "merkle": "\n".join(tree),
        "checkpoint": json.dumps(sth.as_dict(), ensure_ascii=False, indent=1),
        "signed": treehead.signed_message(sth.size, sth.root, sth.timestamp_ms).decode(),
    }


def main() -> None:
    doc = DOC.read_text("utf-8")
    b = blocks()
    for name in ("export", "canonical", "merkle", "checkpoint"):
        doc = re.sub(rf"(<!-- example:{name} -->\n```\w*\n)(.*?)(\n```)", lambda m, n=name: m.group(1) + b[n] + m.group(3),
                     doc, flags=re.S)
    doc = re.sub(r"The signed bytes are `[^`]*`", lambda m: f"The signed bytes are `{b['signed']}`", doc)
    DOC.write_text(doc, "utf-8")


if __name__ == "__main__":
    main()
