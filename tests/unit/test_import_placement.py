"""Every first-party import sits at the top of its module (docs/architecture.md, "Imports"): no import inside a
function to dodge a cycle, no ImportError guard around a module that always ships. The exceptions are the
first-party modules that wrap a heavy library, loaded on first use so start-up stays light."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"

# Modules that pull PyAV, aiortc, pypdf, fpdf or pyHanko: these may be imported inside a function.
HEAVY = {
    "server.agreements.pdf", "server.agreements.export", "server.agreements.pades", "server.agreements.verify",
    "server.recording.compose", "server.media.recorder",
}


def _imports(tree: ast.AST) -> list[tuple[ast.ImportFrom | ast.Import, list[ast.AST]]]:
    """Each first-party import with the chain of nodes enclosing it."""
    out: list[tuple[ast.ImportFrom | ast.Import, list[ast.AST]]] = []

    def walk(node: ast.AST, chain: list[ast.AST]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("server"):
                out.append((child, chain))
            elif isinstance(child, ast.Import) and any(a.name.startswith("server") for a in child.names):
                out.append((child, chain))
            walk(child, [*chain, child])

    walk(tree, [])
    return out


def _names(node: ast.ImportFrom | ast.Import) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    return {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}


def _type_checking(chain: list[ast.AST]) -> bool:
    return any(isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test) for n in chain)


def _misplaced() -> tuple[list[str], list[str]]:
    inside, guarded = [], []
    for path in sorted(SERVER.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(SERVER.parent)
        for node, chain in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if _type_checking(chain):
                continue
            where = f"{rel}:{node.lineno}"
            heavy = bool(_names(node) & HEAVY)
            if any(isinstance(n, ast.Try) and any(
                    "ImportError" in ast.unparse(h.type or ast.Name("")) for h in n.handlers) for n in chain):
                if not heavy:
                    guarded.append(where)
            elif any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in chain) and not heavy:
                inside.append(where)
    return inside, guarded


def test_first_party_imports_are_at_the_top() -> None:
    inside, _ = _misplaced()
    assert inside == [], f"first-party imports inside functions: {inside}"


def test_no_import_error_guard_around_first_party_modules() -> None:
    _, guarded = _misplaced()
    assert guarded == [], f"ImportError guards around modules that always ship: {guarded}"


def test_the_check_sees_a_misplaced_import() -> None:
    """The walker finds an import inside a function and a guarded one (the test is not vacuous)."""
    tree = ast.parse("def f():\n    from server.cases import workflow\n"
                     "try:\n    from server import ledger\nexcept ImportError:\n    pass\n")
    found = _imports(tree)
    assert len(found) == 2
    assert any(isinstance(n, ast.FunctionDef) for n in found[0][1])
    assert isinstance(found[1][1][0], ast.Try)
