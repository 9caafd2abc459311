"""HTML pages: the printable session record (时间线) and the playback page; playback job API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from server import access, ledger
from server.api import registry as r
from server.errors import ApiError, forbidden, not_found
from server.http import now_of
from server.i18n import pick
from server.ledger_store import events, verify_chain
from server.pages.render import language, render, require_login
from server.recording import minutes as minutes_store
from server.recording.http.feature import queue_playback
from server.recording.http.sessions import readable_session, session_and_unit, session_id
from server.recording.jobs import QueueFull
from server.recording.models import COMPOSITE, SEGMENT, TRACK
from server.recording.store import has_segments, list_recordings
from server.services import services
from server.sessions import kinds
from server.sessions.http.pages import STATE_LABELS
from server.sessions.service import record as session_facts

# type -> (中文, English): how each ledger event reads on the timeline.
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "session_created": ("创建会议", "Session created"), "invitation_created": ("发出邀请", "Invitation sent"),
    "invitation_revoked": ("撤回邀请", "Invitation withdrawn"), "lobby_left": ("离开等候室", "Left the lobby"),
    "peer_dropped": ("连接中断", "Connection dropped"), "peer_resumed": ("重新连接", "Reconnected"),
    "lock": ("锁定/解锁", "Lock"),
    "session_live": ("会议开始", "Session live"), "session_ended": ("会议结束", "Session ended"),
    "session_interrupted": ("会议中断", "Session interrupted"),
    "peer_joined": ("加入", "Joined"), "peer_left": ("离开", "Left"), "lobby_waiting": ("在等候室", "In the lobby"),
    "admitted": ("准入", "Admitted"), "denied": ("拒绝入场", "Denied"), "removed": ("移出", "Removed"),
    "moved": ("移动分组", "Moved"), "muted": ("静音", "Muted"), "floor": ("发言权", "Floor"),
    "hand": ("举手", "Hand"), "locked": ("锁定会议", "Locked"), "chat": ("聊天", "Chat"),
    "consent": ("录像同意", "Recording consent"),
    "recording_on": ("开始录像", "Recording on"), "recording_off": ("停止录像", "Recording off"),
    "recording_track": ("录制轨道", "Track recorded"), "recording_track_ended": ("轨道结束", "Track ended"),
    "recording_segment": ("录像分段", "Segment"), "recording_error": ("录像故障", "Recording error"),
    "recording_resumed": ("录像恢复", "Recording resumed"),
    "recording_interrupted": ("录像中断", "Recording interrupted"),
    "segment_recovered": ("分段已抢救", "Segment salvaged"), "segment_discarded": ("分段已丢弃", "Segment discarded"),
    "recording_deleted": ("录像到期删除", "Recording deleted (retention)"),
    "recording_downloaded": ("录像下载", "Recording downloaded"), "minutes_saved": ("笔录保存", "Minutes saved"),
    "playback_composed": ("合成回放", "Playback composed"), "track_file_made": ("轨道文件", "Track file made"),
}


def summary(ev: ledger.Event, lang: str = "zh-CN") -> str:
    """One line of what the event says, from its data (names, not ids, where the data has them)."""
    d = ev.data if isinstance(ev.data, dict) else {}
    en = lang == "en"
    who = pick(str(d.get("name") or d.get("by_name") or ""), lang)  # the recorder's is "录像 / Recorder"
    parts: list[str] = []
    if ev.type == "chat":
        parts.append(str(d.get("text", ""))[:300])
    elif ev.type == "consent":
        parts.append(("yes" if en else "同意") if d.get("recording") else ("no" if en else "拒绝"))
    elif ev.type == "moved":
        main = "main room" if en else "主会场"
        parts.append(f"{d.get('from') or main} → {d.get('to') or main}")
    elif ev.type == "recording_on" and d.get("subrooms"):
        parts.append(("includes: " if en else "含分组：") + "、".join(d["subrooms"]))
    elif ev.type in ("playback_composed", "track_file_made"):
        parts.append(f"{media_label(d.get('artefact'), lang)} {d.get('duration_s', '')}s sha256 {str(d.get('sha256'))[:16]}…")
    elif ev.type in ("recording_segment", "segment_recovered"):
        parts.append(f"{media_label(d.get('kind'), lang)} #{d.get('index', '')} {d.get('duration_s', '')}s sha256 {str(d.get('sha256'))[:16]}…")
    elif ev.type in ("recording_error", "segment_discarded"):
        parts.append(str(d.get("error") or d.get("reason") or ""))
    elif ev.type == "minutes_saved":
        parts.append(f"v{d.get('version')} · {d.get('chars')} {'characters' if en else '字'} · sha256 {str(d.get('sha256'))[:16]}…")
    elif ev.type == "recording_deleted":
        parts.append(f"{d.get('path')} sha256 {str(d.get('sha256'))[:16]}…")
    if d.get("by_name") and d.get("name") and d["by_name"] != d["name"]:
        parts.append(f"({d['by_name']})")
    return " ".join(p for p in [who] + parts if p)


def timeline(evs: list[ledger.Event], t0: datetime | None = None, lang: str = "zh-CN") -> list[dict[str, Any]]:
    return [{
        "seq": e.seq, "type": e.type, "at": e.at, "label": EVENT_LABELS.get(e.type, (e.type, e.type)),
        "summary": summary(e, lang), "hash": e.hash, "offset": (e.at - t0).total_seconds() if t0 else None,
    } for e in evs]


# Words for the recording codes these pages show (a track's kind, a file's status, an artefact).
MEDIA_LABELS: dict[str, tuple[str, str]] = {
    "video": ("视频", "video"), "audio": ("音频", "audio"), "segment": ("分段", "segment"),
    "track": ("轨道文件", "track file"), "composite": ("合成回放", "composite"),
    "writing": ("录制中", "recording"), "closed": ("已保存", "saved"), "failed": ("失败", "failed"),
    "recovered": ("已抢救", "salvaged"), "discarded": ("已丢弃", "discarded"), "deleted": ("已删除", "deleted"),
}


def media_label(code: str | None, lang: str) -> str:
    pair = MEDIA_LABELS.get(code or "")
    return (code or "") if pair is None else pair[1 if lang == "en" else 0]


PLAYBACK_LABELS = {"none": ("尚未合成", "not composed"), "queued": ("排队中", "queued"),
                   "running": ("合成中", "composing"), "done": ("已完成", "done"), "failed": ("失败", "failed")}


def _labels(request: web.Request, sess: Any, job: Any) -> dict[str, Any]:
    """The session's kind and state and the playback job's status, as words in the page's language."""
    en = language(request) == "en"
    rule = kinds.RULES.get(sess.kind)
    state = STATE_LABELS.get(sess.state, (sess.state, sess.state))
    status = PLAYBACK_LABELS.get(job.status, (job.status, job.status)) if job else ("", "")
    return {"media": lambda code: media_label(code, "en" if en else "zh-CN"), "kind_text": (rule.label_en if en else rule.label_zh) if rule else sess.kind,
            "state_text": state[1 if en else 0], "job_text": status[1 if en else 0]}


