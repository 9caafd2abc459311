"""Instance load through the Admin API against a real Janus, and the placement built on it."""

from __future__ import annotations

import logging
import math
import secrets

import pytest

from server.sfu.cluster import JanusCluster, NoInstance, instance_id
from server.sfu.janus import JanusAdmin, JanusConnection, RoomSpec
from server.sfu.load import (
    InstanceLoad,
    LoadBoard,
    Probe,
    Weights,
    instance_label,
    load_board,
    pick_instance,
    placement_score,
    poll_instance,
)
from server.sfu.process import free_ports
from tests.sfu.conftest import JanusTarget
from tests.sfu.peers import Publisher, Subscriber

# -- pure placement ------------------------------------------------------------------------------------


def test_instance_label_is_host_and_port_only() -> None:
    assert instance_label("ws://127.0.0.1:8188") == "127.0.0.1:8188"
    assert instance_label("wss://user:pw@janus-1.internal/janus?apisecret=x") == "janus-1.internal:443"
    assert instance_label("ws://[::1]:8188/") == "[::1]:8188"


def test_score_grows_with_subscribers_publishers_and_bitrate() -> None:
    idle = InstanceLoad("a:1", True)
    busy = InstanceLoad("b:1", True, rooms=2, publishers=2, subscribers=40, forwarded_bps=30_000_000)
    assert placement_score(idle) == 0
    assert placement_score(busy) == pytest.approx(40 + 1.5 * 2 + 0.5 * 30 + 0.25 * 2)
    assert placement_score(idle, pending_rooms=3) == pytest.approx(0.75)


def test_down_or_full_instances_take_no_room() -> None:
    down = InstanceLoad.down("a:1", "JanusClosed")
    full = InstanceLoad("b:1", True, subscribers=500)
    assert math.isinf(placement_score(down))
    assert math.isinf(placement_score(full, weights=Weights(max_subscribers=500)))
    assert pick_instance([down, full], weights=Weights(max_subscribers=500)) is None
    assert pick_instance([]) is None


def test_pick_least_loaded_counting_rooms_placed_since_the_poll() -> None:
    a = InstanceLoad("a:1", True, rooms=1, subscribers=10)
    b = InstanceLoad("b:1", True, rooms=1, subscribers=12)
    assert pick_instance([a, b]) == "a:1"
    # Ten rooms just placed on a (not yet in its numbers) outweigh two subscribers.
    assert pick_instance([a, b], pending={"a:1": 10}) == "b:1"
    assert pick_instance([a, b], exclude=["a:1"]) == "b:1"
    # A tie goes to fewer rooms, then to the name, so placement is deterministic.
    assert pick_instance([InstanceLoad("z:1", True), InstanceLoad("c:1", True)]) == "c:1"


def test_board_spreads_a_burst_of_rooms_before_the_next_poll() -> None:
    board = LoadBoard([Probe("a:1", JanusAdmin("http://127.0.0.1:9/admin", "x")),
                       Probe("b:1", JanusAdmin("http://127.0.0.1:9/admin", "x"))], admin_key=None)
    placed = [board.place() for _ in range(6)]
    assert sorted(placed) == ["a:1"] * 3 + ["b:1"] * 3  # type: ignore[operator]
    board.mark_down("a:1", "socket closed")
    assert board.pick() == "b:1"
    board.mark_up("a:1")
    assert board.loads["a:1"].ok and board.loads["a:1"].rooms == 0
    with pytest.raises(ValueError):
        LoadBoard([], admin_key=None, interval_s=0)


# -- against a real Janus --------------------------------------------------------------------------------

@pytest.mark.media
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_poll_counts_rooms_publishers_subscribers_and_bitrate(janus: JanusTarget) -> None:
    admin = JanusAdmin(janus.admin_url, janus.admin_secret)
    label = instance_label(janus.ws_url)
    before = await poll_instance(admin, instance=label, admin_key=janus.admin_key)
    assert before.ok and before.instance == label
    async with await JanusConnection.connect(janus.ws_url, janus.api_secret) as conn:
        session = await conn.create_session()
        control = await session.attach_videoroom()
        spec = RoomSpec(room=f"load-{secrets.token_hex(6)}", secret=secrets.token_urlsafe(16))
        await control.create_room(spec, admin_key=janus.admin_key)
        pub = Publisher(session, spec.room, "主持人")
        subs = [Subscriber(session, spec.room) for _ in range(2)]
        try:
            await pub.publish()
            for s in subs:
                await s.subscribe([pub.id])
            for s in subs:
                await s.wait_frames("video", 15)
            load = await poll_instance(admin, instance=label, admin_key=janus.admin_key)
            assert load.ok and not load.truncated
            assert load.rooms == before.rooms + 1  # a private room: listed only thanks to the admin key
            assert load.publishers == before.publishers + 1
            assert load.subscribers == before.subscribers + 2
            # Two copies of a small video and a tone go out: tens of kbit/s at least.
            assert load.forwarded_bps > before.forwarded_bps + 40_000
            assert load.received_bps > 20_000
            assert load.handles >= before.handles + 4  # control + publisher + 2 subscribers
            # Without the admin key the private room is not seen: the key is what makes the count right.
            blind = await poll_instance(admin, instance=label, admin_key=None)
            assert blind.rooms < load.rooms
            # The handle sample is bounded; a truncated poll says so.
            capped = await poll_instance(admin, instance=label, admin_key=janus.admin_key, max_handles=1)
            assert capped.truncated and capped.sampled_handles == 1 and capped.handles == load.handles
        finally:
            for s in subs:
                await s.close()
            await pub.close()
            await control.destroy_room(spec.room, secret=spec.secret)


