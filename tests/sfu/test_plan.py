"""Pure SFU decisions: naming, roles, visibility across sub-rooms, audio forwarding, layer choice."""

from __future__ import annotations

import pytest

from server.sessions.kinds import RULES
from server.sfu.plan import (
    AUDIO_BITRATE,
    LAYERS,
    Party,
    View,
    allocate_layers,
    audio_forwarded,
    feed_priority,
    janus_participant_id,
    janus_room_id,
    may_subscribe,
    media_plan,
    peer_of_participant,
    subscription_feeds,
    visible_feeds,
)


def test_names() -> None:
    assert janus_room_id(42) == "concord-42"
    assert janus_room_id(42, generation=3) == "concord-42-g3"
    for bad in (0, -1):
        with pytest.raises(ValueError):
            janus_room_id(bad)
    pid = janus_participant_id("pa1b2c3d4e5")
    assert pid == "p-pa1b2c3d4e5" and peer_of_participant(pid) == "pa1b2c3d4e5"
    assert peer_of_participant("1234") is None and peer_of_participant("p-") is None
    for bad_id in ("", "a b", "x" * 129, "é"):
        with pytest.raises(ValueError):
            janus_participant_id(bad_id)


def test_roles_map_to_publish_and_subscribe() -> None:
    assert media_plan("recorder").publish is False and media_plan("recorder").subscribe is True
    for role in ("host", "mediator", "party", "observer", "expert", "agent", "interpreter"):
        plan = media_plan(role)
        assert plan.publish and plan.subscribe


def test_audio_forwarded_follows_floor_and_mute() -> None:
    dispatch, petition, mediation = RULES["dispatch"], RULES["petition"], RULES["mediation"]
    assert audio_forwarded(dispatch, "host", has_floor=False, muted=False)
    assert not audio_forwarded(dispatch, "observer", has_floor=False, muted=False)
    assert audio_forwarded(dispatch, "observer", has_floor=True, muted=False)
    assert not audio_forwarded(dispatch, "host", has_floor=False, muted=True)
    assert not audio_forwarded(petition, "party", has_floor=False, muted=False)
    assert audio_forwarded(petition, "mediator", has_floor=False, muted=False)
    assert audio_forwarded(mediation, "party", has_floor=False, muted=False)
    assert not audio_forwarded(mediation, "recorder", has_floor=True, muted=False)


def test_subscriptions_stay_inside_the_subroom() -> None:
    a = Party("a", None)
    b = Party("b", None)
    c = Party("c", "east", recorded=True)
    d = Party("d", "east")
    waiting = Party("w", None, admitted=False)
    rec = Party("rec", None, system=True)
    assert may_subscribe(a, b) and may_subscribe(c, d)
    assert not may_subscribe(a, c) and not may_subscribe(c, a)
    assert not may_subscribe(a, a)
    assert not may_subscribe(a, waiting) and not may_subscribe(waiting, a)
    assert not may_subscribe(a, rec)
    # The recorder sits outside sub-rooms but takes only the people whose media is recorded.
    assert may_subscribe(rec, c) and not may_subscribe(rec, d)
    assert visible_feeds(d, [a, b, c, d, waiting, rec]) == ["c"]


def test_layers_fit_viewport_bandwidth_and_priority() -> None:
    big = 10_000_000
    # Plenty of bandwidth: each feed up to the layer that fits its tile.
    got = allocate_layers([View("speaker", 720, priority=True), View("thumb", 120), View("mid", 300)], big)
    assert got == {"speaker": 2, "thumb": 0, "mid": 1}
    # Low-data mode: the lowest layer for every video, whatever the bandwidth.
    assert allocate_layers([View("speaker", 720, priority=True), View("mid", 300)], big, low_data=True) == {
        "speaker": 0, "mid": 0}
    # A tight link: the priority feed is raised first, the others stay low.
    bw = 2 * AUDIO_BITRATE + LAYERS[0].bitrate * 2 + (LAYERS[1].bitrate - LAYERS[0].bitrate)
    got = allocate_layers([View("other", 720), View("speaker", 720, priority=True)], bw, audio_feeds=2)
    assert got == {"other": 0, "speaker": 1}
    # Audio is reserved before any video: a link that carries only the audio pauses every video.
    assert allocate_layers([View("a", 360), View("b", 360)], 3 * AUDIO_BITRATE, audio_feeds=3) == {
        "a": None, "b": None}
    # Room for one lowest layer only: the priority feed keeps its video.
    one = LAYERS[0].bitrate + 10
    assert allocate_layers([View("a", 360), View("s", 180, priority=True)], one) == {"a": None, "s": 0}
    with pytest.raises(ValueError):
        allocate_layers([], -1)


def test_subscriptions_follow_the_session_kind_and_the_floor() -> None:
    host = Party("h", None, moderator=True)
    centres = [Party(f"c{i}", None) for i in range(4)]
    rec = Party("rec", None, system=True)
    everyone = [host, *centres, rec]
    for kind in ("dispatch", "petition"):
        # A centre takes the host and the floor holder only; the host takes everyone.
        assert subscription_feeds(kind, centres[0], everyone, floor=None) == ["h"]
        assert subscription_feeds(kind, centres[0], everyone, floor="c2") == ["h", "c2"]
        assert subscription_feeds(kind, centres[2], everyone, floor="c2") == ["h"]  # never oneself
        assert subscription_feeds(kind, host, everyone, floor=None) == ["c0", "c1", "c2", "c3"]
        # A second moderator is followed by the centres too.
        mod2 = Party("m2", None, moderator=True)
        assert subscription_feeds(kind, centres[1], [*everyone, mod2], floor=None) == ["h", "m2"]
        # The sub-room rule comes first: a floor holder in another sub-room stays hidden.
        away = Party("c9", "甲方调解室")
        assert subscription_feeds(kind, centres[0], [host, away], floor="c9") == ["h"]
    for kind in ("mediation", "consultation"):
        assert subscription_feeds(kind, centres[0], everyone, floor=None) == ["h", "c1", "c2", "c3"]
    # The recorder rule is unchanged: recorded people only, whatever the kind.
    recorded = Party("c5", None, recorded=True)
    assert subscription_feeds("dispatch", rec, [host, recorded, *centres], floor=None) == ["c5"]


def test_active_speaker_and_screen_come_first() -> None:
    kw = {"speaker": "s", "screens": ["scr"], "floor": "f", "moderators": ["m"]}
    assert [feed_priority(p, **kw) for p in ("s", "scr", "f", "m", "x", None)] == [2, 2, 1, 1, 0, 0]
    # Room for the lowest layers and one raise: it goes to the speaker before the moderator.
    views = [View("m", 720, priority=1), View("s", 720, priority=2), View("x", 720)]
    bw = 3 * LAYERS[0].bitrate + LAYERS[1].bitrate - LAYERS[0].bitrate
    assert allocate_layers(views, bw) == {"m": 0, "s": 1, "x": 0}
    # Only two lowest layers fit: the plain centre's video pauses, never the speaker's.
    assert allocate_layers(views, 2 * LAYERS[0].bitrate) == {"m": 0, "s": 0, "x": None}
