from __future__ import annotations

from pathlib import Path

import pytest

from server.agreements.export import Sealer, export_agreement_pdf
from server.agreements.keys import Keyring, TrustedKeys
from server.agreements.pdf import PdfInput
from tests.support.agreement_sample import sample_content, signed_sample


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return Keyring(tmp_path_factory.mktemp("keys"), b"unit-test-secret")


@pytest.fixture(scope="module")
def trusted(keyring: Keyring) -> TrustedKeys:
    keyring.signing_key("340321001")
    keyring.city_ca().init()
    return keyring.trusted("test keyring")


@pytest.fixture(scope="module")
def signed(keyring: Keyring) -> tuple[PdfInput, Sealer]:
    return signed_sample(keyring, sample_content())


@pytest.fixture(scope="module")
def exported(keyring: Keyring, signed: tuple[PdfInput, Sealer]) -> bytes:
    d, sealer = signed
    return export_agreement_pdf(d, keyring.public_keys(), sealer)


@pytest.fixture(scope="module")
def exported_file(exported: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("pdf") / "agreement.pdf"
    p.write_bytes(exported)
    return p
