"""The inclusion proof an effective agreement's PDF carries: its effective ledger event, placed by an RFC 6962
audit path in the ledger's Merkle tree, under the tree head the city key signed when it took effect.

Ordering (docs/agreements.md "The inclusion proof"): the last signature appends the ``agreement.effective``
event and, in the same transaction, a checkpoint is signed over the tree that now holds it
(server/agreements/api.py ``_staff_sign``). A PDF is drawn on export, always after that commit, and embeds
the proof against the *first* checkpoint whose tree covers the event: the one signed at that moment. An
agreement that took effect before checkpoints existed gets one signed at its first export.

The manifest's ``ledger`` member (format ``concord-inclusion/1``)::

    {"format": "concord-inclusion/1", "chain", "seq", "event_hash",               # as `checkpoint prove`
     "event": {"v", "chain", "seq", "type", "at", "data", "prev_hash", "hash"},   # docs/ledger.md export form
     "leaf_index": 41, "path": ["<hex>", ...],                                    # RFC 6962 PATH
     "checkpoint": {"format": "concord-checkpoint/1", "size", "root", "timestamp", "key_id",
                    "public_key", "signature", ...}}

``check`` verifies it offline: the event re-hashes to its ``hash`` and is this agreement's effective event
(the leaf), the path leads from ``SHA-256(0x00 || hash)`` to the signed root (the audit path), the tree
head's Ed25519 signature holds (the tree head) under a key the verifier trusts (the checkpoint key).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from server import ledger, merkle
from server.treehead import SignedTreeHead, sign_head

if TYPE_CHECKING:

    from server.agreements.verify import Result

FORMAT = "concord-inclusion/1"
EFFECTIVE = "agreement.effective"
CHECK = "ledger_proof"
LABEL = ("账本包含证明无效", "ledger inclusion proof invalid")


def entry(event: ledger.Event, leaf_index: int, path: list[str], head: SignedTreeHead) -> dict[str, Any]:
    """The manifest's ``ledger`` member."""
    return {"format": FORMAT, "chain": event.chain, "seq": event.seq, "event_hash": event.hash,
            "event": event.export(), "leaf_index": leaf_index, "path": list(path), "checkpoint": head.as_dict()}


def event_of(d: Any) -> ledger.Event:
    """An event in docs/ledger.md's export form. Raises ValueError when a field is missing or mistyped."""
    if not isinstance(d, dict):
        raise ValueError("ledger.event is not an object")
    v, chain, seq, type_, at = d.get("v"), d.get("chain"), d.get("seq"), d.get("type"), d.get("at")
    prev, h = d.get("prev_hash"), d.get("hash")
    if v not in ledger.VERSIONS or not (isinstance(chain, str) and isinstance(seq, int) and isinstance(type_, str)
                                        and isinstance(prev, str) and isinstance(h, str) and len(h) == 64):
        raise ValueError("ledger.event lacks v, chain, seq, type, prev_hash or hash")
    if v == 2 and not (isinstance(at, int) and not isinstance(at, bool)):
        raise ValueError("ledger.event.at of a v2 event is integer milliseconds")
    if v == 1 and not isinstance(at, str):
        raise ValueError("ledger.event.at of a v1 event is an ISO string")
    try:
        when = ledger.from_epoch_ms(at) if isinstance(at, int) else datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    except (ValueError, OverflowError) as e:
        raise ValueError("ledger.event.at is not a time") from e
    return ledger.Event(chain, seq, type_, when, d.get("data"), prev, h, v)


