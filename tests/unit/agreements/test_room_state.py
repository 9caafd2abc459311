"""The room carries the agreement being reviewed as part of its state (pure Room, no I/O)."""

import pytest

from server.rooms.room import Room, RoomError, Send


def test_show_agreement_is_a_room_state_change_for_everyone_admitted() -> None:
    room = Room(1, "mediation", "调解", clock=lambda: 1000.0)
    assert room.room_json()["agreement"] is None
    shown = {"id": 7, "number": "龙亢调字〔2026〕第7号", "version": 2, "short_hash": "C6E2-7430"}
    effects = room.apply({"op": "agreement", "agreement": shown, "at": 1000.0})
    assert room.room_json()["agreement"] == shown
    assert len(effects) == 1 and isinstance(effects[0], Send) and effects[0].msg["type"] == "room"
    assert effects[0].msg["room"]["agreement"]["short_hash"] == "C6E2-7430"
    room.apply({"op": "agreement", "agreement": None, "at": 1001.0})
    assert room.room_json()["agreement"] is None


def test_no_agreement_shown_after_the_end() -> None:
    room = Room(1, "mediation", clock=lambda: 1000.0)
    room.ended = True
    with pytest.raises(RoomError):
        room.show_agreement({"id": 1})
