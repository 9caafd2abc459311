"""The inclusion proof an effective agreement's PDF carries (manifest format 2), checked offline; tampering
with its leaf, audit path or tree head fails as ``ledger_proof`` naming the part; a format-1 export (before
proofs) is reported as such, by version."""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pypdf import PdfReader

from server import ledger
from server.agreements import ledger_proof
from server.agreements.export import Sealer, attach_manifest, build_manifest, export_agreement_pdf, pades_sign
from server.agreements.keys import Keyring, TrustedKeys, key_id_of
from server.agreements.manifest import MANIFEST_FORMAT_V1, export_record_v1, page_digests
from server.agreements.pdf import PdfInput, render_agreement
from server.agreements.verify import verify_pdf
from tests.unit.agreements.test_cli import run
from tests.unit.agreements.test_verify import manifest_of, with_manifest

CITY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
CITY_ID = key_id_of(CITY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
T0 = datetime(2026, 1, 15, 2, 5, tzinfo=UTC)


def tree_with(d: PdfInput, *, before: int = 6, after: int = 3, key: Ed25519PrivateKey = CITY) -> dict[str, Any]:
    """A ledger of a few chains in which agreement ``d`` takes effect (event ``before``), and the manifest's
    ``ledger`` member proving it against a head signed over ``before + 1 + after`` leaves."""
    events: list[ledger.Event] = []
    last: dict[str, ledger.Event] = {}

    def add(chain: str, type_: str, data: Any) -> ledger.Event:
        ev = ledger.make_event(chain, last.get(chain), type_, data, T0)
        last[chain] = ev
        events.append(ev)
        return ev

    for i in range(before):
        add("case:7" if i % 2 else "session:3", "case.note", {"i": i, "amount": 10.5})
    eff = add("case:7", "agreement.effective", {"agreement": 12, "number": d.content.number, "version": d.version,
                                                "document_hash": d.document_hash, "signatures": len(d.records)})
    for i in range(after):
        add("directory", "unit.updated", {"i": i})
    kid = key_id_of(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    path, head = ledger_proof.standalone(events, before, ledger.epoch_ms(T0), kid, key)
    return ledger_proof.entry(eff, before, path, head)


@pytest.fixture(scope="module")
def proof(signed: tuple[PdfInput, Sealer]) -> dict[str, Any]:
    return tree_with(signed[0])


@pytest.fixture(scope="module")
def proven(keyring: Keyring, signed: tuple[PdfInput, Sealer], proof: dict[str, Any]) -> bytes:
    d, sealer = signed
    return export_agreement_pdf(d, keyring.public_keys(), sealer, proof=proof)


def with_proof(pdf: bytes, change: Any) -> bytes:
    m = manifest_of(pdf)
    change(m["ledger"]) if m.get("ledger") is not None else None
    return with_manifest(pdf, m)


def test_the_proof_verifies_offline(proven: bytes, trusted: TrustedKeys) -> None:
    r = verify_pdf(proven, trusted, ledger_keys={CITY_ID})
    assert r.ok, r.failures
    assert r.manifest_format == "concord-agreement-manifest/2"
    assert r.ledger_proof.startswith("verified: event case:7 #4 is leaf 6 of the tree of 10 leaves")
    assert CITY_ID in r.ledger_proof and not r.warnings
    m = manifest_of(proven)
    assert m["export"]["record"]["effective_event"] == m["ledger"]["event"]["hash"]
    # Without the city's key id the head is checked against the key it carries, and the verdict says so.
    r = verify_pdf(proven, trusted)
    assert r.ok and any("checkpoint key" in w and CITY_ID in w for w in r.warnings)


def test_a_head_signed_by_another_key_fails_as_the_checkpoint_key(proven: bytes, trusted: TrustedKeys) -> None:
    r = verify_pdf(proven, trusted, check_pades=False, ledger_keys={"0123456789abcdef"})
    assert [f.check for f in r.failures] == ["ledger_proof"] and "the checkpoint key" in r.primary.message


def test_every_tree_size_and_position_verifies(keyring: Keyring, signed: tuple[PdfInput, Sealer]) -> None:
    """Edge positions of the RFC 6962 path: first leaf, last leaf, a tree of one, odd sizes."""
    d, _ = signed
    for before, after in ((0, 0), (0, 4), (5, 0), (7, 8), (1, 1)):
        entry = tree_with(d, before=before, after=after)
        res = verify_pdf_member(entry, d)
        assert res == [], (before, after, res)


def verify_pdf_member(entry: dict[str, Any], d: PdfInput) -> list[str]:
    """Run the ledger check alone on a manifest holding ``entry`` (no PDF needed)."""
    from server.agreements.verify import Result

    res = Result()
    record = {"agreement": d.content.number, "version": d.version, "document_hash": d.document_hash,
              "state": "effective", "effective_event": entry["event"]["hash"]}
    ledger_proof.check({"ledger": entry}, record, res, {CITY_ID})
    return [f.message for f in res.failures]


@pytest.mark.parametrize(("change", "part"), [
    (lambda p: p["event"]["data"].__setitem__("signatures", 3), "the leaf: the embedded event does not hash"),
    (lambda p: p["event"].__setitem__("at", p["event"]["at"] + 1), "the leaf: the embedded event does not hash"),
    (lambda p: p.__setitem__("leaf_index", p["leaf_index"] + 1), "the audit path does not lead from leaf 7"),
    (lambda p: p.__setitem__("seq", 9), "the leaf: the proof's chain, seq or event_hash is not its event's"),
    (lambda p: p["path"].__setitem__(0, "00" * 32), "the audit path does not lead"),
    (lambda p: p["path"].pop(), "the audit path does not lead"),
    (lambda p: p["checkpoint"].__setitem__("root", "ab" * 32), "the audit path does not lead"),
    (lambda p: p["checkpoint"].__setitem__("timestamp", p["checkpoint"]["timestamp"] + 1),
     "the tree head: its signature does not verify"),
    (lambda p: p["checkpoint"].__setitem__("size", p["checkpoint"]["size"] + 1), "the tree head"),
])
def test_tampering_fails_naming_the_part(proven: bytes, trusted: TrustedKeys, change: Any, part: str) -> None:
    r = verify_pdf(with_proof(proven, change), trusted, check_pades=False, ledger_keys={CITY_ID})
    assert {f.check for f in r.failures} == {"ledger_proof"}, r.failures
    assert any(part in f.message for f in r.failures), r.failures
    assert r.ledger_proof == "invalid"


def test_a_consistent_forgery_under_another_key_fails(proven: bytes, signed: tuple[PdfInput, Sealer],
                                                      trusted: TrustedKeys) -> None:
    """Rebuild the whole tree and sign it with a key of one's own: every hash agrees, the key does not."""
    forged = tree_with(signed[0], key=Ed25519PrivateKey.generate())
    r = verify_pdf(with_proof(proven, lambda p: p.update(forged)), trusted, check_pades=False,
                   ledger_keys={CITY_ID})
    assert [f.check for f in r.failures] == ["ledger_proof"] and "the checkpoint key" in r.primary.message


def test_another_agreements_proof_fails_as_the_leaf(proven: bytes, keyring: Keyring, trusted: TrustedKeys,
                                                    signed: tuple[PdfInput, Sealer]) -> None:
    other = copy.deepcopy(signed[0])
    other.document_hash = "ee" * 32
    r = verify_pdf(with_proof(proven, lambda p: p.update(tree_with(other))), trusted, check_pades=False,
                   ledger_keys={CITY_ID})
    msgs = [f.message for f in r.failures if f.check == "ledger_proof"]
    assert any("not this agreement version's effective event" in m for m in msgs), r.failures
    assert any("the export seal names effective event" in m for m in msgs), r.failures


def test_removing_the_proof_fails(proven: bytes, trusted: TrustedKeys) -> None:
    m = manifest_of(proven)
    m["ledger"] = None
    r = verify_pdf(with_manifest(proven, m), trusted, check_pades=False)
    assert [f.check for f in r.failures] == ["ledger_proof"] and "was removed" in r.primary.message
    del m["ledger"]
    assert verify_pdf(with_manifest(proven, m), trusted, check_pades=False).ledger_proof == "missing"


def test_a_malformed_proof_is_named(proven: bytes, trusted: TrustedKeys) -> None:
    for change in (lambda p: p.__setitem__("path", "ab"), lambda p: p["event"].__setitem__("at", "yesterday"),
                   lambda p: p.__setitem__("format", "x"), lambda p: p["checkpoint"].pop("signature"),
                   lambda p: p["path"].__setitem__(0, "zz")):
        r = verify_pdf(with_proof(proven, change), trusted, check_pades=False)
        assert [f.check for f in r.failures] == ["ledger_proof"] and "malformed" in r.primary.message
        assert r.ledger_proof == "malformed"


def export_v1(d: PdfInput, keyring: Keyring, sealer: Sealer) -> bytes:
    """An export as Concord made them before manifest format 2: per-page digests over the pypdf objects,
    no drawn-revision hash, no ledger member."""
    raw = render_agreement(d)
    record = export_record_v1(d.content.number, d.version, d.document_hash,
                              page_digests(PdfReader(io.BytesIO(raw))), d.exported_at, sealer.unit, sealer.key_id)
    manifest = build_manifest(d, keyring.public_keys(), record, sealer.sign(record))
    manifest["format"] = MANIFEST_FORMAT_V1
    del manifest["ledger"]
    return pades_sign(attach_manifest(raw, manifest), sealer, d)


def test_a_format_1_export_is_reported_by_version(keyring: Keyring, signed: tuple[PdfInput, Sealer],
                                                  trusted: TrustedKeys) -> None:
    d, sealer = signed
    old = export_v1(d, keyring, sealer)
    r = verify_pdf(old, trusted, ledger_keys={CITY_ID})
    assert r.ok, r.failures
    assert r.manifest_format == MANIFEST_FORMAT_V1
    assert r.ledger_proof == "absent (concord-agreement-manifest/1: exported before inclusion proofs)"
    # Its page digests still guard it: a page redrawn is caught by the old walk.
    m = manifest_of(old)
    m["export"]["record"]["pages"][0] = "00" * 32
    r = verify_pdf(with_manifest(old, m), trusted, check_pades=False)
    assert r.failed("signature_invalid") or r.failed("text_changed")


def test_an_export_before_effect_carries_no_proof(keyring: Keyring, signed: tuple[PdfInput, Sealer],
                                                  trusted: TrustedKeys) -> None:
    d, sealer = signed
    draft = copy.copy(d)
    draft.state = "signing"
    r = verify_pdf(export_agreement_pdf(draft, keyring.public_keys(), sealer, pades=False), trusted,
                   check_pades=False)
    assert r.ok and r.ledger_proof == "not applicable (the agreement was signing when exported)"


def test_cli_checks_the_proof_against_a_kept_checkpoint(proven: bytes, keyring: Keyring, tmp_path: Path) -> None:
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(proven)
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps(keyring.export()))
    head = tmp_path / "checkpoint.json"  # what `concord checkpoint export` prints, kept outside
    head.write_text(json.dumps(manifest_of(proven)["ledger"]["checkpoint"]))
    r = run("verify-agreement", str(pdf), "--keyring", str(ring), "--checkpoint-key", str(head), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ledger inclusion proof: verified: event case:7 #4" in r.stdout and "warning" not in r.stdout
    r = run("verify-agreement", str(pdf), "--keyring", str(ring), "--checkpoint-key", "0123456789abcdef",
            "--json", cwd=tmp_path)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["check"] == "ledger_proof" and out["ledger_proof"] == "invalid"
    r = run("verify-agreement", str(pdf), "--checkpoint-key", "not-a-key", cwd=tmp_path)
    assert r.returncode == 2 and "not-a-key" in r.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_javascript_verifier_accepts_the_embedded_proof(proven: bytes, tmp_path: Path) -> None:
    """The manifest's ledger member is also `concord checkpoint prove`'s format: the JS verifier, written
    from docs/ledger.md alone, checks it as extracted from the PDF."""
    member = tmp_path / "ledger.json"
    member.write_text(json.dumps(manifest_of(proven)["ledger"], ensure_ascii=False))
    tool = Path(__file__).resolve().parents[3] / "tools" / "verify-ledger.mjs"
    r = subprocess.run(["node", str(tool), "--proof", str(member)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("OK case:7 seq 4 is leaf 6 of the tree of 10"), r.stdout + r.stderr
    bad = manifest_of(proven)["ledger"]
    bad["path"][0] = "00" * 32
    member.write_text(json.dumps(bad))
    r = subprocess.run(["node", str(tool), "--proof", str(member)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1


def test_a_byte_flipped_in_the_manifest_revision_fails_without_crashing(proven: bytes, trusted: TrustedKeys) -> None:
    """The revision that holds the manifest and the proof: every flipped byte fails a named check, without an
    exception. (A flip in the PAdES revision's own structure can hide the signature from the reader: that
    is the PAdES check's to refuse, docs/agreements.md "Verification".)"""
    from server.security.uploads import UploadRefused

    n = manifest_of(proven)["export"]["record"]["drawn"]["byte_range"][1]
    end = proven.index(b"%%EOF", n) + 5
    for pos in range(n, end, max(1, (end - n) // 41)):
        bad = bytearray(proven)
        bad[pos] ^= 0x01
        try:
            r = verify_pdf(bytes(bad), trusted, ledger_keys={CITY_ID})
        except UploadRefused:
            continue  # refused before reading: also not a pass
        assert not r.ok and r.primary is not None, pos
