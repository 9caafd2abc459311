"""The media topology of a room (docs/sfu.md), on the pure state machine: moves in place, ledger entries,
the switch's duration, and the pure choice of ``server.sfu.plan.choose_topology``."""

from __future__ import annotations

import pytest

from server.rooms.protocol import ProtocolError, parse
from server.rooms.room import MAX_PEERS, Record, RoomError, Send
from server.sfu import plan
from tests.unit.test_room import R, records, to


def rec(effects: list, type_: str) -> dict:
    return next(e.data for e in effects if isinstance(e, Record) and e.type == type_)


def feed(r: R, pid: str, up: bool = True) -> list:
    p = r.room.peers[pid]
    return r.room.apply({"op": "sfu_feed", "peer": pid, "generation": r.room.sfu_generation, "epoch": p.epoch,
                         "up": up, "at": r.clock.t})


def test_choose_topology() -> None:
    choose = plan.choose_topology
    assert choose("dispatch", "mesh", 1, sfu_configured=True) == plan.TopologyChange("sfu", "kind")
    assert choose("petition", "mesh", 0, sfu_configured=True) == plan.TopologyChange("sfu", "kind")
    assert choose("mediation", "mesh", 4, sfu_configured=True) is None
    assert choose("mediation", "mesh", 5, sfu_configured=True) == plan.TopologyChange("sfu", "size", 5, 4)
    assert choose("mediation", "mesh", 3, sfu_configured=True, mesh_limit=2) == plan.TopologyChange("sfu", "size", 3, 2)
    # Without a Janus nothing moves; a room on the SFU never goes back.
    assert choose("dispatch", "mesh", 50, sfu_configured=False) is None
    assert choose("mediation", "sfu", 1, sfu_configured=True) is None


def test_move_in_place_keeps_every_place_and_records_cause_and_duration() -> None:
    r = R()
    r.host_and_parties("a", "b")
    ids = set(r.room.peers)
    eff = r.room.apply({"op": "topology", "topology": "sfu", "cause": "size", "n": 5, "limit": 4,
                        "instance": "j-1", "at": r.clock.t})
    assert set(r.room.peers) == ids and all(p.connected and p.admitted for p in r.room.peers.values())
    assert r.room.topology == "sfu" and r.room.sfu_instance == "j-1"
    for pid in ids:
        msgs = to(eff, pid)
        assert {"type": "topology", "topology": "sfu", "cause": "size", "generation": 0} in msgs
        assert any(m["type"] == "room" and m["room"]["topology"] == "sfu" for m in msgs)
    moved = rec(eff, "topology")
    assert moved == {"from": "mesh", "to": "sfu", "cause": "size", "n": 5, "limit": 4, "generation": 0,
                     "switch": 1, "peers": 3}
    assert "j-1" not in repr([e.msg for e in eff if isinstance(e, Send)])  # the instance stays on the server
    # Settled once every connected person's feed is up again: 2.5 s after the move.
    r.clock.t += 1
    assert records(feed(r, "host")) == []
    r.clock.t += 1.5
    assert records(feed(r, "a")) == []
    eff = feed(r, "b")
    assert rec(eff, "topology_settled") == {"switch": 1, "cause": "size", "topology": "sfu", "duration_ms": 2500}
    assert r.room.switch is None
    # A second move to the same place is a no-op (two nodes decided it at once), and there is no way back.
    assert r.room.apply({"op": "topology", "topology": "sfu", "cause": "size", "instance": "j-1"}) == []
    assert r.room.apply({"op": "topology", "topology": "mesh", "cause": "size"}) == []


def test_a_person_who_leaves_during_the_move_does_not_hold_it_up() -> None:
    r = R()
    r.host_and_parties("a", "b")
    r.room.set_topology("sfu", "size", instance="j-1", now=r.clock.t)
    feed(r, "host")
    feed(r, "a")
    r.clock.t += 3
    eff = r.room.leave("b", now=r.clock.t)
    assert rec(eff, "topology_settled")["duration_ms"] == 3000


def test_feed_reports_are_checked() -> None:
    r = R()
    r.host_and_parties("a")
    assert feed(r, "a") == [] and not r.room.peers["a"].sfu_feed  # the room is still a mesh
    r.room.set_topology("sfu", "kind", instance="j-1")
    stale = {"op": "sfu_feed", "peer": "a", "generation": 0, "epoch": 5, "up": True}
    assert r.room.apply(stale) == [] and not r.room.peers["a"].sfu_feed  # an old connection's report
    assert r.room.apply({**stale, "epoch": 0, "generation": 3}) == []  # another Janus room's
    feed(r, "a")
    assert [p.id for p in r.room.sfu_publishers()] == ["a"]
    # A failover: a new generation on another instance; every feed must come up again.
    eff = r.room.apply({"op": "topology", "topology": "sfu", "cause": "failover", "instance": "j-2",
                        "generation": 1})
    assert rec(eff, "topology")["cause"] == "failover" and r.room.sfu_generation == 1
    assert r.room.sfu_publishers() == []
    # A drop takes the feed down; the resumed connection publishes afresh.
    feed(r, "a")
    r.room.drop("a", r.room.peers["a"].conn)
    assert not r.room.peers["a"].sfu_feed


