"""Salted commitments: how a signed document binds a value that must not travel with it.

A confidential party's address and phone, and each signer's IP address and user agent, are bound into
what is hashed and signed as ``sha256(salt || value)`` with a fresh 16-byte salt per field and
document. The exported file carries only the commitment; the value and its salt stay on the server
(the agreement version row, the signature row), so the archive can still prove what was signed by
showing the salt and the value. Without the salt, a short value (a phone number) cannot be found by
trying every candidate. Plain Python.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from typing import Any

SALT_BYTES = 16
HEX64 = re.compile(r"^[0-9a-f]{64}$")
CONTACT_FIELDS = ("address", "phone")


def new_salt() -> str:
    return secrets.token_hex(SALT_BYTES)


def commit(value: str, salt: str) -> str:
    """sha256(salt || value), hex; the salt is hex text, the value UTF-8."""
    return hashlib.sha256(bytes.fromhex(salt) + value.encode("utf-8")).hexdigest()


def opens(commitment: str, value: str, salt: str) -> bool:
    """Whether ``value`` with ``salt`` is what ``commitment`` binds."""
    try:
        return secrets.compare_digest(commit(value, salt), commitment)
    except ValueError:  # not hex
        return False


def field_name(party_key: str, field: str) -> str:
    return f"{party_key}.{field}"


def withheld_fields(content: dict[str, Any]) -> dict[str, str]:
    """The confidential contact fields of a canonical content dict that have a value: name → value."""
    out: dict[str, str] = {}
    for p in content.get("parties") or []:
        if not p.get("confidential"):
            continue
        for f in CONTACT_FIELDS:
            if p.get(f):
                out[field_name(p["key"], f)] = p[f]
    return out


def new_salts(content: dict[str, Any], old: dict[str, str] | None = None) -> dict[str, str]:
    """One salt per withheld field; a field that already had a salt keeps it (a re-saved draft)."""
    old = old or {}
    return {name: old.get(name) or new_salt() for name in withheld_fields(content)}


def redact(content: dict[str, Any], salts: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The content as it travels (a confidential party's address and phone blanked) and the commitment to
    each blanked value. ``salts`` must hold a salt for every withheld field."""
    values = withheld_fields(content)
    commitments = {name: commit(v, salts[name]) for name, v in values.items()}
    parties = []
    for p in content.get("parties") or []:
        p = dict(p)
        if p.get("confidential"):
            for f in CONTACT_FIELDS:
                p[f] = ""
        parties.append(p)
    return {**content, "parties": parties}, commitments


def openings(content: dict[str, Any], salts: dict[str, str]) -> dict[str, dict[str, str]]:
    """What the archive shows to prove a commitment: field → value, salt, commitment."""
    values = withheld_fields(content)
    return {name: {"value": v, "salt": salts[name], "commitment": commit(v, salts[name])}
            for name, v in values.items() if name in salts}


# --- signature evidence ------------------------------------------------------------------------

def mask_ip(ip: str) -> str:
    """The network, not the host: 203.0.113.x; for IPv6 the first three groups (a /48) then ``:x``."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return "x" if ip else ""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(str(addr).split(".")[:3]) + ".x"
    groups = addr.exploded.split(":")[:3]
    return ":".join(g.lstrip("0") or "0" for g in groups) + ":x"


_OS = [(r"HarmonyOS|OpenHarmony", "HarmonyOS"), (r"Android", "Android"), (r"iPhone|iPad|iOS", "iOS"),
       (r"Windows", "Windows"), (r"Mac OS X|Macintosh", "macOS"), (r"Linux", "Linux")]
_BROWSERS = [(r"MicroMessenger/", "微信"), (r"Edg/", "Edge"), (r"Firefox/", "Firefox"), (r"Chrome/", "Chrome"),
             (r"Version/.*Safari", "Safari")]


def ua_family(ua: str) -> str:
    """Operating system and browser family, no versions and no device model: ``Android Chrome``."""
    if not ua:
        return ""
    os_name = next((label for pat, label in _OS if re.search(pat, ua)), "")
    browser = next((label for pat, label in _BROWSERS if re.search(pat, ua)), "")
    return " ".join(x for x in (os_name, browser) if x) or "other"


EVIDENCE_FIELDS = ("ip", "user_agent")


def evidence_openings(ip: str, user_agent: str) -> dict[str, dict[str, str]]:
    """Fresh salts for one signature's evidence: field → value, salt (kept on the signature row)."""
    return {"ip": {"value": ip, "salt": new_salt()}, "user_agent": {"value": user_agent, "salt": new_salt()}}


def evidence_commitments(opened: dict[str, dict[str, str]]) -> dict[str, str]:
    return {k: commit(v["value"], v["salt"]) for k, v in opened.items()}
