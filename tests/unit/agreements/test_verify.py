"""Tamper cases: each must fail verification with the right reason."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NullObject

from server.agreements.content import canonical_json
from server.agreements.export import export_agreement_pdf
from server.agreements.keys import Keyring, TrustedKeys, b64
from server.agreements.manifest import MANIFEST_NAME
from server.agreements.pdf import render_plain_text
from server.agreements.verify import verify_pdf
from server.security.uploads import UploadRefused
from tests.support.agreement_sample import sample_content, signed_sample, stroke_png


def manifest_of(pdf: bytes) -> dict[str, Any]:
    return json.loads(PdfReader(io.BytesIO(pdf)).attachments[MANIFEST_NAME][0])


def with_manifest(pdf: bytes, manifest: dict[str, Any] | bytes, *, rewrite: bool = False) -> bytes:
    """Swap in a different manifest, as an incremental update that leaves the sealed drawn revision in place
    (so each test meets the check it aims at), or ``rewrite`` the whole file (what a PDF editor does)."""
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf))) if rewrite else PdfWriter(io.BytesIO(pdf), incremental=True)
    if not rewrite:
        w._add_object(NullObject())  # pypdf reuses the number of the previous revision's xref stream
    names = w._root_object.get("/Names")
    if names is not None:
        del names.get_object()[NameObject("/EmbeddedFiles")]
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest, ensure_ascii=False).encode()
    w.add_attachment(MANIFEST_NAME, data)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def flip_outside_pages(pdf: bytes, *, drawn: bool = False) -> bytes:
    """Flip one byte of a /Creator string: inside the PAdES signed range, outside every page. The last one
    is in a revision after the drawn one (only the PDF signature covers it); ``drawn``: the first one, in
    the drawn revision (its sealed SHA-256 covers it too)."""
    found = list(re.finditer(rb"/Creator \((.)", pdf))
    assert len(found) >= 2
    m = found[0] if drawn else found[-1]
    out = bytearray(pdf)
    out[m.start(1)] ^= 0x01
    return bytes(out)


def check(pdf: bytes, trusted: TrustedKeys | None) -> str | None:
    r = verify_pdf(pdf, trusted)
    return r.primary.check if r.primary else None


def test_intact_export_verifies(exported: bytes, trusted: TrustedKeys) -> None:
    r = verify_pdf(exported, trusted)
    assert r.ok, r.failures
    assert len(r.signers) == 4 and r.trusted_by == "test keyring" and not r.warnings
    # Without a trusted root the PDF signature cannot be trusted: that fails (closed), naming the check.
    untrusted = verify_pdf(exported, None)
    assert not untrusted.ok and untrusted.primary.check == "pades_untrusted" and untrusted.warnings
    # The root alone (no keyring): the seal is trusted, the record keys are checked against the file.
    roots_only = TrustedKeys([], "", trusted.roots, trusted.crls, keys_given=False)
    r = verify_pdf(exported, roots_only)
    assert r.ok and r.trusted_by is None and r.warnings and r.pades["trusted"] and r.pades["revoked"] is False


def test_a_rewritten_pdf_fails_as_a_changed_file(exported: bytes, trusted: TrustedKeys) -> None:
    # Everything signed is unchanged, but the file is no longer the one sealed: its drawn bytes (manifest
    # format 2) and the PAdES signature both refuse it.
    rewritten = with_manifest(exported, manifest_of(exported), rewrite=True)
    r = verify_pdf(rewritten, trusted)
    assert [f.check for f in r.failures] == ["text_changed", "file_changed"] and r.pdf_signature == "broken"
    assert "drawn revision" in r.primary.message
    appended = with_manifest(exported, manifest_of(exported))  # the same manifest, appended: only PAdES sees it
    r = verify_pdf(appended, trusted)
    assert [f.check for f in r.failures] == ["file_changed"] and r.pdf_signature == "extended"


def test_a_byte_flipped_inside_the_signed_range_fails(exported: bytes, trusted: TrustedKeys) -> None:
    # A byte that no page draws (the document information) and that the manifest does not hold.
    tampered = flip_outside_pages(exported)
    r = verify_pdf(tampered, trusted)
    assert not r.ok and r.primary.check == "file_changed" and "PAdES" in r.primary.message
    assert verify_pdf(tampered, trusted, check_pades=False).ok  # only the PDF signature sees this change


def test_a_byte_flipped_in_the_drawn_revision_fails_even_without_pades(exported: bytes, trusted: TrustedKeys) -> None:
    # The same, in the drawn revision (manifest format 2 seals its SHA-256): both checks see it.
    tampered = flip_outside_pages(exported, drawn=True)
    r = verify_pdf(tampered, trusted)
    assert [f.check for f in r.failures] == ["text_changed", "file_changed"]
    assert "drawn revision (bytes 0–" in r.primary.message
    assert not verify_pdf(tampered, trusted, check_pades=False).ok


def test_a_flip_in_the_final_xref_or_signature_dictionary_fails_without_a_crash(exported: bytes,
                                                                                 trusted: TrustedKeys) -> None:
    """Every byte of the last revision (the PAdES signature dictionary, the final xref and trailer), flipped
    one at a time: the verdict fails or the upload is refused; never an exception, never a pass. A damaged
    xref once raised OverflowError out of pypdf, and a broken signature once read as "absent" and passed."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", exported[exported.rfind(b"/ByteRange"):])
    assert m is not None
    start = int(m.group(3))
    for pos in range(start, len(exported), 3):
        tampered = bytearray(exported)
        tampered[pos] ^= 0x01
        try:
            r = verify_pdf(bytes(tampered), trusted)
        except UploadRefused:
            continue  # a filter name or structure the bounded parser refuses (422 on /api/verify)
        assert not r.ok, f"a flip at byte {pos} of {len(exported)} passed"


