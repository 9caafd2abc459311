"""Every Room transition and permission, on the pure state machine (no sockets, no clock)."""

from __future__ import annotations

from typing import Any

import pytest

from server.rooms.permissions import MODERATOR_ACTIONS, PARTICIPANT_ACTIONS, allowed
from server.rooms.room import (
    CLOSE_ENDED,
    CLOSE_REMOVED,
    CLOSE_REPLACED,
    Close,
    Record,
    RecorderLost,
    RecordingChanged,
    Room,
    RoomError,
    Send,
    SessionState,
)


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def to(effects: list, peer_id: str) -> list[dict[str, Any]]:
    """Messages addressed to ``peer_id``."""
    return [e.msg for e in effects if isinstance(e, Send) and any(t[0] == peer_id for t in e.to)]


def types(effects: list, peer_id: str) -> list[str]:
    return [m["type"] for m in to(effects, peer_id)]


def records(effects: list) -> list[str]:
    return [e.type for e in effects if isinstance(e, Record)]


def closes(effects: list) -> list[tuple[str, int]]:
    return [(e.to[0], e.code) for e in effects if isinstance(e, Close)]


class R:
    """A room plus helpers to join people the way the handler does."""

    def __init__(self, kind: str = "mediation") -> None:
        self.clock = Clock()
        self.room = Room(7, kind, "土地纠纷调解", clock=self.clock)
        self.n = 0

    def join(self, pid: str, role: str = "party", *, direct: bool | None = None, identity: str | None = None,
             resume: str | None = None, system: bool = False, name: str | None = None) -> list:
        self.n += 1
        if direct is None:
            direct = role != "party"
        return self.room.join(peer_id=pid, name=name or f"名{pid}", role=role, identity=identity or f"id:{pid}",
                              node="n1", conn=f"c{self.n}", new_resume_hash=f"h{self.n}", direct=direct,
                              resume_hash=resume, system=system)

    def host_and_parties(self, *parties: str) -> None:
        self.join("host", "host")
        for p in parties:
            self.join(p, "party")
            self.room.admit("host", p)


# ---- joining, lobby and admission ----------------------------------------------------------------


def test_host_join_welcomes_and_goes_live() -> None:
    r = R()
    eff = r.join("host", "host")
    welcome = to(eff, "host")[0]
    assert welcome["type"] == "welcome" and welcome["peer_id"] == "host" and welcome["role"] == "host"
    assert welcome["peers"] == [] and welcome["room"]["state"] == "live"
    assert SessionState("live") in eff
    assert records(eff) == ["peer_joined", "session_live"]
    assert r.room.live


def test_party_waits_in_lobby_and_moderator_gets_knock() -> None:
    r = R()
    r.join("host", "host")
    eff = r.join("a", "party")
    assert types(eff, "a") == ["lobby"]
    knock = to(eff, "host")[0]
    assert knock == {"type": "knock", "peer": {"id": "a", "name": "名a", "role": "party"}}
    assert records(eff) == ["lobby_waiting"]
    assert not r.room.peers["a"].admitted


def test_lobby_before_any_host_then_host_gets_knocks() -> None:
    r = R()
    r.join("a", "party")
    r.join("b", "party")
    assert not r.room.live
    eff = r.join("host", "host")
    assert types(eff, "host") == ["welcome", "knock", "knock"]
    assert [m["peer"]["id"] for m in to(eff, "host") if m["type"] == "knock"] == ["a", "b"]
    # Lobby peers do not see the host arrive.
    assert to(eff, "a") == [] and to(eff, "b") == []


def test_admit_sends_welcome_and_peer_joined() -> None:
    r = R()
    r.join("host", "host")
    r.join("a", "party")
    eff = r.room.admit("host", "a")
    w = to(eff, "a")[0]
    assert w["type"] == "welcome" and [p["id"] for p in w["peers"]] == ["host"]
    assert to(eff, "host") == [{"type": "peer-joined", "peer": r.room.peer_json(r.room.peers["a"])}]
    assert records(eff) == ["admitted"]
    assert r.room.admit("host", "a") == []  # idempotent


def test_deny_closes_and_bans() -> None:
    r = R()
    r.join("host", "host")
    r.join("a", "party")
    eff = r.room.deny("host", "a")
    assert to(eff, "a")[0]["code"] == "denied"
    assert ("a", CLOSE_REMOVED) in closes(eff)
    assert "a" not in r.room.peers
    assert "denied" in records(eff)
    with pytest.raises(RoomError) as e:
        r.join("a2", "party", identity="id:a")
    assert e.value.code == "removed"


