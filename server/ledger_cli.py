"""``concord verify-log`` (any chain, optionally against a kept checkpoint) and ``concord checkpoint``.

Registered through ``server.cli.EXTRA_COMMAND_MODULES``. See docs/ledger.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server import checkpoints, cli, ledger
from server.agreements.keys import KeyStoreError
from server.config import Config
from server.db import Database
from server.ledger_store import events


def _chain_of(args: argparse.Namespace) -> str | None:
    if args.directory:
        return ledger.DIRECTORY_CHAIN
    if args.session is not None:
        return ledger.session_chain(args.session)
    if args.case is not None:
        return ledger.case_chain(args.case)
    if args.agreement is not None:
        return ledger.agreement_chain(args.agreement)
    if args.council is not None:
        return ledger.council_chain(args.council)
    return args.chain


def _configure_verify(p: argparse.ArgumentParser) -> None:
    p.description = ("Verify a hash chain (exit 0 and 'OK <n> events', or name the first bad event and exit 1); "
                     "with --checkpoint, also that the log still holds everything a kept checkpoint covers.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--session", type=int)
    g.add_argument("--case", type=int)
    g.add_argument("--agreement", type=int, help="an agreement outside a case (chain agreement:<id>)")
    g.add_argument("--council", type=int, help="a residents' council (chain council:<id>, docs/councils.md)")
    g.add_argument("--directory", action="store_true", help="the chain of account and unit changes")
    g.add_argument("--chain", help="any chain by name, e.g. case:3 or agreement:7")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="a checkpoint from `concord checkpoint export`: fail if the log no longer extends it")
    p.add_argument("--json", action="store_true",
                   help="print the chain (every event exactly as hashed) and the verdict as JSON")
    p.add_argument("--data-dir", default="data", help="data directory (default ./data)")


async def _verify_log(db: Database, args: argparse.Namespace) -> int:
    chain = _chain_of(args)
    if chain is None and not args.checkpoint:
        print("error: name a chain (--session, --case, --agreement, --council, --directory or --chain) or give "
              "--checkpoint",
              file=sys.stderr)
        return 2
    sth = None
    if args.checkpoint:
        try:
            sth = checkpoints.load_head(Path(args.checkpoint))
        except (OSError, ValueError) as e:
            print(f"error: cannot read the checkpoint {args.checkpoint}: {e}", file=sys.stderr)
            return 2
    cfg = Config.load(args.data_dir)
    trusted = checkpoints.city_key_ids(checkpoints.ledger_keyring(cfg.data_dir, cfg.secret_key))
    ok = True
    out: dict[str, object] = {}
    async with db.session() as s:
        if chain is not None:
            evs = await events(s, chain)
            result = ledger.verify(evs, chain)
            if result.ok and result.count == 0:
                print(f"error: no events on {chain}", file=sys.stderr)
                return 1
            ok = result.ok
            out.update(chain=chain, ok=result.ok, count=result.count, bad_seq=result.bad_seq, reason=result.reason,
                       events=[e.export() for e in evs])
            if not args.json:
                print(str(result))
        if sth is not None:
            check = await checkpoints.check_log(s, sth, trusted)
            ok = ok and check.ok
            out["checkpoint"] = {"ok": check.ok, "size": sth.size, "log_size": check.size,
                                 "problems": check.problems}
            if not args.json:
                print(str(check))
                if trusted is None:
                    print("  warning: this data directory has no ledger key; the checkpoint's own key was used")
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0 if ok else 1


def _configure_checkpoint(p: argparse.ArgumentParser) -> None:
    p.description = "Sign the ledger's Merkle tree head, print the latest signed head, or prove an event."
    sub = p.add_subparsers(dest="checkpoint_command", required=True)
    sg = sub.add_parser("sign", help="sign the current tree head with the city's ledger key and keep it")
    sg.add_argument("--reason", default="manual")
    ex = sub.add_parser("export", help="print the latest signed tree head (JSON) to keep outside")
    pr = sub.add_parser("prove", help="print an event's inclusion proof against the first checkpoint covering it")
    pr.add_argument("--chain", required=True)
    pr.add_argument("--seq", type=int, required=True)
    for sp in (sg, ex, pr):
        sp.add_argument("--data-dir", default="data", help="data directory (default ./data)")


async def _checkpoint(db: Database, args: argparse.Namespace) -> int:
    cfg = Config.load(args.data_dir)
    async with db.session() as s:
        if args.checkpoint_command == "sign":
            try:
                sth = await checkpoints.sign_checkpoint(s, checkpoints.ledger_keyring(cfg.data_dir, cfg.secret_key),
                                                        args.reason)
            except KeyStoreError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
            print(json.dumps(sth.as_dict(), ensure_ascii=False, indent=1))
            return 0
        if args.checkpoint_command == "export":
            latest = await checkpoints.latest(s)
            if latest is None:
                print("error: no checkpoint yet; run `concord checkpoint sign`", file=sys.stderr)
                return 1
            print(json.dumps(latest.as_dict(), ensure_ascii=False, indent=1))
            return 0
        proof = await checkpoints.inclusion(s, args.chain, args.seq)
        if proof is None:
            print(f"error: no checkpoint covers {args.chain} seq {args.seq} yet", file=sys.stderr)
            return 1
        print(json.dumps(proof.as_dict(), ensure_ascii=False, indent=1))
        return 0


cli.EXTRA_COMMANDS["verify-log"] = (_configure_verify, cli._with_db(_verify_log))
cli.EXTRA_HELP["verify-log"] = "verify a hash chain (session, case, agreement, directory or any by name)"
cli.EXTRA_COMMANDS["checkpoint"] = (_configure_checkpoint, cli._with_db(_checkpoint))
cli.EXTRA_HELP["checkpoint"] = "sign, export or prove against the ledger's signed Merkle tree heads"
