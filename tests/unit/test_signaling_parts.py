"""Pure parts of signaling: message parsing, per-connection limits, ICE/TURN credentials, kind rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from server.media.ice import ice_servers, turn_credentials
from server.rooms.limits import AbuseGuard
from server.rooms.protocol import MAX_MESSAGE_BYTES, ProtocolError, parse
from server.sessions import kinds

# ---- protocol ------------------------------------------------------------------------------------


def code_of(raw: str | bytes) -> str:
    with pytest.raises(ProtocolError) as e:
        parse(raw)
    return e.value.code


def test_parse_good_messages_keeps_only_known_fields() -> None:
    assert parse('{"type":"ping","extra":1}') == {"type": "ping"}
    assert parse(json.dumps({"type": "signal", "to": "p1", "data": {"candidate": {}}, "x": 2})) == {
        "type": "signal", "to": "p1", "data": {"candidate": {}}}
    assert parse('{"type":"move","peer":"p","subroom":null}') == {"type": "move", "peer": "p", "subroom": None}
    assert parse('{"type":"floor","peer":null}') == {"type": "floor", "peer": None}
    assert parse('{"type":"recording","on":true,"subrooms":["甲"]}')["subrooms"] == ["甲"]
    assert parse('{"type":"join","token":"t","session":3}') == {"type": "join", "token": "t", "session": 3}


@pytest.mark.parametrize("raw,code", [
    ("nope", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    ("[]", "invalid_message"),
    ("null", "invalid_message"),
    ("{}", "missing_field"),
    ('{"type": 1}', "missing_field"),
    ('{"type": "fly"}', "unknown_type"),
    ('{"type": "signal", "to": "a"}', "missing_field"),
    ('{"type": "signal", "to": 5, "data": {}}', "invalid_field"),
    ('{"type": "signal", "to": null, "data": {}}', "invalid_field"),
    ('{"type": "move", "peer": "a"}', "missing_field"),  # subroom must be present (null = main room)
    ('{"type": "floor"}', "missing_field"),
    ('{"type": "hand", "raised": 1}', "invalid_field"),
    ('{"type": "mute", "peer": "a", "kind": "both"}', "invalid_field"),
    ('{"type": "chat", "text": ""}', "invalid_field"),
    ('{"type": "recording", "on": true, "subrooms": [1]}', "invalid_field"),
    ('{"type": "join", "token": "t", "session": true}', "invalid_field"),
    ('{"type": "join", "token": "t", "session": "3"}', "invalid_field"),
])
def test_parse_refusals(raw: str, code: str) -> None:
    assert code_of(raw) == code


def test_size_limit_is_bytes_not_characters() -> None:
    ok = json.dumps({"type": "chat", "text": "x"}) + " " * (MAX_MESSAGE_BYTES - 30)
    assert parse(ok)["text"] == "x"
    assert code_of(json.dumps({"type": "chat", "text": "中" * (MAX_MESSAGE_BYTES // 3)})) == "too_large"


def test_error_message_shape() -> None:
    with pytest.raises(ProtocolError) as e:
        parse('{"type":"signal"}')
    assert e.value.as_message() == {"type": "error", "code": "missing_field", "message": "missing field: to",
                                    "ref": "signal"}


# ---- limits --------------------------------------------------------------------------------------


def test_token_bucket() -> None:
    g = AbuseGuard(rate=10, burst=5)
    assert all(g.take(0.0) for _ in range(5))
    assert not g.take(0.0)
    assert g.take(0.1)  # one token back after 0.1 s at 10/s
    assert not g.take(0.1)
    assert all(g.take(10.0) for _ in range(5))  # refills to the burst, no more
    assert not g.take(10.0)


def test_strikes_within_window() -> None:
    g = AbuseGuard(strike_limit=3, strike_window_s=10)
    assert not g.strike(0) and not g.strike(1)
    assert not g.strike(20)  # the first two aged out
    assert not g.strike(21)
    assert g.strike(22)


# ---- ICE -----------------------------------------------------------------------------------------


def test_turn_credentials_are_coturn_rest_form() -> None:
    c = turn_credentials("s3cret", "pABC", ttl_s=600, now=1_000)
    assert c["username"] == "1600:pABC"
    assert c["credential"] == base64.b64encode(hmac.new(b"s3cret", b"1600:pABC", hashlib.sha1).digest()).decode()


def test_ice_servers_only_turn_entries_get_credentials() -> None:
    configured = [{"urls": "stun:s.example:3478"}, {"urls": ["turn:t.example:3478", "turns:t.example:5349"]},
                  {"urls": "turn:fixed.example", "username": "u", "credential": "c"}]
    out = ice_servers(configured, "k", "p1", now=0)
    assert out[0] == {"urls": "stun:s.example:3478"}
    assert out[1]["username"].endswith(":p1") and out[1]["credentialType"] == "password"
    assert out[2] == {"urls": "turn:fixed.example", "username": "u", "credential": "c"}
    assert "username" not in configured[1]  # the configuration is never mutated
    assert ice_servers(configured, None, "p1") == configured


# ---- kinds ---------------------------------------------------------------------------------------


def test_kind_rules() -> None:
    m, d, p = kinds.rules("mediation"), kinds.rules("dispatch"), kinds.rules("petition")
    with pytest.raises(ValueError):
        kinds.rules("party")
    assert kinds.enters_directly(m, "host", staff=False, of_hosting_unit=False)
    assert not kinds.enters_directly(m, "party", staff=False, of_hosting_unit=False)
    assert kinds.enters_directly(m, "observer", staff=True, of_hosting_unit=True)
    assert not kinds.enters_directly(m, "expert", staff=True, of_hosting_unit=False)
    assert kinds.enters_directly(d, "observer", staff=True, of_hosting_unit=False)
    assert not kinds.enters_directly(d, "party", staff=False, of_hosting_unit=False)
    assert kinds.may_speak(m, "party", False) and not kinds.may_speak(p, "party", False)
    assert kinds.may_speak(p, "expert", False) and kinds.may_speak(p, "agent", True)
    assert not kinds.may_speak(d, "observer", False) and kinds.may_speak(d, "mediator", False)
    assert not kinds.may_speak(m, "recorder", True)
    assert kinds.staff_room_role(m, creator=True, can_host=False, same_unit=False, staff_role="observer") == "host"
    assert kinds.staff_room_role(m, creator=False, can_host=True, same_unit=True, staff_role="mediator") == "mediator"
    assert kinds.staff_room_role(m, creator=False, can_host=True, same_unit=False, staff_role="mediator") == "observer"
    assert kinds.staff_room_role(m, creator=False, can_host=False, same_unit=False, staff_role="expert") == "expert"
    assert "agent" not in d.roles and d.default_invite_role == "observer"
    assert m.as_dict()["label"] == {"zh": "视频调解", "en": "Mediation"}
