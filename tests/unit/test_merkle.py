"""The Merkle tree against RFC 6962's reference vectors (Certificate Transparency's test data), and
properties: every proof verifies, every tampered proof fails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import merkle

ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
LEAVES = [merkle.leaf_hash(e) for e in ENTRIES]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # size 0: SHA-256("")
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {  # (index, size): path
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CONSISTENCY = {  # (old, new): proof
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}


def test_roots_match_rfc6962_vectors() -> None:
    for n in range(len(ENTRIES) + 1):
        assert merkle.root(ENTRIES[:n]).hex() == ROOTS[n], n


def test_inclusion_paths_match_vectors_and_verify() -> None:
    for (i, n), want in INCLUSION.items():
        got = merkle.inclusion_proof(LEAVES[:n], i)
        assert [p.hex() for p in got] == want
        assert merkle.verify_inclusion(LEAVES[i], i, n, got, bytes.fromhex(ROOTS[n]))


def test_consistency_proofs_match_vectors_and_verify() -> None:
    for (m, n), want in CONSISTENCY.items():
        got = merkle.consistency_proof(LEAVES[:n], m)
        assert [p.hex() for p in got] == want
        assert merkle.verify_consistency(m, n, bytes.fromhex(ROOTS[m]), bytes.fromhex(ROOTS[n]), got)


def test_degenerate_cases() -> None:
    r4 = bytes.fromhex(ROOTS[4])
    assert merkle.verify_consistency(4, 4, r4, r4, [])
    assert not merkle.verify_consistency(4, 4, r4, bytes.fromhex(ROOTS[5]), [])
    assert not merkle.verify_consistency(5, 4, bytes.fromhex(ROOTS[5]), r4, [])
    assert not merkle.verify_consistency(2, 8, bytes.fromhex(ROOTS[2]), bytes.fromhex(ROOTS[8]), [])
    assert not merkle.verify_inclusion(LEAVES[0], 8, 8, INCLUSION[(0, 8)], bytes.fromhex(ROOTS[8]))


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_inclusion_proof_verifies_and_tampering_fails(n: int, data: st.DataObject) -> None:
    hs = _leaves(n)
    r = merkle.root_of_hashes(hs)
    i = data.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(hs, i)
    assert merkle.verify_inclusion(hs[i], i, n, proof, r)
    assert not merkle.verify_inclusion(_flip(hs[i]), i, n, proof, r)
    assert not merkle.verify_inclusion(hs[i], i, n, proof, _flip(r))
    if n > 1:
        assert not merkle.verify_inclusion(hs[i], (i + 1) % n, n, proof, r)
        j = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[j] = _flip(bad[j])
        assert not merkle.verify_inclusion(hs[i], i, n, bad, r)
        assert not merkle.verify_inclusion(hs[i], i, n, proof[:-1], r)
        assert not merkle.verify_inclusion(hs[i], i, n, proof + [r], r)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_consistency_proof_verifies_and_tampering_fails(n: int, data: st.DataObject) -> None:
    hs = _leaves(n)
    m = data.draw(st.integers(1, n))
    old, new = merkle.root_of_hashes(hs[:m]), merkle.root_of_hashes(hs)
    proof = merkle.consistency_proof(hs, m)
    assert merkle.verify_consistency(m, n, old, new, proof)
    if m < n:
        assert not merkle.verify_consistency(m, n, _flip(old), new, proof)
        assert not merkle.verify_consistency(m, n, old, _flip(new), proof)
        j = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[j] = _flip(bad[j])
        assert not merkle.verify_consistency(m, n, old, new, bad)
        # A rolled-back log: the old tree with its newest leaf replaced is not a prefix.
        forged = merkle.root_of_hashes(hs[: m - 1] + [_flip(hs[m - 1])])
        assert not merkle.verify_consistency(m, n, forged, new, proof)


def test_iterative_root_equals_the_rfc_recursion() -> None:
    def mth(d: list[bytes]) -> bytes:
        if len(d) == 1:
            return d[0]
        k = 1 << ((len(d) - 1).bit_length() - 1)
        return merkle.node_hash(mth(d[:k]), mth(d[k:]))

    for n in range(1, 70):
        hs = _leaves(n)
        assert merkle.root_of_hashes(hs) == mth(hs)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_a_frontier_extended_later_gives_the_same_root(a: int, b: int) -> None:
    hs = _leaves(a + b)
    fr = merkle.extend([], hs[:a])
    assert merkle.frontier_root(fr) == merkle.root_of_hashes(hs[:a])
    assert sum(n for n, _ in fr) == a and bin(a).count("1") == len(fr)
    assert merkle.frontier_root(merkle.extend(fr, hs, a)) == merkle.root_of_hashes(hs)


def test_inclusion_proof_from_a_frontier_equals_the_full_path() -> None:
    """An export proves its leaf from the last checkpoint's frontier and the leaves after it alone."""
    for n in range(1, 80):
        hs = [merkle.leaf_hash(n.to_bytes(2, "big") + j.to_bytes(2, "big")) for j in range(n)]
        root = merkle.root_of_hashes(hs)
        for i in range(n):
            path = merkle.inclusion_proof_from(merkle.extend([], hs, 0, i), hs[i:])
            assert path == merkle.inclusion_proof(hs, i)
            assert merkle.verify_inclusion(hs[i], i, n, path, root)
    with pytest.raises(ValueError):
        merkle.inclusion_proof_from(merkle.extend([], [merkle.leaf_hash(b"a")] * 3), [])
    with pytest.raises(ValueError):  # a frontier whose sizes are not the binary form of its size
        merkle.inclusion_proof_from([(1, b"\0" * 32), (2, b"\0" * 32)], [merkle.leaf_hash(b"x")] * 3)