def test_deny_admitted_peer_is_refused() -> None:
    r = R()
    r.host_and_parties("a")
    with pytest.raises(RoomError) as e:
        r.room.deny("host", "a")
    assert e.value.code == "invalid_field"


def test_staff_direct_and_lock_sends_everyone_but_moderators_to_lobby() -> None:
    r = R()
    r.join("host", "host")
    assert types(r.join("ex", "expert", direct=True), "ex") == ["welcome"]
    r.room.lock("host", True)
    assert types(r.join("ob", "observer", direct=True), "ob") == ["lobby"]
    assert types(r.join("m2", "mediator"), "m2")[0] == "welcome"
    r.room.lock("host", False)
    assert types(r.join("ob2", "observer", direct=True), "ob2") == ["welcome"]


def test_role_not_in_kind_is_refused() -> None:
    r = R("dispatch")
    with pytest.raises(RoomError) as e:
        r.join("x", "agent")
    assert e.value.code == "forbidden"


def test_room_full() -> None:
    r = R()
    r.room.max_peers = 2
    r.join("host", "host")
    r.join("a")
    with pytest.raises(RoomError) as e:
        r.join("b")
    assert e.value.code == "room_full"


def test_duplicate_peer_id_refused() -> None:
    r = R()
    r.join("host", "host")
    with pytest.raises(RoomError) as e:
        r.join("host", "mediator", identity="other")
    assert e.value.code == "conflict"


# ---- moderator permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("action,call", [
    ("admit", lambda room: room.admit("a", "b")),
    ("deny", lambda room: room.deny("a", "b")),
    ("mute", lambda room: room.mute("a", "host", "audio")),
    ("remove", lambda room: room.remove("a", "host")),
    ("lock", lambda room: room.lock("a", True)),
    ("move", lambda room: room.move("a", "host", "x")),
    ("floor", lambda room: room.give_floor("a", "a")),
    ("recording", lambda room: room.set_recording("a", True)),
    ("end", lambda room: room.end("a")),
])
def test_party_cannot_moderate(action: str, call) -> None:  # type: ignore[no-untyped-def]
    r = R()
    r.host_and_parties("a")
    r.join("b", "party")
    with pytest.raises(RoomError) as e:
        call(r.room)
    assert e.value.code == "forbidden"


@pytest.mark.parametrize("kind", ["mediation", "consultation", "petition", "dispatch"])
def test_permission_table(kind: str) -> None:
    for role in ("host", "mediator"):
        assert all(allowed(kind, role, a) for a in MODERATOR_ACTIONS | PARTICIPANT_ACTIONS)
    for role in ("expert", "party", "agent", "interpreter", "observer"):
        assert not any(allowed(kind, role, a) for a in MODERATOR_ACTIONS)
        assert all(allowed(kind, role, a) for a in PARTICIPANT_ACTIONS)
    assert allowed(kind, "recorder", "signal") and not allowed(kind, "recorder", "chat")
    assert not allowed(kind, "recorder", "consent")


def test_lobby_peer_may_only_leave_or_ping() -> None:
    r = R()
    r.join("host", "host")
    r.join("a", "party")
    for call in (lambda: r.room.chat("a", "hi"), lambda: r.room.hand("a", True),
                 lambda: r.room.consent("a", True), lambda: r.room.admit("a", "a")):
        with pytest.raises(RoomError) as e:
            call()
        assert e.value.code == "not_admitted"
    assert "a" not in r.room.peers or r.room.leave("a")


def test_mediator_may_not_remove_host_but_host_may_remove_mediator() -> None:
    r = R()
    r.join("host", "host")
    r.join("m", "mediator")
    with pytest.raises(RoomError):
        r.room.remove("m", "host")
    eff = r.room.remove("host", "m")
    assert types(eff, "m") == ["removed"]


def test_cannot_remove_self_or_recorder() -> None:
    r = R()
    r.join("host", "host")
    with pytest.raises(RoomError):
        r.room.remove("host", "host")
    r.room.set_recording("host", True)
    r.join("rec", "recorder", system=True)
    with pytest.raises(RoomError):
        r.room.remove("host", "rec")
    with pytest.raises(RoomError):
        r.room.mute("host", "rec", "audio")
    with pytest.raises(RoomError):
        r.room.move("host", "rec", "x")


# ---- moderation transitions -----------------------------------------------------------------------


