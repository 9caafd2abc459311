"""The ``concord`` command line (stable names: docs/api.md, "Stable names"; details: docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from server.app import create_app
from server.auth import now_ms
from server.config import Config, ConfigError, missing_web_files, redact_url
from server.db import Database
from server.db.migrate import upgrade
from server.directory.demo import DEMO_PASSWORD, seed
from server.directory.queries import (
    DirectoryError,
    add_staff,
    add_unit,
    record,
    set_active,
    set_password,
    unit_by_code,
)
from server.directory.tiers import Tier
from server.security.files import lock_down, private_umask


def _with_db(fn: Callable[[Database, argparse.Namespace], Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    """Run ``fn`` against an up-to-date schema: every DB command migrates first."""

    def run(args: argparse.Namespace) -> int:
        cfg = Config.load(args.data_dir)

        async def go() -> int:
            db = Database(cfg.database_url)
            try:
                await upgrade(db)
                return await fn(db, args)
            finally:
                await db.close()

        return asyncio.run(go())

    return run


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    cfg = Config.load(args.data_dir, args.host, args.port)
    missing = missing_web_files(cfg.web_dir)
    if missing:
        print(f"error: the page templates and static files are missing from {cfg.web_dir} "
              f"(not found: {', '.join(missing)}). Reinstall Concord, or set CONCORD_WEB_DIR to a copy "
              "of the repository's web/ directory.", file=sys.stderr)
        return 2
    lock_down([cfg.data_dir, cfg.recordings_dir], cfg.database_url)  # what an older version left readable
    app = create_app(cfg)
    bus = f"redis {redact_url(cfg.redis_url)}" if cfg.redis_url else "in-process bus"
    url_host = "localhost" if cfg.host in ("0.0.0.0", "::") else cfg.host
    print(
        f"Concord serving on http://{url_host}:{cfg.port}/  database={redact_url(cfg.database_url)}  bus={bus}  "
        f"recordings={cfg.recordings_dir}",
        flush=True,
    )
    web.run_app(app, host=cfg.host, port=cfg.port, print=None, access_log=None, shutdown_timeout=5)
    return 0


async def _demo(db: Database, args: argparse.Namespace) -> int:
    async with db.session() as s:
        accounts = await seed(s, ledger=True)
    cfg = Config.load(args.data_dir)
    lock_down([cfg.data_dir, cfg.recordings_dir], cfg.database_url)
    made = sum(a.created for a in accounts)
    print(f"Demo network ready ({made} accounts created, {len(accounts) - made} already there).")
    print(f"Every demo account's password: {DEMO_PASSWORD}")
    print(f"{'username':<22} {'role':<18} {'name':<14} unit")
    for a in accounts:
        print(f"{a.username:<22} {a.role:<18} {a.name:<14} {a.unit}")
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        print("error: --password-stdin is required (passwords never go on the command line)", file=sys.stderr)
        return None
    # Typed at a terminal: do not echo it. Piped: read one line.
    return getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")


async def _user_add(db: Database, args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return 2
    specialties = [x for x in (args.specialty or "").split(",") if x]
    async with db.session() as s:
        unit = await unit_by_code(s, args.unit)
        if unit is None:
            print(f"error: unknown unit {args.unit!r}", file=sys.stderr)
            return 1
        try:
            staff = await add_staff(s, args.username, args.name or args.username, password, args.role, unit,
                                    specialties)
        except DirectoryError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        await record(s, "account.created", staff, unit=unit.code)
    print(f"created user {staff.username} ({staff.role}) at {unit.code} {unit.name}")
    return 0


async def _change_account(db: Database, change: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run one account change in a transaction; a refusal is printed and gives None."""

    try:
        async with db.session() as s:
            return await change(s, *args)
    except DirectoryError as e:
        print(f"error: {e}", file=sys.stderr)
        return None


async def _user_passwd(db: Database, args: argparse.Namespace) -> int:
    password = _read_password(args)
    if password is None:
        return 2
    staff = await _change_account(db, set_password, args.username, password, now_ms())
    if staff is None:
        return 1
    print(f"password changed for {staff.username}; its sessions have ended")
    return 0


async def _user_set_active(db: Database, args: argparse.Namespace) -> int:
    active = args.user_command == "activate"
    staff = await _change_account(db, set_active, args.username, active, now_ms())
    if staff is None:
        return 1
    print(f"{staff.username} " + ("activated" if active else "deactivated; its sessions have ended"))
    return 0


