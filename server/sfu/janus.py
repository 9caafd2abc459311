"""Typed async client for the Janus API and its VideoRoom plugin (Janus Gateway 1.1.x).

Transport: one WebSocket per Janus instance (subprotocol ``janus-protocol``). Janus pushes plugin events
(a publisher left, a subscriber's media started, a participant was kicked) down the same socket, so
Concord learns of them at once, with no long-poll request outstanding per session and no extra HTTP
round trip per event; requests and their answers are matched by ``transaction``. The Admin API is
request/response only, so it is spoken over plain HTTP (``JanusAdmin``).

Bounds: requests in flight per connection are limited (``max_pending``), every request has a timeout,
each handle's event queue holds at most ``events_max`` events (the oldest is dropped and counted when a
consumer falls behind), and an incoming message larger than ``max_msg_size`` closes the connection.

Secrets: the API secret rides in every request and the VideoRoom admin key / room secret in the requests
that need them; none of them is ever logged or put into an exception message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

log = logging.getLogger("concord.sfu.janus")

VIDEOROOM = "janus.plugin.videoroom"
DEFAULT_TIMEOUT = 10.0
KEEPALIVE_S = 25.0  # under Janus's default session_timeout of 60 s

JSON = dict[str, Any]


class JanusError(Exception):
    """Janus answered with an error (core ``janus: error`` or a plugin ``error_code``)."""

    def __init__(self, code: int, reason: str, request: str = "") -> None:
        super().__init__(f"Janus error {code} on {request or 'request'}: {reason}")
        self.code = code
        self.reason = reason
        self.request = request


class JanusTimeout(JanusError):
    def __init__(self, request: str, timeout: float) -> None:
        super().__init__(0, f"no answer within {timeout:g} s", request)


class JanusClosed(JanusError):
    def __init__(self, reason: str = "connection closed") -> None:
        super().__init__(0, reason, "")


# Janus core error codes used by callers (janus/apierror.h).
UNAUTHORIZED = 403
SESSION_NOT_FOUND = 458
HANDLE_NOT_FOUND = 459
# VideoRoom error codes (plugins/janus_videoroom.c).
VR_NO_SUCH_ROOM = 426
VR_ROOM_EXISTS = 427
VR_NO_SUCH_FEED = 428
VR_UNAUTHORIZED = 433


@dataclass
class _Waiter:
    future: asyncio.Future[JSON]
    accept_ack: bool
    name: str
    # Runs in the reader on a success answer, before any later message is read: a new session or handle
    # is registered before the events Janus may send for it right after.
    hook: Callable[[JSON], None] | None = None


def _txn() -> str:
    return secrets.token_urlsafe(12)


class JanusConnection:
    """One WebSocket to one Janus instance; owns the sessions created on it."""

    def __init__(self, url: str, api_secret: str | None, *, timeout: float = DEFAULT_TIMEOUT,
                 max_pending: int = 256, events_max: int = 256, max_msg_size: int = 4 * 1024 * 1024) -> None:
        self.url = url
        self._secret = api_secret
        self.timeout = timeout
        self.events_max = events_max
        self.max_msg_size = max_msg_size
        self._slots = asyncio.Semaphore(max_pending)
        self._waiters: dict[str, _Waiter] = {}
        self._sessions: dict[int, JanusSession] = {}
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_reason = ""

    def __repr__(self) -> str:
        return f"JanusConnection({self.url!r}, sessions={len(self._sessions)})"

    @classmethod
    async def connect(cls, url: str, api_secret: str | None, **kw: Any) -> JanusConnection:
        conn = cls(url, api_secret, **kw)
        await conn._open()
        return conn

    async def _open(self) -> None:
        self._http = aiohttp.ClientSession()
        try:
            self._ws = await self._http.ws_connect(
                self.url, protocols=("janus-protocol",), timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                max_msg_size=self.max_msg_size, heartbeat=30.0)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            await self._http.close()
            raise JanusClosed(f"cannot connect to {self.url}: {e.__class__.__name__}") from e
        self._reader = asyncio.create_task(self._read(), name=f"janus-reader {self.url}")

    async def __aenter__(self) -> JanusConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Destroy this connection's sessions (best effort) and close the socket."""
        if not self.closed.is_set():
            for s in list(self._sessions.values()):
                with contextlib.suppress(JanusError):
                    await s.destroy(timeout=2.0)
        await self._shutdown("closed by client")

    async def abort(self, reason: str) -> None:
        """Drop the connection without talking to Janus (it does not answer: a failed health check).
        Everything pending fails with ``JanusClosed``; ``closed`` is set with ``reason``."""
        await self._shutdown(reason)

    async def _shutdown(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()
        for w in self._waiters.values():
            if not w.future.done():
                w.future.set_exception(JanusClosed(reason))
        self._waiters.clear()
        for s in list(self._sessions.values()):
            s._closed(reason)
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._http is not None:
            await self._http.close()

    async def _read(self) -> None:
        assert self._ws is not None
        reason = "Janus closed the connection"
        try:
            async for msg in self._ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        data = msg.json()
                    except ValueError:
                        log.warning("Janus %s sent a message that is not JSON", self.url)
                        continue
                    if isinstance(data, dict):
                        self._dispatch(data)
                elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    reason = f"WebSocket {msg.type.name.lower()}"
                    break
        except Exception as e:  # a broken socket ends the connection, it must not go unnoticed
            reason = f"reader failed: {e.__class__.__name__}"
        await self._shutdown(reason)

    def _dispatch(self, data: JSON) -> None:
        kind = data.get("janus")
        txn = data.get("transaction")
        if isinstance(txn, str) and txn in self._waiters:
            w = self._waiters[txn]
            if kind == "ack" and not w.accept_ack:
                return  # an asynchronous plugin request: the answer is the event that follows
            del self._waiters[txn]
            if not w.future.done():
                if kind == "error":
                    err = data.get("error") or {}
                    w.future.set_exception(JanusError(int(err.get("code", 0)), str(err.get("reason", "")), w.name))
                else:
                    if w.hook is not None:
                        try:
                            w.hook(data)
                        except Exception as e:  # a malformed answer fails this request, not the reader
                            w.future.set_exception(JanusError(0, f"malformed answer: {e!r}", w.name))
                            return
                    w.future.set_result(data)
            return
        session = self._sessions.get(data.get("session_id") or 0)
        if session is not None:
            session._event(data)

    async def request(self, body: Mapping[str, Any], *, accept_ack: bool = False,
                      timeout: float | None = None, hook: Callable[[JSON], None] | None = None) -> JSON:
        """Send one Janus API request and wait for its answer (``ack`` only if ``accept_ack``)."""
        if self.closed.is_set() or self._ws is None:
            raise JanusClosed(self.close_reason or "not connected")
        name = str(body.get("janus", "?"))
        if name == "message":
            name = f"message/{(body.get('body') or {}).get('request', '?')}"
        limit = timeout if timeout is not None else self.timeout
        msg = dict(body)
        txn = _txn()
        msg["transaction"] = txn
        if self._secret is not None:
            msg["apisecret"] = self._secret
        async with self._slots:
            fut: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
            self._waiters[txn] = _Waiter(fut, accept_ack, name, hook)
            try:
                await self._ws.send_json(msg)
                return await asyncio.wait_for(fut, limit)
            except TimeoutError as e:
                raise JanusTimeout(name, limit) from e
            except (ConnectionError, RuntimeError, aiohttp.ClientError) as e:
                raise JanusClosed(f"send failed: {e.__class__.__name__}") from e
            finally:
                self._waiters.pop(txn, None)

    async def info(self) -> JSON:
        return await self.request({"janus": "info"})

    async def create_session(self, *, keepalive_s: float = KEEPALIVE_S) -> JanusSession:
        made: list[JanusSession] = []

        def register(r: JSON) -> None:
            session = JanusSession(self, int(r["data"]["id"]), keepalive_s)
            self._sessions[session.id] = session
            made.append(session)

        await self.request({"janus": "create"}, hook=register)
        made[0]._start()
        return made[0]

    def _forget(self, session: JanusSession) -> None:
        self._sessions.pop(session.id, None)


class JanusSession:
    """A Janus session: kept alive by a periodic keepalive; holds plugin handles."""

    def __init__(self, conn: JanusConnection, session_id: int, keepalive_s: float) -> None:
        self.conn = conn
        self.id = session_id
        self.keepalive_s = keepalive_s
        self.handles: dict[int, PluginHandle] = {}
        self._task: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        self.end_reason = ""

    def __repr__(self) -> str:
        return f"JanusSession({self.id}, handles={len(self.handles)})"

    def _start(self) -> None:
        self._task = asyncio.create_task(self._keepalive(), name=f"janus-keepalive {self.id}")

    async def _keepalive(self) -> None:
        while not self.ended.is_set():
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.request({"janus": "keepalive"}, accept_ack=True)
            except JanusClosed:
                return
            except JanusError as e:
                log.warning("Janus session %s keepalive failed: %s", self.id, e)
                if e.code == SESSION_NOT_FOUND:
                    self._closed("session expired")
                    return

    async def request(self, body: Mapping[str, Any], **kw: Any) -> JSON:
        return await self.conn.request({**body, "session_id": self.id}, **kw)

    async def attach(self, plugin: str = VIDEOROOM, *, opaque_id: str | None = None) -> PluginHandle:
        body: JSON = {"janus": "attach", "plugin": plugin}
        if opaque_id:
            body["opaque_id"] = opaque_id
        cls = VideoRoomHandle if plugin == VIDEOROOM else PluginHandle
        made: list[PluginHandle] = []

        def register(r: JSON) -> None:
            handle = cls(self, int(r["data"]["id"]), plugin, self.conn.events_max)
            self.handles[handle.id] = handle
            made.append(handle)

        await self.request(body, hook=register)
        return made[0]

    async def attach_videoroom(self, *, opaque_id: str | None = None) -> VideoRoomHandle:
        h = await self.attach(VIDEOROOM, opaque_id=opaque_id)
        assert isinstance(h, VideoRoomHandle)
        return h

    def _event(self, data: JSON) -> None:
        kind = data.get("janus")
        if kind == "timeout":
            self._closed("session timed out on Janus")
            return
        handle = self.handles.get(data.get("sender") or 0)
        if handle is not None:
            handle._event(data)
            if kind == "detached":
                self.handles.pop(handle.id, None)

    def _closed(self, reason: str) -> None:
        if not self.ended.is_set():
            self.end_reason = reason
            self.ended.set()
        for h in list(self.handles.values()):
            h._closed(reason)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self.conn._forget(self)

    async def destroy(self, *, timeout: float | None = None) -> None:
        try:
            if not self.ended.is_set():
                await self.request({"janus": "destroy"}, timeout=timeout)
        finally:
            self._closed("destroyed")


@dataclass
class HandleEvent:
    """One event pushed by Janus for a handle: ``janus`` is its type (event, webrtcup, media, slowlink,
    hangup, detached, trickle); ``data`` is the plugin's payload for ``event``; ``jsep`` an SDP if any."""

    janus: str
    data: JSON = field(default_factory=dict)
    jsep: JSON | None = None
    raw: JSON = field(default_factory=dict)


class PluginHandle:
    """A handle attached to a plugin. Events without a pending transaction land in ``events`` (bounded)."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str, events_max: int) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.events: asyncio.Queue[HandleEvent] = asyncio.Queue(maxsize=events_max)
        self.dropped = 0
        self.gone = asyncio.Event()
        self.gone_reason = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id})"

    def _event(self, data: JSON) -> None:
        kind = str(data.get("janus"))
        pdata = ((data.get("plugindata") or {}).get("data")) or {}
        ev = HandleEvent(kind, pdata, data.get("jsep"), data)
        if self.events.full():
            self.events.get_nowait()
            self.dropped += 1
        self.events.put_nowait(ev)
        if kind == "detached":
            self._closed("detached")

    def _closed(self, reason: str) -> None:
        if not self.gone.is_set():
            self.gone_reason = reason
            self.gone.set()

    async def next_event(self, predicate: Any = None, *, timeout: float = DEFAULT_TIMEOUT) -> HandleEvent:
        """The next queued event that satisfies ``predicate`` (others are discarded)."""
        async def pick() -> HandleEvent:
            while True:
                ev = await self.events.get()
                if predicate is None or predicate(ev):
                    return ev
        try:
            return await asyncio.wait_for(pick(), timeout)
        except TimeoutError as e:
            raise JanusTimeout("wait for event", timeout) from e

    async def request(self, body: Mapping[str, Any], **kw: Any) -> JSON:
        return await self.session.request({**body, "handle_id": self.id}, **kw)

    async def message(self, body: Mapping[str, Any], jsep: Mapping[str, Any] | None = None, *,
                      timeout: float | None = None) -> tuple[JSON, JSON | None]:
        """Send a plugin message; returns (plugin data, jsep). Plugin errors raise ``JanusError``."""
        msg: JSON = {"janus": "message", "body": dict(body)}
        if jsep is not None:
            msg["jsep"] = dict(jsep)
        r = await self.request(msg, timeout=timeout)
        data = ((r.get("plugindata") or {}).get("data")) or {}
        if "error_code" in data or "error" in data:
            raise JanusError(int(data.get("error_code", 0)), str(data.get("error", "")),
                             f"message/{body.get('request', '?')}")
        return data, r.get("jsep")

    async def trickle(self, candidate: Mapping[str, Any] | None) -> None:
        """Send one ICE candidate (None: end of candidates)."""
        body: JSON = {"janus": "trickle", "candidate": dict(candidate) if candidate else {"completed": True}}
        await self.request(body, accept_ack=True)

    async def hangup(self) -> None:
        await self.request({"janus": "hangup"})

    async def detach(self) -> None:
        try:
            if not self.gone.is_set():
                await self.request({"janus": "detach"})
        finally:
            self._closed("detached")
            self.session.handles.pop(self.id, None)


@dataclass(frozen=True)
class RoomSpec:
    """A VideoRoom room as Concord creates it: never permanent, always with a room secret."""

    room: str
    secret: str
    description: str = ""
    publishers: int = 100
    bitrate: int = 1_024_000  # per publisher, bits/s; simulcast layers share it
    fir_freq: int = 10
    audiocodec: str = "opus"
    videocodec: str = "vp8"
    notify_joining: bool = True
    # Subscriptions tied to a publisher's private_id: off, Concord itself decides who subscribes to what.
    require_pvtid: bool = False
    # Talking events (``talking`` / ``stopped-talking`` to every publisher handle of the room) from the
    # audio-level RTP extension: averaged over ``audio_active_packets`` packets, talking while the average
    # level is under ``audio_level_average`` -dBov (0 loudest, 127 silence).
    audiolevel_event: bool = False
    audio_active_packets: int = 50
    audio_level_average: int = 40
    # Hidden from VideoRoom's ``list`` unless the admin key is given (defence in depth: only Concord
    # holds the API secret anyway).
    is_private: bool = True

    def __repr__(self) -> str:
        return f"RoomSpec({self.room!r}, publishers={self.publishers})"

    def body(self, admin_key: str | None) -> JSON:
        b: JSON = {"request": "create", "room": self.room, "permanent": False, "secret": self.secret,
                   "description": self.description or self.room, "publishers": self.publishers,
                   "bitrate": self.bitrate, "fir_freq": self.fir_freq, "audiocodec": self.audiocodec,
                   "videocodec": self.videocodec, "notify_joining": self.notify_joining,
                   "require_pvtid": self.require_pvtid, "audiolevel_event": self.audiolevel_event,
                   "is_private": self.is_private}
        if self.audiolevel_event:
            b.update(audio_active_packets=self.audio_active_packets, audio_level_average=self.audio_level_average)
        if admin_key is not None:
            b["admin_key"] = admin_key
        return b


@dataclass(frozen=True)
class Feed:
    """A publisher as listed by Janus: its id, display name and streams (mid, type, codec, simulcast)."""

    id: str
    display: str
    streams: tuple[JSON, ...]

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> Feed:
        return cls(str(d.get("id")), str(d.get("display") or ""), tuple(d.get("streams") or ()))

    def mids(self, kind: str) -> list[str]:
        return [str(s["mid"]) for s in self.streams if s.get("type") == kind and not s.get("disabled")]


class VideoRoomHandle(PluginHandle):
    """A handle on ``janus.plugin.videoroom``. Room ids and participant ids are strings (``string_ids``)."""

    # -- rooms (synchronous plugin requests) --
    async def create_room(self, spec: RoomSpec, *, admin_key: str | None) -> str:
        data, _ = await self.message(spec.body(admin_key))
        return str(data["room"])

    async def destroy_room(self, room: str, *, secret: str) -> None:
        await self.message({"request": "destroy", "room": room, "secret": secret, "permanent": False})

    async def exists(self, room: str) -> bool:
        data, _ = await self.message({"request": "exists", "room": room})
        return bool(data.get("exists"))

    async def list_rooms(self, *, admin_key: str | None) -> list[JSON]:
        """Rooms on this instance (``room``, ``num_participants``, ...); private ones need the admin key."""
        body: JSON = {"request": "list"}
        if admin_key is not None:
            body["admin_key"] = admin_key
        data, _ = await self.message(body)
        return list(data.get("list") or [])

    async def list_participants(self, room: str) -> list[JSON]:
        data, _ = await self.message({"request": "listparticipants", "room": room})
        return list(data.get("participants") or [])

    async def moderate(self, room: str, *, secret: str, participant: str, mid: str, mute: bool) -> None:
        """Server-side mute: Janus stops relaying this publisher's stream ``mid`` to every subscriber."""
        await self.message({"request": "moderate", "room": room, "secret": secret, "id": participant,
                            "mid": mid, "mute": mute})

    async def kick(self, room: str, *, secret: str, participant: str) -> None:
        await self.message({"request": "kick", "room": room, "secret": secret, "id": participant})

    # -- publisher (asynchronous requests, answered by an event) --
    async def join_publisher(self, room: str, *, participant: str | None = None, display: str = "") -> JSON:
        """Join as a publisher; the answer holds ``id``, ``private_id`` and the current ``publishers``."""
        body: JSON = {"request": "join", "ptype": "publisher", "room": room, "display": display}
        if participant is not None:
            body["id"] = participant
        data, _ = await self.message(body)
        if data.get("videoroom") != "joined":
            raise JanusError(0, f"unexpected answer {data.get('videoroom')!r}", "join publisher")
        return data

    async def publish(self, offer: Mapping[str, Any], *, descriptions: Iterable[Mapping[str, str]] = (),
                      bitrate: int | None = None) -> JSON:
        """Relay a publisher's SDP offer; returns Janus's answer (``{"type": "answer", "sdp": ...}``)."""
        body: JSON = {"request": "publish"}
        if descriptions:
            body["descriptions"] = [dict(d) for d in descriptions]
        if bitrate is not None:
            body["bitrate"] = bitrate
        data, jsep = await self.message(body, {"type": offer["type"], "sdp": offer["sdp"]})
        if jsep is None or jsep.get("type") != "answer":
            raise JanusError(0, "no SDP answer to the publish offer", "publish")
        return jsep

    async def unpublish(self) -> None:
        await self.message({"request": "unpublish"})

    async def leave(self) -> None:
        await self.message({"request": "leave"})

    # -- subscriber --
    async def join_subscriber(self, room: str, streams: Iterable[Mapping[str, Any]], *,
                              private_id: int | None = None) -> tuple[JSON, JSON]:
        """Subscribe to ``streams`` (``{"feed": id}`` or ``{"feed": id, "mid": m}``); returns
        (the ``attached`` data with its ``streams``, Janus's SDP offer)."""
        body: JSON = {"request": "join", "ptype": "subscriber", "room": room,
                      "streams": [dict(s) for s in streams]}
        if private_id is not None:
            body["private_id"] = private_id
        data, jsep = await self.message(body)
        if jsep is None or jsep.get("type") != "offer":
            raise JanusError(0, "no SDP offer for the subscription", "join subscriber")
        return data, jsep

    async def start(self, answer: Mapping[str, Any]) -> None:
        await self.message({"request": "start"}, {"type": answer["type"], "sdp": answer["sdp"]})

    async def configure_stream(self, mid: str, *, substream: int | None = None, temporal: int | None = None,
                               send: bool | None = None) -> None:
        """Pick a subscribed stream's simulcast layer (substream 0 = lowest) and/or pause it."""
        s: JSON = {"mid": mid}
        if substream is not None:
            s["substream"] = substream
        if temporal is not None:
            s["temporal"] = temporal
        if send is not None:
            s["send"] = send
        await self.message({"request": "configure", "streams": [s]})

    async def update_subscription(self, *, subscribe: Iterable[Mapping[str, Any]] = (),
                                  unsubscribe: Iterable[Mapping[str, Any]] = ()) -> tuple[JSON, JSON | None]:
        """Add and/or drop streams on an existing subscription. Returns the ``updated`` data (the whole
        new ``streams`` layout) and Janus's new SDP offer, to be answered with ``start``."""
        body: JSON = {"request": "update"}
        sub, unsub = [dict(s) for s in subscribe], [dict(s) for s in unsubscribe]
        if not sub and not unsub:
            raise ValueError("update needs streams to subscribe to or to drop")
        if sub:
            body["subscribe"] = sub
        if unsub:
            body["unsubscribe"] = unsub
        return await self.message(body)


class JanusAdmin:
    """The Janus Admin API over HTTP (``admin_secret``): sessions, handles and their statistics."""

    def __init__(self, url: str, admin_secret: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self._secret = admin_secret
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"JanusAdmin({self.url!r})"

    @contextlib.asynccontextmanager
    async def pooled(self) -> Any:
        """Within this block, requests share one HTTP session (kept-alive connections): a load poll makes
        one ``handle_info`` request per handle (server.sfu.load)."""
        if self._http is not None:
            yield self
            return
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            self._http = http
            try:
                yield self
            finally:
                self._http = None

    async def request(self, janus: str, path: str = "", **fields: Any) -> JSON:
        body = {"janus": janus, "transaction": _txn(), "admin_secret": self._secret, **fields}
        try:
            if self._http is not None:
                async with self._http.post(self.url + path, json=body) as r:
                    data = await r.json(content_type=None)
            else:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
                    async with http.post(self.url + path, json=body) as r:
                        data = await r.json(content_type=None)
        except TimeoutError as e:
            raise JanusTimeout(f"admin/{janus}", self.timeout) from e
        except (aiohttp.ClientError, OSError, ValueError) as e:
            raise JanusClosed(f"admin API unreachable: {e.__class__.__name__}") from e
        if data.get("janus") == "error":
            err = data.get("error") or {}
            raise JanusError(int(err.get("code", 0)), str(err.get("reason", "")), f"admin/{janus}")
        return data

    async def list_sessions(self) -> list[int]:
        return [int(s) for s in (await self.request("list_sessions")).get("sessions") or []]

    async def list_handles(self, session_id: int) -> list[int]:
        r = await self.request("list_handles", f"/{session_id}")
        return [int(h) for h in r.get("handles") or []]

    async def handle_info(self, session_id: int, handle_id: int) -> JSON:
        return dict((await self.request("handle_info", f"/{session_id}/{handle_id}")).get("info") or {})