def test_remove_closes_bans_and_tells_others() -> None:
    r = R()
    r.host_and_parties("a", "b")
    eff = r.room.remove("host", "a")
    assert types(eff, "a") == ["removed"]
    assert ("a", CLOSE_REMOVED) in closes(eff)
    assert {"type": "peer-left", "peer_id": "a", "reason": "removed"} in to(eff, "b")
    assert "removed" in records(eff) and "a" not in r.room.peers
    with pytest.raises(RoomError):
        r.join("a-again", "party", identity="id:a")


def test_remove_lobby_peer_is_deny() -> None:
    r = R()
    r.join("host", "host")
    r.join("a")
    eff = r.room.remove("host", "a")
    assert to(eff, "a")[0]["code"] == "denied"


def test_mute() -> None:
    r = R()
    r.host_and_parties("a", "b")
    eff = r.room.mute("host", "a", "audio")
    assert to(eff, "a")[0] == {"type": "muted", "kind": "audio", "by": "host"}
    upd = [m for m in to(eff, "b") if m["type"] == "peer-updated"][0]
    assert upd["peer"]["audio"] is False and upd["peer"]["video"] is True
    with pytest.raises(RoomError):
        r.room.mute("host", "a", "smell")
    with pytest.raises(RoomError):
        r.room.mute("host", "nobody", "audio")


def test_lock_broadcasts_room() -> None:
    r = R()
    r.host_and_parties("a")
    eff = r.room.lock("host", True)
    assert to(eff, "a")[0]["room"]["locked"] is True
    assert records(eff) == ["lock"]


def test_move_to_subroom_and_back() -> None:
    r = R()
    r.host_and_parties("a", "b")
    eff = r.room.move("host", "a", "甲方室")
    assert to(eff, "a")[0] == {"type": "moved", "subroom": "甲方室", "peers": []}
    assert any(m["type"] == "peer-updated" and m["peer"]["subroom"] == "甲方室" for m in to(eff, "b"))
    assert r.room.room_json()["subrooms"] == ["甲方室"]
    eff = r.room.move("host", "host", "甲方室")
    assert to(eff, "host")[0] == {"type": "moved", "subroom": "甲方室", "peers": ["a"]}
    assert r.room.move("host", "host", "甲方室") == []  # already there
    eff = r.room.move("host", "a", None)
    assert to(eff, "a")[0]["peers"] == ["b"]
    assert "moved" in records(eff)


def test_move_validates_name_and_target() -> None:
    r = R()
    r.host_and_parties("a")
    r.join("b")
    for bad in ("", "   ", "x" * 41, 5):
        with pytest.raises(RoomError):
            r.room.move("host", "a", bad)  # type: ignore[arg-type]
    with pytest.raises(RoomError) as e:
        r.room.move("host", "b", "x")  # still in the lobby
    assert e.value.code == "unknown_peer"


def test_floor_and_hands() -> None:
    r = R("petition")
    r.host_and_parties("a", "b")
    assert r.room.peer_json(r.room.peers["a"])["may_speak"] is False  # petition: resident needs the floor
    assert r.room.peer_json(r.room.peers["host"])["may_speak"] is True
    r.room.hand("a", True)
    r.room.hand("b", True)
    assert r.room.hands == ["a", "b"]
    assert r.room.hand("a", True) == []  # no change
    eff = r.room.give_floor("host", "a")
    assert r.room.floor == "a" and r.room.hands == ["b"] and not r.room.peers["a"].hand
    upd = [m for m in to(eff, "b") if m["type"] == "peer-updated"]
    assert upd[0]["peer"]["id"] == "a" and upd[0]["peer"]["may_speak"] is True
    eff = r.room.give_floor("host", "b")
    ids = [m["peer"]["id"] for m in to(eff, "host") if m["type"] == "peer-updated"]
    assert sorted(ids) == ["a", "b"]
    r.room.give_floor("host", None)
    assert r.room.floor is None
    r.room.hand("b", False)
    assert r.room.hands == []
    assert "floor" in records(eff)


def test_dispatch_only_hosts_speak() -> None:
    r = R("dispatch")
    r.join("host", "host")
    r.join("ob", "observer", direct=True)
    assert r.room.may_speak(r.room.peers["host"]) and not r.room.may_speak(r.room.peers["ob"])
    r.room.give_floor("host", "ob")
    assert r.room.may_speak(r.room.peers["ob"])


def test_mediation_everybody_speaks() -> None:
    r = R()
    r.host_and_parties("a")
    assert r.room.may_speak(r.room.peers["a"])


