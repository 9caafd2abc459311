"""Case codes do not count: the serial is a keyed permutation of the county's counter."""

from __future__ import annotations

import pytest

from server.cases.codes import SERIALS, format_code, serial_for, valid

SECRET = b"test-secret-key-not-for-production"


def test_serials_are_distinct_in_range_and_not_in_order() -> None:
    serials = [serial_for(SECRET, "340321", 2026, n) for n in range(1, 3001)]
    assert len(set(serials)) == len(serials)
    assert all(1 <= x <= SERIALS for x in serials)
    assert all(valid(format_code("340321", 2026, x)) for x in serials)
    # Not the counter, not monotonic: neighbours in time are far apart, and order is lost.
    assert serials[:3] != [1, 2, 3]
    rises = sum(b > a for a, b in zip(serials, serials[1:], strict=False))
    assert 0.4 < rises / (len(serials) - 1) < 0.6
    assert sum(abs(b - a) < 1000 for a, b in zip(serials, serials[1:], strict=False)) < 30


def test_the_permutation_depends_on_key_county_and_year() -> None:
    base = [serial_for(SECRET, "340321", 2026, n) for n in range(1, 50)]
    assert base == [serial_for(SECRET, "340321", 2026, n) for n in range(1, 50)]  # stable
    assert base != [serial_for(b"another-key", "340321", 2026, n) for n in range(1, 50)]
    assert base != [serial_for(SECRET, "340322", 2026, n) for n in range(1, 50)]
    assert base != [serial_for(SECRET, "340321", 2027, n) for n in range(1, 50)]


def test_range_and_old_codes() -> None:
    for bad in (0, SERIALS + 1):
        with pytest.raises(ValueError):
            serial_for(SECRET, "340321", 2026, bad)
    assert serial_for(SECRET, "340321", 2026, SERIALS) <= SERIALS
    # Sequential codes made before the change keep the same format and stay valid.
    assert valid("340321-2026-000001") and valid(format_code("340321", 2026, 1))
