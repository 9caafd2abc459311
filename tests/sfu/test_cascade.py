"""Cascading: the host publishes on Janus A, a centre subscribed on Janus B sees and hears the host.

Two real Janus processes on this machine (the shared one and ``janus_b``), real aiortc peers, VideoRoom
remote publishers (``server.sfu.cascade``)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.sfu.cascade import (
    CascadePlan,
    RoomOn,
    StreamInfo,
    cascade,
    list_remotes,
    plan_cascade,
    remote_streams,
    streams_from,
)
from server.sfu.janus import JanusAdmin, JanusConnection, JanusError, JanusSession, RoomSpec
from server.sfu.load import instance_label, poll_instance
from tests.sfu.conftest import JanusTarget
from tests.sfu.instances import janus_b  # noqa: F401  (fixture)
from tests.sfu.peers import Publisher, Subscriber

# -- pure ----------------------------------------------------------------------------------------------


def test_remote_streams_follow_the_source_mline_indexes() -> None:
    streams = streams_from([{"mindex": 1, "type": "video", "codec": "vp8", "mid": "v", "simulcast": True},
                            {"mindex": 0, "type": "audio", "codec": "opus", "mid": "a"}])
    assert [s.mindex for s in streams] == [0, 1]
    assert remote_streams(streams) == [
        {"mid": "0", "mindex": 0, "type": "audio", "codec": "opus"},
        {"mid": "1", "mindex": 1, "type": "video", "codec": "vp8", "simulcast": True}]
    # A gap (a data channel, say) keeps the numbering with a disabled placeholder.
    gap = remote_streams([StreamInfo(0, "audio", "opus"), StreamInfo(2, "video", "vp8")])
    assert [(d["mindex"], d["type"], d.get("disabled", False)) for d in gap] == [
        (0, "audio", False), (1, "data", True), (2, "video", False)]
    with pytest.raises(ValueError):
        remote_streams([StreamInfo(0, "data")])
    with pytest.raises(ValueError):
        remote_streams([])


def test_plan_cascade_for_a_city_briefing() -> None:
    assert plan_cascade(300, capacity=400) == CascadePlan(300, ())
    plan = plan_cascade(1191, capacity=400)
    # The source pays one subscriber-equivalent per edge it feeds; every viewer is served exactly once.
    assert plan.instances == 3  # 398 on the source (400 less two forwards) + 2 x 400 >= 1191
    assert plan.source_viewers + sum(plan.edge_viewers) == 1191
    assert plan.source_viewers <= 400 - 2 and max(plan.edge_viewers) <= 400
    assert max(plan.edge_viewers) - min(plan.edge_viewers) <= 1
    # docs/scaling.md's city briefing: 8-core instances of 273 centres, a forward costs 0.2 of a centre.
    assert plan_cascade(1191, capacity=273, forward_cost=0.2) == CascadePlan(272, (230, 230, 230, 229))
    assert plan_cascade(1191, capacity=430, forward_cost=0.2) == CascadePlan(429, (381, 381))
    assert plan_cascade(1191, capacity=546, forward_cost=0.2) == CascadePlan(545, (323, 323))
    with pytest.raises(ValueError):
        plan_cascade(10, capacity=0)
    with pytest.raises(ValueError):
        plan_cascade(10_000, capacity=3)  # one source cannot feed that many edges


# -- two real instances --------------------------------------------------------------------------------


@dataclass
class Side:
    target: JanusTarget
    conn: JanusConnection
    session: JanusSession
    room: RoomOn


async def _side(t: JanusTarget) -> Side:
    conn = await JanusConnection.connect(t.ws_url, t.api_secret)
    session = await conn.create_session()
    control = await session.attach_videoroom()
    spec = RoomSpec(room=f"brief-{secrets.token_hex(5)}", secret=secrets.token_urlsafe(16))
    await control.create_room(spec, admin_key=t.admin_key)
    return Side(t, conn, session, RoomOn(instance_label(t.ws_url), control, spec.room, spec.secret))


@pytest.fixture
async def sides(janus: JanusTarget, janus_b: JanusTarget) -> AsyncIterator[tuple[Side, Side]]:  # noqa: F811
    a, b = await _side(janus), await _side(janus_b)
    yield a, b
    for s in (a, b):
        try:
            await s.room.handle.destroy_room(s.room.room, secret=s.room.secret)
        except JanusError:
            pass
        await s.conn.close()


def free_udp_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    try:
        for sk in socks:
            sk.bind(("127.0.0.1", 0))
        return [sk.getsockname()[1] for sk in socks]
    finally:
        for sk in socks:
            sk.close()


def _udp_bound(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/udp) of the UDP sockets bound to ``port``."""
    out = set()
    for name in ("udp", "udp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local = line.split()[1]
            addr, p = local.rsplit(":", 1)
            if int(p, 16) == port:
                out.add(addr)
    return out


async def _streams_of(pub: Publisher, t: JanusTarget) -> list[StreamInfo]:
    assert pub.handle is not None
    info = await JanusAdmin(t.admin_url, t.admin_secret).handle_info(pub.session.id, pub.handle.id)
    return streams_from(info["plugin_specific"]["streams"])


@pytest.mark.media
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_subscriber_on_b_sees_and_hears_the_host_publishing_on_a(sides: tuple[Side, Side]) -> None:
    a, b = sides
    host = Publisher(a.session, a.room.room, "市中心 主持人")
    centre = Subscriber(b.session, b.room.room)
    try:
        await host.publish()
        streams = await _streams_of(host, a.target)
        assert sorted(s.type for s in streams) == ["audio", "video"]
        link = await cascade(a.room, b.room, feed=host.id, streams=streams, admin_key=a.target.admin_key,
                             bind="127.0.0.1", display="市中心 主持人")
        # B's RTP and RTCP sockets listen on the loopback address only, never on every interface.
        assert link.host == "127.0.0.1"
        for port in (link.port, link.rtcp_port):
            assert _udp_bound(port) == {"0100007F"}, f"port {port} bound to {_udp_bound(port)}"
        # The feed is a publisher of B's room with the same id, marked remote.
        people = await b.room.handle.list_participants(b.room.room)
        assert [(p["id"], p.get("remote"), p["publisher"]) for p in people] == [(host.id, True, True)]
        assert [r["remote_id"] for r in await list_remotes(a.room, host.id, admin_key=a.target.admin_key)] \
            == [link.remote_id]
        # The centre on B subscribes like to any feed and gets the host's picture (a keyframe through the
        # PLI path back to A) and the tone.
        await centre.subscribe([host.id])
        await centre.wait_frames("video", 20, timeout=30)
        await centre.wait_frames("audio", 50, timeout=30)
        load_b = await poll_instance(JanusAdmin(b.target.admin_url, b.target.admin_secret),
                                     instance=b.room.instance, admin_key=b.target.admin_key)
        assert load_b.remote_publishers >= 1 and load_b.subscribers >= 1 and load_b.forwarded_bps > 0

        await link.close()
        await centre.wait_silence("video", 1.5)
        assert await b.room.handle.list_participants(b.room.room) == []
        assert await list_remotes(a.room, host.id, admin_key=a.target.admin_key) == []
        await link.close()  # twice is harmless
        # The same feed can be cascaded again at once (B has let the old remote publisher go), here on
        # ports Concord chose (a firewall between Janus hosts may admit only a few).
        fixed = tuple(free_udp_ports(2))
        again = await cascade(a.room, b.room, feed=host.id, streams=streams, admin_key=a.target.admin_key,
                              ports=fixed)  # type: ignore[arg-type]
        assert (again.port, again.rtcp_port) == fixed
        assert _udp_bound(fixed[0]) == {"0100007F"}
        assert [p["id"] for p in await b.room.handle.list_participants(b.room.room)] == [host.id]
        late = Subscriber(b.session, b.room.room)  # the old subscription ended with the old feed
        try:
            await late.subscribe([host.id])
            await late.wait_frames("video", 10, timeout=30)
        finally:
            await late.close()
        await again.close()
        with pytest.raises(ValueError):
            await cascade(a.room, b.room, feed=host.id, streams=streams, admin_key=None, ports=(5000, 5000))
    finally:
        await centre.close()
        await host.close()


@pytest.mark.media
@pytest.mark.timeout(120)
async def test_cascade_needs_the_admin_key_and_room_secrets_and_leaves_nothing_behind(
        sides: tuple[Side, Side]) -> None:
    a, b = sides
    host = Publisher(a.session, a.room.room, "host")
    try:
        await host.publish()
        streams = await _streams_of(host, a.target)
        for key in (None, "wrong-" + secrets.token_hex(6)):
            with pytest.raises(JanusError) as e:
                await cascade(a.room, b.room, feed=host.id, streams=streams, admin_key=key)
            assert e.value.code in (429, 433)  # missing / wrong admin key
            # The remote publisher made on B before A refused is gone again (B lets it go within a second;
            # the rollback waits for that, so a retry with the same id works at once).
            assert await b.room.handle.list_participants(b.room.room) == []
        wrong_b = RoomOn(b.room.instance, b.room.handle, b.room.room, "not-the-secret")
        with pytest.raises(JanusError) as e:
            await cascade(a.room, wrong_b, feed=host.id, streams=streams, admin_key=a.target.admin_key)
        assert e.value.code == 433
        wrong_a = RoomOn(a.room.instance, a.room.handle, a.room.room, "not-the-secret")
        with pytest.raises(JanusError) as e:
            await cascade(wrong_a, b.room, feed=host.id, streams=streams, admin_key=a.target.admin_key)
        assert e.value.code == 433
        assert await b.room.handle.list_participants(b.room.room) == []
        assert await list_remotes(a.room, host.id, admin_key=a.target.admin_key) == []
        with pytest.raises(ValueError):
            await cascade(a.room, a.room, feed=host.id, streams=streams, admin_key=a.target.admin_key)
    finally:
        await host.close()
