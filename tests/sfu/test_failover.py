"""Failover: a Janus instance dies (kill -9) under a briefing; its room moves to the other instance and the
peers publish and subscribe again there. Real Janus processes, real aiortc peers; the video gap is
measured and printed (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest

from server.sfu.failover import CAUSE, Failover, Move, plan_moves, watch_connection
from server.sfu.janus import JanusAdmin, JanusConnection, JanusSession, RoomSpec
from server.sfu.load import InstanceLoad, LoadBoard, Probe, instance_label, pick_instance
from server.sfu.process import JanusProcess
from tests.sfu.conftest import JanusTarget
from tests.sfu.instances import config, launch
from tests.sfu.peers import Publisher, Subscriber

# -- the bookkeeping, without Janus ---------------------------------------------------------------------


def _picker(loads: dict[str, InstanceLoad]):  # type: ignore[no-untyped-def]
    pending: dict[str, int] = {}

    def pick(exclude):  # type: ignore[no-untyped-def]
        chosen = pick_instance(loads.values(), pending=pending, exclude=exclude)
        if chosen:
            pending[chosen] = pending.get(chosen, 0) + 1
        return chosen
    return pick


def test_rooms_of_a_dead_instance_spread_over_the_survivors() -> None:
    loads = {"a:1": InstanceLoad("a:1", True, rooms=4), "b:1": InstanceLoad("b:1", True, rooms=1),
             "c:1": InstanceLoad("c:1", True, rooms=1)}
    plan = plan_moves([f"r{i}" for i in range(4)], "a:1", _picker(loads))
    assert set(plan.values()) == {"b:1", "c:1"}
    assert sorted(plan.values()).count("b:1") == 2
    assert plan_moves(["r"], "a:1", _picker({"a:1": InstanceLoad("a:1", True)})) == {"r": None}


async def test_failover_moves_records_and_reports_each_loss_once() -> None:
    loads = {"a:1": InstanceLoad("a:1", True), "b:1": InstanceLoad("b:1", True), "c:1": InstanceLoad("c:1", True)}
    moved: list[tuple[str, str, str]] = []
    recorded: list[Move] = []
    gate = asyncio.Event()

    async def move(room: str, src: str, dst: str) -> None:
        await gate.wait()
        if room == "broken":
            raise RuntimeError("janus refused")
        moved.append((room, src, dst))

    fo = Failover(_picker(loads), move, recorded.append)
    for room in ("r1", "r2", "broken"):
        fo.placed(room, "a:1")
    fo.placed("elsewhere", "b:1")
    first = asyncio.ensure_future(fo.instance_lost("a:1", "socket closed"))
    second = asyncio.ensure_future(fo.instance_lost("a:1", "health check failed"))
    await asyncio.sleep(0.01)
    gate.set()
    a, b = await first, await second
    assert a == b and len(a) == 3  # the second report joined the first
    assert sorted(r for r, _, _ in moved) == ["r1", "r2"] and {s for _, s, _ in moved} == {"a:1"}
    assert {d for _, _, d in moved} <= {"b:1", "c:1"}
    bad = next(m for m in a if m.room == "broken")
    assert not bad.ok and bad.error == "RuntimeError" and fo.placements["broken"] == "a:1"
    assert all(m.cause == CAUSE for m in recorded) and len(recorded) == 3
    assert fo.rooms_on("a:1") == ["broken"] and fo.placements["elsewhere"] == "b:1"
    assert await fo.instance_lost("a:1") == []  # already handled
    # A later loss of b does not send rooms back to a (still lost) and says when nowhere is left.
    moves = await Failover(_picker({"a:1": InstanceLoad("a:1", True)}), move,
                           placements={"x": "a:1"}).instance_lost("a:1")
    assert moves == [Move("x", "a:1", None, 0.0, error="no healthy Janus instance left")]


async def test_rooms_can_be_listed_by_the_caller() -> None:
    moved: list[str] = []

    async def move(room: str, src: str, dst: str) -> None:
        moved.append(room)

    hub_rooms = {"7": "a:1", "8": "b:1", "9": "a:1"}
    fo = Failover(_picker({"b:1": InstanceLoad("b:1", True)}), move,
                  rooms_of=lambda inst: [r for r, i in hub_rooms.items() if i == inst])
    assert [m.room for m in await fo.instance_lost("a:1")] == ["7", "9"] and sorted(moved) == ["7", "9"]


async def test_a_hung_move_times_out_without_blocking_the_others() -> None:
    async def move(room: str, src: str, dst: str) -> None:
        if room == "hung":
            await asyncio.sleep(60)

    fo = Failover(_picker({"b:1": InstanceLoad("b:1", True)}), move, move_timeout_s=0.2,
                  placements={"hung": "a:1", "fine": "a:1"})
    t0 = time.monotonic()
    moves = {m.room: m for m in await fo.instance_lost("a:1")}
    assert time.monotonic() - t0 < 5
    assert moves["hung"].error == "move timed out" and moves["fine"].ok


async def test_watch_ignores_a_connection_concord_closed_itself() -> None:
    closed, lost = asyncio.Event(), []
    reason = "closed by client"
    task = asyncio.ensure_future(watch_connection(closed, lambda: reason, "a:1", lambda i, r: lost.append(i)))
    closed.set()
    await task
    assert lost == []
    closed2 = asyncio.Event()
    task = asyncio.ensure_future(watch_connection(closed2, lambda: "WebSocket close", "a:1",
                                                  lambda i, r: lost.append((i, r))))
    closed2.set()
    await task
    assert lost == [("a:1", "WebSocket close")]


# -- a real kill -9 -------------------------------------------------------------------------------------


class Side:
    def __init__(self, proc: JanusProcess, target: JanusTarget, conn: JanusConnection, session: JanusSession):
        self.proc, self.target, self.conn, self.session = proc, target, conn, session
        self.label = instance_label(target.ws_url)


@pytest.fixture
async def pair(tmp_path) -> AsyncIterator[tuple[Side, Side]]:  # type: ignore[no-untyped-def]
    sides = []
    try:
        for name in ("a", "b"):
            proc, target = await launch(tmp_path / name, config(sides[0].target if sides else None))
            conn = await JanusConnection.connect(target.ws_url, target.api_secret)
            sides.append(Side(proc, target, conn, await conn.create_session()))
        yield sides[0], sides[1]
    finally:
        for s in sides:
            await s.conn.close()
            await s.proc.stop()


@pytest.mark.media
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_killed_instance_moves_its_room_and_video_resumes(pair: tuple[Side, Side]) -> None:
    a, b = pair
    by_label = {a.label: a, b.label: b}
    board = LoadBoard([Probe(s.label, JanusAdmin(s.target.admin_url, s.target.admin_secret)) for s in pair],
                      admin_key=a.target.admin_key, poll_timeout_s=3)
    board.loads[b.label] = await _poll_ok(board, b)
    spec = RoomSpec(room=f"brief-{secrets.token_hex(4)}", secret=secrets.token_urlsafe(16))

    peers: dict[str, tuple[Publisher, Subscriber]] = {}

    async def open_room(side: Side) -> None:
        control = await side.session.attach_videoroom()
        await control.create_room(spec, admin_key=side.target.admin_key)
        host = Publisher(side.session, spec.room, "主持人")
        await host.publish()
        centre = Subscriber(side.session, spec.room)
        await centre.subscribe([host.id])
        peers[side.label] = (host, centre)

    # What the bridge does for a moved room: the room again on the new instance, every client
    # renegotiating on a new PeerConnection (the old one died with the instance).
    async def move(room: str, src: str, dst: str) -> None:
        assert room == spec.room
        board.mark_down(src, "socket closed")
        await open_room(by_label[dst])

    recorded: list[Move] = []
    fo = Failover(lambda exclude: board.place(exclude=exclude), move, recorded.append)
    board.on_down(fo.instance_lost)

    await open_room(a)
    fo.placed(spec.room, a.label)
    host_a, centre_a = peers[a.label]
    await centre_a.wait_frames("video", 20)
    watcher = asyncio.ensure_future(watch_connection(a.conn.closed, lambda: a.conn.close_reason, a.label,
                                                     fo.instance_lost))
    t_kill = time.monotonic()
    a.proc.kill()  # SIGKILL: no goodbye on the socket, no session cleanup
    await asyncio.wait_for(watcher, 30)
    detected = time.monotonic() - t_kill
    assert [m.target for m in recorded] == [b.label] and recorded[0].ok and recorded[0].cause == CAUSE
    host_b, centre_b = peers[b.label]
    await centre_b.wait_frames("video", 1, timeout=30)
    first_b = time.monotonic()
    await centre_b.wait_frames("video", 20, timeout=30)
    await centre_b.wait_frames("audio", 25, timeout=30)
    gap = first_b - centre_a.last["video"]
    print(f"\nfailover: socket drop seen {detected * 1000:.0f} ms after kill -9; room moved in "
          f"{recorded[0].seconds * 1000:.0f} ms; video lost for {gap * 1000:.0f} ms "
          f"(last frame on A -> first frame on B)")
    assert gap < 15
    assert fo.placements[spec.room] == b.label
    # A second signal for the same loss (the load poll failing) moves nothing twice.
    await board.poll_once()
    assert len(recorded) == 1
    for host, centre in peers.values():
        await centre.close()
        await host.close()


async def _poll_ok(board: LoadBoard, side: Side) -> InstanceLoad:
    probe = next(p for p in board.probes if p.instance == side.label)
    load = await board._poll(probe)
    assert load.ok
    return load
