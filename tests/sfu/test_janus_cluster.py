"""JanusCluster against the real test Janus: one control session per instance, placement, and the lost/up
hooks when an instance's socket drops (the failover step builds on them)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from server.sfu.cluster import JanusCluster, NoInstance, instance_id
from server.sfu.janus import RoomSpec
from tests.sfu.conftest import JanusTarget

pytestmark = [pytest.mark.media, pytest.mark.timeout(60)]


async def test_cluster_connects_places_and_reports_a_lost_socket(janus: JanusTarget) -> None:
    cluster = JanusCluster((janus.ws_url,), janus.api_secret, janus.admin_key, admin_secret=janus.admin_secret)
    cluster.RETRY_S = 0.2
    lost: list[str] = []
    up: list[str] = []
    cluster.on_lost(lost.append)
    cluster.on_up(up.append)
    await cluster.start()
    try:
        iid = instance_id(janus.ws_url)
        assert iid.startswith("j-") and janus.ws_url not in iid and janus.api_secret not in repr(cluster)
        assert up == [iid] and cluster.place(42) == iid and cluster.is_up(iid)
        inst = cluster.instance(iid)
        assert inst.control is not None and inst.session is not None
        room, secret = f"cluster-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        await inst.control.create_room(RoomSpec(room, secret), admin_key=cluster.admin_key)
        assert await inst.control.exists(room)
        with pytest.raises(NoInstance):
            cluster.instance("j-00000000")
        # The socket drops: the hook fires, the instance is down, then the cluster connects again.
        assert inst.conn is not None and inst.conn._ws is not None
        old_session = inst.session
        await inst.conn._ws.close()
        for _ in range(100):
            if lost and len(up) == 2:
                break
            await asyncio.sleep(0.05)
        assert lost == [iid] and up == [iid, iid]
        again = cluster.instance(iid)
        assert again.session is not None and again.session is not old_session and again.control is not None
        assert await again.control.exists(room)  # rooms belong to the instance, not to the socket
        await again.control.destroy_room(room, secret=secret)
    finally:
        await cluster.close()
    assert not cluster.is_up(iid)
    with pytest.raises(NoInstance):
        cluster.place(1)
