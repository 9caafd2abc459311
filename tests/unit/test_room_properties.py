"""Random command sequences thrown at Room; its invariants must hold after every step."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.rooms.room import Room, Send

PEERS = ["h", "m", "a", "b", "c", "x"]
ROLES = {"h": "host", "m": "mediator", "a": "party", "b": "party", "c": "expert", "x": "observer"}
SUBROOMS = [None, "甲", "乙"]

peer = st.sampled_from(PEERS)
maybe_peer = st.one_of(st.none(), peer)

messages = st.one_of(
    st.builds(lambda p: {"type": "admit", "peer": p}, peer),
    st.builds(lambda p: {"type": "deny", "peer": p}, peer),
    st.builds(lambda p: {"type": "remove", "peer": p}, peer),
    st.builds(lambda p, k: {"type": "mute", "peer": p, "kind": k}, peer, st.sampled_from(["audio", "video"])),
    st.builds(lambda v: {"type": "lock", "locked": v}, st.booleans()),
    st.builds(lambda p, s: {"type": "move", "peer": p, "subroom": s}, peer, st.sampled_from(SUBROOMS)),
    st.builds(lambda p: {"type": "floor", "peer": p}, maybe_peer),
    st.builds(lambda on, subs: {"type": "recording", "on": on, "subrooms": subs}, st.booleans(),
              st.lists(st.sampled_from(["甲", "乙"]), max_size=2)),
    st.builds(lambda t: {"type": "chat", "text": t}, st.text(min_size=0, max_size=5)),
    st.builds(lambda v: {"type": "hand", "raised": v}, st.booleans()),
    st.builds(lambda v: {"type": "consent", "recording": v}, st.booleans()),
    st.just({"type": "leave"}),
    st.just({"type": "end"}),
)

commands = st.one_of(
    st.builds(lambda p, resume: ("join", p, resume), peer, st.booleans()),
    st.builds(lambda p: ("drop", p), peer),
    st.builds(lambda p: ("expire", p), peer),
    st.builds(lambda p, m: ("msg", p, m), peer, messages),
    st.just(("recorder",)),
    st.just(("tick",)),
)


class Driver:
    def __init__(self, shuttle: bool = False) -> None:
        self.t = 1000.0
        self.room = Room(1, "mediation", clock=lambda: self.t, shuttle=shuttle)
        self.conn: dict[str, str] = {}
        self.n = 0

    def run(self, c: tuple) -> list[Any]:
        room = self.room
        self.t += 1
        if c[0] == "tick":
            self.t += 61
            out = []
            for pid, epoch in room.expired():
                out += room.apply({"op": "expire", "peer": pid, "epoch": epoch, "at": self.t})
            return out
        if c[0] == "recorder":
            self.n += 1
            return room.apply({"op": "join", "peer_id": f"rec{self.n}", "name": "录像", "role": "recorder",
                               "identity": f"system:{self.n}", "node": "n", "conn": f"s{self.n}",
                               "new_resume_hash": f"sh{self.n}", "direct": True, "system": True, "at": self.t})
        pid = c[1]
        if c[0] == "join":
            self.n += 1
            conn = f"c{self.n}"
            p = room.peers.get(pid)
            eff = room.apply({"op": "join", "peer_id": pid if p is None else f"new{self.n}", "name": pid,
                              "role": ROLES[pid], "identity": f"i:{pid}", "node": "n", "conn": conn,
                              "new_resume_hash": f"h{self.n}", "direct": ROLES[pid] == "expert",
                              "resume_hash": p.resume_hash if (p and c[2]) else None, "at": self.t})
            self.conn[pid] = conn
            return eff
        conn = room.peers[pid].conn if pid in room.peers else "none"
        if c[0] == "drop":
            return room.apply({"op": "drop", "peer": pid, "conn": conn, "at": self.t})
        if c[0] == "expire":
            p = room.peers.get(pid)
            return room.apply({"op": "expire", "peer": pid, "epoch": p.epoch if p else 0, "at": self.t})
        return room.apply({"op": "msg", "peer": pid, "conn": conn, "message": c[2], "at": self.t})


def check_invariants(room: Room, before_admitted: set[str], effects: list[Any]) -> None:
    lobby = {p.id for p in room.peers.values() if not p.admitted}
    admitted = {p.id for p in room.peers.values() if p.admitted}
    for p in room.peers.values():
        if p.subroom is not None:
            assert p.admitted, "every sub-room member is admitted"
        if p.system:
            assert room.recording, "no recorder while recording is off"
            assert p.admitted
    if room.floor is not None:
        assert room.floor in admitted and not room.peers[room.floor].system
    for h in room.hands:
        assert h in admitted and room.peers[h].hand
    assert len(room.hands) == len(set(room.hands))
    if room.ended:
        assert not room.peers
    # Nobody in the lobby receives room traffic: only "lobby", refusals, and the welcome of admission.
    for e in effects:
        if not isinstance(e, Send):
            continue
        for pid, _node, _conn in e.to:
            if pid in lobby:
                assert e.msg["type"] in ("lobby", "error"), e.msg
            if e.msg["type"] in ("chat", "peer-joined", "peer-updated", "signal", "knock", "moved", "muted"):
                assert pid in admitted or pid in before_admitted, (pid, e.msg)
        if e.msg["type"] == "chat":
            sender = room.peers.get(e.msg["from"])
            if sender is not None:
                assert all(room.peers[t[0]].subroom == sender.subroom for t in e.to if t[0] in room.peers)
        if e.msg["type"] == "knock":
            assert all(room.peers[t[0]].role in ("host", "mediator") for t in e.to if t[0] in room.peers)
    # Signals only between admitted peers of one sub-room (the recorder pairs with recorded people).
    for a in room.peers:
        for b in room.peers:
            if room.check_signal(a, b) is None:
                pa, pb = room.peers[a], room.peers[b]
                assert pa.admitted and pb.admitted and a != b
                if not (pa.system or pb.system):
                    assert pa.subroom == pb.subroom
                else:
                    person = pb if pa.system else pa
                    assert room.is_recorded(person)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=60))
def test_random_sequences_keep_invariants(cmds: list[tuple]) -> None:
    d = Driver()
    for c in cmds:
        before = {p.id for p in d.room.peers.values() if p.admitted}
        effects = d.run(c)
        check_invariants(d.room, before, effects)


@settings(max_examples=100, deadline=None)
@given(st.lists(commands, min_size=1, max_size=40))
def test_replicas_converge(cmds: list[tuple]) -> None:
    """The same log applied on two nodes gives the same state (the multi-node design relies on it)."""
    d = Driver()
    log: list[dict[str, Any]] = []
    original_apply = d.room.apply

    def recording_apply(cmd: dict[str, Any]) -> list[Any]:
        log.append(dict(cmd))
        return original_apply(cmd)

    d.room.apply = recording_apply  # type: ignore[method-assign]
    for c in cmds:
        d.run(c)
    replica = Room(1, "mediation", clock=lambda: 0.0)
    for cmd in log:
        replica.apply(cmd)
    assert replica.room_json() == d.room.room_json()
    assert [replica.peer_json(p) for p in replica.peers.values()] == [d.room.peer_json(p) for p in d.room.peers.values()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=60))
def test_shuttle_rooms_never_seat_two_parties_together(cmds: list[tuple]) -> None:
    d = Driver(shuttle=True)
    for c in cmds:
        before = {p.id for p in d.room.peers.values() if p.admitted}
        effects = d.run(c)
        check_invariants(d.room, before, effects)
        rooms = [p.subroom for p in d.room.peers.values() if p.admitted and p.role == "party"]
        assert len(rooms) == len(set(rooms)), "two parties share a room in shuttle mediation"