def check(manifest: dict[str, Any], export_record: dict[str, Any], res: Result,
          trusted_keys: set[str] | None) -> None:
    """Check a format-2 manifest's inclusion proof; failures go to ``res`` under ``ledger_proof``, naming the
    part that failed (the leaf, the audit path, the tree head, the checkpoint key)."""
    expected = export_record.get("effective_event")
    proof = manifest.get("ledger")
    state = export_record.get("state")
    if proof is None:
        if expected:
            res.fail(CHECK, f"the export seal names effective event {expected}, but its inclusion proof was "
                            "removed from the file")
            res.ledger_proof = "missing"
        elif state == "effective":  # a server always embeds one; the seal says this export has none
            res.ledger_proof = "absent (exported without an inclusion proof)"
        else:
            res.ledger_proof = f"not applicable (the agreement was {state or 'not effective'} when exported)"
        if not expected:
            res.check(CHECK, None, res.ledger_proof)
        return
    problems: list[str] = []
    try:
        if not isinstance(proof, dict) or proof.get("format") != FORMAT:
            raise ValueError(f"the manifest's ledger member is not {FORMAT}")
        ev = event_of(proof.get("event"))
        index, path_raw = proof.get("leaf_index"), proof.get("path")
        if not (isinstance(index, int) and not isinstance(index, bool) and isinstance(path_raw, list)
                and all(isinstance(p, str) for p in path_raw)):
            raise ValueError("ledger.leaf_index or ledger.path is missing or mistyped")
        path = [bytes.fromhex(p) for p in path_raw]
        if any(len(p) != 32 for p in path):
            raise ValueError("ledger.path holds a hash that is not 32 bytes")
        sth = SignedTreeHead.from_dict(proof.get("checkpoint"))
        root = bytes.fromhex(sth.root)
    except ValueError as e:
        res.fail(CHECK, f"the inclusion proof is malformed: {e}")
        res.ledger_proof = "malformed"
        return
    # 1. The leaf: the embedded event is genuine and is this agreement's effective event.
    if ev.recompute() != ev.hash:
        problems.append("the leaf: the embedded event does not hash to its recorded hash (it was edited)")
    data = ev.data if isinstance(ev.data, dict) else {}
    if (ev.type != EFFECTIVE or data.get("number") != export_record.get("agreement")
            or data.get("version") != export_record.get("version")
            or data.get("document_hash") != export_record.get("document_hash")):
        problems.append("the leaf: the embedded event is not this agreement version's effective event")
    if (proof.get("chain"), proof.get("seq"), proof.get("event_hash")) != (ev.chain, ev.seq, ev.hash):
        problems.append("the leaf: the proof's chain, seq or event_hash is not its event's")
    if expected != ev.hash:
        problems.append(f"the leaf: the export seal names effective event {expected}, not {ev.hash}")
    # 2. The audit path, from the leaf hash to the signed root.
    try:
        leaf = merkle.leaf_hash(bytes.fromhex(ev.hash))
    except ValueError:
        leaf = b""
    if not merkle.verify_inclusion(leaf, index, sth.size, path, root):
        problems.append(f"the audit path does not lead from leaf {index} to the root of the signed tree of "
                        f"{sth.size} leaves")
    # 3. The tree head's signature, and whose key made it.
    if not sth.signature_ok():
        problems.append("the tree head: its signature does not verify under the key it names")
    elif trusted_keys is not None and sth.key_id not in trusted_keys:
        problems.append(f"the checkpoint key: the tree head is signed by key {sth.key_id}, which is not the "
                        "city's checkpoint key given to the verifier")
    elif trusted_keys is None:
        res.warnings.append(f"the ledger checkpoint key {sth.key_id} was checked only against the key inside the "
                            "file: compare it with the key_id `concord checkpoint export` prints")
    for p in problems:
        res.fail(CHECK, p)
    res.ledger_proof = "invalid" if problems else (
        f"verified: event {ev.chain} #{ev.seq} is leaf {index} of the tree of {sth.size} leaves signed "
        f"{sth.as_dict()['time']} by key {sth.key_id}")
    if not problems:
        res.check(CHECK, True, res.ledger_proof)


def standalone(events: list[ledger.Event], index: int, timestamp_ms: int, key_id: str,
               key: Any) -> tuple[list[str], SignedTreeHead]:
    """The audit path of ``events[index]`` in the tree over ``events`` (in that order) and its head signed
    with ``key``: for building a proof without a database (tests, benchmarks, ``concord demo`` data)."""
    hashes = [merkle.leaf_hash(bytes.fromhex(e.hash)) for e in events]
    head = sign_head(len(hashes), merkle.root_of_hashes(hashes).hex(), timestamp_ms, key_id, key)
    return [p.hex() for p in merkle.inclusion_proof(hashes, index)], head