async def record_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    sess, unit = await session_and_unit(request, session_id(request))
    async with services(request).db.session() as s:
        rec = await session_facts(s, sess, unit, access.Kind.RECORDING, now_of(request))
    if not access.may(actor, access.Action.VIEW, rec):
        raise not_found("no such session")
    chain = ledger.session_chain(sess.id)
    async with services(request).db.session() as s:
        evs = await events(s, chain)
        verification = await verify_chain(s, chain)
        recs = await list_recordings(s, sess.id)
        minutes = await minutes_store.current(s, sess.id)
    job = await services(request).playback.latest_job(sess.id)
    return await render(request, "session_record.html", {
        "session": sess, "unit": unit, "events": timeline(evs, lang=language(request)), "verification": verification,
        "head": evs[-1].hash if evs else ledger.GENESIS, "recordings": recs, "minutes": minutes,
        "segments": [x for x in recs if x.artefact == SEGMENT], "job": job,
        "may_compose": access.may(actor, access.Action.COMPOSE, rec) and bool(recs),
        "may_download": access.may(actor, access.Action.DOWNLOAD, rec), **_labels(request, sess, job),
    })


async def playback_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    sess, unit = await session_and_unit(request, session_id(request))
    async with services(request).db.session() as s:
        rec = await session_facts(s, sess, unit, access.Kind.RECORDING, now_of(request))
    if not access.may(actor, access.Action.VIEW, rec):
        raise not_found("no such session")
    if not access.may(actor, access.Action.DOWNLOAD, rec):
        raise forbidden("recordings are for the hosting staff of this unit and above")
    async with services(request).db.session() as s:
        evs = await events(s, ledger.session_chain(sess.id))
        recs = await list_recordings(s, sess.id)
    composite = next((x for x in recs if x.artefact == COMPOSITE and x.status == "closed"), None)
    tracks = [x for x in recs if x.artefact == TRACK and x.status == "closed"]
    t0 = composite.started_at if composite else (min((x.started_at for x in tracks if x.started_at), default=None))
    job = await services(request).playback.latest_job(sess.id)
    return await render(request, "session_playback.html", {
        "session": sess, "unit": unit, "composite": composite, "tracks": tracks, "job": job,
        "events": timeline(evs, t0, language(request)), "t0": t0,
        "track_offsets": {x.id: (x.started_at - t0).total_seconds() if (t0 and x.started_at) else 0 for x in tracks},
        **_labels(request, sess, job),
    })


