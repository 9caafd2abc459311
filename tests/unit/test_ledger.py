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
    assert ev.hash == ledger.link_hash(ledger.GENESIS, ledger.canonical("session:1", 1, "chat", ev.at, ev.data))


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


def test_canonical_form_is_stable() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    got = ledger.canonical("case:9", 1, "t", at, {"b": 1, "a": "中"})
    assert got == '{"at":"2026-01-02T03:04:05.006000Z","chain":"case:9","data":{"a":"中","b":1},"seq":1,"type":"t"}'.encode()
