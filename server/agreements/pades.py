"""The PAdES signature over the whole exported file (pyHanko), which PDF readers check.

The unit's seal certificate (ECDSA P-256, issued by the city root: ca.py) signs the file as an incremental
update on top of the manifest: PAdES baseline B-B with the chain (unit certificate and root) embedded, or
B-T when ``CONCORD_TSA_URL`` names an RFC 3161 timestamp authority, whose token then fixes the signing
time. ``check_seal`` reads it back for the verifier: present, intact, covering the whole file, chained
to a trusted root, issued to the agreement's unit, and not revoked at the time it was made.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from server.agreements.ca import UnitSeal, load_crl, unit_name_attrs

FIELD_NAME = "ConcordSeal"
T = TypeVar("T")


def tsa_url() -> str:
    """CONCORD_TSA_URL: an RFC 3161 timestamp authority (HTTP POST); unset means PAdES B-B."""
    return os.environ.get("CONCORD_TSA_URL", "").strip()


def _asn1_cert(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509  # heavy: loaded on first use

    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def sign_pdf(pdf: bytes, seal: UnitSeal, *, reason: str, location: str, timestamper: Any = None) -> bytes:
    """``timestamper``: a pyHanko TimeStamper; by default an HTTPTimeStamper for CONCORD_TSA_URL, if set."""
    from asn1crypto import keys as asn1_keys  # heavy: loaded on first use
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # heavy: loaded on first use
    from pyhanko.sign import fields, signers  # heavy: loaded on first use
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata  # heavy: loaded on first use
    from pyhanko_certvalidator.registry import SimpleCertificateStore  # heavy: loaded on first use

    if timestamper is None and tsa_url():
        from pyhanko.sign.timestamps import HTTPTimeStamper  # heavy: loaded on first use

        timestamper = HTTPTimeStamper(tsa_url(), timeout=10)
    a_key = asn1_keys.PrivateKeyInfo.load(seal.private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8,
                                                                         NoEncryption()))
    signer = signers.SimpleSigner(
        signing_cert=_asn1_cert(seal.certificate), signing_key=a_key,
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(seal.certificate), _asn1_cert(seal.root)]))
    meta = PdfSignatureMetadata(field_name=FIELD_NAME, reason=reason, location=location, md_algorithm="sha256",
                                subfilter=fields.SigSeedSubFilter.PADES)

    def run() -> bytes:
        out = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        signers.sign_pdf(writer, meta, signer=signer, timestamper=timestamper, output=out)
        return out.getvalue()

    return _outside_loop(run)


def _outside_loop(fn: Callable[[], T]) -> T:
    """pyHanko's sync calls run their own event loop: inside a running one, give them a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()  # the usual case: an executor thread or a plain script
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(fn).result()


@dataclass
class SealCheck:
    """What the verifier learns from the file's PAdES signature."""

    state: str = "absent"  # absent | broken | extended | intact
    detail: str = ""
    trusted: bool = False
    trust_detail: str = ""
    revoked: bool | None = None  # None: no CRL to check against
    revocation_detail: str = ""
    profile: str = ""  # B-B | B-T
    signer: str = ""
    unit: str = ""
    serial: str = ""
    signed_at: str = ""
    time_source: str = ""  # timestamp | claimed
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "profile": self.profile, "signer": self.signer, "unit": self.unit,
                "serial": self.serial, "signed_at": self.signed_at, "time_source": self.time_source,
                "trusted": self.trusted, "revoked": self.revoked}