def test_leaving_clears_floor_and_hand() -> None:
    r = R()
    r.host_and_parties("a", "b")
    r.room.hand("b", True)
    r.room.give_floor("host", "a")
    r.room.leave("a")
    r.room.leave("b")
    assert r.room.floor is None and r.room.hands == []


# ---- chat, consent, media ---------------------------------------------------------------------------


def test_chat_stays_in_subroom() -> None:
    r = R()
    r.host_and_parties("a", "b")
    r.room.move("host", "a", "甲")
    eff = r.room.chat("b", " 你好 ", now=1_700_000_000.5)
    msg = to(eff, "host")[0]
    assert msg["type"] == "chat" and msg["from"] == "b" and msg["text"] == "你好"
    assert msg["at"] == "2023-11-14T22:13:20.500000Z"
    assert to(eff, "a") == []
    assert records(eff) == ["chat"]
    with pytest.raises(RoomError):
        r.room.chat("b", "   ")
    with pytest.raises(RoomError):
        r.room.chat("b", "x" * 2001)


def test_consent_is_broadcast_and_ledgered() -> None:
    r = R()
    r.host_and_parties("a")
    eff = r.room.consent("a", False)
    assert to(eff, "host")[0]["peer"]["consent"] is False
    assert [e.data for e in eff if isinstance(e, Record)] == [
        {"peer": "a", "name": "名a", "role": "party", "recording": False}]


def test_media_state_is_shown_not_ledgered() -> None:
    r = R()
    r.host_and_parties("a")
    eff = r.room.media("a", False, None)
    assert to(eff, "host")[0]["peer"]["audio"] is False and records(eff) == []


# ---- recording ---------------------------------------------------------------------------------------


def test_recording_on_off_with_recorder_peer() -> None:
    r = R()
    r.host_and_parties("a")
    with pytest.raises(RoomError) as e:
        r.join("rec", "recorder", system=True)
    assert e.value.code == "not_recording"
    eff = r.room.set_recording("host", True)
    assert RecordingChanged(True, ()) in eff and records(eff) == ["recording_on"]
    assert to(eff, "a")[0]["room"]["recording"] is True
    eff = r.join("rec", "recorder", system=True)
    assert to(eff, "a")[0]["type"] == "peer-joined" and to(eff, "a")[0]["peer"]["role"] == "recorder"
    assert [p["id"] for p in to(eff, "rec")[0]["peers"]] == ["host", "a"]
    eff = r.room.set_recording("host", False)
    assert "rec" not in r.room.peers
    assert {"type": "peer-left", "peer_id": "rec", "reason": "recording_off"} in to(eff, "a")
    assert RecordingChanged(False, ()) in eff and "recording_off" in records(eff)
    assert r.room.set_recording("host", False) == []


def test_a_recorder_lost_with_its_node_is_replaced_once() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.set_recording("host", True, ["私"])
    r.join("rec", "recorder", system=True)
    conn = r.room.peers["rec"].conn
    eff = r.room.drop("rec", conn)  # what a surviving node's sweep submits for a dead node's peers
    assert "rec" not in r.room.peers and {"type": "peer-left", "peer_id": "rec", "reason": "left"} in to(eff, "a")
    assert RecorderLost(("私",)) in eff and records(eff) == ["peer_left", "recorder_lost"]
    assert r.room.drop("rec", conn) == []  # a second node's sweep finds it gone: one replacement only
    # The replacement joins; a recorder that leaves on purpose (recording off, shutdown) is not replaced.
    r.join("rec2", "recorder", system=True)
    eff = r.room.leave("rec2", conn=r.room.peers["rec2"].conn)
    assert not [e for e in eff if isinstance(e, RecorderLost)]
    r.join("rec3", "recorder", system=True)
    r.room.set_recording("host", False)
    assert r.room.drop("rec3", "c-any") == []


def test_recorder_cannot_be_joined_as_person_role() -> None:
    r = R()
    with pytest.raises(RoomError):
        r.join("x", "recorder")
    r.join("host", "host")
    r.room.set_recording("host", True)
    with pytest.raises(RoomError):
        r.join("y", "party", system=True)


