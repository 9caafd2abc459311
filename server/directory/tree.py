"""The unit tree with counts per unit, built in memory from flat rows (plain Python, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass
class UnitNode:
    code: str
    name: str
    tier: str
    path: str
    staff: int = 0  # active staff at this unit itself
    children: list[UnitNode] = field(default_factory=list)
    subtree_units: int = 0  # descendants, not counting this unit
    subtree_staff: int = 0  # active staff here and below

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    tier: str
    path: str
    parent: str | None


def build_tree(rows: Iterable[UnitRow], staff_by_code: Mapping[str, int], root_path: str) -> UnitNode | None:
    """The subtree rooted at ``root_path``, children in code order, counts filled in bottom-up."""
    nodes: dict[str, UnitNode] = {}
    root: UnitNode | None = None
    # Parents sort before their children by path, so one pass links everything.
    for row in sorted((r for r in rows if r.path.startswith(root_path)), key=lambda r: r.path):
        node = UnitNode(row.code, row.name, row.tier, row.path, staff=staff_by_code.get(row.code, 0))
        nodes[row.code] = node
        if row.path == root_path:
            root = node
        elif row.parent in nodes:
            nodes[row.parent].children.append(node)
    if root is None:
        return None
    _count(root)
    return root


def _count(node: UnitNode) -> None:
    # Iterative post-order: deep synthetic trees must not hit the recursion limit.
    order: list[UnitNode] = []
    stack = [node]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(n.children)
    for n in reversed(order):
        n.subtree_units = sum(1 + c.subtree_units for c in n.children)
        n.subtree_staff = n.staff + sum(c.subtree_staff for c in n.children)


def find(node: UnitNode, code: str) -> UnitNode | None:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.code == code:
            return n
        stack.extend(n.children)
    return None
