"""PAdES B-T: with CONCORD_TSA_URL set, the export carries an RFC 3161 timestamp from that authority (here a
small one served over HTTP in-process, pyHanko's DummyTimeStamper behind aiohttp), and the verifier takes the
signing time from it when the authority is trusted."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.agreements.export import export_agreement_pdf
from server.agreements.keys import Keyring
from server.agreements.pades import check_seal
from server.agreements.verify import verify_pdf
from tests.support.agreement_sample import signed_sample


def tsa_certs() -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    """A TSA root and its timestamping certificate (EKU timeStamping, critical, as RFC 3161 requires; RSA:
    pyHanko's DummyTimeStamper signs only with RSA)."""
    now = datetime.now(UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(root_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
            .issuer_name(root_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(root_key, hashes.SHA256()))
    return root, cert, key


@pytest.fixture(scope="module")
def tsa() -> Iterator[tuple[str, x509.Certificate]]:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import tsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.timestamps import DummyTimeStamper

    root, cert, key = tsa_certs()
    dummy = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())),
        certs_to_embed=[asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))])
    served: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        req = tsp.TimeStampReq.load(await request.read())
        served.append(1)
        return web.Response(body=dummy.request_tsa_response(req).dump(), content_type="application/timestamp-reply")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/tsa", handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}/tsa", root
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(10)
    assert served, "the TSA was never asked"


def test_b_t_export_carries_the_authority_s_time(tsa: tuple[str, x509.Certificate], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url, tsa_root = tsa
    monkeypatch.setenv("CONCORD_TSA_URL", url)
    ring = Keyring(tmp_path / "keys", b"s")
    d, sealer = signed_sample(ring)
    pdf = export_agreement_pdf(d, ring.public_keys(), sealer)
    # The verifier trusts the city root; the TSA is not trusted there: B-T, the claimed time, a warning.
    r = verify_pdf(pdf, ring.trusted())
    assert r.ok, r.every_check()
    assert r.pades["profile"] == "B-T" and r.pades["time_source"] == "claimed" and any("timestamp" in w for w in r.warnings)
    # With the TSA's root trusted, the signing time is the timestamp's.
    seal = check_seal(pdf, ring.trusted().roots, ring.trusted().crls, unit="340321001", tsa_roots=[tsa_root])
    assert seal.state == "intact" and seal.trusted and seal.profile == "B-T" and seal.time_source == "timestamp"
    assert abs(datetime.fromisoformat(seal.signed_at.replace("Z", "+00:00")) - datetime.now(UTC)) < timedelta(minutes=5)
    if shutil.which("pdfsig"):
        f = tmp_path / "bt.pdf"
        f.write_bytes(pdf)
        out = subprocess.run(["pdfsig", str(f)], capture_output=True, text=True, timeout=60).stdout
        assert "Signature Validation: Signature is Valid." in out and "Total document signed" in out


def test_an_unreachable_tsa_refuses_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # B-T was asked for: an export without the timestamp would silently be B-B, so it fails instead.
    monkeypatch.setenv("CONCORD_TSA_URL", "http://127.0.0.1:9/tsa")
    ring = Keyring(tmp_path / "keys", b"s")
    d, sealer = signed_sample(ring)
    with pytest.raises(Exception) as e:
        export_agreement_pdf(d, ring.public_keys(), sealer)
    assert "ClientConnector" in type(e.value).__name__ or "Timestamp" in type(e.value).__name__ \
        or "connect" in str(e.value).lower(), repr(e.value)