def test_signal_rules_with_recorder_consent_and_subrooms() -> None:
    r = R()
    r.host_and_parties("a", "b")
    r.room.set_recording("host", True)
    r.join("rec", "recorder", system=True)
    assert r.room.check_signal("a", "rec") == "no_consent"
    r.room.consent("a", True)
    assert r.room.check_signal("a", "rec") is None
    assert r.room.check_signal("rec", "a") is None
    r.room.move("host", "a", "私")
    assert r.room.check_signal("a", "rec") == "other_subroom"  # private rooms unrecorded by default
    r.room.set_recording("host", True, ["私"])
    assert r.room.check_signal("a", "rec") is None
    assert r.room.check_signal("a", "b") == "other_subroom"
    assert r.room.check_signal("b", "host") is None
    assert r.room.check_signal("b", "ghost") == "unknown_peer"
    assert r.room.check_signal("b", "b") == "unknown_peer"


def test_signal_not_to_or_from_lobby() -> None:
    r = R()
    r.join("host", "host")
    r.join("a")
    assert r.room.check_signal("a", "host") == "not_admitted"
    assert r.room.check_signal("host", "a") == "unknown_peer"


def test_recording_subroom_change_and_move_tells_recorder_peers() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.set_recording("host", True)
    r.join("rec", "recorder", system=True)
    r.room.consent("a", True)
    eff = r.room.move("host", "a", "私")
    assert to(eff, "a")[0]["peers"] == []  # the recorder is not in an unrecorded sub-room
    r.room.move("host", "a", None)
    eff = r.room.set_recording("host", True, ["私"])
    assert records(eff) == ["recording_on"]
    assert r.room.set_recording("host", True, ["私"]) == []
    with pytest.raises(RoomError):
        r.room.set_recording("host", True, [""])


# ---- drops, resume and expiry ---------------------------------------------------------------------


def test_drop_keeps_place_and_resume_takes_it_back() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.move("host", "a", "甲")
    r.room.consent("a", True)
    conn = r.room.peers["a"].conn
    old_hash = r.room.peers["a"].resume_hash
    eff = r.room.drop("a", conn)
    assert to(eff, "host")[0]["peer"]["connected"] is False
    assert r.room.drop("a", conn) == []  # once
    r.clock.t += 30
    eff = r.join("a-new-id", "party", identity="id:a", resume=old_hash)
    w = to(eff, "a")[0]
    assert w["type"] == "welcome" and w["peer_id"] == "a" and w["resumed"] is True
    p = r.room.peers["a"]
    assert p.subroom == "甲" and p.consent is True and p.connected and p.epoch == 1
    assert "a-new-id" not in r.room.peers
    assert to(eff, "host")[0]["peer"]["epoch"] == 1
    assert "peer_resumed" in records(eff)


def test_a_dropped_place_is_one_peer_shown_as_reconnecting() -> None:
    r = R()
    r.host_and_parties("a")
    eff = r.room.drop("a", r.room.peers["a"].conn)
    # The others keep one record of the person, marked not connected (their page shows "reconnecting").
    assert [m["type"] for m in to(eff, "host")] == ["peer-updated"]
    assert to(eff, "host")[0]["peer"]["id"] == "a" and to(eff, "host")[0]["peer"]["connected"] is False
    assert [p.id for p in r.room.admitted()] == ["host", "a"]
    # Opening the same invitation again (no resume token: a new browser) takes the old place back.
    eff = r.join("a-fresh", "party", identity="id:a")
    assert to(eff, "a")[0]["type"] == "welcome" and "a-fresh" not in r.room.peers
    assert [m["type"] for m in to(eff, "host")] == ["peer-updated"]
    assert sorted(r.room.peers) == ["a", "host"]


def test_a_new_link_for_a_dropped_person_takes_their_place() -> None:
    r = R()
    r.join("host", "host")
    r.join("a", "party", name="李四", identity="inv:first")
    r.room.admit("host", "a")
    r.room.drop("a", r.room.peers["a"].conn)
    # The mediator sent 李四 a fresh invitation (another link): same name and role, so the held place.
    eff = r.join("a2", "party", name="李四", identity="inv:second")
    assert to(eff, "a")[0]["type"] == "welcome" and "a2" not in r.room.peers
    assert r.room.peers["a"].identity == "inv:second"
    assert [p.name for p in r.room.admitted()].count("李四") == 1


def test_two_connected_people_with_one_name_keep_two_places() -> None:
    r = R()
    r.join("host", "host")
    for pid, ident in (("a", "inv:1"), ("b", "inv:2")):
        r.join(pid, "party", name="张伟", identity=ident)
        r.room.admit("host", pid)
    assert sorted(r.room.peers) == ["a", "b", "host"]
    # Nor does a party take over a dropped host of the same name.
    r.room.drop("host", r.room.peers["host"].conn)
    r.join("c", "party", name="名host", identity="inv:3")
    assert "c" in r.room.peers and not r.room.peers["host"].connected


