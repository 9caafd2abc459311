from dataclasses import replace
from datetime import UTC, datetime, timedelta

from server import ledger


def _chain(n: int) -> list[ledger.Event]:
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    out: list[ledger.Event] = []
    for i in range(n):
        out.append(ledger.make_event("session:1", out[-1] if out else None, "chat", {"text": f"你好 {i}"},
                                     t0 + timedelta(seconds=i)))
    return out


def test_intact_chain_verifies() -> None:
    v = ledger.verify(_chain(5), "session:1")
    assert v.ok and v.count == 5 and str(v) == "OK 5 events"


def test_first_event_links_to_genesis() -> None:
    ev = _chain(1)[0]
    assert ev.prev_hash == ledger.GENESIS and ev.seq == 1
    assert ev.v == 2
    assert ev.hash == ledger.link_hash(ledger.GENESIS, ledger.canonical("session:1", 1, "chat", ev.at, ev.data, 2))


def test_edit_is_named() -> None:
    evs = _chain(5)
    evs[2] = replace(evs[2], data={"text": "改过"})
    v = ledger.verify(evs)
    assert not v.ok and v.bad_seq == 3 and "edited" in v.reason


def test_delete_is_named() -> None:
    evs = _chain(5)
    del evs[1]
    v = ledger.verify(evs)
    assert not v.ok and v.bad_seq == 3


def test_reorder_is_named() -> None:
    evs = _chain(5)
    evs[1], evs[2] = evs[2], evs[1]
    v = ledger.verify(evs)
    assert not v.ok and v.bad_seq == 3


def test_insert_is_named() -> None:
    evs = _chain(3)
    forged = ledger.make_event("session:1", evs[0], "chat", {"text": "forged"}, evs[0].at)
    evs.insert(1, forged)
    v = ledger.verify(evs)
    assert not v.ok and v.bad_seq == 2


def test_v1_canonical_form_is_stable() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    got = ledger.canonical("case:9", 1, "t", at, {"b": 1, "a": "中"})
    assert got == '{"at":"2026-01-02T03:04:05.006000Z","chain":"case:9","data":{"a":"中","b":1},"seq":1,"type":"t"}'.encode()


def test_v2_canonical_form_is_jcs_with_milliseconds() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    got = ledger.canonical("case:9", 1, "t", at, {"b": 10.0, "a": "中", "c": 1e-7}, 2)
    assert got == ('{"at":1767323045006,"chain":"case:9","data":{"a":"中","b":10,"c":1e-7},"seq":1,"type":"t",'
                   '"v":2}').encode()


def test_v2_time_is_whole_milliseconds() -> None:
    ev = ledger.make_event("c", None, "t", {}, datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC))
    assert ev.at.microsecond == 6000 and ev.export()["at"] == 1767323045006
    assert ev.recompute() == ev.hash


def _v1_event(chain: str, prev: ledger.Event | None, type: str, data: object, at: datetime) -> ledger.Event:
    """An event as the v1 code wrote it (before ledger v2)."""
    seq = prev.seq + 1 if prev else 1
    prev_hash = prev.hash if prev else ledger.GENESIS
    h = ledger.link_hash(prev_hash, ledger.canonical_v1(chain, seq, type, at, data))
    return ledger.Event(chain, seq, type, at, data, prev_hash, h, 1)


def test_mixed_chain_of_v1_then_v2_verifies() -> None:
    t0 = datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=UTC)
    a = _v1_event("case:1", None, "opened", {"n": 10.0}, t0)
    b = _v1_event("case:1", a, "note", {"text": "旧"}, t0)
    c = ledger.make_event("case:1", b, "note", {"n": 10.0, "big": 2**53 - 1}, t0)
    assert (a.v, b.v, c.v) == (1, 1, 2)
    assert ledger.verify([a, b, c], "case:1").ok
    # v1 hashes Python's number form: "10.0" (which is why v2 exists).
    assert b'"n":10.0' in ledger.canonical_v1(a.chain, 1, a.type, a.at, a.data)
    # A v2 event relabelled v1 (or the reverse) no longer matches its hash; a v1 after a v2 is refused.
    v = ledger.verify([a, b, replace(c, v=1)])
    assert not v.ok and v.bad_seq == 3
    d = _v1_event("case:1", c, "note", {}, t0)
    v = ledger.verify([a, b, c, d])
    assert not v.ok and v.bad_seq == 4 and "version 1 after" in v.reason


def test_unrepresentable_data_is_refused_at_append() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for bad in ({"n": 2**53}, {"x": float("nan")}, {"s": "\ud800"}):
        try:
            ledger.make_event("c", None, "t", bad, t0)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
