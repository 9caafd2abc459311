"""Real ``python -m server serve`` processes for multi-node tests and benches."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    from server.config import ROOT

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@dataclass
class Node:
    port: int
    proc: subprocess.Popen
    log: Path
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def start_node(data_dir: Path, env: dict[str, str], port: int | None = None, name: str = "node") -> Node:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"{name}-{port}.log"
    f = open(log, "w")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir",
                             str(data_dir)], env=env, stdout=f, stderr=subprocess.STDOUT)
    return Node(port, proc, log)


async def wait_healthy(node: Node, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                raise RuntimeError(f"server exited: {node.log.read_text()[-3000:]}")
            try:
                async with s.get(node.base + "/healthz") as r:
                    if r.status == 200:
                        return await r.json()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"server on {node.port} not healthy: {node.log.read_text()[-3000:]}")


async def create_pg_database(admin_url: str) -> str:
    """A fresh PostgreSQL database; returns its SQLAlchemy URL."""
    import asyncpg

    name = f"concord_mn_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def drop_pg_database(admin_url: str, url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class Api:
    """A tiny JSON client for the Concord API of one node."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.s = session
        self.h: dict[str, str] = {}

    async def login(self, username: str, password: str = "concord-demo-2026") -> Api:
        async with self.s.post(self.base + "/api/auth/login", json={"username": username, "password": password}) as r:
            assert r.status == 200, await r.text()
            self.h = {"Authorization": f"Bearer {(await r.json())['token']}"}
        return self

    async def post(self, path: str, body: dict | None = None, status: int | None = None) -> dict:
        async with self.s.post(self.base + path, json=body or {}, headers=self.h) as r:
            data = await r.json()
            assert status is None or r.status == status, (r.status, data)
            return data

    async def get(self, path: str) -> dict:
        async with self.s.get(self.base + path, headers=self.h) as r:
            return await r.json()