def test_expiry_after_grace_removes_peer() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.drop("a", r.room.peers["a"].conn)
    r.clock.t += 59
    assert r.room.expired() == []
    assert r.room.expire("a", 0) == []
    r.clock.t += 1
    assert r.room.expired() == [("a", 0)]
    eff = r.room.expire("a", 0)
    assert {"type": "peer-left", "peer_id": "a", "reason": "timeout"} in to(eff, "host")
    assert "a" not in r.room.peers


def test_expire_with_old_epoch_is_ignored_after_resume() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.drop("a", r.room.peers["a"].conn)
    h = r.room.peers["a"].resume_hash
    r.join("x", "party", identity="id:a", resume=h)
    r.clock.t += 120
    assert r.room.expire("a", 0) == []
    assert "a" in r.room.peers


def test_second_connection_replaces_first() -> None:
    r = R()
    r.host_and_parties("a")
    old = r.room.peers["a"].conn
    eff = r.join("zz", "party", identity="id:a")
    assert ("a", CLOSE_REPLACED) in closes(eff)
    assert r.room.peers["a"].conn != old
    # The old socket's late close is ignored.
    assert r.room.drop("a", old) == []
    assert r.room.peers["a"].connected


def test_resume_token_must_match_identity() -> None:
    r = R()
    r.host_and_parties("a")
    h = r.room.peers["a"].resume_hash
    r.join("b", "party", identity="id:b", resume=h)
    assert "b" in r.room.peers and r.room.peers["a"].identity == "id:a"
    assert r.room.resume_matches("id:a", h) and not r.room.resume_matches("id:b", h)


def test_lobby_peer_resumes_into_lobby() -> None:
    r = R()
    r.join("host", "host")
    r.join("a")
    r.room.drop("a", r.room.peers["a"].conn)
    eff = r.join("a2", identity="id:a")
    assert types(eff, "a") == ["lobby"]


def test_system_peer_drop_is_leave() -> None:
    r = R()
    r.join("host", "host")
    r.room.set_recording("host", True)
    r.join("rec", "recorder", system=True)
    r.room.drop("rec", r.room.peers["rec"].conn)
    assert "rec" not in r.room.peers


# ---- ending --------------------------------------------------------------------------------------


def test_last_person_leaving_keeps_the_session_open_until_the_idle_timeout() -> None:
    r = R()
    r.room.idle_end_s = 3600
    r.host_and_parties("a")
    r.room.leave("a")
    eff = r.room.leave("host")
    assert not any(isinstance(e, SessionState) for e in eff) and "room_empty" in records(eff)
    assert r.room.empty and not r.room.ended and r.room.holding
    assert r.room.empty_since == r.clock.t
    r.clock.t += 3599
    assert not r.room.idle_expired()
    # Someone back within the idle time: the session goes on and the timer stops.
    r.join("host", "host")
    r.clock.t += 7200
    assert not r.room.idle_expired()
    r.room.leave("host")
    assert not r.room.idle_expired()
    r.clock.t += 3600
    assert r.room.idle_expired()
    eff = r.room.apply({"op": "end", "reason": "idle", "at": r.clock.t})
    assert SessionState("ended") in eff and r.room.ended and not r.room.holding
    with pytest.raises(RoomError) as e:
        r.join("late", "host")
    assert e.value.code == "session_ended"


def test_idle_end_is_void_when_someone_came_back() -> None:
    r = R()
    r.room.idle_end_s = 10
    r.join("host", "host")
    r.room.leave("host")
    r.clock.t += 11
    assert r.room.idle_expired()
    r.join("host", "host")  # the sweep's end command is ordered after this join
    assert r.room.apply({"op": "end", "reason": "idle", "at": r.clock.t}) == []
    assert not r.room.ended


def test_recording_stays_on_while_the_room_is_empty() -> None:
    r = R()
    r.host_and_parties("a")
    r.room.set_recording("host", True)
    r.join("rec", "recorder", system=True)
    r.room.leave("a")
    eff = r.room.leave("host")
    assert not any(isinstance(e, (SessionState, RecordingChanged)) for e in eff)
    assert not r.room.ended and r.room.recording and not r.room.humans()
    r.clock.t += r.room.idle_end_s
    eff = r.room.end(None, reason="idle")
    assert RecordingChanged(False, ()) in eff and ("rec", CLOSE_ENDED) in closes(eff)
    assert r.room.ended and r.room.empty