def test_topology_refusals_and_room_size() -> None:
    r = R()
    r.host_and_parties()
    with pytest.raises(RoomError):
        r.room.set_topology("p2p", "size")
    with pytest.raises(RoomError):
        r.room.set_topology("sfu", "whim")
    err = r.room.apply({"op": "topology", "topology": "sfu", "cause": "whim"})
    assert err == []  # not from a connection: nothing to tell
    # A mesh holds 50; on the SFU a briefing holds far more.
    for i in range(MAX_PEERS - 1):
        r.join(f"x{i}", "observer", direct=True)
    with pytest.raises(RoomError):
        r.join("late", "observer", direct=True)
    r.room.set_topology("sfu", "size", instance="j-1")
    assert [m["type"] for m in to(r.join("late", "observer", direct=True), "late")] == ["welcome"]


def test_sfu_messages_validated() -> None:
    sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"
    assert parse(f'{{"type":"sfu","op":"publish","sdp":{sdp!r}}}'.replace("'", '"'))["op"] == "publish"
    ok = parse('{"type":"sfu","op":"layers","layers":{"tiles":[{"peer":"p1","height":360},'
               '{"peer":"p2","height":720,"screen":true}],"bandwidth":500000,"low_data":true,"extra":1}}')
    assert ok["layers"] == {"tiles": [{"peer": "p1", "height": 360, "screen": False},
                                      {"peer": "p2", "height": 720, "screen": True}],
                            "bandwidth": 500000, "low_data": True}
    for bad in ('{"type":"sfu","op":"dial"}', '{"type":"sfu","op":"start"}', '{"type":"sfu","op":"start","sdp":"x"}',
                '{"type":"sfu","op":"layers"}', '{"type":"sfu","op":"layers","layers":{"bandwidth":-1}}',
                '{"type":"sfu","op":"layers","layers":{"tiles":[{"peer":"p","height":true}]}}',
                '{"type":"sfu","op":"layers","layers":{"tiles":[{"peer":"p","height":1,"screen":"yes"}]}}',
                '{"type":"sfu","op":"layers","layers":{"tiles":' + '[{"peer":"p","height":1}]' * 0 + '[' +
                ','.join(['{"peer":"p","height":1}'] * 201) + ']}}'):
        with pytest.raises(ProtocolError):
            parse(bad)


def test_mesh_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.config import ConfigError, _mesh_limit

    monkeypatch.delenv("CONCORD_MESH_LIMIT", raising=False)
    assert _mesh_limit() == 4
    monkeypatch.setenv("CONCORD_MESH_LIMIT", "6")
    assert _mesh_limit() == 6
    for bad in ("1", "51", "four"):
        monkeypatch.setenv("CONCORD_MESH_LIMIT", bad)
        with pytest.raises(ConfigError):
            _mesh_limit()


def test_instance_peers_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.config import ConfigError, _instance_peers

    monkeypatch.delenv("CONCORD_SFU_INSTANCE_PEERS", raising=False)
    assert _instance_peers() == 250
    monkeypatch.setenv("CONCORD_SFU_INSTANCE_PEERS", "2")
    assert _instance_peers() == 2
    for bad in ("0", "-3", "many"):
        monkeypatch.setenv("CONCORD_SFU_INSTANCE_PEERS", bad)
        with pytest.raises(ConfigError):
            _instance_peers()


def test_feed_reports_carry_the_instance_for_rooms_spanning_instances() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.set_topology("sfu", "kind", instance="j-1")
    p = r.room.peers["a"]
    up = {"op": "sfu_feed", "peer": "a", "generation": 0, "epoch": p.epoch, "up": True, "instance": "j-2"}
    r.room.apply(up)
    assert p.sfu_feed and p.sfu_instance == "j-2"  # an edge of the room (server.sfu.span)
    assert "j-2" not in str(r.room.peer_json(p))  # never sent to clients
    r.room.apply({**up, "up": False})
    assert not p.sfu_feed and p.sfu_instance == "j-2"  # down, still placed there
    r.room.apply(up)
    # A new generation: everyone is placed again.
    r.room.apply({"op": "topology", "topology": "sfu", "cause": "failover", "instance": "j-1", "generation": 1})
    assert p.sfu_instance is None
    r.room.apply({**up, "generation": 1})
    assert p.sfu_instance == "j-2"
    # A new connection is placed again too.
    r.room.drop("a", p.conn)
    assert p.sfu_instance == "j-2"
    # A report without an instance (an older node) leaves it unknown.
    r2 = R()
    r2.host_and_parties("a")
    r2.room.set_topology("sfu", "kind", instance="j-1")
    feed(r2, "a")
    assert r2.room.peers["a"].sfu_instance is None
