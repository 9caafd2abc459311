"""``concord verify-agreement FILE`` as a subprocess: exit codes and the named check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from server.agreements.keys import Keyring
from tests.conftest import cli_env


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, env=cli_env(),
                          cwd=cwd, timeout=120)


def test_valid_file_exits_zero(exported_file: Path, keyring: Keyring, tmp_path: Path) -> None:
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps(keyring.export()))
    r = run("verify-agreement", str(exported_file), "--keyring", str(ring), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("OK agreement 龙亢调字〔2026〕第12号 version 1") and "keys trusted by" in r.stdout
    assert "PAdES): intact, B-B, 龙亢镇人民调解委员会" in r.stdout and "check pades_revoked: ok" in r.stdout
    # Without anything to trust, the PDF signature cannot be trusted: it fails (closed).
    r = run("verify-agreement", str(exported_file), cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.startswith("FAILED pades_untrusted: no trusted root"), r.stdout
    # With the exported root alone it verifies, and says the record keys were only checked against the file.
    root = tmp_path / "root.pem"
    cert = keyring.city_ca().root_certificate()
    assert cert is not None
    root.write_bytes(cert.public_bytes(Encoding.PEM))
    r = run("verify-agreement", str(exported_file), "--root", str(root), cwd=tmp_path)
    assert r.returncode == 0 and "warning: no trusted keyring" in r.stdout, r.stdout
    r = run("verify-agreement", str(exported_file), "--root", str(root), "--require-trusted", cwd=tmp_path)
    assert r.returncode == 1 and "unknown_key" in r.stderr
    r = run("verify-agreement", str(exported_file), "--root", str(exported_file), cwd=tmp_path)
    assert r.returncode == 2 and "cannot load" in r.stderr


def test_tampered_file_exits_one_naming_the_check(exported_file: Path, tmp_path: Path) -> None:
    data = bytearray(exported_file.read_bytes())
    i = data.index(b"stream\n") + 60
    data[i] ^= 0xFF
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(bytes(data))
    r = run("verify-agreement", str(bad), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.startswith("FAILED text_changed:") or r.stdout.startswith("FAILED manifest_"), r.stdout
    r = run("verify-agreement", str(bad), "--json", cwd=tmp_path)
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False


def test_byte_flipped_inside_the_signed_range_exits_one(exported_file: Path, keyring: Keyring,
                                                       tmp_path: Path) -> None:
    from tests.unit.agreements.test_verify import flip_outside_pages

    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(flip_outside_pages(exported_file.read_bytes()))
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps(keyring.export()))
    r = run("verify-agreement", str(bad), "--keyring", str(ring), cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith("FAILED file_changed: a byte inside the range covered by the PDF signature")
    assert "warning" not in r.stdout
    r = run("verify-agreement", str(bad), "--json", cwd=tmp_path)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["check"] == "file_changed" and out["pdf_signature"] == "broken"


def test_missing_file_and_not_a_pdf(tmp_path: Path) -> None:
    r = run("verify-agreement", str(tmp_path / "nope.pdf"), cwd=tmp_path)
    assert r.returncode == 2 and "cannot read" in r.stderr
    f = tmp_path / "x.pdf"
    f.write_text("hello")
    r = run("verify-agreement", str(f), cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.startswith("FAILED manifest_missing")


def test_keys_export_and_rotate(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run("agreement-keys", "rotate", "340321001", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and "new active key" in r.stdout
    r = run("agreement-keys", "export", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["keys"][0]["unit"] == "340321001"