def test_content_appended_after_the_signature_fails(exported: bytes, trusted: TrustedKeys) -> None:
    w = PdfWriter(io.BytesIO(exported), incremental=True)
    w.add_metadata({"/Subject": "appended"})
    out = io.BytesIO()
    w.write(out)
    r = verify_pdf(out.getvalue(), trusted)
    assert r.primary.check == "file_changed" and r.pdf_signature == "extended"


def test_flipped_byte_in_page_text(exported: bytes, trusted: TrustedKeys) -> None:
    reader = PdfReader(io.BytesIO(exported))
    ref = reader.pages[0].raw_get("/Contents")
    start = exported.index(b"\n%d 0 obj" % ref.idnum)
    data = exported.index(b"stream\n", start) + len(b"stream\n")
    tampered = bytearray(exported)
    tampered[data + 40] ^= 0x01
    r = verify_pdf(bytes(tampered), trusted)
    assert r.primary.check == "text_changed" and "drawn revision" in r.primary.message


@pytest.mark.parametrize("incremental", [False, True])
def test_rewritten_page_text(exported: bytes, trusted: TrustedKeys, incremental: bool) -> None:
    """A valid PDF whose page 1 draws different glyphs (e.g. another number), manifest untouched: rewritten
    (the sealed drawn bytes differ) or appended as an update that redefines the page's content stream."""
    w = PdfWriter(io.BytesIO(exported), incremental=True) if incremental else PdfWriter(
        clone_from=PdfReader(io.BytesIO(exported)))
    page = w.pages[0]
    content = page.get_contents()
    data = content.get_data()
    # Swap two glyphs of the third line drawn (a literal string of 2-byte glyph ids).
    starts = [m.end() for m in re.finditer(rb"Td \(", data)]
    i = next(i for i in starts[2:] if b"\\" not in data[i:i + 4] and data[i:i + 2] != data[i + 2:i + 4])
    changed = data[:i] + data[i + 2:i + 4] + data[i:i + 2] + data[i + 4:]
    content.set_data(changed)
    page.replace_contents(content)
    out = io.BytesIO()
    w.write(out)
    r = verify_pdf(out.getvalue(), trusted)
    assert r.primary.check == "text_changed"
    assert ("page 1 no longer draws" if incremental else "drawn revision") in r.primary.message, r.failures


def test_manifest_text_edited(exported: bytes, trusted: TrustedKeys) -> None:
    m = manifest_of(exported)
    m["document"]["text"] = m["document"]["text"].replace("6,000.00", "600.00")
    assert check(with_manifest(exported, m), trusted) == "text_changed"
    m = manifest_of(exported)
    m["document"]["content"]["obligations"][0]["amount"] = "600.00"
    assert check(with_manifest(exported, m), trusted) == "text_changed"


def test_hash_rewritten_with_the_text(exported: bytes, trusted: TrustedKeys) -> None:
    """Changing the text and recomputing the hash still fails: the export seal and signatures disagree."""
    from server.agreements.document import document_hash

    m = manifest_of(exported)
    m["document"]["text"] = m["document"]["text"].replace("6,000.00", "600.00")
    m["document"]["hash"] = document_hash(m["document"]["content"], m["document"]["text"])
    r = verify_pdf(with_manifest(exported, m), trusted)
    assert r.primary.check == "text_changed"
    assert r.failed("signature_invalid")


def test_signatures_swapped_between_agreements(keyring: Keyring, exported: bytes, trusted: TrustedKeys) -> None:
    d2, sealer = signed_sample(keyring, sample_content(number="龙亢调字〔2026〕第13号"))
    other = export_agreement_pdf(d2, keyring.public_keys(), sealer)
    m = manifest_of(exported)
    m["signatures"] = manifest_of(other)["signatures"]
    r = verify_pdf(with_manifest(exported, m), trusted)
    assert r.primary.check == "signature_invalid" and "different document" in r.primary.message


@pytest.mark.parametrize("drop", [0, 1, 3])
def test_signer_dropped_from_manifest(exported: bytes, trusted: TrustedKeys, drop: int) -> None:
    m = manifest_of(exported)
    gone = m["signatures"].pop(drop)["record"]["signer"]["name"]
    r = verify_pdf(with_manifest(exported, m), trusted)
    assert r.primary.check == "signer_missing", r.failures
    assert gone in " ".join(f.message for f in r.failures)


