"""Placement of a room's people over Janus instances and the cascades it implies (server.sfu.span)."""

from __future__ import annotations

import pytest

from server.sfu import span


def test_home_until_full_then_least_loaded_other() -> None:
    up = ["a", "b", "c"]
    assert span.place_person("a", {}, up, capacity=2) == "a"
    assert span.place_person("a", {"a": 1}, up, capacity=2) == "a"
    # Full home: the least-loaded other instance that is up, by the Admin API's score.
    assert span.place_person("a", {"a": 2}, up, capacity=2, load={"b": 5.0, "c": 1.0}) == "c"
    # Without scores: the room's own count there, then the id.
    assert span.place_person("a", {"a": 2, "b": 1}, up, capacity=2) == "c"
    assert span.place_person("a", {"a": 2}, up, capacity=2) == "b"
    # An edge that is full is skipped.
    assert span.place_person("a", {"a": 2, "b": 2}, up, capacity=2, load={"b": 0.0, "c": 9.0}) == "c"


def test_down_instances_are_never_chosen() -> None:
    assert span.place_person("a", {"a": 2}, ["a", "c"], capacity=2, load={"b": 0.0, "c": 9.0}) == "c"
    # The home is down (a lost home before the room re-homes): another instance.
    assert span.place_person("a", {}, ["b"], capacity=2) == "b"
    with pytest.raises(ValueError):
        span.place_person("a", {}, [], capacity=2)
    with pytest.raises(ValueError):
        span.place_person("a", {}, ["a"], capacity=0)


def test_everyone_full_goes_to_the_least_filled() -> None:
    assert span.place_person("a", {"a": 2, "b": 2}, ["a", "b"], capacity=2) == "a"
    assert span.place_person("a", {"a": 3, "b": 2}, ["a", "b"], capacity=2) == "b"


def test_spread_of_a_briefing() -> None:
    counts: dict[str, int] = {}
    order = []
    for _ in range(7):
        where = span.place_person("a", counts, ["a", "b", "c"], capacity=3)
        counts[where] = counts.get(where, 0) + 1
        order.append(where)
    # The home fills first; then the least loaded edge (without scores: the room's fewest there).
    assert order == ["a", "a", "a", "b", "c", "b", "c"]


def test_forwards_follow_the_viewers() -> None:
    placement = {"host": "a", "c1": "a", "c2": "b", "c3": "b", "floor": "b"}
    wanted = {"c1": ["host", "floor"], "c2": ["host"], "c3": ["host"], "host": ["c1", "c2", "c3", "floor"]}
    assert span.forwards(placement, wanted) == {("host", "b"), ("c2", "a"), ("c3", "a"), ("floor", "a")}
    # Nobody on b takes the host any more: its forward goes.
    assert span.forwards(placement, {"host": ["c2"]}) == {("c2", "a")}
    # Feeds or viewers not placed are skipped; a feed is never forwarded to its own instance.
    assert span.forwards({"x": "a"}, {"x": ["y"], "z": ["x"]}) == set()
    assert span.forwards(placement, {"c1": ["host"]}) == set()


def test_available_on_an_instance() -> None:
    placement = {"host": "a", "c2": "b", "c3": "b"}
    assert span.available("b", placement, {("host", "b")}, ["host", "c2", "c3"]) == {"host", "c2", "c3"}
    assert span.available("b", placement, set(), ["host", "c2"]) == {"c2"}
    assert span.available("a", placement, {("host", "b"), ("c2", "a")}, ["host", "c2", "c3"]) == {"host", "c2"}
