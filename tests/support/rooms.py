"""Helpers for room tests: sessions, invitations and a small WebSocket client for protocol v1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.conftest import login


async def make_session(client: Any, user: str = "mediator", kind: str = "mediation", unit: str = "340321001",
                       title: str = "张三与李四宅基地纠纷") -> tuple[int, dict[str, str]]:
    h = await login(client, user)
    r = await client.post("/api/sessions", json={"kind": kind, "title": title, "unit": unit}, headers=h)
    assert r.status == 201, await r.text()
    return (await r.json())["id"], h


async def invite(client: Any, h: dict[str, str], sid: int, name: str, role: str = "party",
                 **extra: Any) -> dict[str, Any]:
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"role": role, "name": name, **extra}, headers=h)
    assert r.status == 201, await r.text()
    return await r.json()


async def staff_token(client: Any, h: dict[str, str], sid: int) -> str:
    r = await client.post(f"/api/sessions/{sid}/join-token", headers=h)
    assert r.status == 200, await r.text()
    return (await r.json())["token"]


class Peer:
    """One signaling connection with a mailbox: ``expect`` waits for a message type, keeping the rest."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.inbox: list[dict[str, Any]] = []
        self.peer_id: str | None = None
        self.welcome: dict[str, Any] | None = None
        self.closed_code: int | None = None

    async def send(self, msg: dict[str, Any] | str) -> None:
        await self.ws.send_str(msg if isinstance(msg, str) else json.dumps(msg))

    async def _next(self, timeout: float) -> dict[str, Any] | None:
        m = await self.ws.receive(timeout=timeout)
        if m.type.name == "TEXT":
            return json.loads(m.data)
        # The server's close frame carries the code (close_code may read 1006 once the transport is gone).
        self.closed_code = m.data if m.type.name == "CLOSE" else self.ws.close_code
        return None

    async def expect(self, type_: str, timeout: float = 5.0, where: Any = None, **match: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, m in enumerate(self.inbox):
                if (m.get("type") == type_ and all(m.get(k) == v for k, v in match.items())
                        and (where is None or where(m))):
                    return self.inbox.pop(i)
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {type_} {match or ''} within {timeout}s; got {self.inbox}")
            m = await self._next(left)
            if m is None:
                raise AssertionError(f"socket closed ({self.closed_code}) waiting for {type_}; got {self.inbox}")
            self.inbox.append(m)

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; returns the close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"socket still open after {timeout}s; got {self.inbox}")
            m = await self._next(left)
            if m is None:
                return self.closed_code
            self.inbox.append(m)

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Whatever arrives within ``seconds`` (used to show that nothing arrives)."""
        try:
            while True:
                m = await self._next(seconds)
                if m is None:
                    break
                self.inbox.append(m)
        except TimeoutError:
            pass
        out, self.inbox = self.inbox, []
        return out


async def connect(client: Any, token: str | None = None, **join: Any) -> Peer:
    ws = await client.ws_connect("/ws")
    p = Peer(ws)
    if token is not None:
        await p.send({"type": "join", "token": token, **join})
    return p


async def join(client: Any, token: str, expect: str = "welcome", **join_fields: Any) -> Peer:
    p = await connect(client, token, **join_fields)
    first = await p.expect(expect)
    if expect == "welcome":
        p.welcome = first
        p.peer_id = first["peer_id"]
    return p