@pytest.mark.media
@pytest.mark.timeout(60)
async def test_board_marks_unreachable_or_unauthorised_instances_down_without_leaking_secrets(
        janus: JanusTarget, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    (dead_port,) = free_ports(1)
    board = LoadBoard([Probe(instance_label(janus.ws_url), JanusAdmin(janus.admin_url, janus.admin_secret)),
                       Probe("127.0.0.1:1", JanusAdmin(janus.admin_url, wrong)),
                       Probe(f"127.0.0.1:{dead_port}", JanusAdmin(f"http://127.0.0.1:{dead_port}/admin", wrong))],
                      admin_key=janus.admin_key, poll_timeout_s=5)
    downs: list[tuple[str, str]] = []
    board.on_down(lambda inst, err: downs.append((inst, err)))
    with caplog.at_level(logging.DEBUG, logger="concord"):
        await board.poll_once()
        assert downs == []  # one failed poll: out of placement, not yet a failed health check
        assert board.pick(exclude=[instance_label(janus.ws_url)]) is None
        await board.poll_once()  # the second in a row is
        await board.poll_once()  # still down: reported once, not on every poll
    loads = board.loads
    assert loads[instance_label(janus.ws_url)].ok
    assert not loads["127.0.0.1:1"].ok and "403" in loads["127.0.0.1:1"].error
    assert not loads[f"127.0.0.1:{dead_port}"].ok and loads[f"127.0.0.1:{dead_port}"].error == "JanusClosed"
    assert sorted(i for i, _ in downs) == sorted(["127.0.0.1:1", f"127.0.0.1:{dead_port}"])
    assert board.pick() == instance_label(janus.ws_url)
    text = caplog.text + repr(board) + repr(board.probes) + repr(loads)
    for secret in (wrong, janus.admin_secret, janus.admin_key):
        assert secret not in text
    names = {name for name, _, labels, _ in board.samples() if labels["instance"] == "127.0.0.1:1"}
    assert "concord_janus_up" in names


def test_board_names_instances_by_id_and_labels_metrics_by_address() -> None:
    admin = JanusAdmin("http://127.0.0.1:9/admin", "x")
    board = LoadBoard([Probe("j-aaaa", admin, "10.0.0.5:8188"), Probe("j-bbbb", admin)], admin_key=None)
    board.loads["j-aaaa"] = InstanceLoad("j-aaaa", True, rooms=3, subscribers=30)
    board.loads["j-bbbb"] = InstanceLoad("j-bbbb", True, rooms=0)
    labels = {labels["instance"] for _, _, labels, _ in board.samples()}
    assert labels == {"10.0.0.5:8188", "j-bbbb"}
    assert board.pick() == "j-bbbb"
    assert board.pick(among=["j-aaaa"]) == "j-aaaa"  # e.g. only the instances the cluster holds up
    assert board.place(among=[]) is None and board.pending == {}


def test_cluster_places_by_the_boards_load_among_the_instances_that_are_up() -> None:
    urls = ("ws://10.0.0.5:8188", "ws://10.0.0.6:8188", "ws://10.0.0.7:8188")
    admin = JanusAdmin("http://127.0.0.1:9/admin", "x")
    board = LoadBoard([Probe(instance_id(u), admin, instance_label(u)) for u in urls], admin_key=None)
    cluster = JanusCluster(urls, "s", "k", load=board)
    a, b, c = (instance_id(u) for u in urls)
    with pytest.raises(NoInstance):
        cluster.place(1)
    for i in (a, b, c):
        cluster.instances[i].up = True
    board.loads.update({a: InstanceLoad(a, True, subscribers=50), b: InstanceLoad(b, True, subscribers=5),
                        c: InstanceLoad(c, True, subscribers=0)})
    cluster.instances[c].up = False  # its socket dropped: not a candidate, whatever its last poll said
    assert cluster.place(1) == b
    board.mark_down(b, "poll failed")
    assert cluster.place(2) == a
    # Every instance that is up failing its polls: placement falls back to room counts rather than refuse.
    board.mark_down(a, "poll failed")
    cluster.instances[a].rooms.add("r")
    assert cluster.place(3) == b
    # The metrics label is the address, never the URL's path or a secret.
    assert {lab["instance"] for _, _, lab, _ in board.samples()} == {"10.0.0.5:8188", "10.0.0.6:8188", "10.0.0.7:8188"}


def test_load_board_from_settings() -> None:
    urls = ("ws://10.0.0.5:8188", "ws://10.0.0.6:8188")
    assert load_board(urls, (), "s", "k", name=instance_id) is None  # no Admin URLs: no polling
    assert load_board(urls, ("http://a/admin", "http://b/admin"), None, "k", name=instance_id) is None
    with pytest.raises(ValueError):
        load_board(urls, ("http://a/admin",), "s", "k", name=instance_id)
    board = load_board(urls, ("http://10.0.0.5:7088/admin", "http://10.0.0.6:7088/admin"), "s", "k",
                       name=instance_id, interval_s=0.5)
    assert board is not None
    assert [(p.instance, p.label) for p in board.probes] == [(instance_id(u), instance_label(u)) for u in urls]
    assert board.interval_s == 0.5 and board.poll_timeout_s == 1.0  # a poll never outlasts its interval much
    assert load_board(urls, ("http://a/admin", "http://b/admin"), "s", "k", name=instance_id).poll_timeout_s == 8.0  # type: ignore[union-attr]
