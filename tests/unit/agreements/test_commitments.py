"""Salted commitments, masking of signature evidence, the two copies' manifests, and format-1 files."""

from __future__ import annotations

import io
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from server.agreements.commitments import commit, mask_ip, new_salts, opens, redact, ua_family
from server.agreements.content import canonical_json, parse_content
from server.agreements.document import FORMAT_V1, document_hash
from server.agreements.export import export_agreement_pdf
from server.agreements.keys import Keyring, TrustedKeys, b64
from server.agreements.manifest import MANIFEST_NAME
from server.agreements.pdf import PdfInput
from server.agreements.signing import GENESIS, RECORD_FORMAT_V1, SignedRecord, record_hash
from server.agreements.text import render_text
from server.agreements.verify import verify_pdf
from tests.support.agreement_sample import UA_PHONE, sample_content, signed_sample
from tests.support.leaks import find_leaks
from tests.unit.agreements.test_verify import with_manifest

ADDRESS = "SECRETADDR-河畔小区4号"
PHONE = "13955501234"


def dv_content() -> Any:
    d = sample_content(parties=3).to_dict()
    d["parties"][1].update(address=ADDRESS, phone=PHONE, confidential=True)
    return parse_content(d)


def manifest_of(pdf: bytes) -> dict[str, Any]:
    return json.loads(PdfReader(io.BytesIO(pdf)).attachments[MANIFEST_NAME][0])


def test_commit_opens_only_with_its_salt_and_value() -> None:
    salt = "00" * 16
    c = commit(PHONE, salt)
    assert opens(c, PHONE, salt)
    assert not opens(c, PHONE, "01" * 16) and not opens(c, "13955501235", salt) and not opens(c, PHONE, "zz")


def test_redact_blanks_confidential_fields_and_commits_to_them() -> None:
    content = dv_content().to_dict()
    salts = new_salts(content)
    assert set(salts) == {"p2.address", "p2.phone"} and salts["p2.address"] != salts["p2.phone"]
    assert new_salts(content) != salts  # random per document
    red, commitments = redact(content, salts)
    assert red["parties"][1]["address"] == "" and red["parties"][1]["phone"] == ""
    assert red["parties"][0] == content["parties"][0]  # other parties untouched
    assert opens(commitments["p2.address"], ADDRESS, salts["p2.address"])
    assert content["parties"][1]["address"] == ADDRESS  # the stored content is not changed


def test_masks() -> None:
    assert mask_ip("203.0.113.77") == "203.0.113.x"
    assert mask_ip("::ffff:198.51.100.9") == "198.51.100.x"
    assert mask_ip("2001:db8:85a3::8a2e:370:7334") == "2001:db8:85a3:x"
    assert mask_ip("") == "" and mask_ip("not an ip") == "x"
    assert ua_family(UA_PHONE) == "Android Chrome"
    assert ua_family("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) MicroMessenger/8.0.4") == "iOS 微信"
    assert ua_family("curl/8.0") == "other" and ua_family("") == ""


def test_both_copies_verify_and_only_the_staff_copy_opens_the_evidence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ring = Keyring(tmp_path, b"secret")
    staff_in, sealer = signed_sample(ring, dv_content(), audience="staff")
    trusted = ring.trusted("test")
    staff = export_agreement_pdf(staff_in, ring.public_keys(), sealer)
    party_in = PdfInput(**{**staff_in.__dict__, "audience": "party",
                           "records": [SignedRecord(r.payload, r.signature) for r in staff_in.records]})
    party = export_agreement_pdf(party_in, ring.public_keys(), sealer)
    for pdf in (staff, party):
        r = verify_pdf(pdf, trusted)
        assert r.ok and r.pdf_signature == "intact", r.failures
        assert find_leaks(pdf, {ADDRESS, PHONE}) == []
    ips = {f"192.0.2.{10 + i}" for i in range(1, 6)}
    assert {h.marker for h in find_leaks(staff, ips | {"Pixel 7"})} == ips | {"Pixel 7"}
    assert find_leaks(party, ips | {"Pixel 7"}) == []
    assert "evidence" in manifest_of(staff)["signatures"][0] and "evidence" not in manifest_of(party)["signatures"][0]


def test_commitment_tampering_is_caught(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ring = Keyring(tmp_path, b"secret")
    d, sealer = signed_sample(ring, dv_content())
    pdf = export_agreement_pdf(d, ring.public_keys(), sealer, pades=False)
    trusted = ring.trusted("test")
    m = manifest_of(pdf)
    m["document"]["commitments"]["p2.phone"] = commit("13900000000", "00" * 16)  # another phone
    assert verify_pdf(with_manifest(pdf, m), trusted).primary.check == "text_changed"
    m = manifest_of(pdf)
    del m["document"]["commitments"]
    assert verify_pdf(with_manifest(pdf, m), trusted).primary.check == "manifest_malformed"
    m = manifest_of(pdf)
    m["document"]["commitments"]["p1.address"] = "ab" * 32  # p1 is not confidential
    assert verify_pdf(with_manifest(pdf, m), trusted).primary.check == "manifest_malformed"
    m = manifest_of(pdf)
    m["signatures"][0]["record"]["ip"] = "198.51.100.x"  # the masked value is signed too
    assert verify_pdf(with_manifest(pdf, m), trusted).primary.check == "signature_invalid"


def legacy_export(ring: Keyring) -> tuple[bytes, TrustedKeys]:
    """A file as exported before format 2: full content hashed, records signing the full IP and agent."""
    content = dv_content()
    text = render_text(content)
    h = document_hash(content.to_dict(), text)
    d, sealer = signed_sample(ring, content)
    key: Ed25519PrivateKey = sealer.private_key
    records: list[SignedRecord] = []
    prev = GENESIS
    for r in d.records:
        p = dict(r.payload, format=RECORD_FORMAT_V1, document_hash=h, prev=prev, ip="192.0.2.50",
                 user_agent=UA_PHONE)
        p.pop("evidence_commitments")
        sig = b64(key.sign(canonical_json(p)))
        records.append(SignedRecord(p, sig))
        prev = record_hash(p, sig)
    old = PdfInput(content=content, text=text, version=1, document_hash=h, state="effective", records=records,
                   images=d.images, verify_url=d.verify_url, exported_at=d.exported_at, effective_at=d.effective_at)
    return export_agreement_pdf(old, ring.public_keys(), sealer), ring.trusted("test")


def test_format_1_files_still_verify(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pdf, trusted = legacy_export(Keyring(tmp_path, b"secret"))
    assert manifest_of(pdf)["document"]["format"] == FORMAT_V1
    r = verify_pdf(pdf, trusted)
    assert r.ok, r.failures
    bad = bytearray(pdf)
    bad[bad.index(b"stream\n") + 80] ^= 1
    assert not verify_pdf(bytes(bad), trusted).ok
