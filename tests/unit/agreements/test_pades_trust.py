"""The PDF signature against tools nobody here wrote: poppler's ``pdfsig`` (with the exported root in an NSS
database) and pyHanko's validator (with it as trust anchor) accept the export; a byte flipped anywhere in the
signed range, a cut-off revision, another CA, another unit and a revoked certificate fail."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from server.agreements.ca_cli import export as export_ca
from server.agreements.export import Sealer, export_agreement_pdf
from server.agreements.keys import Keyring, TrustedKeys
from server.agreements.verify import verify_pdf
from tests.conftest import REQUIRED
from tests.support.agreement_sample import sample_content, signed_sample

# In CI (CONCORD_REQUIRE_SERVICES=1) they run regardless, so a missing tool fails instead of skipping.
needs_pdfsig = pytest.mark.skipif(not (shutil.which("pdfsig") and shutil.which("certutil")) and not REQUIRED,
                                  reason="pdfsig (poppler-utils) and certutil (libnss3-tools): .ci/run installs them")


@pytest.fixture(scope="module")
def ca_export(keyring: Keyring, exported: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ca-export")
    export_ca(keyring.city_ca(), out)
    return out


@pytest.fixture(scope="module")
def nssdb(ca_export: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh NSS database trusting only the exported root (what a poppler reader's user imports)."""
    d = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{d}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{d}", "-n", "Concord root", "-t", "CT,C,C",
                    "-i", str(ca_export / "root.pem")], check=True, capture_output=True)
    return f"sql:{d}"


def pdfsig(pdf: bytes, nss: str, tmp: Path) -> str:
    f = tmp / "x.pdf"
    f.write_bytes(pdf)
    return subprocess.run(["pdfsig", "-nssdir", nss, str(f)], capture_output=True, text=True,
                          timeout=60).stdout


def pyhanko_bottom_line(pdf: bytes, root_pem: bytes) -> bool:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from server.agreements.ca import load_certificates

    root = asn1_x509.Certificate.load(load_certificates(root_pem)[0].public_bytes(Encoding.DER))
    try:
        sigs = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
        if len(sigs) != 1:
            return False
        st = validate_pdf_signature(sigs[0], ValidationContext(trust_roots=[root]))
    except Exception:  # unreadable or unverifiable: not valid, whatever pyHanko raises
        return False
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    return bool(st.bottom_line and st.coverage == SignatureCoverageLevel.ENTIRE_FILE)


def signed_range(pdf: bytes) -> list[tuple[int, int]]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    br = list(PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0].sig_object["/ByteRange"])
    return [(br[0], br[0] + br[1]), (br[2], br[2] + br[3])]


@needs_pdfsig
def test_pdfsig_reports_the_export_valid_and_trusted(exported: bytes, nssdb: str, tmp_path: Path) -> None:
    out = pdfsig(exported, nssdb, tmp_path)
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Certificate Validation: Certificate is Trusted." in out, out
    assert "Total document signed" in out and "Signer Certificate Common Name: 龙亢镇人民调解委员会" in out
    assert "serialNumber=340321001" in out and "Signature Type: ETSI.CAdES.detached" in out


def test_pyhanko_validates_with_the_exported_root(exported: bytes, ca_export: Path) -> None:
    assert pyhanko_bottom_line(exported, (ca_export / "root.pem").read_bytes())
    assert pyhanko_bottom_line(exported, (ca_export / "root.cer").read_bytes())
    assert (ca_export / "crl.der").stat().st_size > 0 and list((ca_export / "units").glob("340321001-*.pem"))


