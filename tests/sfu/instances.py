"""More Janus processes for the multi-instance tests (cascade, placement, failover).

``launch(dir)`` starts one more Janus on free ports with its own random secrets and its own RTP range,
like ``tests/sfu/conftest.py`` does for the shared instance. ``janus_b`` is a second instance for the whole
test session; the failover tests launch (and kill) their own.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.sfu.jcfg import JanusConfig
from server.sfu.process import JanusProcess, free_ports, janus_binary, local_ipv4
from tests.conftest import need
from tests.sfu.conftest import JanusTarget

# RTP ranges of 100 ports each, away from the shared instance's (21000 + pid % 400 * 100 .. 61000).
_slot = itertools.count(1)


def _rtp_range() -> tuple[int, int]:
    lo = 61000 + ((os.getpid() % 20) * 10 + next(_slot) % 10) * 20
    return lo, lo + 19


def config(same_secrets_as: JanusTarget | None = None) -> JanusConfig:
    """A new instance's settings; ``same_secrets_as``: share another's secrets, as the instances of one
    deployment do (one CONCORD_JANUS_API_SECRET, ADMIN_SECRET and ADMIN_KEY for all)."""
    need("Janus", janus_binary() is not None)
    ip = local_ipv4()
    need("a non-loopback IPv4 address for Janus's ICE", ip is not None)
    ws, http, admin = free_ports(3)
    s = same_secrets_as
    return JanusConfig(api_secret=s.api_secret if s else secrets.token_urlsafe(24),
                       admin_secret=s.admin_secret if s else secrets.token_urlsafe(24),
                       admin_key=s.admin_key if s else secrets.token_urlsafe(24),
                       ws_port=ws, http_port=http, admin_port=admin,
                       ice_enforce_list=ip, rtp_port_range=_rtp_range())


def target(cfg: JanusConfig, proc: JanusProcess) -> JanusTarget:
    return JanusTarget(cfg.ws_url, cfg.admin_url, cfg.api_secret, cfg.admin_secret, cfg.admin_key, proc.log_path)


async def launch(config_dir: Path, cfg: JanusConfig | None = None) -> tuple[JanusProcess, JanusTarget]:
    cfg = cfg or config()
    proc = JanusProcess(cfg, config_dir)
    await proc.start(timeout=30)
    return proc, target(cfg, proc)


@pytest.fixture(scope="session")
def janus_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusTarget]:
    """A second Janus for the whole session (instance B of the cascade tests)."""
    cfg = config()
    proc = JanusProcess(cfg, tmp_path_factory.mktemp("janus-b"))
    proc.spawn()
    try:
        asyncio.run(proc.wait_ready(30))
        yield target(cfg, proc)
    finally:
        proc.stop_sync()
