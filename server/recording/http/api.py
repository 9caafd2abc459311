"""JSON API for the session record: the ledger, recordings (list, download), minutes and playback."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from server import access, ledger
from server.api import registry as r
from server.auth import current_actor
from server.errors import ApiError, field, forbidden, not_found, read_json
from server.failures import Kind
from server.http import MAX_ID, now_of, path_id, query_int
from server.ledger_store import append, events, verify_chain
from server.recording import minutes as minutes_store
from server.recording.http.sessions import readable_session, session_id
from server.recording.models import Recording
from server.recording.store import list_recordings, recording_json
from server.services import services
from server.sessions.service import SessionError, resolve_join

EVENT = r.schema("LedgerEvent", r.obj(
    ["seq", "type", "at", "data", "prev_hash", "hash"],
    seq=r.integer(), type=r.string(), at=r.string(format="date-time"), data={"type": "object"},
    prev_hash=r.string(), hash=r.string(),
))
VERIFICATION = r.schema("ChainVerification", r.obj(
    ["ok", "count"], ok={"type": "boolean"}, count=r.integer(), bad_seq={"type": "integer", "nullable": True},
    reason=r.string(),
))
RECORDING = r.schema("Recording", r.obj(
    ["id", "peer", "kind", "path", "sha256", "bytes", "duration_s"],
    id=r.integer(), peer={"type": "string", "nullable": True}, kind=r.string(), path=r.string(),
    sha256={"type": "string", "nullable": True}, bytes={"type": "integer", "nullable": True},
    duration_s={"type": "number", "nullable": True}, artefact=r.string(enum=["segment", "track", "composite"]),
    name={"type": "string", "nullable": True}, status=r.string(), track=r.integer(), segment=r.integer(),
))
MINUTES = r.schema("Minutes", r.obj(
    ["version", "text"], version=r.integer(), text=r.string(), sha256={"type": "string", "nullable": True},
    author={"type": "string", "nullable": True}, saved_at={"type": "string", "nullable": True},
))

SID = r.path_param("id")


# ---- the session log ---------------------------------------------------------------------------------

@r.route("GET", "/api/sessions/{id}/log", summary="The session's hash-chained event log", tag="record",
         params=[SID, r.query("after", r.integer(minimum=0, maximum=MAX_ID), "only events with seq greater than this"),
                 r.query("limit", r.integer(minimum=1, maximum=10_000), "at most this many events (default all, max 10000)"),
                 r.query("verify", r.string(enum=["1", "0"]), "also verify the whole chain")],
         response=r.obj(["events"], events=r.array(EVENT), verification=VERIFICATION), errors=(400, 404))
async def get_log(request: web.Request) -> web.Response:
    _, sess, _, _ = await readable_session(request)
    after = query_int(request, "after", 0, 0, MAX_ID)
    limit = query_int(request, "limit", 10_000, 1, 10_000)
    chain = ledger.session_chain(sess.id)
    async with services(request).db.session() as s:
        evs = await events(s, chain, after_seq=after, limit=limit)
        body: dict[str, Any] = {"events": [e.as_dict() for e in evs]}
        if request.query.get("verify") == "1":
            v = await verify_chain(s, chain)
            body["verification"] = {"ok": v.ok, "count": v.count, "bad_seq": v.bad_seq, "reason": v.reason}
    return web.json_response(body, dumps=_dumps)


@r.route("GET", "/api/sessions/{id}/log.jsonl", summary="The session log as JSON Lines (one event per line)",
         tag="record", params=[SID], response={"type": "string"}, response_content_type="application/x-ndjson",
         errors=(404,))
async def export_log(request: web.Request) -> web.StreamResponse:
    _, sess, _, _ = await readable_session(request)
    chain = ledger.session_chain(sess.id)
    resp = web.StreamResponse(headers={
        "Content-Type": "application/x-ndjson; charset=utf-8",
        "Content-Disposition": f'attachment; filename="session-{sess.id}-log.jsonl"',
    })
    await resp.prepare(request)
    after = 0
    while True:
        async with services(request).db.session() as s:
            batch = await events(s, chain, after_seq=after, limit=1000)
        if not batch:
            break
        # Each line is the event as hashed, with its chain and version, so it can be re-hashed on its own
        # (docs/ledger.md "Export"); tools/verify-ledger.mjs reads the file as it is.
        lines = "".join(_dumps(e.export()) + "\n" for e in batch)
        await resp.write(lines.encode("utf-8"))
        after = batch[-1].seq
        if len(batch) < 1000:
            break
    await resp.write_eof()
    return resp


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


# ---- recordings --------------------------------------------------------------------------------------

@r.route("GET", "/api/sessions/{id}/recordings", summary="The session's recordings (segments, tracks, composite)",
         tag="record", params=[SID], response=r.obj(["recordings"], recordings=r.array(RECORDING)),
         errors=(404,))
async def get_recordings(request: web.Request) -> web.Response:
    _, sess, _, _ = await readable_session(request, access.Kind.RECORDING)
    async with services(request).db.session() as s:
        rows = await list_recordings(s, sess.id)
    return web.json_response({"recordings": [recording_json(x) for x in rows]}, dumps=_dumps)


@r.route("GET", "/api/sessions/{id}/recordings/{rid}/file", summary="Download one recording (ledgered)",
         tag="record", params=[SID, r.path_param("rid")], response={"type": "string", "format": "binary"},
         response_content_type="video/webm", errors=(403, 404, 410))
async def download_recording(request: web.Request) -> web.StreamResponse:
    actor, sess, _, rec = await readable_session(request, access.Kind.RECORDING)
    if not access.may(actor, access.Action.DOWNLOAD, rec):
        raise forbidden("recordings are for the hosting staff of this unit and above")
    rid = path_id(request, "rid", "no such recording")
    root = services(request).config.recordings_dir.resolve()
    async with services(request).db.session() as s:
        row = await s.get(Recording, rid)
        if row is None or row.session_id != sess.id:
            raise not_found("no such recording")
        if row.status in ("deleted", "discarded", "failed") or row.status == "writing":
            raise ApiError(410 if row.status == "deleted" else 404, "not_available",
                           f"this recording is {row.status}", sha256=row.sha256)
        path = (root / row.path).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise not_found("the file is missing")
        # A download is a request from the first byte; a player's later range requests are not new ones.
        rng = request.http_range
        if rng.start in (None, 0):
            await append(s, ledger.session_chain(sess.id), "recording_downloaded", {
                "recording": row.id, "path": row.path, "sha256": row.sha256, "by": actor.id,
                "by_name": actor.name, "by_unit": actor.unit_code,
            })
    mime = "video/x-matroska" if path.suffix == ".mkv" else "video/webm"  # Matroska: H.264 (WHIP terminals)
    resp = web.FileResponse(path, headers={"Content-Type": mime, "Cache-Control": "private, no-store",
                                           "X-Content-SHA256": row.sha256 or ""})
    return resp


# ---- minutes -----------------------------------------------------------------------------------------

async def party_in_room(request: web.Request, sid: int, token: str) -> None:
    """A participant reads the minutes with their join token while admitted to the live room."""

    try:
        grant = await resolve_join(services(request).db, services(request).config.secret_key, token, session_hint=sid,
                                   at=now_of(request))
    except SessionError as e:
        raise ApiError(401 if e.kind is Kind.UNAUTHORIZED else 403, e.code, e.message) from e
    hub = services(request).room_hub
    rep = hub.rooms.get(sid) if hub is not None else None
    if rep is None or not any(p.identity == grant.identity and p.admitted and not p.system
                              for p in rep.room.peers.values()):
        raise forbidden("join the room first: parties read the minutes while admitted")


@r.route("GET", "/api/sessions/{id}/minutes", summary="The current minutes (or ?version=N)", tag="record",
         params=[SID, r.query("version", r.integer(minimum=0, maximum=MAX_ID)),
                 {"name": "X-Join-Token", "in": "header", "required": False, "schema": r.string(),
                  "description": "a participant's join token instead of a staff login (current version only)"}],
         response=MINUTES, errors=(400, 401, 403, 404))
async def get_minutes(request: web.Request) -> web.Response:
    join_token = request.headers.get("X-Join-Token")
    if await current_actor(request) is None and join_token:
        sid = session_id(request)
        await party_in_room(request, sid, join_token)
        async with services(request).db.session() as s:
            m = await minutes_store.current(s, sid)
        return web.json_response(minutes_store.minutes_json(m), dumps=_dumps)
    _, sess, _, _ = await readable_session(request, access.Kind.MINUTES)
    version = query_int(request, "version", 0, 0, MAX_ID)
    async with services(request).db.session() as s:
        m = await minutes_store.current(s, sess.id, version or None)
    if version and m is None:
        raise not_found("no such version")
    return web.json_response(minutes_store.minutes_json(m), dumps=_dumps)


@r.route("GET", "/api/sessions/{id}/minutes/versions", summary="Every saved version of the minutes",
         tag="record", params=[SID], response=r.obj(["versions"], versions=r.array(MINUTES)), errors=(404,))
async def get_minutes_versions(request: web.Request) -> web.Response:
    _, sess, _, _ = await readable_session(request, access.Kind.MINUTES)
    async with services(request).db.session() as s:
        vs = await minutes_store.versions(s, sess.id)
    return web.json_response({"versions": [minutes_store.minutes_json(v) for v in vs]}, dumps=_dumps)


@r.route("PUT", "/api/sessions/{id}/minutes", summary="Save the minutes as a new version (ledgered)",
         tag="record", params=[SID],
         request=r.obj(["text", "base_version"], text=r.string(maxLength=minutes_store.MAX_MINUTES_CHARS),
                       base_version=r.integer(minimum=0)),
         response=MINUTES, errors=(400, 403, 404, 409, 413))
async def put_minutes(request: web.Request) -> web.Response:
    actor, sess, _, rec = await readable_session(request, access.Kind.MINUTES)
    if not access.may(actor, access.Action.EDIT, rec):
        raise forbidden("only the session's mediators write the minutes")
    body = await read_json(request, max_bytes=minutes_store.MAX_MINUTES_CHARS * 4 + 1024)
    text = field(body, "text", str, max_len=minutes_store.MAX_MINUTES_CHARS)
    base = field(body, "base_version", int)
    try:
        async with services(request).db.session() as s:
            m = await minutes_store.save(s, sess.id, text, base, actor.id, actor.name)
    except minutes_store.MinutesError as e:
        if e.code == "stale_version":
            raise ApiError(409, e.code, e.message, current_version=e.current) from e
        raise ApiError(413 if e.code == "too_large" else 400, e.code, e.message) from e
    return web.json_response(minutes_store.minutes_json(m), dumps=_dumps)


def setup(app: web.Application) -> None:
    """Routes come from the registry."""