@needs_pdfsig
def test_a_flipped_byte_anywhere_in_the_signed_range_fails_all_three(exported: bytes, trusted: TrustedKeys,
                                                                     ca_export: Path, nssdb: str,
                                                                     tmp_path: Path) -> None:
    root_pem = (ca_export / "root.pem").read_bytes()
    ranges = signed_range(exported)
    assert ranges[0][0] == 0 and ranges[1][1] == len(exported)
    # Evenly over both ranges: the header, pages, fonts, the manifest, xref tables and the last revision.
    positions = [a + (b - a) * k // 12 for a, b in ranges for k in range(12)] + [ranges[1][1] - 2]
    for i in positions:
        bad = bytearray(exported)
        bad[i] ^= 0x01
        pdf = bytes(bad)
        r = verify_pdf(pdf, trusted)
        assert not r.ok, (i, r.every_check())
        assert not pyhanko_bottom_line(pdf, root_pem), i
        assert "Signature is Valid." not in pdfsig(pdf, nssdb, tmp_path) or "Total document signed" not in \
            pdfsig(pdf, nssdb, tmp_path), i


def test_a_cut_off_signature_revision_fails(exported: bytes, trusted: TrustedKeys) -> None:
    start, _ = signed_range(exported)[1]
    before = exported.rfind(b"%%EOF", 0, signed_range(exported)[0][1])
    assert before > 0
    # The file as it was before the PAdES revision: the manifest intact, its seal gone.
    stripped = exported[:before + len(b"%%EOF\n")]
    r = verify_pdf(stripped, trusted)
    assert r.primary.check == "pades_missing" and "cut off" in r.primary.message
    assert verify_pdf(stripped, trusted, check_pades=False).ok  # only the PAdES check can tell
    # Cut in the middle of the signature revision, and just before its end.
    for cut in (start + (len(exported) - start) // 2, len(exported) - 8):
        r = verify_pdf(exported[:cut], trusted)
        assert not r.ok and r.primary.check in ("pades_missing", "file_changed", "manifest_missing"), cut


def test_another_ca_and_another_unit_are_untrusted(tmp_path: Path, trusted: TrustedKeys) -> None:
    # A look-alike chain: same names, another root.
    forger = Keyring(tmp_path / "forger", b"forger")
    d, sealer = signed_sample(forger)
    pdf = export_agreement_pdf(d, forger.public_keys(), sealer)
    r = verify_pdf(pdf, TrustedKeys(forger.public_keys(), "their keys", trusted.roots, trusted.crls))
    assert r.primary.check == "pades_untrusted" and "does not chain" in r.primary.message
    # The right root, but another unit's certificate seals this unit's agreement.
    ring = Keyring(tmp_path / "city", b"city")
    d, sealer = signed_sample(ring)
    other = ring.city_ca().unit_seal("340321002", "河溜镇")
    pdf = export_agreement_pdf(d, ring.public_keys(), Sealer(sealer.unit, sealer.key_id, sealer.private_key,
                                                             sealer.unit_name, sealer.key_created_at, other))
    r = verify_pdf(pdf, ring.trusted())
    assert r.primary.check == "pades_untrusted" and "unit 340321002's" in r.primary.message


def test_rotation_and_revocation(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys", b"s")
    ca = ring.city_ca()
    d, sealer = signed_sample(ring)
    before = export_agreement_pdf(d, ring.public_keys(), sealer)
    old_seal = sealer.seal
    assert old_seal is not None
    # Rotation: a new certificate; the older document still verifies.
    new = ca.rotate("340321001", "龙亢镇")
    d2, sealer2 = signed_sample(ring, sample_content(number="龙亢调字〔2026〕第13号"))
    rotated = export_agreement_pdf(d2, ring.public_keys(), sealer2)
    for pdf in (before, rotated):
        assert verify_pdf(pdf, ring.trusted()).ok
    assert verify_pdf(rotated, ring.trusted()).pades["serial"] == new.serial != old_seal.certificate.serial_number
    # Revoking the old certificate now: what it signed before stays valid, and says when it was revoked.
    # The CRL counts whole seconds and a tie counts as revoked, so let the second of the signature pass.
    time.sleep(1.1)
    ca.revoke("340321001", serial=format(old_seal.certificate.serial_number, "x"), reason="superseded")
    r = verify_pdf(before, ring.trusted())
    assert r.ok and "after this document was signed" in next(c.detail for c in r.checks if c.name == "pades_revoked")
    # A document signed with the revoked certificate afterwards (a stolen key) fails.
    late = export_agreement_pdf(d, ring.public_keys(), Sealer(sealer.unit, sealer.key_id, sealer.private_key,
                                                              sealer.unit_name, sealer.key_created_at, old_seal))
    r = verify_pdf(late, ring.trusted())
    assert r.primary.check == "pades_revoked" and "was revoked at" in r.primary.message
    # Revoked from a time before it signed (the key leaked earlier): the older document fails too.
    ca.revoke("340321001", at=datetime.now(UTC) - timedelta(days=1))
    assert verify_pdf(before, ring.trusted()).primary.check == "pades_revoked"
    # The CRL an offline verifier is given decides the same way; the next seal gets a fresh certificate.
    offline = TrustedKeys(ring.public_keys(), "export", [ca.root_certificate()], [ca.crl()])  # type: ignore[list-item]
    assert verify_pdf(before, offline).primary.check == "pades_revoked"
    assert len(ca.certificates("340321001")) == 2
    d3, sealer3 = signed_sample(ring, sample_content(number="龙亢调字〔2026〕第14号"))
    assert verify_pdf(export_agreement_pdf(d3, ring.public_keys(), sealer3), ring.trusted()).ok
    assert len(ca.certificates("340321001")) == 3


def test_keys_and_crl_files(tmp_path: Path) -> None:
    from server.agreements.ca import load_crl
    from server.agreements.keys import KeyStoreError

    ring = Keyring(tmp_path / "k", b"s1")
    seal = ring.city_ca().unit_seal("340321001", "龙亢镇")
    stored = (tmp_path / "k" / "ca" / "units" / "340321001.json").read_text()
    assert "BEGIN PRIVATE KEY" not in stored and "ciphertext" in stored
    assert seal.certificate.issuer == seal.root.subject and ring.city_ca().unit_seal("340321001", "龙亢镇") is seal
    with pytest.raises(KeyStoreError):
        Keyring(tmp_path / "k", b"other").city_ca().unit_seal("340321001", "龙亢镇")
    # Renaming the unit issues a certificate with the new name.
    renamed = Keyring(tmp_path / "k", b"s1").city_ca().unit_seal("340321001", "龙亢镇新")
    assert "龙亢镇新人民调解委员会" in renamed.certificate.subject.rfc4514_string()
    crl = load_crl(ring.city_ca().crl())
    assert crl.is_signature_valid(seal.root.public_key()) and len(list(crl)) == 0  # type: ignore[arg-type]
    with pytest.raises(KeyStoreError):
        ring.city_ca().revoke("340329999")
