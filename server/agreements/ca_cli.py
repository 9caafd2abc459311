"""``concord ca``: the city trust chain for the agreements' PDF signatures (ca.py).

- ``ca init [--name N]``: make the root (ECDSA P-256) unless it exists; prints its SHA-256 fingerprint.
- ``ca issue UNIT [--name N]``: the unit's seal certificate (issued now unless it has an active one).
- ``ca rotate UNIT [--name N]``: retire the active certificate and issue a new one (older documents verify).
- ``ca revoke UNIT [--serial S] [--at ISO] [--reason R]``: revoke; documents signed after ``--at`` fail.
- ``ca crl [--pem] [-o FILE]``: the current CRL (DER by default), as served at ``/ca/crl.der``.
- ``ca export DIR``: root and unit certificates (PEM and DER) and the CRL, for importing into readers.
- ``ca list``: every certificate issued, with its state (JSON).
The unit's name comes from ``--name`` or the database (the unit directory).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from server import cli
from server.agreements.ca import CityCA, load_crl, parse_iso
from server.agreements.keys import Keyring, KeyStoreError
from server.config import Config
from server.db import Database
from server.directory.models import Unit

KEY_DIR = "agreement_keys"


def _ca(args: argparse.Namespace) -> CityCA:

    cfg = Config.load(args.data_dir)
    return Keyring(cfg.data_dir / KEY_DIR, cfg.secret_key).city_ca()


def _configure(p: argparse.ArgumentParser) -> None:
    p.description = "The city root CA and the units' seal certificates for the agreements' PDF signatures."
    sub = p.add_subparsers(dest="ca_command", required=True)
    i = sub.add_parser("init", help="make the root certificate (once)")
    i.add_argument("--name", default="", help="the root's common name (e.g. 蚌埠市人民调解电子印章根证书)")
    for cmd, text in (("issue", "issue a unit's seal certificate unless it has an active one"),
                      ("rotate", "retire the unit's active certificate and issue a new one")):
        s = sub.add_parser(cmd, help=text)
        s.add_argument("unit", help="unit code")
        s.add_argument("--name", default="", help="the unit's name (default: from the database)")
    r = sub.add_parser("revoke", help="revoke a unit's certificate(s); documents signed afterwards fail")
    r.add_argument("unit", help="unit code")
    r.add_argument("--serial", help="only this certificate (hex serial; default: every unrevoked one)")
    r.add_argument("--at", help="revoked from this time (ISO 8601, default now), e.g. when the key leaked")
    r.add_argument("--reason", default="key_compromise",
                   choices=["key_compromise", "superseded", "cessation_of_operation", "unspecified"])
    c = sub.add_parser("crl", help="print the current CRL (DER to a file, or PEM)")
    c.add_argument("-o", "--output", help="write to this file")
    c.add_argument("--pem", action="store_true")
    e = sub.add_parser("export", help="write the root and unit certificates (PEM, DER) and the CRL to DIR")
    e.add_argument("dir")
    sub.add_parser("list", help="every certificate issued, with its state (JSON)")
    for s in sub.choices.values():
        s.add_argument("--data-dir", default="data")


def fingerprint(der: bytes) -> str:
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


async def _unit_name(db: Database, args: argparse.Namespace) -> int:

    async with db.session() as s:
        name = (await s.execute(select(Unit.name).where(Unit.code == args.unit))).scalar_one_or_none()
    if name is None:
        print(f"error: no unit {args.unit!r} in the database (pass --name)", file=sys.stderr)
        return 1
    args.name = name
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyStoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    ca = _ca(args)
    cmd = args.ca_command
    if cmd == "init":
        cert, made = ca.init(args.name) if args.name else ca.init()
        print(f"{'made' if made else 'exists'}: {cert.subject.rfc4514_string()}")
        print(f"SHA-256 fingerprint {fingerprint(cert.public_bytes(Encoding.DER))}")
        return 0
    if cmd in ("issue", "rotate"):
        if not args.name and cli._with_db(_unit_name)(args):
            return 1
        if cmd == "issue":
            seal = ca.unit_seal(args.unit, args.name)
            print(f"unit {args.unit}: certificate {format(seal.certificate.serial_number, 'x')} "
                  f"({seal.certificate.subject.rfc4514_string()}), valid to {seal.certificate.not_valid_after_utc:%Y-%m-%d}")
        else:
            c = ca.rotate(args.unit, args.name)
            print(f"unit {args.unit}: new certificate {c.serial}; the previous one is retired (not revoked)")
        return 0
    if cmd == "revoke":
        try:
            at = parse_iso(args.at) if args.at else None
        except ValueError:
            print(f"error: --at {args.at!r} is not an ISO 8601 time", file=sys.stderr)
            return 2
        for c in ca.revoke(args.unit, serial=args.serial, at=at, reason=args.reason):
            print(f"revoked unit {c.unit} certificate {c.serial} from {c.revoked_at} ({c.reason})")
        print("the next seal of this unit issues a new certificate; publish the CRL (/ca/crl.der)")
        return 0
    if cmd == "crl":
        der = ca.crl()
        data = load_crl(der).public_bytes(Encoding.PEM) if args.pem else der
        if args.output:
            Path(args.output).write_bytes(data)
        elif args.pem:
            sys.stdout.write(data.decode("ascii"))
        else:
            sys.stdout.buffer.write(data)
        return 0
    if cmd == "export":
        for line in export(ca, Path(args.dir)):
            print(line)
        return 0
    print(json.dumps([c.as_dict() for c in ca.certificates()], ensure_ascii=False, indent=1))
    return 0


def export(ca: CityCA, out: Path) -> list[str]:
    """root.pem/root.cer, units/<code>-<serial>.pem/.cer and crl.der in ``out``; the root is made if missing."""
    if not ca.exists():
        ca.init()
    root = ca.root_certificate()
    assert root is not None
    (out / "units").mkdir(parents=True, exist_ok=True)
    written = []
    for path, cert in [(out / "root", root)] + [(out / "units" / f"{c.unit}-{c.serial}", c.certificate)
                                                 for c in ca.certificates()]:
        path.with_suffix(".pem").write_bytes(cert.public_bytes(Encoding.PEM))
        path.with_suffix(".cer").write_bytes(cert.public_bytes(Encoding.DER))
        written.append(f"{path.with_suffix('.pem')} (and .cer): {cert.subject.rfc4514_string()}")
    (out / "crl.der").write_bytes(ca.crl())
    written.append(f"{out / 'crl.der'}: the CRL")
    written.append(f"root SHA-256 fingerprint {fingerprint(root.public_bytes(Encoding.DER))}")
    return written


cli.EXTRA_COMMANDS["ca"] = (_configure, run)
cli.EXTRA_HELP["ca"] = "the city root CA and units' seal certificates (PDF signatures): init, issue, revoke, crl, export"
