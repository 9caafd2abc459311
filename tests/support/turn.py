"""A coturn TURN server on this machine for media tests and benches (Debian's ``coturn``).

UDP only, no TLS/DTLS, no CLI, no database: one static long-term credential, a private realm, relay
ports from a small range. It listens on ``listen_ip`` (loopback by default: only the impairing relay of
``tests/support/impair.py`` talks to it) and relays from ``relay_ip``, which must be an address the
other media end (Janus, or the mediator's aiortc) can reach: Janus gathers no loopback candidates, so
the tests pass the host's non-loopback IPv4 (``server.sfu.process.local_ipv4``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def turnserver_binary() -> str | None:
    return shutil.which("turnserver")


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stun_binding_ok(addr: tuple[str, int], timeout: float = 0.5) -> bool:
    """True when a STUN Binding request to ``addr`` gets a Binding success response."""
    tid = secrets.token_bytes(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(req, addr)
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and struct.unpack("!H", data[:2])[0] == 0x0101 and data[8:20] == tid


@dataclass
class Coturn:
    relay_ip: str
    workdir: Path
    listen_ip: str = "127.0.0.1"
    port: int = 0
    username: str = "concord"
    password: str = ""
    realm: str = "concord.test"
    min_port: int = 0
    max_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.listen_ip, self.port

    @property
    def log_path(self) -> Path:
        return self.workdir / "turnserver.log"

    def command(self) -> list[str]:
        binary = turnserver_binary()
        assert binary is not None, "turnserver (Debian coturn) is not installed"
        return [binary, "-n",  # no configuration file: everything is on this line
                "--listening-ip", self.listen_ip, "--listening-port", str(self.port),
                "--relay-ip", self.relay_ip, "--min-port", str(self.min_port), "--max-port", str(self.max_port),
                "--lt-cred-mech", "--user", f"{self.username}:{self.password}", "--realm", self.realm,
                "--fingerprint", "--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay", "--no-cli",
                "--no-multicast-peers", "--userdb", str(self.workdir / "turndb"),
                "--pidfile", str(self.workdir / "turnserver.pid"),
                "--log-file", str(self.log_path), "--simple-log", "--no-stdout-log"]

    def spawn(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_udp_port(self.listen_ip)
        if not self.password:
            self.password = secrets.token_urlsafe(12)
        if not self.min_port:
            self.min_port = 40000 + (os.getpid() % 200) * 100
            self.max_port = self.min_port + 99
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout: float = 15.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited with {self.proc.returncode}: {self.log_tail()}")
            if stun_binding_ok(self.address):
                return
            time.sleep(0.1)
        raise TimeoutError(f"turnserver did not answer STUN on {self.address}: {self.log_tail()}")

    def start(self, timeout: float = 15.0) -> Coturn:
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    async def astart(self) -> Coturn:
        return await asyncio.to_thread(self.start)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
