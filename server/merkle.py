"""An append-only Merkle tree over every ledger event, as RFC 6962 §2.1 (Certificate Transparency) and
RFC 9162 §2.1 define it. Plain Python: no I/O.

- leaf hash: ``SHA-256(0x00 || leaf)``; a ledger event's leaf is the 32 bytes of its ``hash``;
- interior node: ``SHA-256(0x01 || left || right)``;
- MTH of n > 1 leaves: split at k, the largest power of two below n: ``node(MTH(D[0:k]), MTH(D[k:n]))``;
  MTH of no leaves is ``SHA-256("")``.

Inclusion (audit) paths and consistency proofs are RFC 6962's PATH and PROOF; the verifiers are RFC
9162's §2.1.3.2 and §2.1.4.2 algorithms, which need only the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def extend(frontier: list[tuple[int, bytes]], hashes: Sequence[bytes], lo: int = 0,
           hi: int | None = None) -> list[tuple[int, bytes]]:
    """Append leaf hashes ``hashes[lo:hi]`` to a tree given by its ``frontier``: the (size, root) of its
    complete subtrees, left to right, sizes the powers of two of the tree's size, largest first (RFC 9162's
    "compact range" of [0, n)). Returns the new frontier; O(new leaves + log n)."""
    stack = list(frontier)
    hi = len(hashes) if hi is None else hi
    for i in range(lo, hi):
        size, cur = 1, hashes[i]
        while stack and stack[-1][0] == size:
            s, left = stack.pop()
            cur = node_hash(left, cur)
            size += s
        stack.append((size, cur))
    return stack


def frontier_root(frontier: Sequence[tuple[int, bytes]]) -> bytes:
    """MTH of the tree whose frontier this is: the smaller subtrees on the right join first, which is
    MTH's split for sizes that are not powers of two."""
    if not frontier:
        return EMPTY_ROOT
    cur = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        cur = node_hash(left, cur)
    return cur


def root_of_hashes(hashes: Sequence[bytes], lo: int = 0, hi: int | None = None) -> bytes:
    """MTH of ``hashes[lo:hi]``, leaves already hashed with ``leaf_hash``. Iterative, linear time,
    O(log n) memory (the RFC's recursive split gives the same root)."""
    return frontier_root(extend([], hashes, lo, hi))


def root(leaves: Sequence[bytes]) -> bytes:
    return root_of_hashes([leaf_hash(x) for x in leaves])


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]) for leaf ``index`` over leaf hashes ``hashes``."""
    n = len(hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n}")
    return _path(index, hashes, 0, n)


def _path(m: int, d: Sequence[bytes], lo: int, hi: int) -> list[bytes]:
    """PATH for leaf ``m`` (relative to ``lo``) within ``d[lo:hi]``."""
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return _path(m, d, lo, lo + k) + [root_of_hashes(d, lo + k, hi)]
    return _path(m - k, d, lo + k, hi) + [root_of_hashes(d, lo, lo + k)]


def inclusion_proof_from(frontier: Sequence[tuple[int, bytes]], rest: Sequence[bytes]) -> list[bytes]:
    """PATH of leaf ``i`` in a tree of ``i + len(rest)`` leaves, from the frontier of its first ``i`` leaves
    (see ``extend``) and the leaf hashes ``rest`` from ``i`` on: O(log n + len(rest)), without the leaves
    before ``i``. The left siblings on a leaf's path are the aligned subtrees that tile ``[0, i)``: the
    frontier's entries, largest first."""
    i = sum(n for n, _ in frontier)
    if not rest:
        raise ValueError(f"leaf {i} is not in a tree of {i}")
    left = iter(frontier)
    out: list[bytes] = []
    lo, hi = 0, i + len(rest)
    while hi - lo > 1:
        k = _split(hi - lo)
        if i < lo + k:
            out.append(root_of_hashes(rest, lo + k - i, hi - i))
            hi = lo + k
        else:
            size, h = next(left)
            if size != k:
                raise ValueError("the frontier does not match the tree's shape")
            out.append(h)
            lo += k
    return out[::-1]


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]): that the tree of the first ``old_size`` leaves is a prefix of this one."""
    n = len(hashes)
    if not 0 < old_size <= n:
        raise ValueError(f"no consistency proof from size {old_size} to {n}")
    if old_size == n:
        return []
    return _subproof(old_size, hashes, 0, n, True)


def _subproof(m: int, d: Sequence[bytes], lo: int, hi: int, complete: bool) -> list[bytes]:
    """SUBPROOF(m, d[lo:hi], complete)."""
    n = hi - lo
    if m == n:
        return [] if complete else [root_of_hashes(d, lo, hi)]
    k = _split(n)
    if m <= k:
        return _subproof(m, d, lo, lo + k, complete) + [root_of_hashes(d, lo + k, hi)]
    return _subproof(m - k, d, lo + k, hi, False) + [root_of_hashes(d, lo, lo + k)]


def verify_inclusion(leaf_h: bytes, index: int, size: int, proof: Sequence[bytes], root_h: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place leaf hash ``leaf_h`` at ``index`` in the tree ``root_h``?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _climb(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_h


def _climb(fn: int, sn: int) -> tuple[int, int]:
    """RFC 9162's "right-shift fn and sn equally until either LSB(fn) is set or fn is 0" (§2.1.3.2, §2.1.4.2)."""
    while True:
        fn >>= 1
        sn >>= 1
        if fn & 1 or fn == 0:
            return fn, sn


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``old_root`` of ``old_size`` leaves a prefix of ``new_root``?"""
    if old_size > new_size or old_size < 0:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = _climb(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
