"""The endpoints a node delivers room messages to: client WebSockets and in-process system peers."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from typing import Any, Protocol

from aiohttp import web

from server.rooms.protocol import dumps

log = logging.getLogger("concord.rooms")

MAX_QUEUE = 1000  # messages waiting for one slow socket before it is cut off
CLOSE_TOO_SLOW = 1013


class SystemPeer(Protocol):
    """A server-side participant (the recorder). See docs/protocol.md, "System peers".

    ``deliver`` receives every server-to-client message addressed to the peer, in order, as a dict (the
    same messages a browser gets: ``welcome``, ``peer-joined``, ``peer-updated``, ``signal``, ...). It is
    called from the event loop and must not block (queue the work). ``closed`` is called once when the
    room closes the peer's place (recording switched off, session ended).
    """

    def deliver(self, message: dict[str, Any]) -> None: ...

    def closed(self, code: int, reason: str) -> None: ...


class Connection:
    kind = "abstract"

    def __init__(self) -> None:
        self.id = secrets.token_hex(8)
        self.peer_id: str | None = None
        self.session_id: int | None = None
        self.resume_token = ""
        self.closed = False
        self.left = False  # sent leave / was closed by the room: no drop on disconnect
        self.answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    def _first(self, msg: dict[str, Any]) -> None:
        if not self.answered.done() and msg.get("type") in ("welcome", "lobby", "error"):
            self.answered.set_result(msg)

    def send(self, msg: dict[str, Any], text: str | None = None) -> None:
        raise NotImplementedError

    def close(self, code: int, reason: str) -> None:
        raise NotImplementedError


class SocketConnection(Connection):
    """A client WebSocket. Sends go through a bounded queue drained by one writer task."""

    kind = "socket"

    def __init__(self, ws: web.WebSocketResponse, remote: str = "", max_queue: int = MAX_QUEUE) -> None:
        super().__init__()
        self.ws = ws
        self.remote = remote
        self.max_queue = max_queue
        self._q: deque[str | tuple[int, str]] = deque()
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.id}")

    def send(self, msg: dict[str, Any], text: str | None = None) -> None:
        if self.closed:
            return
        self._first(msg)
        if len(self._q) >= self.max_queue:
            log.warning("connection %s too slow (%d queued); closing", self.id, len(self._q))
            self._q.clear()
            self.close(CLOSE_TOO_SLOW, "too slow")
            return
        self._q.append(text if text is not None else dumps(msg))
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._q.append((code, reason))
        self._wake.set()

    async def _write(self) -> None:
        ws = self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._q:
                    item = self._q.popleft()
                    if isinstance(item, tuple):
                        await ws.close(code=item[0], message=item[1].encode()[:120])
                        return
                    if ws.closed:
                        self._q.clear()
                        return
                    await ws.send_str(item)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the peer vanished mid-write: the reader side notices and drops it
            log.debug("write to %s failed: %s", self.id, type(e).__name__)

    async def finish(self, timeout: float = 4.0) -> None:
        """Let queued messages and the close handshake go out, then stop the writer."""
        if not self.closed:
            self.close(1000, "bye")
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)


class SystemConnection(Connection):
    """An in-process system peer plugged into a room (the recorder)."""

    kind = "system"

    def __init__(self, peer: SystemPeer) -> None:
        super().__init__()
        self.peer = peer

    def send(self, msg: dict[str, Any], text: str | None = None) -> None:
        if self.closed:
            return
        self._first(msg)
        try:
            self.peer.deliver(msg)
        except Exception:
            log.exception("system peer failed to take a message")

    def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.answered.done():
            self.answered.set_result({"type": "error", "code": reason, "message": reason})
        try:
            self.peer.closed(code, reason)
        except Exception:
            log.exception("system peer failed on close")