def _resign(m: dict[str, Any], attacker: Keyring, keep_key_id: bool) -> dict[str, Any]:
    m = copy.deepcopy(m)
    kid, key = attacker.signing_key("340321001")
    for s in m["signatures"]:
        if not keep_key_id:
            s["record"]["key_id"] = kid
        s["signature"] = b64(key.sign(canonical_json(s["record"])))
    prev = "0" * 64
    from server.agreements.signing import record_hash

    for s in m["signatures"]:  # keep the chain consistent, so only the key is wrong
        s["record"]["prev"] = prev
        s["signature"] = b64(key.sign(canonical_json(s["record"])))
        prev = record_hash(s["record"], s["signature"])
    if not keep_key_id:
        m["export"]["record"]["key_id"] = kid
        m["keys"].append(attacker.public_keys("340321001")[0].as_dict())
    m["export"]["signature"] = b64(key.sign(canonical_json(m["export"]["record"])))
    return m


def test_wrong_key(exported: bytes, trusted: TrustedKeys, tmp_path: Path) -> None:
    attacker = Keyring(tmp_path, b"attacker")
    # Re-signed with another key that is carried in the file: the trusted keyring does not know it.
    forged = with_manifest(exported, _resign(manifest_of(exported), attacker, keep_key_id=False))
    r = verify_pdf(forged, trusted)
    assert r.primary.check == "unknown_key" and "does not know" in r.primary.message
    # Signed with another key while claiming the unit's key id: the signatures do not verify.
    forged = with_manifest(exported, _resign(manifest_of(exported), attacker, keep_key_id=True))
    assert check(forged, trusted) == "signature_invalid"
    # A key id that is in neither the file nor the keyring.
    m = manifest_of(exported)
    m["signatures"][0]["record"]["key_id"] = "0123456789abcdef"
    assert check(with_manifest(exported, m), trusted) == "unknown_key"


def test_replaced_signature_image(exported: bytes, trusted: TrustedKeys) -> None:
    import base64

    m = manifest_of(exported)
    m["signatures"][0]["image"] = base64.b64encode(stroke_png(9)).decode()
    r = verify_pdf(with_manifest(exported, m), trusted)
    assert r.primary.check == "signature_invalid" and "image" in r.primary.message


def test_edited_record_field(exported: bytes, trusted: TrustedKeys) -> None:
    m = manifest_of(exported)
    m["signatures"][0]["record"]["ip"] = "203.0.113.9"
    assert check(with_manifest(exported, m), trusted) == "signature_invalid"


def test_manifest_missing_and_malformed(exported: bytes, trusted: TrustedKeys) -> None:
    plain = render_plain_text("标题", "标题\n正文内容\n", "页脚")
    r = verify_pdf(plain, trusted)
    assert r.primary.check == "manifest_missing"
    assert check(b"not a pdf at all", trusted) == "manifest_missing"
    assert check(b"%PDF-1.7\n garbage", trusted) == "manifest_missing"
    assert check(with_manifest(exported, b"{not json"), trusted) == "manifest_malformed"
    m = manifest_of(exported)
    del m["signatures"]
    assert check(with_manifest(exported, m), trusted) == "manifest_malformed"
    m = manifest_of(exported)
    m["signatures"][0]["record"]["seq"] = "1"
    assert check(with_manifest(exported, m), trusted) == "manifest_malformed"
    m = manifest_of(exported)
    m["keys"][0]["public_key"] = "AAAA"
    assert check(with_manifest(exported, m), trusted) == "manifest_malformed"
    assert check(with_manifest(exported, b"[]"), trusted) == "manifest_malformed"


def test_second_manifest_is_refused(exported: bytes, trusted: TrustedKeys) -> None:
    w = PdfWriter(io.BytesIO(exported), incremental=True)
    w.add_attachment(MANIFEST_NAME, json.dumps(manifest_of(exported)).encode())
    out = io.BytesIO()
    w.write(out)
    assert check(out.getvalue(), trusted) == "manifest_malformed"


def test_rotation_keeps_old_agreements_valid(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, b"s")
    d, sealer = signed_sample(ring)
    pdf = export_agreement_pdf(d, ring.public_keys(), sealer)
    ring.rotate("340321001")
    assert check(pdf, ring.trusted("rotated")) is None


def test_pades_signature_covers_the_export(exported: bytes, trusted: TrustedKeys) -> None:
    r = verify_pdf(exported, trusted, check_pades=True)
    assert r.ok and r.pdf_signature == "intact"
    tampered = bytearray(exported)
    i = tampered.index(b"stream\n") + 100
    tampered[i] ^= 1
    r = verify_pdf(bytes(tampered), trusted, check_pades=True)
    assert r.pdf_signature == "broken" and not r.ok
    # A signature is visible to ordinary readers: one signature field, signed by the unit's seal key.
    from pyhanko.pdf_utils.reader import PdfFileReader

    sigs = PdfFileReader(io.BytesIO(exported)).embedded_signatures
    assert len(sigs) == 1 and "龙亢镇人民调解委员会" in sigs[0].signer_cert.subject.human_friendly
