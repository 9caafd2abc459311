"""RFC 8785 JSON Canonicalization Scheme (JCS): the bytes ledger v2 hashes and checkpoints sign.

Written from the RFC, so a verifier in any language that implements JCS (or ECMAScript's
``JSON.stringify`` with sorted keys) produces the same bytes:

- objects: members sorted by their keys' UTF-16 code units, ``{"k":v,...}`` with no white space;
- strings: ``"`` and ``\\`` escaped as ``\\"`` and ``\\\\``; U+0008, U+0009, U+000A, U+000C, U+000D as
  ``\\b \\t \\n \\f \\r``; every other code point below U+0020 as ``\\u00xx`` (lower-case hex); all else
  as itself in UTF-8 (no ``\\u`` escapes for non-ASCII, none for U+007F, U+2028 or U+2029);
- numbers: ECMAScript's Number-to-String of the IEEE-754 double (``10.0`` -> ``10``, ``1e-7`` ->
  ``1e-7``, ``1e21`` -> ``1e+21``, ``-0.0`` -> ``0``);
- ``true``, ``false``, ``null``.

Refused (``ValueError``), because no two implementations would agree on them: NaN and infinities,
integers beyond 2**53 - 1 in magnitude (not exactly representable as a double: store them as strings),
lone surrogates, and non-string object keys. Plain Python: no I/O.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def number(x: int | float) -> str:
    """ECMAScript Number::toString (ECMA-262 §6.1.6.1.20) of ``x`` as a double."""
    if isinstance(x, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(x, int):
        if abs(x) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {x} is beyond 2**53 - 1: not exactly representable; store it as a string")
        return str(x)
    if not math.isfinite(x):
        raise ValueError(f"{x} has no JSON form")
    if x == 0:
        return "0"  # also -0.0
    sign = "-" if x < 0 else ""
    # repr gives the shortest digit string that round-trips (as ECMAScript requires); take its digits
    # and exponent, drop trailing zeros: value = digits * 10**(n - k).
    t = Decimal(repr(abs(x))).as_tuple()
    digits = list(t.digits)
    exp = int(t.exponent)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    s = "".join(map(str, digits))
    k = len(s)
    n = exp + k
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + s
    else:
        e = n - 1
        mantissa = s if k == 1 else s[0] + "." + s[1:]
        out = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def string(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif c < 0x20:
            out.append(f"\\u{c:04x}")
        elif 0xD800 <= c <= 0xDFFF:
            raise ValueError("a lone surrogate has no UTF-8 form")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(k: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as the sequences of UTF-16 code units do.
    return k.encode("utf-16-be")


def _write(v: Any, out: list[str]) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int | float):
        out.append(number(v))
    elif isinstance(v, str):
        out.append(string(v))
    elif isinstance(v, list | tuple):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(v, dict):
        for k in v:
            if not isinstance(k, str):
                raise ValueError(f"object key {k!r} is not a string")
        out.append("{")
        for i, k in enumerate(sorted(v, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(string(k))
            out.append(":")
            _write(v[k], out)
        out.append("}")
    else:
        raise ValueError(f"{type(v).__name__} has no JSON form")


def canonicalize(v: Any) -> bytes:
    """The JCS bytes (UTF-8) of ``v``."""
    out: list[str] = []
    _write(v, out)
    return "".join(out).encode("utf-8")
