"""Packaging rules that no behaviour test would notice breaking.

- Every third-party module that ``server/`` imports comes from a distribution declared in pyproject.toml.
- Migrations are frozen: none imports live server code, so a later change cannot rewrite history.
- Start-up loads no media or PDF library: ``import server.app``, every FEATURES module and ``create_app``
  leave PyAV, aiortc, pypdf, pyHanko, fpdf2, Pillow, openpyxl, numpy, fontTools and qrcode unloaded.
- A heavy library imported inside a function says so (``# heavy: loaded on first use``).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from server.dashboard import rollup_sql

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
VERSIONS = SERVER / "db" / "migrations" / "versions"
HEAVY = ("av", "aiortc", "pypdf", "pyhanko", "pyhanko_certvalidator", "fpdf", "PIL", "openpyxl", "numpy",
         "fontTools", "qrcode", "asn1crypto")
MARK = "# heavy: loaded on first use"


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str]]:
    out: list[tuple[ast.stmt, str]] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out += [(n, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            out.append((n, "." * n.level + (n.module or "")))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # Optional extras count: redis and asyncpg are imported only when configured.
    reqs = list(project["dependencies"])
    reqs += [r for extra, rs in project["optional-dependencies"].items() if extra != "test" for r in rs]
    return {_norm(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in reqs}


def test_every_third_party_import_of_server_is_a_declared_dependency() -> None:
    declared = _declared()
    # The dependencies' own dependencies are not enough: a top-level name must map to a declared one.
    dists = importlib.metadata.packages_distributions()
    missing: dict[str, set[str]] = {}
    for path in SERVER.rglob("*.py"):
        for _, name in _imports(ast.parse(path.read_text())):
            top = name.split(".")[0]
            if not top or top in sys.stdlib_module_names or top == "server" or top == "__future__":
                continue
            owners = {_norm(d) for d in dists.get(top, [])}
            assert owners, f"{top} (imported by {path.relative_to(ROOT)}) is not installed"
            if not owners & declared:
                missing.setdefault(f"{top} ({', '.join(sorted(owners))})", set()).add(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_dependency_check_sees_an_undeclared_import() -> None:
    """The check above is not vacuous: Pillow was once imported without being declared."""
    dists = importlib.metadata.packages_distributions()
    assert _norm(dists["PIL"][0]) == "pillow"
    assert "pillow" in _declared()
    assert "pytest" not in _declared()  # test tools are not product dependencies


def test_no_migration_imports_live_code() -> None:
    files = sorted(VERSIONS.glob("*.py"))
    assert len(files) >= 10
    for path in files:
        for node, name in _imports(ast.parse(path.read_text())):
            assert name.split(".")[0] in {"sqlalchemy", "alembic", "__future__"} or (
                name.split(".")[0] in sys.stdlib_module_names), (
                f"{path.name}:{node.lineno} imports {name}: a migration must hold its own SQL, frozen")


def _load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"_migration_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dashboard_migration_holds_its_own_copy_of_the_rollup_sql() -> None:
    """0008 froze rollup_sql as it was. They still agree: the live triggers are what the code rebuilds
    against. When rollup_sql changes, write a migration that drops and recreates the triggers and point
    this test at it."""
    m = _load(VERSIONS / "0008_dashboard.py")
    for dialect in ("sqlite", "postgresql"):
        assert m.create_triggers(dialect) == rollup_sql.create_triggers(dialect)
        assert m.rebuild_statements(dialect) == rollup_sql.rebuild_statements(dialect)
        assert m.drop_triggers(dialect) == rollup_sql.drop_triggers(dialect)


STARTUP = """
import importlib, json, sys, tempfile
from pathlib import Path
import server.app
from server.app import FEATURES, create_app
from server.config import Config
for name in FEATURES:
    importlib.import_module(name)
d = Path(tempfile.mkdtemp())
create_app(Config(data_dir=d, database_url=f"sqlite+aiosqlite:///{d}/c.db", secret_key=b"k" * 32))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_start_up_loads_no_media_or_pdf_library() -> None:
    r = subprocess.run([sys.executable, "-c", STARTUP], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**{k: v for k, v in os.environ.items() if not k.startswith("CONCORD_")},
                            "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-3000:]
    loaded = set(json.loads(r.stdout.strip().splitlines()[-1]))
    assert "server" in loaded and "aiohttp" in loaded  # the probe ran
    assert not loaded & set(HEAVY), f"loaded at start-up: {sorted(loaded & set(HEAVY))}"


def test_heavy_imports_inside_functions_are_marked() -> None:
    unmarked = []
    for path in SERVER.rglob("*.py"):
        src = path.read_text()
        lines = src.splitlines()
        tree = ast.parse(src)
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node, name in _imports(fn):
                if name.split(".")[0] in HEAVY and MARK not in lines[(node.end_lineno or node.lineno) - 1]:
                    unmarked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unmarked, f"in-function imports of heavy libraries without '{MARK}': {unmarked}"


def test_test_only_code_is_not_in_the_server_package() -> None:
    assert not (SERVER / "rooms" / "client.py").exists()
    assert not (SERVER / "agreements" / "sample.py").exists()
    assert (ROOT / "tests" / "support" / "room_client.py").is_file()
    assert (ROOT / "tests" / "support" / "agreement_sample.py").is_file()
    for path in SERVER.rglob("*.py"):
        for node, name in _imports(ast.parse(path.read_text())):
            assert not name.startswith("tests"), f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