JOB = r.schema("PlaybackJob", r.obj(
    ["status"], id={"type": "integer", "nullable": True}, status=r.string(), progress={"type": "number"},
    error={"type": "string", "nullable": True}, recording_id={"type": "integer", "nullable": True},
    waiting={"type": "integer"},
))


def job_json(request: web.Request, job: Any) -> dict[str, Any]:
    if job is None:
        return {"id": None, "status": "none", "progress": 0.0, "error": None, "recording_id": None,
                "waiting": services(request).jobs.waiting}
    live = services(request).playback.progress.get(job.session_id)
    return {"id": job.id, "status": job.status, "progress": live if live is not None else job.progress,
            "error": job.error, "recording_id": job.recording_id, "waiting": services(request).jobs.waiting}


@r.route("GET", "/api/sessions/{id}/playback", summary="The playback (composite) job's status and progress",
         tag="record", params=[r.path_param("id")], response=JOB, errors=(404,))
async def get_playback(request: web.Request) -> web.Response:
    _, sess, _, _ = await readable_session(request)
    return web.json_response(job_json(request, await services(request).playback.latest_job(sess.id)))


@r.route("POST", "/api/sessions/{id}/playback", summary="Compose the playback file again (queued job)",
         tag="record", params=[r.path_param("id")], response=JOB, status=202, errors=(403, 404, 409, 429))
async def post_playback(request: web.Request) -> web.Response:
    actor, sess, _, rec = await readable_session(request, access.Kind.RECORDING)
    if not access.may(actor, access.Action.COMPOSE, rec):
        raise forbidden("only the session's hosts start a compose")
    async with services(request).db.session() as s:
        has = await has_segments(s, sess.id)
    if not has:
        raise ApiError(409, "nothing_recorded", "this session has no recordings")
    try:
        await queue_playback(request.app, sess.id, actor.id)
    except QueueFull as e:
        raise ApiError(429, "queue_full", str(e)) from e
    return web.json_response(job_json(request, await services(request).playback.latest_job(sess.id)), status=202)


def setup(app: web.Application) -> None:
    app.router.add_get("/sessions/{id}/record", record_page, name="session_record")
    app.router.add_get("/sessions/{id}/playback", playback_page, name="session_playback")