def test_empty_room_that_never_went_live_does_not_end() -> None:
    r = R()
    r.join("a")
    eff = r.room.leave("a")
    assert not any(isinstance(e, SessionState) for e in eff)
    assert r.room.empty and not r.room.ended
    assert "peer_left" not in records(eff) and "lobby_left" in records(eff)


def test_moderator_ends_for_everybody() -> None:
    r = R()
    r.host_and_parties("a")
    r.join("b")
    eff = r.room.end("host")
    assert to(eff, "a")[0] == {"type": "room", "room": r.room.room_json()}
    assert to(eff, "a")[0]["room"]["state"] == "ended"
    assert sorted(c[0] for c in closes(eff)) == ["a", "b", "host"]
    assert r.room.end("host") == []


def test_everybody_dropping_does_not_end_the_session() -> None:
    r = R()
    r.host_and_parties("a")
    for pid in ("host", "a"):
        eff = r.room.drop(pid, r.room.peers[pid].conn)
        assert not any(isinstance(e, SessionState) for e in eff)
    r.clock.t += 61
    for pid in ("host", "a"):
        eff = r.room.expire(pid, 0)
        assert not any(isinstance(e, SessionState) for e in eff)
    assert not r.room.ended and r.room.live and r.room.empty
    # The host comes back the next morning: the session is still there.
    r.clock.t += 3600
    assert to(r.join("host", "host"), "host")[0]["type"] == "welcome"


# ---- the replicated command form -----------------------------------------------------------------


def _join_cmd(pid: str, role: str = "party", **kw: Any) -> dict[str, Any]:
    return {"op": "join", "peer_id": pid, "name": pid, "role": role, "identity": f"i:{pid}", "node": "n",
            "conn": f"c-{pid}", "new_resume_hash": f"h-{pid}", "direct": role != "party", "at": 1.0, **kw}


def test_apply_commands_and_refusals_become_errors() -> None:
    room = Room(1, "mediation")
    room.apply(_join_cmd("h", "host"))
    room.apply(_join_cmd("a"))
    eff = room.apply({"op": "msg", "peer": "a", "conn": "c-a", "message": {"type": "admit", "peer": "a"}, "at": 2})
    assert to(eff, "a") == [{"type": "error", "code": "not_admitted", "message": "wait until a moderator admits you",
                             "ref": "admit"}]
    room.apply({"op": "msg", "peer": "h", "conn": "c-h", "message": {"type": "admit", "peer": "a"}, "at": 2})
    eff = room.apply({"op": "msg", "peer": "a", "conn": "c-a", "message": {"type": "lock", "locked": True}})
    assert to(eff, "a")[0]["code"] == "forbidden" and to(eff, "a")[0]["ref"] == "lock"
    # A message from a replaced connection is ignored.
    assert room.apply({"op": "msg", "peer": "a", "conn": "old", "message": {"type": "chat", "text": "x"}}) == []
    eff = room.apply({"op": "msg", "peer": "a", "conn": "c-a", "message": {"type": "nope"}})
    assert to(eff, "a")[0]["code"] == "unknown_type"


def test_apply_join_refusal_closes_the_connection() -> None:
    room = Room(1, "dispatch")
    eff = room.apply(_join_cmd("x", "agent"))
    assert to(eff, "x")[0]["code"] == "forbidden"
    assert closes(eff) == [("x", 4400)]
    assert room.empty


def test_apply_drop_expire_end() -> None:
    room = Room(1, "mediation")
    room.apply(_join_cmd("h", "host"))
    room.apply({"op": "drop", "peer": "h", "conn": "c-h", "at": 10.0})
    assert room.apply({"op": "expire", "peer": "h", "epoch": 0, "at": 20.0}) == []
    eff = room.apply({"op": "expire", "peer": "h", "epoch": 0, "at": 71.0})
    assert "peer_left" in records(eff) and not room.ended and room.empty_since == 71.0
    assert room.apply({"op": "end", "reason": "idle", "at": 72.0}) == []  # not idle long enough
    assert SessionState("ended") in room.apply({"op": "end", "reason": "idle", "at": 71.0 + room.idle_end_s})
    room2 = Room(2, "mediation")
    room2.apply(_join_cmd("h", "host"))
    eff = room2.apply({"op": "end", "reason": "cancelled", "at": 5})
    assert room2.ended and [e.data for e in eff if isinstance(e, Record)] == [{"reason": "cancelled", "by": None}]
    assert room2.apply({"op": "bogus"}) == []


