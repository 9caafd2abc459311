from server.directory.tree import UnitRow, build_tree, find

ROWS = [
    UnitRow("1", "市", "city", "1/", None),
    UnitRow("11", "县甲", "county", "1/11/", "1"),
    UnitRow("12", "县乙", "county", "1/12/", "1"),
    UnitRow("111", "镇", "township", "1/11/111/", "11"),
    UnitRow("1111", "村", "village", "1/11/111/1111/", "111"),
]


def test_counts_bottom_up() -> None:
    root = build_tree(ROWS, {"1": 2, "11": 1, "1111": 4}, "1/")
    assert root is not None
    assert [c.code for c in root.children] == ["11", "12"]
    assert (root.staff, root.subtree_staff, root.subtree_units) == (2, 7, 4)
    county = find(root, "11")
    assert county is not None and (county.subtree_units, county.subtree_staff) == (2, 5)
    assert find(root, "12").subtree_units == 0


def test_subtree_only() -> None:
    root = build_tree(reversed(ROWS), {}, "1/11/")
    assert root is not None and root.code == "11"
    assert find(root, "12") is None


def test_missing_root() -> None:
    assert build_tree(ROWS, {}, "9/") is None


def test_deep_tree_no_recursion_limit() -> None:
    rows, parent, p = [], None, ""
    for i in range(3000):
        p += f"{i}/"
        rows.append(UnitRow(str(i), "x", "village", p, parent))
        parent = str(i)
    root = build_tree(rows, {}, "0/")
    assert root is not None and root.subtree_units == 2999
