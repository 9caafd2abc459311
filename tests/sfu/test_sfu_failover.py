"""Failover through Concord: a Janus instance is killed (kill -9) under a dispatch briefing whose people are
real aiortc clients on Concord's /ws; the room moves to the other instance, every client renegotiates,
video resumes, and the ledger records the move with cause ``instance failover`` and its duration.
The video gap is printed (docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.config import Config
from server.services import services
from server.sfu.cluster import instance_id
from server.sfu.failover import CAUSE
from server.sfu.process import JanusProcess
from tests.sfu.conftest import JanusTarget
from tests.sfu.instances import config as janus_config
from tests.sfu.instances import launch
from tests.sfu.test_sfu_rooms import Briefing, receives, sfu_config

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"


@pytest.fixture
async def instances(tmp_path: Path) -> AsyncIterator[list[tuple[JanusProcess, JanusTarget]]]:
    made: list[tuple[JanusProcess, JanusTarget]] = []
    try:
        for name in ("a", "b"):
            made.append(await launch(tmp_path / f"janus-{name}", janus_config(made[0][1] if made else None)))
        yield made
    finally:
        for proc, _ in made:
            await proc.stop()


@pytest.fixture
def config(db_url: str, tmp_path: Path, instances: list[tuple[JanusProcess, JanusTarget]]) -> Config:
    (_, a), (_, b) = instances
    c = sfu_config(db_url, tmp_path, a)
    # Polls every 0.5 s: two failed polls (a frozen instance) make a failed health check in about 2 s.
    return Config(**{**c.__dict__, "janus_urls": (a.ws_url, b.ws_url),
                     "janus_admin_urls": (a.admin_url, b.admin_url), "janus_poll_s": 0.5})


async def test_killed_instance_moves_the_briefing_and_video_resumes(
        client: Any, instances: list[tuple[JanusProcess, JanusTarget]]) -> None:
    b = Briefing(client)
    await b.setup()
    try:
        host = await b.host()
        centre = await b.centre(host, "龙亢镇综治中心")
        await receives(centre, host.peer_id)
        await receives(host, centre.peer_id)
        app = client.server.app
        hub = services(app).room_hub
        room = hub.rooms[b.sid].room
        first = room.sfu_instance
        by_id = {instance_id(t.ws_url): (proc, t) for proc, t in instances}
        proc, _ = by_id[first]
        assert host.peer_id is not None
        old_pub, old_sub, offers = host.pub, centre.sub, centre.offers
        t_kill = time.monotonic()
        proc.kill()
        # Frames already on their way may still land just after the kill; the first frame after a pause
        # of more than 0.25 s is the first one through the other instance.
        last = centre.last_from(host.peer_id, "video")
        marks: dict[str, float] = {}
        while True:
            assert time.monotonic() - t_kill < 60, "video did not resume within 60 s"
            if "topology" not in marks and centre.generation >= 1:
                marks["topology"] = time.monotonic() - t_kill
            if "host publishing" not in marks and host.pub is not None and host.pub is not old_pub \
                    and host.pub.connectionState == "connected":
                marks["host publishing"] = time.monotonic() - t_kill
            if "offer" not in marks and centre.offers > offers:
                marks["offer"] = time.monotonic() - t_kill
            if "centre receiving" not in marks and centre.sub is not None and centre.sub is not old_sub \
                    and centre.sub.connectionState == "connected":
                marks["centre receiving"] = time.monotonic() - t_kill
            t = centre.last_from(host.peer_id, "video")
            if t != last:
                if t - last > 0.25:
                    break
                last = t
            await asyncio.sleep(0.005)
        gap, t_back = t - last, t
        await receives(centre, host.peer_id, n=20)
        await receives(host, centre.peer_id, n=20)
        room = hub.rooms[b.sid].room
        assert room.sfu_instance != first and room.sfu_generation >= 1
        moves = [m for m in b.ledger("topology") if m["cause"] == CAUSE]
        assert len(moves) == 1 and moves[0]["from"] == "sfu" and moves[0]["to"] == "sfu"
        settled = [m for m in b.ledger("topology_settled") if m["cause"] == CAUSE]
        assert settled, b.ledger("topology_settled")
        print(f"\nfailover through Concord: video lost for {gap * 1000:.0f} ms (kill -9 to the first frame "
              f"on the other instance: {(t_back - t_kill) * 1000:.0f} ms; seconds after the kill: "
              f"{ {k: round(v, 3) for k, v in marks.items()} }); ledger: {settled[0]}")
    finally:
        await b.close()


async def test_a_frozen_instance_fails_its_health_check_and_the_briefing_moves(
        client: Any, instances: list[tuple[JanusProcess, JanusTarget]]) -> None:
    """SIGSTOP: the process is alive and its TCP connections stay open, but it answers nothing. The load
    poll (the health check) fails twice in a row, the cluster treats the instance as lost, the room moves."""
    b = Briefing(client)
    await b.setup()
    frozen: JanusProcess | None = None
    try:
        host = await b.host()
        centre = await b.centre(host, "河溜镇综治中心")
        await receives(centre, host.peer_id)
        hub = services(client.server.app).room_hub
        first = hub.rooms[b.sid].room.sfu_instance
        frozen = {instance_id(t.ws_url): proc for proc, t in instances}[first]
        assert frozen.pid is not None and host.peer_id is not None
        t0 = time.monotonic()
        os.kill(frozen.pid, signal.SIGSTOP)
        await receives(centre, host.peer_id, n=20, timeout=60)
        back = time.monotonic() - t0
        room = hub.rooms[b.sid].room
        assert room.sfu_instance != first
        assert [m["cause"] for m in b.ledger("topology")][-1] == CAUSE
        print(f"\nfrozen instance: 20 frames again {back:.1f} s after SIGSTOP (polls every 0.5 s)")
        assert back < 20
    finally:
        if frozen is not None and frozen.pid is not None:
            os.kill(frozen.pid, signal.SIGCONT)
        await b.close()