def test_replicas_agree() -> None:
    """Two replicas fed the same commands produce the same state and effects."""
    cmds = [_join_cmd("h", "host"), _join_cmd("a"), _join_cmd("b"),
            {"op": "msg", "peer": "h", "conn": "c-h", "message": {"type": "admit", "peer": "a"}, "at": 3},
            {"op": "msg", "peer": "h", "conn": "c-h", "message": {"type": "move", "peer": "a", "subroom": "x"},
             "at": 4},
            {"op": "msg", "peer": "a", "conn": "c-a", "message": {"type": "chat", "text": "hi"}, "at": 5},
            {"op": "drop", "peer": "a", "conn": "c-a", "at": 6}]
    r1, r2 = Room(9, "mediation"), Room(9, "mediation")
    for c in cmds:
        assert r1.apply(dict(c)) == r2.apply(dict(c))
    assert r1.room_json() == r2.room_json()
    assert [r1.peer_json(p) for p in r1.peers.values()] == [r2.peer_json(p) for p in r2.peers.values()]


# ---- shuttle mediation (背靠背) --------------------------------------------------------------------


def test_shuttle_seats_each_party_apart_and_refuses_joint_moves() -> None:
    r = R()
    r.room.shuttle = True
    r.join("host", "host")
    r.join("a")
    eff = r.room.admit("host", "a")
    w = to(eff, "a")[0]
    assert w["subroom"] == "名a" and w["room"]["shuttle"] is True
    assert [e.data["reason"] for e in eff if isinstance(e, Record) and e.type == "moved"] == ["shuttle"]
    r.join("b")
    r.room.admit("host", "b")
    assert r.room.peers["b"].subroom == "名b"
    with pytest.raises(RoomError) as e:
        r.room.move("host", "b", "名a")
    assert e.value.code == "shuttle"
    r.room.move("host", "a", None)  # one party alone in the main room is fine
    with pytest.raises(RoomError):
        r.room.move("host", "b", None)
    r.room.move("host", "host", "名b")  # staff move freely
    r.join("ag", "agent", direct=True)
    r.room.move("host", "ag", "名b")


def test_shuttle_name_clash_and_override() -> None:
    r = R()
    r.room.shuttle = True
    r.join("host", "host")
    r.room.move("host", "host", "名a")  # a sub-room already carries the party's name
    r.join("a")
    r.room.admit("host", "a")
    assert r.room.peers["a"].subroom == "名a·a"
    eff = r.room.apply({"op": "settings", "shuttle": False, "at": 1})
    assert r.room.shuttle is False and records(eff) == ["shuttle"]
    assert to(eff, "a")[0]["room"]["shuttle"] is False
    assert r.room.apply({"op": "settings", "shuttle": False}) == []
    r.join("b")
    r.room.admit("host", "b")
    assert r.room.peers["b"].subroom is None
    r.room.move("host", "b", r.room.peers["a"].subroom)  # joint room allowed after the override


def test_the_floor_expires_after_the_speaking_time_and_a_stale_expiry_does_nothing() -> None:
    r = R("council")
    r.host_and_parties("a", "b")
    r.room.give_floor("host", "a", now=100.0)
    assert r.room.floor == "a" and r.room.floor_since == 100.0 and r.room.may_speak(r.room.peers["a"])
    assert r.room.apply({"op": "floor_expire", "peer": "a", "since": 99.0, "at": 101.0}) == []  # another turn's
    assert r.room.apply({"op": "floor_expire", "peer": "b", "since": 100.0, "at": 101.0}) == []
    eff = r.room.apply({"op": "floor_expire", "peer": "a", "since": 100.0, "at": 280.0})
    assert r.room.floor is None and not r.room.may_speak(r.room.peers["a"])
    assert "floor" in records(eff)
    assert any(m["type"] == "room" and m["room"]["floor"] is None for m in to(eff, "b"))
    assert r.room.apply({"op": "floor_expire", "peer": "a", "since": 100.0, "at": 281.0}) == []  # once
    # The floor given again to the same speaker starts a new turn: the old turn's expiry is stale.
    r.room.give_floor("host", "a", now=300.0)
    assert r.room.apply({"op": "floor_expire", "peer": "a", "since": 100.0, "at": 301.0}) == []
    assert r.room.floor == "a"
