"""``concord verify-agreement FILE``: offline verification of an exported agreement (no database).

Registered through ``server.cli.EXTRA_COMMAND_MODULES``. Exits 0 only when every check passes; otherwise
prints ``FAILED <check>: <reason>`` (plus any further failures) and exits 1. Also ``concord agreement-keys``
to export the public keyring (for offline verifiers) or rotate a unit's key, and ``concord agreement-proofs``
to show, from the archive, the values and salts that open an agreement's commitments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import select

from server import cli
from server.agreements import store
from server.agreements.ca import load_certificates
from server.agreements.commitments import evidence_commitments
from server.agreements.keys import Keyring, KeyStoreError, TrustedKeys
from server.agreements.models import Agreement
from server.checkpoints import KEY_DIR as LEDGER_KEY_DIR
from server.config import Config
from server.db import Database
from server.security.uploads import UploadRefused
from server.treehead import SignedTreeHead

KEY_DIR = "agreement_keys"


def _configure_verify(p: argparse.ArgumentParser) -> None:
    p.description = "Verify an exported agreement PDF offline; exit 0 only when every check passes."
    p.add_argument("file", help="the exported agreement PDF")
    p.add_argument("--keyring", help="trusted public keyring: a JSON export or a server's key directory "
                                     f"(default: DATA_DIR/{KEY_DIR} when it exists)")
    p.add_argument("--data-dir", default="data", help="data directory whose keyring is trusted (default ./data)")
    p.add_argument("--root", action="append", default=[],
                   help="a trusted root certificate for the PDF signature (PEM or DER; concord ca export), "
                        "besides the keyring's")
    p.add_argument("--crl", action="append", default=[], help="a CRL from that root (DER or PEM; /ca/crl.der)")
    p.add_argument("--require-trusted", action="store_true",
                   help="fail when no trusted keyring is available, instead of warning")
    p.add_argument("--checkpoint-key", action="append", metavar="KEY",
                   help="the city's ledger checkpoint key: its key_id (as `concord checkpoint export` prints it), "
                        "a checkpoint JSON from that command, or a key directory; repeatable (default: "
                        "DATA_DIR/ledger_keys when it exists)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")


def _checkpoint_keys(args: argparse.Namespace) -> set[str] | None:
    """Key ids of the trusted checkpoint key. Raises ValueError/OSError for an unreadable argument."""

    out: set[str] = set()
    for v in args.checkpoint_key or []:
        path = Path(v)
        if path.is_dir():
            out |= set(TrustedKeys.load(path).by_id)
        elif path.is_file():
            sth = SignedTreeHead.from_dict(json.loads(path.read_text("utf-8")))
            if not sth.signature_ok():
                raise ValueError(f"the checkpoint in {path} does not verify")
            out.add(sth.key_id)
        elif len(v) == 16 and all(c in "0123456789abcdef" for c in v):
            out.add(v)
        else:
            raise ValueError(f"{v} is neither a 16-hex key id, a checkpoint file nor a key directory")
    if args.checkpoint_key:
        return out
    default = Path(args.data_dir) / LEDGER_KEY_DIR
    if default.is_dir() and any(default.glob("*.json")):
        return set(TrustedKeys.load(default).by_id)
    return None


def _trusted(args: argparse.Namespace):  # type: ignore[no-untyped-def]

    if args.keyring:
        return TrustedKeys.load(Path(args.keyring))
    default = Path(args.data_dir) / KEY_DIR
    if default.is_dir() and any(default.glob("*.json")):
        return TrustedKeys.load(default)
    return None


def verify_agreement(args: argparse.Namespace) -> int:
    from server.agreements.verify import MAX_PDF, verify_pdf

    path = Path(args.file)
    try:
        if path.stat().st_size > MAX_PDF:
            print(f"FAILED manifest_missing: {path} is larger than {MAX_PDF // (1024 * 1024)} MiB", file=sys.stderr)
            return 1
        data = path.read_bytes()
    except OSError as e:
        print(f"error: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        trusted = _trusted(args)
        ledger_keys = _checkpoint_keys(args)
        roots = [c for f in args.root for c in load_certificates(Path(f).read_bytes())]
        crls = [Path(f).read_bytes() for f in args.crl]
    except (OSError, ValueError) as e:
        print(f"error: cannot load the keyring, root or CRL: {e}", file=sys.stderr)
        return 2
    if trusted is None and roots:
        trusted = TrustedKeys([], "", roots, crls, keys_given=False)
    elif trusted is not None:
        trusted.add_trust(roots, crls)
    if (trusted is None or not trusted.keys_given) and args.require_trusted:
        print("FAILED unknown_key: no trusted keyring (pass --keyring)", file=sys.stderr)
        return 1
    try:
        result = verify_pdf(data, trusted, check_pades=True, ledger_keys=ledger_keys)
    except UploadRefused as e:
        print(f"FAILED {e.code}: {e.en}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
    else:
        print(result.summary())
        for f in result.failures:
            if f is not result.primary:
                print(f"  also {f}")
        for s in result.signers:
            print(f"  signed {s['seq']}: {s['name']} ({s['role']}) at {s['at']} via {s['check']} key {s['key_id']}")
        pades = result.pades
        print(f"  PDF signature (PAdES): {result.pdf_signature}"
              + (f", {pades['profile']}, {pades['signer']} certificate {pades['serial']}, signed at "
                 f"{pades['signed_at']} ({pades['time_source']} time)" if pades.get("serial") else ""))
        print(f"  manifest {result.manifest_format or '?'}; ledger inclusion proof: {result.ledger_proof}")
        for c in result.every_check():
            print(f"  check {c.name}: {'ok' if c.ok else 'FAILED' if c.ok is False else 'not checked'}")
        if result.trusted_by:
            print(f"  keys trusted by {result.trusted_by}")
        for w in result.warnings:
            print(f"  warning: {w}")
    return 0 if result.ok else 1


def _configure_keys(p: argparse.ArgumentParser) -> None:
    p.description = "Export the public keyring, or rotate a unit's seal key."
    sub = p.add_subparsers(dest="keys_command", required=True)
    e = sub.add_parser("export", help="print the public keyring (JSON) for offline verifiers")
    e.add_argument("--data-dir", default="data")
    r = sub.add_parser("rotate", help="retire a unit's active key and make a new one (old public keys are kept)")
    r.add_argument("unit", help="unit code")
    r.add_argument("--data-dir", default="data")


def agreement_keys(args: argparse.Namespace) -> int:
    cfg = Config.load(args.data_dir)
    ring = Keyring(cfg.data_dir / KEY_DIR, cfg.secret_key)
    try:
        if args.keys_command == "export":
            print(json.dumps(ring.export(), ensure_ascii=False, indent=1))
        else:
            print(f"unit {args.unit}: new active key {ring.rotate(args.unit)}")
    except KeyStoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _configure_proofs(p: argparse.ArgumentParser) -> None:
    p.description = ("Print, from the archive (the database), what an agreement's exported copies only commit to: "
                     "each confidential field's value and salt, and each signature's IP address and user agent "
                     "with theirs, with the commitment they open. Confidential: for the case's handlers.")
    p.add_argument("agreement", help="the agreement's number (e.g. 龙亢调字〔2026〕第12号) or id")
    p.add_argument("--version", type=int, help="the version (default: the current one)")
    p.add_argument("--data-dir", default="data")


async def agreement_proofs(db: Database, args: argparse.Namespace) -> int:
    ref = str(args.agreement).strip()
    async with db.session() as s:
        q = select(Agreement.id).where(Agreement.number == ref)
        if ref.isdigit() and len(ref) < 10:
            q = select(Agreement.id).where((Agreement.number == ref) | (Agreement.id == int(ref)))
        found = (await s.execute(q)).scalars().first()
        if found is None:
            print(f"error: no agreement {ref!r}", file=sys.stderr)
            return 1
        ld = await store.load(s, found)
        v = await store.version_row(s, found, args.version or ld.agreement.current_version)
        rows = await store.signature_rows(s, found, v.number)
    out = {"agreement": ld.agreement.number, "version": v.number, "document_hash": v.document_hash,
           "format": "concord-agreement/2" if v.salts is not None else "concord-agreement/1",
           "fields": store.proofs(v),
           "signatures": [{"seq": r.seq, "slot": r.slot,
                           **({k: {**o, "commitment": evidence_commitments(r.evidence)[k]}
                               for k, o in r.evidence.items()} if r.evidence else {})} for r in rows]}
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


from server.agreements import ca_cli  # noqa: E402,F401  (registers ``concord ca``)

cli.EXTRA_COMMANDS["verify-agreement"] = (_configure_verify, verify_agreement)
cli.EXTRA_COMMANDS["agreement-keys"] = (_configure_keys, agreement_keys)
cli.EXTRA_COMMANDS["agreement-proofs"] = (_configure_proofs, cli._with_db(agreement_proofs))
