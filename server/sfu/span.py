"""Pure decisions for a room that spans several Janus instances (no I/O): where a new person goes, and
which feeds are forwarded (cascaded) to which instances (docs/scaling.md, "Rooms across instances").

A room is placed on a *home* instance. Its people go there until the room's people on it reach the
per-instance capacity (CONCORD_SFU_INSTANCE_PEERS); later people go to the least-loaded other instance
that is up and still has room (the same Janus room id and secret exist there too). Every feed is native
on its publisher's instance; it is forwarded (``server.sfu.cascade``, one level: native → edge) to each
other instance where someone subscribes to it (``server.sfu.plan.subscription_feeds``), and only there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

INSTANCE_PEERS = 250  # CONCORD_SFU_INSTANCE_PEERS: people of one room per instance (docs/scaling.md)


def place_person(home: str, counts: Mapping[str, int], up: Iterable[str], *, capacity: int = INSTANCE_PEERS,
                 load: Mapping[str, float] | None = None) -> str:
    """The instance a new person of the room goes to.

    ``counts``: the room's people already placed per instance; ``up``: the instances that are up;
    ``load``: each instance's load score (lower is less loaded; missing: the room's count there).
    The home while it has room; otherwise the least-loaded other instance that is up and has room (ties:
    the one the room already uses most, then the id); when every instance is full, the least-filled one
    (an over-full instance beats refusing a person). Raises ValueError when no instance is up."""
    if capacity < 1:
        raise ValueError("capacity must be at least 1")
    alive = sorted(set(up))
    if not alive:
        raise ValueError("no instance is up")
    if home in alive and counts.get(home, 0) < capacity:
        return home
    loads = load or {}
    others = [i for i in alive if i != home and counts.get(i, 0) < capacity]
    if others:
        return min(others, key=lambda i: (loads.get(i, float(counts.get(i, 0))), -counts.get(i, 0), i))
    return min(alive, key=lambda i: (counts.get(i, 0) / capacity, i != home, i))


def forwards(placement: Mapping[str, str], wanted: Mapping[str, Iterable[str]]) -> set[tuple[str, str]]:
    """The (feed, instance) pairs to cascade: each feed (a publisher's peer id, native on
    ``placement[feed]``) goes to every other instance where a viewer (``wanted``: viewer → the feeds it
    subscribes to, ``placement[viewer]`` its instance) wants it. Feeds or viewers without a placement
    are skipped."""
    out: set[tuple[str, str]] = set()
    for viewer, feeds in wanted.items():
        where = placement.get(viewer)
        if where is None:
            continue
        for feed in feeds:
            native = placement.get(feed)
            if native is not None and native != where:
                out.add((feed, where))
    return out


def available(instance: str, placement: Mapping[str, str], links: Iterable[tuple[str, str]],
              feeds: Iterable[str]) -> set[str]:
    """The feeds a viewer on ``instance`` can subscribe to there: native ones and forwarded copies."""
    forwarded = {f for f, target in links if target == instance}
    return {f for f in feeds if placement.get(f) == instance or f in forwarded}
