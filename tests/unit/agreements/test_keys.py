import json
from pathlib import Path

import pytest

from server.agreements.keys import Keyring, KeyStoreError, TrustedKeys, b64


def test_key_made_once_and_encrypted_at_rest(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, b"s1")
    kid, key = ring.signing_key("340321001")
    again = Keyring(tmp_path, b"s1").signing_key("340321001")
    assert again[0] == kid
    assert again[1].sign(b"x") == key.sign(b"x")  # Ed25519 is deterministic: same key
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    stored = (tmp_path / "340321001.json").read_text()
    assert b64(seed) not in stored and seed.hex() not in stored
    assert oct((tmp_path / "340321001.json").stat().st_mode & 0o777) == "0o600"


def test_wrong_secret_cannot_use_the_key(tmp_path: Path) -> None:
    Keyring(tmp_path, b"s1").signing_key("340321001")
    with pytest.raises(KeyStoreError, match="does not decrypt"):
        Keyring(tmp_path, b"other").signing_key("340321001")


def test_key_file_moved_to_another_unit_does_not_decrypt(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, b"s1")
    ring.signing_key("340321001")
    doc = json.loads((tmp_path / "340321001.json").read_text())
    doc["unit"] = "340321002"
    for k in doc["keys"]:
        k["unit"] = "340321002"
    (tmp_path / "340321002.json").write_text(json.dumps(doc))
    with pytest.raises(KeyStoreError):
        Keyring(tmp_path, b"s1").signing_key("340321002")


def test_rotation_keeps_old_public_keys(tmp_path: Path) -> None:
    ring = Keyring(tmp_path, b"s1")
    old, _ = ring.signing_key("340321001")
    new = ring.rotate("340321001")
    assert new != old and Keyring(tmp_path, b"s1").signing_key("340321001")[0] == new
    keys = {k.key_id: k for k in ring.public_keys("340321001")}
    assert keys[old].retired_at and keys[new].retired_at is None
    doc = json.loads((tmp_path / "340321001.json").read_text())
    assert next(k for k in doc["keys"] if k["key_id"] == old)["private"] is None  # private half erased
    export = ring.export()
    assert "private" not in json.dumps(export)
    f = tmp_path / "ring.json"
    f.write_text(json.dumps(export))
    assert {old, new} <= set(TrustedKeys.load(f).by_id)
    assert {old, new} <= set(TrustedKeys.load(tmp_path).by_id)


def test_bad_unit_code_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError):
        Keyring(tmp_path, b"s").signing_key("../etc")


def test_keyring_file_must_be_a_keyring(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text("{}")
    with pytest.raises(ValueError):
        TrustedKeys.load(f)
