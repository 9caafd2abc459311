"""Real aiortc peers through a real Janus VideoRoom, driven by ``server.sfu.janus`` (no mocks)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from server.sfu.janus import (
    UNAUTHORIZED,
    VR_NO_SUCH_ROOM,
    JanusAdmin,
    JanusConnection,
    JanusError,
    JanusSession,
    RoomSpec,
    VideoRoomHandle,
)
from tests.sfu.conftest import JanusTarget
from tests.sfu.peers import Publisher, Subscriber

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(180)]


@dataclass
class Room:
    conn: JanusConnection
    session: JanusSession
    control: VideoRoomHandle
    spec: RoomSpec


@pytest.fixture
async def room(janus: JanusTarget) -> AsyncIterator[Room]:
    conn = await JanusConnection.connect(janus.ws_url, janus.api_secret)
    session = await conn.create_session()
    control = await session.attach_videoroom()
    spec = RoomSpec(room=f"test-{secrets.token_hex(6)}", secret=secrets.token_urlsafe(16), publishers=10)
    await control.create_room(spec, admin_key=janus.admin_key)
    yield Room(conn, session, control, spec)
    try:
        if await control.exists(spec.room):
            await control.destroy_room(spec.room, secret=spec.secret)
    finally:
        await conn.close()


async def _publish_and_subscribe(room: Room) -> tuple[Publisher, Subscriber]:
    pub = Publisher(room.session, room.spec.room, "主持人")
    await pub.publish()
    sub = Subscriber(room.session, room.spec.room)
    await sub.subscribe([pub.id])
    await sub.wait_frames("video", 10)
    await sub.wait_frames("audio", 25)
    return pub, sub


async def test_publish_and_subscribe_video_and_audio(room: Room, janus: JanusTarget) -> None:
    pub, sub = await _publish_and_subscribe(room)
    try:
        kinds = sorted(s["type"] for s in sub.streams)
        assert kinds == ["audio", "video"]
        participants = await room.control.list_participants(room.spec.room)
        assert [(p["id"], p["display"], p["publisher"]) for p in participants] == [(pub.id, "主持人", True)]
        assert room.spec.room not in {r["room"] for r in await room.control.list_rooms(admin_key=None)}
        rooms = {r["room"]: r for r in await room.control.list_rooms(admin_key=janus.admin_key)}
        assert rooms[room.spec.room]["num_participants"] == 1 and rooms[room.spec.room]["is_private"]
        assert "secret" not in rooms[room.spec.room]
        # Layer choice is accepted on a subscribed video stream (aiortc publishes one layer, so 0 is all).
        await sub.handle.configure_stream(sub.mid("video"), substream=0, temporal=0)  # type: ignore[union-attr]
        await sub.wait_frames("video", 5)
    finally:
        await sub.close()
        await pub.close()


async def _count(sub: Subscriber, seconds: float) -> dict[str, int]:
    """Frames of each kind that ``sub`` receives in the next ``seconds``."""
    before = dict(sub.frames)
    await asyncio.sleep(seconds)
    return {k: sub.frames[k] - before[k] for k in before}


async def test_server_side_mute_stops_audio_that_the_client_keeps_sending(room: Room) -> None:
    pub, sub = await _publish_and_subscribe(room)
    try:
        audio_mid, video_mid = sub.mid("audio"), sub.mid("video")
        unmuted = await _count(sub, 2.0)
        assert unmuted["audio"] >= 40, unmuted  # 50 frames/s sent; a loaded machine may lag
        sent_before = pub.audio.frames_sent
        await room.control.moderate(room.spec.room, secret=room.spec.secret, participant=pub.id,
                                    mid=audio_mid, mute=True)
        # The publisher ignores the mute: it goes on sending its tone. Nobody receives it.
        await sub.wait_silence("audio", 1.0)
        muted = await _count(sub, 2.0)
        assert pub.audio.frames_sent - sent_before > 100, "the publisher kept sending audio"
        assert muted["audio"] == 0, f"audio was forwarded despite the server-side mute: {muted}"
        assert muted["video"] >= 10, "video must keep flowing while audio is muted"
        assert [p["id"] for p in await room.control.list_participants(room.spec.room)] == [pub.id]

        await room.control.moderate(room.spec.room, secret=room.spec.secret, participant=pub.id,
                                    mid=audio_mid, mute=False)
        await sub.wait_frames("audio", 10)
        restored = await _count(sub, 2.0)
        assert restored["audio"] >= 40, restored

        # The same for video (a camera switched off by the moderator), audio unaffected.
        await room.control.moderate(room.spec.room, secret=room.spec.secret, participant=pub.id,
                                    mid=video_mid, mute=True)
        await sub.wait_silence("video", 1.0)
        video_muted = await _count(sub, 1.5)
        assert video_muted["video"] == 0 and video_muted["audio"] >= 30, video_muted
    finally:
        await sub.close()
        await pub.close()


async def test_subscription_follows_visibility_changes(room: Room) -> None:
    """Concord decides which feeds a participant receives: adding a feed (someone joins the viewer's
    sub-room) and dropping one (someone leaves it) renegotiate the same PeerConnection."""
    a = Publisher(room.session, room.spec.room, "甲")
    b = Publisher(room.session, room.spec.room, "乙")
    await a.publish()
    await b.publish()
    sub = Subscriber(room.session, room.spec.room)
    try:
        await sub.subscribe([a.id])
        a_video = sub.mid("video", a.id)
        await sub.wait_mid(a_video, 10)
        assert {str(s["feed_id"]) for s in sub.streams} == {a.id}

        await sub.update(subscribe=[b.id])
        b_video = sub.mid("video", b.id)
        await sub.wait_mid(b_video, 10)
        await sub.wait_mid(a_video, 5)  # the first feed kept flowing through the renegotiation

        await sub.update(unsubscribe=[a.id])
        assert {str(s["feed_id"]) for s in sub.streams if s.get("active", True) and s.get("feed_id")} == {b.id}
        await asyncio.sleep(1.0)
        a_frames = sub.by_mid.get(a_video, 0)
        await sub.wait_mid(b_video, 15)
        assert sub.by_mid.get(a_video, 0) == a_frames, "a dropped feed still arrives"
        with pytest.raises(ValueError):
            await sub.handle.update_subscription()  # type: ignore[union-attr]
    finally:
        await sub.close()
        await a.close()
        await b.close()


async def test_moderate_needs_the_room_secret(room: Room) -> None:
    pub = Publisher(room.session, room.spec.room, "当事人")
    await pub.publish()
    try:
        with pytest.raises(JanusError) as e:
            await room.control.moderate(room.spec.room, secret="wrong", participant=pub.id, mid="0", mute=True)
        assert e.value.code == 433
        with pytest.raises(JanusError) as e:
            await room.control.kick(room.spec.room, secret="wrong", participant=pub.id)
        assert e.value.code == 433
    finally:
        await pub.close()


async def test_kick_stops_the_feed_for_subscribers(room: Room) -> None:
    pub, sub = await _publish_and_subscribe(room)
    try:
        await room.control.kick(room.spec.room, secret=room.spec.secret, participant=pub.id)
        ev = await pub.handle.next_event(lambda e: e.janus == "event" and e.data.get("leaving") == "ok"  # type: ignore[union-attr]
                                         or e.janus == "hangup", timeout=15)
        assert ev is not None
        await sub.wait_silence("video", 1.5)
        await sub.wait_silence("audio", 1.5)
        frozen = dict(sub.frames)
        await asyncio.sleep(1.5)
        assert sub.frames == frozen
        assert await room.control.list_participants(room.spec.room) == []
        # The kicked handle cannot publish again in this room: Janus forgets it as a participant.
        with pytest.raises(JanusError):
            await pub.handle.publish({"type": "offer", "sdp": pub.pc.localDescription.sdp})  # type: ignore[union-attr]
    finally:
        await sub.close()
        await pub.close()


async def test_api_secret_and_admin_key_are_required(janus: JanusTarget) -> None:
    # A client that talks to Janus without the API secret gets nothing, not even a session.
    for secret in (None, "not-the-secret"):
        async with await JanusConnection.connect(janus.ws_url, secret) as rogue:
            with pytest.raises(JanusError) as e:
                await rogue.create_session()
            assert e.value.code == UNAUTHORIZED
            with pytest.raises(JanusError) as e:
                await rogue.request({"janus": "attach", "session_id": 1, "plugin": "janus.plugin.videoroom"})
            assert e.value.code == UNAUTHORIZED
    # With the API secret but not the VideoRoom admin key, no room can be created.
    async with await JanusConnection.connect(janus.ws_url, janus.api_secret) as conn:
        session = await conn.create_session()
        h = await session.attach_videoroom()
        spec = RoomSpec(room=f"rogue-{secrets.token_hex(4)}", secret="x")
        for key in (None, "not-the-key"):
            with pytest.raises(JanusError) as e:
                await h.create_room(spec, admin_key=key)
            assert e.value.code in (429, 433), e.value  # missing element / unauthorized
        assert not await h.exists(spec.room)
    # The admin API wants its own secret.
    with pytest.raises(JanusError) as e:
        await JanusAdmin(janus.admin_url, "not-the-admin-secret").list_sessions()
    assert e.value.code == UNAUTHORIZED


async def test_destroying_the_room_cleans_up(janus: JanusTarget) -> None:
    admin = JanusAdmin(janus.admin_url, janus.admin_secret)
    async with await JanusConnection.connect(janus.ws_url, janus.api_secret) as conn:
        session = await conn.create_session()
        control = await session.attach_videoroom()
        spec = RoomSpec(room=f"gone-{secrets.token_hex(4)}", secret=secrets.token_urlsafe(12))
        await control.create_room(spec, admin_key=janus.admin_key)
        pub = Publisher(session, spec.room, "调度员")
        await pub.publish()
        sub = Subscriber(session, spec.room)
        await sub.subscribe([pub.id])
        await sub.wait_frames("video", 5)
        assert session.id in await admin.list_sessions()
        handles = await admin.list_handles(session.id)
        assert {control.id, pub.handle.id, sub.handle.id} <= set(handles)  # type: ignore[union-attr]
        info = await admin.handle_info(session.id, pub.handle.id)  # type: ignore[union-attr]
        assert info["plugin"] == "janus.plugin.videoroom"
        try:
            with pytest.raises(JanusError) as e:
                await control.destroy_room(spec.room, secret="wrong")
            assert e.value.code == 433
            assert await control.exists(spec.room)

            await control.destroy_room(spec.room, secret=spec.secret)
            assert not await control.exists(spec.room)
            ev = await pub.handle.next_event(lambda e: e.data.get("videoroom") == "destroyed", timeout=10)  # type: ignore[union-attr]
            assert ev.data.get("room") == spec.room
            with pytest.raises(JanusError) as e:
                await control.list_participants(spec.room)
            assert e.value.code == VR_NO_SUCH_ROOM
            await sub.wait_silence("video", 1.5)
            # The room id is free again, and a second destroy is an error, not a silent success.
            with pytest.raises(JanusError) as e:
                await control.destroy_room(spec.room, secret=spec.secret)
            assert e.value.code == VR_NO_SUCH_ROOM
        finally:
            await sub.close()
            await pub.close()
        sid = session.id
    # Closing the connection destroys its sessions on Janus.
    deadline = time.monotonic() + 10
    while sid in await admin.list_sessions():
        assert time.monotonic() < deadline, "the session outlived its connection"
        await asyncio.sleep(0.2)
