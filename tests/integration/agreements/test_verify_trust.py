"""Fail closed, the same everywhere: a file whose PDF signature was cut off, or made with a revoked seal
certificate, fails in ``concord verify-agreement``, ``POST /api/verify`` and the ``/verify`` page with the
same named check; the server publishes its CRL at /ca/crl.der and its root at /ca/root.cer."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from server.agreements.ca import load_crl
from server.agreements.export import export_agreement_pdf
from server.services import services
from tests.conftest import cli_env
from tests.integration.agreements.test_verify_page import upload
from tests.support.agreement_sample import signed_sample


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, env=cli_env(),
                          cwd=cwd, timeout=120)


async def verdicts(client, pdf: bytes, data_dir: Path, tmp: Path) -> list[str | None]:  # type: ignore[no-untyped-def]
    """The failed check from the CLI (trusting the server's data directory), the API and the page."""
    f = tmp / "a.pdf"
    f.write_bytes(pdf)
    r = cli("verify-agreement", str(f), "--data-dir", str(data_dir), "--json", cwd=tmp)
    out = json.loads(r.stdout)
    assert (r.returncode == 0) == out["ok"]
    assert {c["name"] for c in out["checks"]} >= {"pades_missing", "file_changed", "pades_untrusted", "pades_revoked"}
    api = await client.post("/api/verify", data=pdf, headers={"Content-Type": "application/pdf"})
    body = await api.json()
    api_check = None if api.status == 200 else body["error"]["code"]
    status, html = await upload(client, pdf, "en")
    page_check = None if status == 200 else html.split('data-check="')[1].split('"')[0]
    return [out["check"], api_check, page_check]


async def test_cut_off_and_revoked_fail_in_cli_api_and_page(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ring = services(client.app).agreement_keys
    data_dir = services(client.app).config.data_dir
    d, sealer = signed_sample(ring)
    pdf = export_agreement_pdf(d, ring.public_keys(), sealer)
    assert await verdicts(client, pdf, data_dir, tmp_path) == [None, None, None]
    # The revision carrying the PDF signature cut off: the manifest is intact, the seal is gone.
    br_end = pdf.index(b"/ByteRange")
    cut = pdf[:pdf.rfind(b"%%EOF", 0, br_end) + len(b"%%EOF\n")]
    assert await verdicts(client, cut, data_dir, tmp_path) == ["pades_missing"] * 3
    status, html = await upload(client, cut)
    assert status == 422 and "缺少 PDF 电子签章" in html
    # The unit's certificate revoked from before it signed (its key leaked): fails; a new one is issued.
    ring.city_ca().revoke("340321001", at=datetime.now(UTC) - timedelta(hours=1))  # (the CLI: test_ca_commands)
    assert await verdicts(client, pdf, data_dir, tmp_path) == ["pades_revoked"] * 3
    status, html = await upload(client, pdf)
    assert "签章证书已被吊销" in html
    d2, sealer2 = signed_sample(ring)
    assert sealer2.seal is not None and sealer2.seal.certificate.serial_number != sealer.seal.certificate.serial_number  # type: ignore[union-attr]
    assert await verdicts(client, export_agreement_pdf(d2, ring.public_keys(), sealer2), data_dir,
                          tmp_path) == [None, None, None]
    # The CRL and the root are published; the CRL lists the revoked certificate, signed by the root.
    crl_resp = await client.get("/ca/crl.der")
    assert crl_resp.status == 200 and crl_resp.content_type == "application/pkix-crl"
    root_resp = await client.get("/ca/root.cer")
    root = x509.load_der_x509_certificate(await root_resp.read())
    crl = load_crl(await crl_resp.read())
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(sealer.seal.certificate.serial_number) is not None  # type: ignore[union-attr]


def test_ca_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli("ca", "init", "--name", "蚌埠市人民调解电子印章根证书", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("made: ") and "SHA-256 fingerprint" in r.stdout
    r = cli("ca", "init", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("exists: ") and "蚌埠市" in r.stdout
    r = cli("ca", "issue", "340321001", "--name", "龙亢镇", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and "O=龙亢镇人民调解委员会" in r.stdout, r.stdout + r.stderr
    r = cli("ca", "issue", "340321009", "--data-dir", str(data), cwd=tmp_path)  # not in the (empty) database
    assert r.returncode == 1 and "no unit" in r.stderr
    r = cli("ca", "rotate", "340321001", "--name", "龙亢镇", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and "retired (not revoked)" in r.stdout
    r = cli("ca", "revoke", "340321002", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 1 and "no certificate to revoke" in r.stderr
    r = cli("ca", "revoke", "340321001", "--at", "yesterday", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 2
    r = cli("ca", "list", "--data-dir", str(data), cwd=tmp_path)
    certs = json.loads(r.stdout)
    assert [c["retired_at"] is None for c in certs] == [False, True] and all(c["revoked_at"] is None for c in certs)
    r = cli("ca", "export", str(tmp_path / "out"), "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "out" / "root.cer").is_file() and (tmp_path / "out" / "crl.der").is_file()
    assert len(list((tmp_path / "out" / "units").glob("340321001-*.pem"))) == 2
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = cli("ca", "revoke", "340321001", "--at", at, "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.count("revoked unit 340321001") == 2, r.stderr
    r = cli("ca", "crl", "--pem", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("-----BEGIN X509 CRL-----")
    crl = load_crl(r.stdout.encode())
    assert len(list(crl)) == 2 and all(abs(c.revocation_date_utc - datetime.fromisoformat(at)) < timedelta(seconds=1)
                                       for c in crl)


async def test_export_is_refused_when_the_timestamp_authority_is_unreachable(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """B-T was asked for (CONCORD_TSA_URL): the download is a 503, never a silently B-B file."""
    from tests.conftest import login
    from tests.integration.agreements.helpers import create_frozen

    h = await login(client, "mediator")
    a = await create_frozen(client, h)
    r = await client.get(f"/api/agreements/{a['id']}/pdf", headers=h)
    assert r.status == 200 and (await r.read()).startswith(b"%PDF-")
    monkeypatch.setenv("CONCORD_TSA_URL", "http://127.0.0.1:9/tsa")
    r = await client.get(f"/api/agreements/{a['id']}/pdf", headers=h)
    assert r.status == 503 and (await r.json())["error"]["code"] == "tsa_unavailable"
