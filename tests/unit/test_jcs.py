"""RFC 8785 (JCS) canonical form: the RFC's own examples and number vectors (Appendix B)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import jcs
from tests.conftest import need

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify-ledger.mjs"

# RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text (each also checked against
# Node's Number-to-String).
NUMBERS = {
    "0000000000000000": "0",
    "8000000000000000": "0",
    "0000000000000001": "5e-324",
    "8000000000000001": "-5e-324",
    "7fefffffffffffff": "1.7976931348623157e+308",
    "ffefffffffffffff": "-1.7976931348623157e+308",
    "4340000000000000": "9007199254740992",
    "c340000000000000": "-9007199254740992",
    "4430000000000000": "295147905179352830000",
    "44b52d02c7e14af5": "9.999999999999997e+22",
    "44b52d02c7e14af6": "1e+23",
    "44b52d02c7e14af7": "1.0000000000000001e+23",
    "444b1ae4d6e2ef4e": "999999999999999700000",
    "444b1ae4d6e2ef4f": "999999999999999900000",
    "444b1ae4d6e2ef50": "1e+21",
    "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
    "3eb0c6f7a0b5ed8d": "0.000001",
    "41b3de4355555553": "333333333.3333332",
    "41b3de4355555554": "333333333.33333325",
    "41b3de4355555555": "333333333.3333333",
    "41b3de4355555556": "333333333.3333334",
    "41b3de4355555557": "333333333.33333343",
    "becbf647612f3696": "-0.0000033333333333333333",
    "43143ff3c1cb0959": "1424953923781206.2",
}


@pytest.mark.parametrize("bits,text", NUMBERS.items())
def test_rfc8785_number_vectors(bits: str, text: str) -> None:
    (x,) = struct.unpack(">d", bytes.fromhex(bits))
    assert jcs.number(x) == text


def test_everyday_numbers() -> None:
    assert jcs.canonicalize([10.0, 10, 1e-7, 1e21, 1e20, -0.0, 0.5, 2**53 - 1, -(2**53 - 1), 100.0, 1.5e300]) == (
        b"[10,10,1e-7,1e+21,100000000000000000000,0,0.5,9007199254740991,-9007199254740991,100,1.5e+300]")


def test_rfc8785_section_3_2_2_example() -> None:
    src = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
           r'"string": "\u20ac$\u000F\u000aA\u0027\u0042\u0022\u005c\\\"\/",'
           '"literals": [null, true, false]}')
    want = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            r'"string":"€$\u000f\nA' "'" r'B\"\\\\\"/"}')
    assert jcs.canonicalize(json.loads(src)).decode("utf-8") == want


def test_keys_sort_by_utf16_code_units() -> None:
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    out = jcs.canonicalize({k: 0 for k in keys}).decode("utf-8")
    order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]  # RFC 8785 §3.2.3
    assert out == "{" + ",".join(jcs.string(k) + ":0" for k in order) + "}"


def test_string_escapes() -> None:
    assert jcs.string("a\"\\\b\t\n\f\r\x00\x1f\x7f\u2028中😀") == '"a\\"\\\\\\b\\t\\n\\f\\r\\u0000\\u001f\x7f\u2028中😀"'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**53, -(2**53), "\ud800", {1: 2}, b"x", {"a": {3}}])
def test_unrepresentable_values_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        jcs.canonicalize(bad)


# ---- the JavaScript implementation (tools/verify-ledger.mjs) gives the same bytes ----------------------

_scalars = (st.none() | st.booleans() | st.integers(-jcs.MAX_SAFE_INTEGER, jcs.MAX_SAFE_INTEGER)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(st.characters(exclude_categories=("Cs",)), max_size=12))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=6), inner,
                                         max_size=4), max_leaves=12)


def test_javascript_jcs_agrees_on_generated_values(tmp_path: Path) -> None:
    node = shutil.which("node")
    need("node (for the JavaScript ledger verifier)", node is not None)
    assert node is not None
    values: list[object] = []

    @settings(max_examples=400, deadline=None, database=None)
    @given(_values)
    def collect(v: object) -> None:
        values.append(v)

    collect()
    values += [10.0, 1e-7, 1e21, 1e20, -0.0, 2**53 - 1, 1 / 3, 5e-324, {"\U0001f600": 1, "\ufb33": 2}]
    src = tmp_path / "values.json"
    src.write_text(json.dumps(values, ensure_ascii=False))  # Python's number text, as exports carry it
    r = subprocess.run([node, str(TOOL), "--canonicalize", str(src)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.split("\n") if line]
    assert len(got) == len(values)
    for v, js in zip(values, got, strict=True):
        assert js == jcs.canonicalize(v).decode("utf-8"), v
