"""docs/ledger.md's examples are true: the example chain verifies in Python and in the JavaScript verifier,
each canonical line is what the server hashes and hashes to the event's hash, and the example tree, proofs
and signed checkpoint check out."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server import ledger, merkle, treehead
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "ledger.md").read_text("utf-8")


def block(name: str) -> str:
    m = re.search(rf"<!-- example:{name} -->\n```\w*\n(.*?)\n```", DOC, re.S)
    assert m, f"docs/ledger.md has no example:{name} block"
    return m.group(1)


def lines(name: str) -> list[str]:
    return [x for x in block(name).split("\n") if x]  # not splitlines(): text may hold U+2028


def _events() -> list[ledger.Event]:
    out = []
    for line in lines("export"):
        d = json.loads(line)
        at = d["at"] if d["v"] == 1 else ledger.from_epoch_ms(d["at"])
        if isinstance(at, str):
            at = ledger.datetime.fromisoformat(at.replace("Z", "+00:00"))
        out.append(ledger.Event(d["chain"], d["seq"], d["type"], at, d["data"], d["prev_hash"], d["hash"], d["v"]))
    return out


def test_the_example_chain_verifies_and_its_canonical_lines_are_exact() -> None:
    evs = _events()
    assert [e.v for e in evs] == [1, 2, 2]
    assert ledger.verify(evs, "case:9").ok
    canon = lines("canonical")
    for ev, line in zip(evs, canon, strict=True):
        assert ledger.canonical(ev.chain, ev.seq, ev.type, ev.at, ev.data, ev.v) == line.encode("utf-8")
        assert hashlib.sha256(ev.prev_hash.encode("ascii") + line.encode("utf-8")).hexdigest() == ev.hash
        assert ev.export() == json.loads(lines("export")[ev.seq - 1])


def test_the_javascript_verifier_accepts_the_example_and_names_an_edit(tmp_path: Path) -> None:
    node = shutil.which("node")
    need("node (for the JavaScript ledger verifier)", node is not None)
    assert node is not None
    f = tmp_path / "case-9.jsonl"
    f.write_text(block("export") + "\n", "utf-8")
    r = subprocess.run([node, str(ROOT / "tools" / "verify-ledger.mjs"), str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "OK 3 events", r.stdout + r.stderr
    f.write_text(block("export").replace('"ok": true', '"ok": false') + "\n", "utf-8")
    r = subprocess.run([node, str(ROOT / "tools" / "verify-ledger.mjs"), str(f)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and r.stdout.startswith("BAD event seq=3:"), r.stdout


def test_the_example_tree_and_proofs() -> None:
    vals = dict(x.split(": ", 1) for x in lines("merkle"))
    leaves = [merkle.leaf_hash(bytes.fromhex(e.hash)) for e in _events()]
    assert [vals[f"leaf {i}"] for i in range(3)] == [x.hex() for x in leaves]
    assert vals["root 2"] == merkle.root_of_hashes(leaves[:2]).hex()
    assert vals["root 3"] == merkle.root_of_hashes(leaves).hex()
    path = [bytes.fromhex(x) for x in vals["inclusion of leaf 1 in size 3"].split()]
    assert merkle.verify_inclusion(leaves[1], 1, 3, path, bytes.fromhex(vals["root 3"]))
    cons = [bytes.fromhex(x) for x in vals["consistency of size 2 with size 3"].split()]
    assert merkle.verify_consistency(2, 3, bytes.fromhex(vals["root 2"]), bytes.fromhex(vals["root 3"]), cons)


def test_the_example_checkpoint_is_signed_by_the_stated_key() -> None:
    d = json.loads(block("checkpoint"))
    sth = treehead.SignedTreeHead.from_dict(d)
    assert sth.signature_ok() and sth.root == dict(x.split(": ", 1) for x in lines("merkle"))["root 3"]
    signed = treehead.signed_message(sth.size, sth.root, sth.timestamp_ms).decode()
    assert f"The signed bytes are `{signed}`" in DOC
    seed = re.search(r"secret seed\n`([0-9a-f]{64})`", DOC)
    assert seed
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed.group(1)))
    again = treehead.sign_head(sth.size, sth.root, sth.timestamp_ms, sth.key_id, key)
    assert again == sth and d["time"] == "2026-01-02T03:06:00.000Z"
    assert not treehead.SignedTreeHead.from_dict({**d, "size": 2}).signature_ok()


def test_the_javascript_verifier_checks_the_example_checkpoint_and_an_inclusion_proof(tmp_path: Path) -> None:
    node = shutil.which("node")
    need("node (for the JavaScript ledger verifier)", node is not None)
    assert node is not None

    def js(kind: str, doc: dict) -> subprocess.CompletedProcess:
        f = tmp_path / "in.json"
        f.write_text(json.dumps(doc, ensure_ascii=False))
        return subprocess.run([node, str(ROOT / "tools" / "verify-ledger.mjs"), kind, str(f)], capture_output=True,
                              text=True, timeout=60)

    head = json.loads(block("checkpoint"))
    r = js("--checkpoint", head)
    assert r.returncode == 0 and r.stdout.startswith("OK checkpoint of 3 leaves"), r.stdout + r.stderr
    assert js("--checkpoint", {**head, "size": 2}).stdout.startswith("BAD checkpoint: the signature")
    vals = dict(x.split(": ", 1) for x in lines("merkle"))
    ev = _events()[1]
    proof = {"chain": ev.chain, "seq": ev.seq, "event_hash": ev.hash, "leaf_index": 1,
             "path": vals["inclusion of leaf 1 in size 3"].split(), "checkpoint": head}
    r = js("--proof", proof)
    assert r.returncode == 0 and r.stdout.startswith("OK case:9 seq 2 is leaf 1 of the tree of 3"), r.stdout + r.stderr
    r = js("--proof", {**proof, "event_hash": _events()[2].hash})
    assert r.returncode == 1 and "is not at leaf 1" in r.stdout
    r = js("--proof", {**proof, "leaf_index": 2})
    assert r.returncode == 1
