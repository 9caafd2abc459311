"""A PAdES signature over the whole exported file (pyHanko), so ordinary PDF readers show it as signed.

The signing key is the unit's own Ed25519 seal key; its certificate is self-issued, derived
deterministically from the key (serial = key id, validity from the key's creation), so every export of a
unit carries the same certificate. Readers therefore show "signed by 龙亢镇人民调解委员会" with an identity
they cannot chain to a public CA; the legal evidence remains the signature records and the manifest, which
``concord verify-agreement`` checks. The PAdES signature is an incremental update on top of the manifest.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

FIELD_NAME = "ConcordSeal"


def unit_certificate(key: Ed25519PrivateKey, key_id: str, unit_code: str, unit_name: str,
                     created_at: datetime) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{unit_name}人民调解委员会"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Concord"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, unit_code),
    ])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(int(key_id, 16)).not_valid_before(created_at)
            .not_valid_after(created_at + timedelta(days=365 * 30))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, None))


def sign_pdf(pdf: bytes, key: Ed25519PrivateKey, cert: x509.Certificate, *, reason: str, location: str) -> bytes:
    from asn1crypto import keys as asn1_keys  # heavy: loaded on first use
    from asn1crypto import x509 as asn1_x509  # heavy: loaded on first use
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # heavy: loaded on first use
    from pyhanko.sign import fields, signers  # heavy: loaded on first use
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata  # heavy: loaded on first use
    from pyhanko_certvalidator.registry import SimpleCertificateStore  # heavy: loaded on first use

    a_cert = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    a_key = asn1_keys.PrivateKeyInfo.load(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
    signer = signers.SimpleSigner(signing_cert=a_cert, signing_key=a_key,
                                  cert_registry=SimpleCertificateStore.from_certs([a_cert]))
    meta = PdfSignatureMetadata(field_name=FIELD_NAME, reason=reason, location=location, md_algorithm="sha512",
                                subfilter=fields.SigSeedSubFilter.PADES)

    def run() -> bytes:
        out = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        signers.sign_pdf(writer, meta, signer=signer, output=out)
        return out.getvalue()

    return _outside_loop(run)


def _outside_loop(fn):  # type: ignore[no-untyped-def]
    """pyHanko's sync calls run their own event loop: inside a running one, give them a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()  # the usual case: an executor thread or a plain script
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(fn).result()


def pades_status(pdf: bytes) -> str:
    return _outside_loop(lambda: _pades_status(pdf))


def _pades_status(pdf: bytes) -> str:
    """``intact``, ``broken`` (the signed bytes changed), ``extended`` (something was appended after the
    signature) or ``absent``: whether the last PAdES signature covers the whole file unchanged (cryptographic integrity only: the self-issued certificate is not chained to any CA)."""
    import logging

    from pyhanko.pdf_utils.reader import PdfFileReader  # heavy: loaded on first use
    from pyhanko.sign.validation import validate_pdf_signature  # heavy: loaded on first use
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # heavy: loaded on first use
    from pyhanko_certvalidator import ValidationContext  # heavy: loaded on first use

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # untrusted roots are expected here
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception:
        return "absent"
    if not sigs:
        return "absent"
    sig = sigs[-1]
    try:
        ctx = ValidationContext(trust_roots=[sig.signer_cert])
        status = validate_pdf_signature(sig, signer_validation_context=ctx, skip_diff=True)
    except Exception:
        return "broken"
    if not (status.intact and status.valid):
        return "broken"  # a byte inside the signed range differs
    return "intact" if status.coverage == SignatureCoverageLevel.ENTIRE_FILE else "extended"