async def _unit_add(db: Database, args: argparse.Namespace) -> int:
    try:
        tier = Tier(args.tier)
    except ValueError:
        print(f"error: unknown tier {args.tier!r}; one of: {', '.join(Tier)}", file=sys.stderr)
        return 1
    if not args.code.isdigit() or len(args.code) > 32:
        print("error: a unit code is digits only (GB/T 2260 for city and county)", file=sys.stderr)
        return 1
    async with db.session() as s:
        if await unit_by_code(s, args.code) is not None:
            print(f"error: unit {args.code} already exists", file=sys.stderr)
            return 1
        parent = None
        if args.parent:
            parent = await unit_by_code(s, args.parent)
            if parent is None:
                print(f"error: unknown parent unit {args.parent!r}", file=sys.stderr)
                return 1
        try:
            unit = await add_unit(s, args.code, args.name, tier, parent)
        except DirectoryError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        await record(s, "unit.created", code=unit.code, name=unit.name, tier=unit.tier,
                     parent=parent.code if parent else None)
    print(f"created unit {unit.code} {unit.name} ({unit.tier})" + (f" under {parent.code} {parent.name}" if parent else ""))
    return 0


async def _db_upgrade(db: Database, args: argparse.Namespace) -> int:
    print(f"database {redact_url(db.url)} is up to date")
    return 0


# Modules that register extra subcommands into EXTRA_COMMANDS when imported.
EXTRA_COMMAND_MODULES: list[str] = [
    "server.agreements.cli",
    "server.recording.cli",
    "server.ledger_cli",
]

# Features add their own subcommands here: name -> (configure parser, handler).
EXTRA_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}
EXTRA_HELP: dict[str, str] = {}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="concord", description="Concord video mediation coordinator")
    sub = p.add_subparsers(dest="command", required=True)

    def data_dir(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", default="data", help="data directory (default ./data)")

    sp = sub.add_parser("serve", help="run the server")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8080)
    data_dir(sp)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("demo", help="seed the demo four-tier network and accounts")
    data_dir(sp)
    sp.set_defaults(func=_with_db(_demo))

    sp = sub.add_parser("user", help="manage staff accounts")
    usub = sp.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="create a staff account")
    ua.add_argument("username")
    ua.add_argument("--role", required=True)
    ua.add_argument("--unit", required=True, help="unit code")
    ua.add_argument("--name")
    ua.add_argument("--specialty", help="comma-separated expert specialties")
    ua.add_argument("--password-stdin", action="store_true")
    data_dir(ua)
    ua.set_defaults(func=_with_db(_user_add))
    up = usub.add_parser("passwd", help="set a new password (ends the account's sessions)")
    up.add_argument("username")
    up.add_argument("--password-stdin", action="store_true")
    data_dir(up)
    up.set_defaults(func=_with_db(_user_passwd))
    for name, help_ in (("deactivate", "refuse an account everywhere (ends its sessions); its records stay"),
                        ("activate", "let a deactivated account log in again")):
        ud = usub.add_parser(name, help=help_)
        ud.add_argument("username")
        data_dir(ud)
        ud.set_defaults(func=_with_db(_user_set_active))

    sp = sub.add_parser("unit", help="manage the unit tree")
    usub = sp.add_subparsers(dest="unit_command", required=True)
    un = usub.add_parser("add", help="add a unit (city, county, township or village)")
    un.add_argument("code", help="unit code, e.g. 340321 (GB/T 2260) or 340321001")
    un.add_argument("--name", required=True)
    un.add_argument("--tier", required=True, help="city, county, township or village")
    un.add_argument("--parent", help="parent unit code (not for a city)")
    data_dir(un)
    un.set_defaults(func=_with_db(_unit_add))

    sp = sub.add_parser("db", help="database maintenance")
    dsub = sp.add_subparsers(dest="db_command", required=True)
    du = dsub.add_parser("upgrade", help="apply schema migrations")
    data_dir(du)
    du.set_defaults(func=_with_db(_db_upgrade))

    for name, (configure, handler) in EXTRA_COMMANDS.items():
        sp = sub.add_parser(name, help=EXTRA_HELP.get(name))
        configure(sp)
        sp.set_defaults(func=handler)
    return p


def _load_extra_commands() -> None:
    import importlib

    for module in EXTRA_COMMAND_MODULES:
        importlib.import_module(module)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    _load_extra_commands()
    args = build_parser().parse_args(argv)
    private_umask()  # the database, keys, uploads and recordings this process creates are 0600 / 0700
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


