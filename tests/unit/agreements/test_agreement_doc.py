"""docs/agreements.md "Verifying by hand" works as written: its shell and Python blocks, run verbatim with
pdfdetach, sha256sum, openssl and the system's Python on a genuine export, check the drawn bytes, the
document hash, the export seal, the tree head and the inclusion proof; and they fail on a tampered proof."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from server.agreements.export import Sealer, export_agreement_pdf
from server.agreements.keys import Keyring
from server.agreements.pdf import PdfInput
from tests.unit.agreements.test_ledger_proof import CITY_ID, tree_with

DOC = Path(__file__).resolve().parents[3] / "docs" / "agreements.md"
TOOLS = ("pdfdetach", "sha256sum", "openssl", "python3", "bash")


def blocks() -> list[tuple[str, str]]:
    text = DOC.read_text("utf-8")
    sec = text[text.index("### Verifying by hand"):text.index("### Committed fields")]
    return re.findall(r"```(sh|python)\n(.*?)```", sec, re.S)


def run_recipe(pdf: bytes, where: Path) -> list[subprocess.CompletedProcess[str]]:
    (where / "agreement.pdf").write_bytes(pdf)
    b = blocks()
    assert [k for k, _ in b] == ["sh", "python", "sh", "python"]
    steps = [["bash", "-euo", "pipefail", "-c", b[0][1]], ["python3", "-c", b[1][1]],
             ["bash", "-euo", "pipefail", "-c", b[2][1]], ["python3", "-c", b[1][1] + b[3][1]]]
    out = []
    for cmd in steps:
        r = subprocess.run(cmd, cwd=where, capture_output=True, text=True, timeout=60)
        out.append(r)
        if r.returncode:
            break
    return out


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason=f"needs {', '.join(TOOLS)}")
def test_the_recipe_verifies_a_genuine_export_and_refuses_a_tampered_proof(
        keyring: Keyring, signed: tuple[PdfInput, Sealer], tmp_path: Path) -> None:
    d, sealer = signed
    proof = tree_with(d)
    pdf = export_agreement_pdf(d, keyring.public_keys(), sealer, proof=proof)
    ok = run_recipe(pdf, tmp_path)
    assert all(r.returncode == 0 for r in ok) and len(ok) == 4, [(r.stdout, r.stderr) for r in ok]
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    drawn = manifest["export"]["record"]["drawn"]["sha256"]
    assert ok[0].stdout.count(drawn) == 2  # sha256sum and openssl agree with the seal
    assert ok[2].stdout.count("Signature Verified Successfully") == 2 and CITY_ID in ok[2].stdout

    bad = dict(proof, path=["00" * 32] + proof["path"][1:])
    tampered = export_agreement_pdf(d, keyring.public_keys(), sealer, proof=bad)
    (tmp_path / "t").mkdir()
    r = run_recipe(tampered, tmp_path / "t")
    assert [x.returncode for x in r][:3] == [0, 0, 0] and r[3].returncode != 0 and "AssertionError" in r[3].stderr
