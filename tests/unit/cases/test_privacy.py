"""Who sees which personal details (plain functions)."""

from __future__ import annotations

from types import SimpleNamespace

from server.cases import privacy


def party(**kw):  # type: ignore[no-untyped-def]
    base = dict(id=1, role="victim", side="a", name="王五", id_number="340321199001011234", phone="13700003333",
                address="幸福村3组8号", phone_confidential=True, address_confidential=True)
    base.update(kw)
    return SimpleNamespace(**base)


VICTIM = party()
PERP = party(id=2, role="perpetrator", side="b", name="赵六", phone="13600004444", address="幸福村 3组8号",
             phone_confidential=False, address_confidential=False)
SECRETS = privacy.secrets_of([VICTIM, PERP])


def test_masks() -> None:
    assert privacy.mask_id("340321199001011234") == "340321********1234"
    assert privacy.mask_phone("13900002222") == "139****2222"
    assert privacy.mask_id(None) is None


def test_staff_view_withholds_unless_revealed() -> None:
    hidden = privacy.staff_view(VICTIM, reveal=False, secrets=SECRETS)
    assert hidden["phone"] == hidden["address"] == privacy.WITHHELD
    assert hidden["id_number"] == "340321********1234"
    shown = privacy.staff_view(VICTIM, reveal=True, secrets=SECRETS)
    assert shown["phone"] == "13700003333"
    # The perpetrator's identical address (modulo spacing) would leak the victim's: withheld too.
    perp = privacy.staff_view(PERP, reveal=False, secrets=SECRETS)
    assert perp["address"] == privacy.WITHHELD and perp["phone"] == "13600004444"


def test_exports_never_carry_confidential_values() -> None:
    v = privacy.export_view(VICTIM, SECRETS)
    assert v["phone"] is None and v["address"] is None
    p = privacy.export_view(PERP, SECRETS)
    assert p["address"] is None and p["phone"] == "136****4444"
    dv = privacy.export_view(PERP, SECRETS, domestic_violence=True)
    assert dv == {"role": "perpetrator", "name": "赵六", "id_number": None, "phone": None, "address": None}


def test_party_copy_for_the_other_side() -> None:
    for_perp = privacy.party_copy_view(VICTIM, "b", SECRETS)
    assert for_perp == {"role": "victim", "name": "王五"}
    own = privacy.party_copy_view(VICTIM, "a", SECRETS)
    assert own["phone"] == "13700003333"


def test_ledger_fingerprints_are_keyed() -> None:
    a = privacy.fingerprint("13700003333", b"k1")
    b = privacy.fingerprint("13700003333", b"k2")
    assert a != b and a.startswith("hmac:") and "13700003333" not in a
    assert privacy.ledger_view(VICTIM, b"k1")["phone"] == a


def test_dv_victim_forced_confidential() -> None:
    assert privacy.forced_confidential("victim", True)
    assert not privacy.forced_confidential("perpetrator", True)
    assert not privacy.forced_confidential("victim", False)
