"""A real Janus for the SFU tests.

One Janus process per test session, on free ports, with a generated config and random secrets
(``server.sfu.process``). ``CONCORD_TEST_JANUS`` (JSON: ws_url, admin_url, api_secret, admin_secret,
admin_key) reuses a running instance instead. Without the ``janus`` binary the tests skip, unless
CONCORD_REQUIRE_SERVICES=1 (CI), where that is a failure (tests/conftest.py ``need``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.sfu.jcfg import JanusConfig
from server.sfu.process import JanusProcess, free_ports, janus_binary, local_ipv4
from tests.conftest import need


@dataclass(frozen=True)
class JanusTarget:
    ws_url: str
    admin_url: str
    api_secret: str
    admin_secret: str
    admin_key: str
    log: Path | None = None

    def log_tail(self, n: int = 40) -> str:
        if self.log is None:
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture(scope="session")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusTarget]:
    env = os.environ.get("CONCORD_TEST_JANUS")
    if env:
        d = json.loads(env)
        yield JanusTarget(d["ws_url"], d["admin_url"], d["api_secret"], d["admin_secret"], d["admin_key"])
        return
    need("Janus", janus_binary() is not None)
    ws, http, admin = free_ports(3)
    # aiortc gathers host candidates on every non-loopback address; Janus must offer one it can reach.
    # Only that address is used, so ICE does not wait on unreachable IPv6 or bridge interfaces.
    # Janus skips loopback interfaces for ICE whatever ice_enforce_list says (docs/sfu.md), so the host
    # needs one other address; traffic to it stays on this machine.
    ip = local_ipv4()
    need("a non-loopback IPv4 address for Janus's ICE", ip is not None)
    rtp_lo = 21000 + (os.getpid() % 400) * 100
    cfg = JanusConfig(api_secret=secrets.token_urlsafe(24), admin_secret=secrets.token_urlsafe(24),
                      admin_key=secrets.token_urlsafe(24), ws_port=ws, http_port=http, admin_port=admin,
                      ice_enforce_list=ip, rtp_port_range=(rtp_lo, rtp_lo + 99))
    proc = JanusProcess(cfg, tmp_path_factory.mktemp("janus"))
    proc.spawn()
    try:
        asyncio.run(proc.wait_ready(30))
        yield JanusTarget(cfg.ws_url, cfg.admin_url, cfg.api_secret, cfg.admin_secret, cfg.admin_key,
                          proc.log_path)
    finally:
        proc.stop_sync()
