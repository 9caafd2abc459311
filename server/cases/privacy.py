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


def staff_view(party: Any, *, reveal: bool) -> dict[str, Any]:
    """A party as staff see it in pages and the API."""
    out = {
        "id": party.id,
        "role": party.role,
        "side": party.side,
        "name": party.name,
        "id_number": mask_id(party.id_number),
        "phone_confidential": party.phone_confidential,
        "address_confidential": party.address_confidential,
    }
    if party.phone_confidential and not reveal:
        out["phone"] = WITHHELD if party.phone else None
    else:
        out["phone"] = party.phone
    if party.address_confidential and not reveal:
        out["address"] = WITHHELD if party.address else None
    else:
        out["address"] = party.address
    return out


def export_view(party: Any) -> dict[str, Any]:
    """A party in any export (CSV, Excel, printed copy): confidential values never leave the system."""
    return {
        "role": party.role,
        "name": party.name,
        "id_number": mask_id(party.id_number),
        "phone": None if party.phone_confidential else mask_phone(party.phone),
        "address": None if party.address_confidential else party.address,
    }


def party_copy_view(party: Any, reader_side: str) -> dict[str, Any]:
    """A party as shown in the copy handed to a party on ``reader_side``.

    Their own side's details are shown (ID masked); the other side's confidential details are left out
    entirely, not masked, so not even their existence is hinted at.
    """
    own = party.side == reader_side
    out: dict[str, Any] = {"role": party.role, "name": party.name}
    if own:
        out.update(id_number=mask_id(party.id_number), phone=party.phone, address=party.address)
        return out
    if not party.phone_confidential and party.phone:
        out["phone"] = mask_phone(party.phone)
    if not party.address_confidential and party.address:
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
