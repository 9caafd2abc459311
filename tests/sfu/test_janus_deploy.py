"""The Janus service of docker-compose.yml: its entrypoint writes the configuration from the environment
(server/sfu/jcfg.py) and runs the real janus on it; the compose file passes secrets from .env only."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from server.sfu.janus import JanusAdmin, JanusConnection, JanusError
from server.sfu.process import free_ports, janus_binary
from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "janus" / "entrypoint.py"


def test_compose_runs_janus_on_the_host_network_with_secrets_from_env() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    janus = compose["services"]["janus"]
    assert janus["network_mode"] == "host"
    assert janus["build"]["dockerfile"] == "deploy/janus/Dockerfile"
    env = janus["environment"]
    for name in ("JANUS_API_SECRET", "JANUS_ADMIN_SECRET", "JANUS_ADMIN_KEY"):
        assert env[name].startswith("${CONCORD_") and ":?" in env[name], name  # from .env, required
    # The APIs listen on the backend network's gateway, which is where Concord's containers look for them.
    gateway = env["JANUS_API_IP"]
    app_env = compose["x-concord"]["environment"]
    assert app_env["CONCORD_JANUS_URL"] == f"ws://{gateway}:8188"
    assert app_env["CONCORD_JANUS_ADMIN_URL"] == f"http://{gateway}:7088/admin"
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert gateway.rsplit(".", 1)[0] == subnet.split("/")[0].rsplit(".", 1)[0] and gateway.endswith(".1")
    assert any(t.startswith("/run/janus:") and "mode=0700" in t for t in janus["tmpfs"])
    example = (ROOT / "deploy" / "env.example").read_text()
    for name in ("CONCORD_JANUS_API_SECRET", "CONCORD_JANUS_ADMIN_SECRET", "CONCORD_JANUS_ADMIN_KEY",
                 "JANUS_NAT_1_1_MAPPING", "JANUS_RTP_PORT_RANGE"):
        assert f"\n{name}=" in example, name
    dockerfile = (ROOT / "deploy" / "janus" / "Dockerfile").read_text()
    assert "COPY server/sfu/jcfg.py" in dockerfile and "USER janus" in dockerfile


def test_entrypoint_refuses_to_run_an_open_janus(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JANUS_")}
    env["JANUS_CONFIG_DIR"] = str(tmp_path / "conf")
    r = subprocess.run([sys.executable, str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "JANUS_API_SECRET must be set" in r.stderr
    assert not (tmp_path / "conf").exists()


@pytest.mark.media
@pytest.mark.timeout(60)
async def test_entrypoint_writes_a_private_config_and_runs_janus(tmp_path: Path) -> None:
    need("Janus", janus_binary() is not None)
    ws, http, admin = free_ports(3)
    api, adm, key = (secrets.token_urlsafe(18) for _ in range(3))
    conf = tmp_path / "conf"
    env = {**os.environ, "JANUS_API_SECRET": api, "JANUS_ADMIN_SECRET": adm, "JANUS_ADMIN_KEY": key,
           "JANUS_API_IP": "127.0.0.1", "JANUS_WS_PORT": str(ws), "JANUS_HTTP_PORT": str(http),
           "JANUS_ADMIN_PORT": str(admin), "JANUS_RTP_PORT_RANGE": "45000-45099",
           "JANUS_NAT_1_1_MAPPING": "203.0.113.7", "JANUS_CONFIG_DIR": str(conf)}
    log = (tmp_path / "out.log").open("wb")
    proc = subprocess.Popen([sys.executable, str(ENTRYPOINT)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http_client:
            while True:
                try:
                    async with http_client.get(f"http://127.0.0.1:{http}/janus/info") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert proc.poll() is None, (tmp_path / "out.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "out.log").read_text()
                await asyncio.sleep(0.2)
        assert stat.S_IMODE(conf.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in conf.iterdir())
        core = (conf / "janus.jcfg").read_text()
        assert 'nat_1_1_mapping = "203.0.113.7"' in core and 'rtp_port_range = "45000-45099"' in core
        out = (tmp_path / "out.log").read_text()
        assert api not in out and adm not in out and key not in out
        # The secrets from the environment are the ones Janus enforces.
        with pytest.raises(JanusError):
            async with await JanusConnection.connect(f"ws://127.0.0.1:{ws}", "wrong") as c:
                await c.create_session()
        async with await JanusConnection.connect(f"ws://127.0.0.1:{ws}", api) as c:
            await c.create_session()
        assert await JanusAdmin(f"http://127.0.0.1:{admin}/admin", adm).list_sessions() is not None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