def check_seal(pdf: bytes, roots: list[x509.Certificate], crls: list[bytes], *, unit: str = "",
               tsa_roots: list[x509.Certificate] | None = None) -> SealCheck:
    return _outside_loop(lambda: _check_seal(pdf, roots, crls, unit, tsa_roots or []))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_seal(pdf: bytes, roots: list[x509.Certificate], crls: list[bytes], unit: str,
                tsa_roots: list[x509.Certificate]) -> SealCheck:
    from pyhanko.pdf_utils.reader import PdfFileReader  # heavy: loaded on first use
    from pyhanko.sign.validation import validate_pdf_signature  # heavy: loaded on first use
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # heavy: loaded on first use
    from pyhanko_certvalidator import ValidationContext  # heavy: loaded on first use

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # untrusted or broken input is reported by us
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    out = SealCheck()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as e:
        out.detail = f"the PDF's signature dictionary cannot be read ({type(e).__name__})"
        return out
    seal = next((s for s in sigs if s.field_name == FIELD_NAME), None)
    if seal is None:
        out.detail = "the file carries no PDF signature (PAdES)" if not sigs else \
            f"the file carries no {FIELD_NAME} signature"
        return out
    if len(sigs) > 1:
        out.state, out.detail = "extended", "another signature was added after the seal"
        return out
    anchors = [_asn1_cert(c) for c in roots]
    ctx = ValidationContext(trust_roots=anchors, allow_fetching=False, revocation_mode="soft-fail") if anchors \
        else ValidationContext(trust_roots=[], allow_fetching=False)
    ts_ctx = ValidationContext(trust_roots=anchors + [_asn1_cert(c) for c in tsa_roots], allow_fetching=False)
    try:
        status = validate_pdf_signature(seal, signer_validation_context=ctx, ts_validation_context=ts_ctx,
                                        skip_diff=True)
    except Exception as e:
        out.state, out.detail = "broken", f"the PDF signature cannot be checked ({type(e).__name__})"
        return out
    if not (status.intact and status.valid):
        out.state = "broken"
        out.detail = "a byte inside the range covered by the PDF signature (PAdES) was changed after signing"
        return out
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        out.state, out.detail = "extended", "content was added to the file after its PDF signature (PAdES)"
        return out
    out.state, out.detail = "intact", "the PDF signature (PAdES) covers the whole file, unchanged"
    cert = x509.load_der_x509_certificate(seal.signer_cert.dump())
    out.unit, out.signer = unit_name_attrs(cert)
    out.serial = format(cert.serial_number, "x")
    # When it was signed: the timestamp authority's time (B-T), else the time the signature claims.
    ts = status.timestamp_validity
    out.profile = "B-T" if ts is not None else "B-B"
    when = status.signer_reported_dt
    out.time_source = "claimed"
    if ts is not None:
        if not (ts.intact and ts.valid):
            out.state, out.detail = "broken", "the signature's timestamp token does not verify"
            return out
        if ts.trusted:
            when, out.time_source = ts.timestamp, "timestamp"
        else:
            out.warnings.append("the timestamp authority is not trusted here: the signing time is the one the "
                                "signature claims")
    out.signed_at = _iso(when) if when else ""
    _trust(out, status, cert, roots, unit)
    if out.trusted:
        _revocation(out, cert, roots, crls, when)
    return out


def _trust(out: SealCheck, status: Any, cert: x509.Certificate, roots: list[x509.Certificate], unit: str) -> None:
    if not roots:
        out.trust_detail = "no trusted root is given (the city's root certificate: concord ca export)"
    elif not status.trusted:
        out.trust_detail = (f"the signing certificate ({out.signer}, issued by {cert.issuer.rfc4514_string()}) "
                            "does not chain to a trusted root")
    elif unit and out.unit != unit:
        out.trust_detail = f"the signing certificate is unit {out.unit or '?'}'s, but the agreement is unit {unit}'s"
    else:
        out.trusted = True
        out.trust_detail = f"signed by {out.signer} (unit {out.unit}), certificate {out.serial}, chained to the root"


def _revocation(out: SealCheck, cert: x509.Certificate, roots: list[x509.Certificate], crls: list[bytes],
                when: datetime | None) -> None:
    checked = False
    for raw in crls:
        try:
            crl = load_crl(raw)
        except ValueError:
            out.warnings.append("a CRL given is not readable and was ignored")
            continue
        issuer = next((r for r in roots if r.subject == crl.issuer == cert.issuer), None)
        if issuer is None:
            continue
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            out.warnings.append("a CRL given is not signed by the root and was ignored")
            continue
        checked = True
        hit = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if hit is None:
            continue
        at = hit.revocation_date_utc
        if when is None or when >= at:
            out.revoked = True
            out.revocation_detail = (f"certificate {out.serial} was revoked at {_iso(at)}; the document was signed "
                                     f"at {out.signed_at or 'an unknown time'} ({out.time_source} time)")
            return
        out.revocation_detail = (f"certificate {out.serial} was revoked at {_iso(at)}, after this document was "
                                 f"signed ({out.signed_at}, {out.time_source} time)")
    if checked:
        out.revoked = False
        out.revocation_detail = out.revocation_detail or f"certificate {out.serial} is not on the CRL"
    else:
        out.revocation_detail = "no CRL from the root is given: revocation was not checked"
        out.warnings.append(out.revocation_detail)
