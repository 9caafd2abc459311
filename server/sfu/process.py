"""Run a Janus Gateway process from a generated configuration directory (tests, single-host deployments).

``JanusProcess.start()`` writes the config (``server.sfu.jcfg``), starts ``janus -F <dir>`` with its log
going to a file in that directory, and returns once the HTTP API answers ``info`` and the WebSocket
transport accepts a connection. ``stop()`` sends SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import aiohttp

from server.sfu.jcfg import JanusConfig

JANUS_BIN = "janus"


class JanusStartError(RuntimeError):
    pass


def janus_binary() -> str | None:
    """Path of the ``janus`` executable, or None when it is not installed."""
    return shutil.which(JANUS_BIN) or (("/usr/bin/janus") if Path("/usr/bin/janus").exists() else None)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports free right now on ``host`` (the OS picks them)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def local_ipv4() -> str | None:
    """The first non-loopback IPv4 address of this host, as aiortc's ICE gathers it (None if none)."""
    import ifaddr  # aioice's own dependency

    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    return None


class JanusProcess:
    def __init__(self, config: JanusConfig, config_dir: Path, *, binary: str | None = None) -> None:
        self.config = config
        self.config_dir = Path(config_dir)
        self.binary = binary or janus_binary()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.config_dir / "janus.log"
        # A name only this process answers with in ``info``, so readiness is never read off another Janus
        # that already holds the ports.
        self.instance_name = f"{config.server_name}-{secrets.token_hex(4)}"

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc else None
        return f"JanusProcess(pid={pid}, {self.config!r})"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def spawn(self) -> None:
        """Write the config and start ``janus`` (not yet ready: see ``wait_ready``)."""
        if self.binary is None:
            raise JanusStartError("the janus executable is not installed (Debian: apt-get install janus)")
        taken = [p for p in (self.config.ws_port, self.config.http_port, self.config.admin_port)
                 if not port_free(self.config.bind_ip, p)]
        if taken:
            raise JanusStartError(f"ports already in use on {self.config.bind_ip}: {taken}")
        self.config.write(self.config_dir)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-F", str(self.config_dir), "-o", "-D",
                                          "-n", self.instance_name],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    async def start(self, *, timeout: float = 20.0) -> JanusProcess:
        self.spawn()  # raises before starting anything when a port is taken
        try:
            await self.wait_ready(timeout)
        except BaseException:
            self.stop_sync()
            raise
        return self

    async def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise JanusStartError(f"janus exited with {self.proc.returncode}: {self.log_tail()}")
                try:
                    async with http.get(self.config.http_url + "/info") as r:
                        info = await r.json(content_type=None) if r.status == 200 else {}
                    if info.get("janus") == "server_info" and info.get("server-name") != self.instance_name:
                        raise JanusStartError("another Janus answers on this instance's HTTP port")
                    info_ok = info.get("janus") == "server_info"
                    if info_ok:
                        async with http.ws_connect(self.config.ws_url, protocols=("janus-protocol",)) as ws:
                            await ws.close()
                        return
                except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise JanusStartError(f"Janus did not answer within {timeout:g} s: {self.log_tail()}")
                await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if Janus has not exited after ``grace`` seconds (without blocking the loop)."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            deadline = time.monotonic() + grace
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        self.stop_sync(0)

    def stop_sync(self, grace: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL at once (a crashed instance, for failover tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
