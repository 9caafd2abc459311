"""What of a party is shown to whom (plain Python).

- ID numbers are always masked in views and exports (first 6 and last 4 digits).
- A confidential address or phone is shown in full only to the staff handling the case
  (``reveal=True``); everyone else, every export and every copy for a party sees it withheld.
- The other side never receives a confidential address or phone, not even masked: it is left out.
- In a domestic-violence case the victim's address and phone are always confidential.
- The ledger stores only keyed hashes (HMAC with the server's secret) of address, phone and ID number,
  so the timeline cannot leak them and a phone number cannot be recovered by trying them all.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from server.cases.catalog import ROLE_SIDE, PartyRole

WITHHELD = "（保密）"


def mask_id(id_number: str | None) -> str | None:
    if not id_number:
        return None
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def side_of(role: str) -> str:
    return ROLE_SIDE.get(PartyRole(role), "c") if role in set(PartyRole) else "c"


def forced_confidential(role: str, domestic_violence: bool) -> bool:
    """The victim's contact details in a DV case are confidential whatever the form said."""
    return domestic_violence and role in (PartyRole.VICTIM, PartyRole.APPLICANT)


def staff_view(party: Any, *, reveal: bool, secrets: set[str] | None = None) -> dict[str, Any]:
    """A party as staff see it in pages and the API. Without ``reveal`` a confidential value, or another
    party's value equal to one, shows as withheld."""
    secrets = secrets or set()
    out = {
        "id": party.id,
        "role": party.role,
        "side": party.side,
        "name": party.name,
        "id_number": mask_id(party.id_number),
        "phone_confidential": party.phone_confidential,
        "address_confidential": party.address_confidential,
    }
    for name, flag in (("phone", party.phone_confidential), ("address", party.address_confidential)):
        value = getattr(party, name)
        out[name] = value if reveal or not value or _shown(value, flag, secrets) else WITHHELD
    return out


def secrets_of(parties: list[Any]) -> set[str]:
    """Every confidential phone and address on a case. Another party's identical value (the perpetrator
    living at the victim's address) is withheld too, or it would give the secret away."""
    out: set[str] = set()
    for p in parties:
        if p.phone_confidential and p.phone:
            out.add(_norm(p.phone))
        if p.address_confidential and p.address:
            out.add(_norm(p.address))
    return out


def _norm(v: str) -> str:
    return "".join(v.split()).replace("-", "")


def _shown(value: str | None, confidential: bool, secrets: set[str]) -> bool:
    return bool(value) and not confidential and _norm(value or "") not in secrets


def export_view(party: Any, secrets: set[str], *, domestic_violence: bool = False) -> dict[str, Any]:
    """A party in any export (CSV, Excel, printed list): confidential values never leave the system, and a
    domestic-violence case exports names only."""
    if domestic_violence:
        return {"role": party.role, "name": party.name, "id_number": None, "phone": None, "address": None}
    return {
        "role": party.role,
        "name": party.name,
        "id_number": mask_id(party.id_number),
        "phone": mask_phone(party.phone) if _shown(party.phone, party.phone_confidential, secrets) else None,
        "address": party.address if _shown(party.address, party.address_confidential, secrets) else None,
    }


def party_copy_view(party: Any, reader_side: str, secrets: set[str]) -> dict[str, Any]:
    """A party as shown in the copy handed to a party on ``reader_side``.

    Their own side's details are shown (ID masked); the other side's confidential details, and any value
    equal to one, are left out entirely, not masked, so not even their existence is hinted at.
    """
    own = party.side == reader_side
    out: dict[str, Any] = {"role": party.role, "name": party.name}
    if own:
        out.update(id_number=mask_id(party.id_number), phone=party.phone, address=party.address)
        return out
    if _shown(party.phone, party.phone_confidential, secrets):
        out["phone"] = mask_phone(party.phone)
    if _shown(party.address, party.address_confidential, secrets):
        out["address"] = party.address
    return out


def fingerprint(value: str | None, key: bytes) -> str | None:
    """What the ledger keeps of a sensitive value: enough to prove a later change, not to read it."""
    if not value:
        return None
    mac = hmac.new(hashlib.sha256(b"concord-party-fingerprint:" + key).digest(), value.encode("utf-8"),
                   hashlib.sha256)
    return "hmac:" + mac.hexdigest()[:24]


def ledger_view(party: Any, key: bytes) -> dict[str, Any]:
    return {
        "role": party.role,
        "side": party.side,
        "name": party.name,
        "id_number": fingerprint(party.id_number, key),
        "phone": fingerprint(party.phone, key),
        "address": fingerprint(party.address, key),
        "phone_confidential": party.phone_confidential,
        "address_confidential": party.address_confidential,
    }
