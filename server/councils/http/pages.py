"""Council pages (议事会): what a person uses, staff and residents, Chinese first (docs/councils.md "Pages").

Staff (signed in): ``/councils`` (the list, set up a council), ``/councils/{council}`` (members with roles and
terms, the topic board, meetings, tasks), a topic (accept / merge / decline with a reason), a meeting (agenda,
attendance and quorum, member codes and room invitations, views, open and secret votes, decisions into tasks,
publication), the shared tablet at the table, the printable notice with its QR code.

Residents (no login; CSRF, a honeypot and rate limits as on the intake form): ``/councils/propose`` (linked
from the unit's contact card and the intake page), the topic's status page ``/councils/t/{code}`` (progress
from proposal to the completed task, support once per household by mobile number, comments) and the
neighbourhood's public page ``/councils/p/{code}`` (published minutes, vote totals, decisions and tasks).

The rules and the database are ``server.councils.service``; these handlers parse the form, call it and render.
A change answers with a redirect back to its page (``?ok=<key>``, the message chosen here, never echoed from
the query) or, refused, the page again with the refusal in the reader's language and the refusal's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from server import access, publicurl
from server.access import Action
from server.clock import BEIJING
from server.councils import lookups as lk
from server.councils import rules
from server.councils import service as svc
from server.councils.models import Council, Meeting, Task, Topic, Vote
from server.councils.rules import CouncilError
from server.directory.models import Unit
from server.errors import ApiError
from server.failures import Kind
from server.http import check_csrf, client_ip, http_status, now_of, path_id
from server.i18n import localise
from server.pages.render import language, render, require_login
from server.policy import Actor
from server.security.ratelimit import RateLimiter
from server.services import services
from server.sessions import service as sessions
from server.sessions.http.pages import add_room_module
from server.sessions.models import Session as RoomSession
from server.sessions.service import SessionError

# ---- limits (public forms, as intake) -------------------------------------------------------------------

PROPOSALS_PER_IP_PER_HOUR = 10
PROPOSALS_PER_PHONE_PER_DAY = 3
SUPPORTS_PER_IP_PER_HOUR = 30  # a building's shared connection: many households sign one topic
COMMENTS_PER_IP_PER_HOUR = 20
GALLERY_PER_IP_PER_HOUR = 30  # each visit of the gallery link makes an observer pass
LIVE_PER_IP_PER_MINUTE = 600  # the room's panels: a table of members behind one address, each polling

# ---- labels ---------------------------------------------------------------------------------------------

MEETING_LABELS: dict[str, tuple[str, str]] = {
    rules.MeetingState.SCHEDULED: ("未开始", "Scheduled"),
    rules.MeetingState.OPEN: ("进行中", "In session"),
    rules.MeetingState.CLOSED: ("已结束", "Ended"),
    rules.MeetingState.PUBLISHED: ("已公示", "Published"),
}
VOTE_LABELS: dict[str, tuple[str, str]] = {
    rules.VoteState.DRAFT: ("未开始", "Not started"),
    rules.VoteState.OPEN: ("表决中", "Voting"),
    rules.VoteState.CLOSED: ("已计票", "Counted"),
}
TASK_LABELS: dict[str, tuple[str, str]] = {
    rules.TaskState.OPEN: ("办理中", "In progress"),
    rules.TaskState.DONE: ("已完成", "Done"),
    rules.TaskState.CANCELLED: ("已取消", "Cancelled"),
}
MODE_LABELS: dict[str, tuple[str, str]] = {
    rules.Attendance.IN_PERSON: ("现场", "at the table"),
    rules.Attendance.ONLINE: ("线上", "online"),
}
QUORUM_CHOICES: dict[str, tuple[dict[str, object], str, str]] = {
    "half": ({"fraction": "1/2", "strictly_more": True, "minimum": 3, "passing": "majority_of_cast"},
             "过半数成员出席，出席过半数同意通过", "More than half present; a majority of ballots passes"),
    "two_thirds": ({"fraction": "2/3", "strictly_more": False, "minimum": 3, "passing": "two_thirds_of_cast"},
                   "三分之二成员出席，三分之二同意通过", "Two thirds present; two thirds of ballots pass"),
    "members": ({"fraction": "1/2", "strictly_more": True, "minimum": 3, "passing": "majority_of_members"},
                "过半数成员出席，全体成员过半数同意通过", "More than half present; a majority of all members passes"),
}
# The one-time messages a redirect may name (?ok=key): chosen here, never echoed from the query.
OK_MESSAGES: dict[str, tuple[str, str]] = {
    "created": ("议事会已成立。", "The council is set up."),
    "member": ("成员已加入。", "The member has joined."),
    "member_left": ("成员已离任。", "The member has left."),
    "topic": ("议题已提出。", "The topic was raised."),
    "accepted": ("已列入议程。", "Put on the agenda."),
    "merged": ("已合并。", "Merged."),
    "declined": ("已不予采纳，提议人可在议题页看到理由。", "Declined; the proposer sees the reason on the topic page."),
    "meeting": ("会议已召集，已创建视频会议室。", "The meeting is called and its video room is ready."),
    "opened": ("会议开始。", "The meeting is in session."),
    "closed": ("会议已结束。", "The meeting has ended."),
    "attendance": ("签到已保存。", "Sign-in saved."),
    "item": ("已增加议程。", "Added to the agenda."),
    "current": ("正在审议此项。", "Now discussing this item."),
    "view": ("意见已记录。", "The view is recorded."),
    "vote_open": ("表决开始。", "The vote is open."),
    "vote_closed": ("已计票。", "The ballots are counted."),
    "task": ("任务已分解。", "The task is assigned."),
    "task_done": ("任务已完成。", "The task is done."),
    "supervised": ("督办已发出。", "Supervision sent."),
    "published": ("已公示。", "Published."),
    "gallery_open": ("群众旁听已开放：请分享旁听链接或二维码。", "The public gallery is open: share its link or QR code."),
    "gallery_closed": ("群众旁听已关闭，旁听人员不能再进入。", "The public gallery is closed; its visitors can no longer enter."),
    "case": ("已转为案件，按案件流程办理。", "It is now a case, handled as cases are."),
    "supported": ("感谢您的联署支持。", "Thank you for your support."),
    "commented": ("评论已发表。", "Your comment is posted."),
}
# Refusals in words for the person in front of the page (code -> zh, en); others go through server.i18n.
ERRORS: dict[str, tuple[str, str]] = {
    "already_supported": ("您家已经联署支持过这个议题（每户一次）。", "Your household has already supported this topic (once per household)."),
    "bad_phone": ("请填写11位手机号码。", "Enter an 11-digit mobile number."),
    "topic_closed": ("这个议题已不再征集联署。", "This topic no longer collects support."),
    "personal_data": ("公开内容不能包含电话号码或身份证号，请删除后再提交。", "Public text may not hold a phone or ID number; remove it first."),
    "reason_required": ("不予采纳时请填写理由，提议人会看到。", "Give a reason for declining; the proposer will see it."),
    "no_quorum": ("未达到法定人数，不能开始表决。", "No quorum: the vote cannot open."),
    "not_member": ("表决码不正确，或您不是有表决权的成员。", "Wrong code, or not a voting member."),
    "outside_window": ("现在不在表决时间内。", "The vote is not taking ballots now."),
    "already_voted": ("您已经投过票了（一人一票）。", "You have already voted (one member, one vote)."),
    "vote_closed": ("表决已结束，不能重新开启；请作为新议程重新表决。", "A closed vote cannot reopen; put it again as a new item."),
    "vote_open": ("此项表决已开始。", "This vote is already open."),
    "meeting_not_open": ("会议开始后才能表决。", "Votes are taken while the meeting is in session."),
    "meeting_closed": ("会议已结束。", "The meeting is over."),
    "not_decided": ("表决通过后才能分解任务。", "Tasks follow a vote that passed."),
    "photo_required": ("请上传现场照片作为完成凭证。", "Upload a photo as proof of completion."),
    "task_not_open": ("该任务已完成或已取消。", "This task is already done or cancelled."),
    "illegal_transition": ("当前状态下不能这样操作。", "That cannot be done in the current state."),
    "already_member": ("此人已是议事会成员。", "This person already sits on the council."),
    "bad_term": ("任期不正确（结束不早于开始，最长五年）。", "The term is wrong (ends after it starts, five years at most)."),
    "bad_unit": ("议事会设在村（社区）或乡镇（街道）。", "A council belongs to a village, community or township."),
    "already_spawned": ("这个议题已经转为案件。", "This topic already has its case."),
    "case_restricted": ("受保护案件（家暴等）不能提交为公开议题。", "A protected case (domestic violence and the like) cannot become a public topic."),
    "merge_target": ("请选择同一议事会中未结束的另一个议题。", "Choose another open topic of the same council."),
    "forbidden": ("您无权执行此操作。", "You may not do this."),
    "not_found": ("没有找到，或您无权查看。", "Not found, or not yours to see."),
    "too_large": ("照片不能超过10MB。", "A photo has at most 10 MB."),
    "unsupported_type": ("请上传 JPEG、PNG 或 WebP 照片。", "Upload a JPEG, PNG or WebP photo."),
    "missing_field": ("请填写完整。", "Please fill in every field."),
}


def _pair(table: dict[str, tuple[str, str]], code: str, lang: str) -> str:
    p = table.get(code)
    return code if p is None else (p[1] if lang == "en" else p[0])


def _err(e: CouncilError | ApiError, lang: str) -> str:
    code = e.code
    if code in ERRORS:
        return _pair(ERRORS, code, lang)
    return localise(e.message, lang)


def _status(e: CouncilError) -> int:
    return http_status(e)


def _ctx(request: web.Request) -> svc.Ctx:
    return svc.Ctx(now_of(request), services(request).config.secret_key)


def _local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(BEIJING).strftime(fmt) if dt is not None else ""


def _day(d: date | None) -> str:
    return d.isoformat() if d is not None else ""


def _form_text(form: dict[str, Any], name: str, limit: int = 2000) -> str:
    v = form.get(name)
    return v.strip()[:limit] if isinstance(v, str) else ""


def _form_int(form: dict[str, Any], name: str) -> int | None:
    v = _form_text(form, name, 12)
    return int(v) if v.isdigit() and 0 < int(v) < 2**31 else None


def _form_date(form: dict[str, Any], name: str) -> date | None:
    try:
        return date.fromisoformat(_form_text(form, name, 10))
    except ValueError:
        return None


def _ok(request: web.Request) -> str | None:
    key = request.query.get("ok", "")
    return _pair(OK_MESSAGES, key, language(request)) if key in OK_MESSAGES else None


def _back(path: str, ok: str, anchor: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{path}?{urlencode({'ok': ok})}{anchor}")


def _not_found(lang: str) -> ApiError:
    return ApiError(404, "not_found", _pair(ERRORS, "not_found", lang))


# ---- view models: plain dicts for the templates -----------------------------------------------------------


def council_view(c: Council, unit_name: str) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "neighbourhood": c.neighbourhood, "unit_name": unit_name,
            "public_path": f"/councils/p/{c.public_code}",
            "propose_path": f"/councils/propose?{urlencode({'council': c.public_code})}"}


def member_view(m: Any, lang: str) -> dict[str, Any]:
    return {"id": m.id, "name": m.name, "role": m.role, "role_label": _pair(rules.ROLE_LABELS, m.role, lang),
            "term": f"{_day(m.term_start)} — {_day(m.term_end)}", "staff": m.staff_id is not None,
            "joined": (("工作人员账号" if lang != "en" else "Staff account") if m.staff_id is not None
                       else ("居民" if lang != "en" else "Resident")) + " · " + _local(m.joined_at, "%Y-%m-%d"),
            "affiliation": m.affiliation}


def topic_view(t: Topic, lang: str) -> dict[str, Any]:
    return {"id": t.id, "ref": t.public_code, "title": t.title, "body": t.body, "state": t.state,
            "state_label": _pair(rules.TOPIC_LABELS, t.state, lang), "supports": t.supports,
            "reason": t.reason or None, "proposed_at": _local(t.created_at), "proposer": svc.mask_name(t.proposer_name),
            "public_path": f"/councils/t/{t.public_code}", "case_id": t.case_id}


def task_view(t: Task, lang: str, today: date, photos: list[Any], notes: list[Any], council: Council | None = None,
              public_code: str | None = None) -> dict[str, Any]:
    photo = photos[-1] if photos else None
    photo_url = None
    if photo is not None:
        photo_url = (f"/councils/p/{public_code}/photos/{photo.id}" if public_code
                     else f"/councils/{t.council_id}/photos/{photo.id}")
    return {"id": t.id, "description": t.title + ((": " if lang == "en" else "：") + t.description if t.description else ""),
            "title": t.title, "owner": t.owner_name, "deadline": _day(t.deadline), "state": t.state,
            "state_label": _pair(TASK_LABELS, t.state, lang), "overdue": rules.task_overdue(t.state, t.deadline, today),
            "done_at": _local(t.done_at), "note": t.done_note, "photo_url": photo_url,
            "supervision": [{"unit": n.author_name, "text": n.body} for n in notes if n.kind == "supervision"],
            "reminders": [n.body for n in notes if n.kind == "reminder"]}


def _result_label(result: dict[str, Any] | None, lang: str) -> str:
    if not result:
        return ""
    return _pair(rules.OUTCOME_LABELS, str(result.get("outcome", "")), lang)


def _quorum_text(result: dict[str, Any] | None, lang: str) -> str:
    if not result:
        return ""
    if lang == "en":
        return f"{result.get('present')} of {result.get('members')} present, {result.get('quorum_needed')} needed"
    return f"应到{result.get('members')}人，实到{result.get('present')}人，法定{result.get('quorum_needed')}人"


def vote_view(vj: dict[str, Any], lang: str) -> dict[str, Any]:
    """``service.vote_json`` as a template shows it (ballots by name only for open votes, never secret ones)."""
    result = vj.get("result") or {}
    t = result.get("tally") or {"agree": 0, "against": 0, "abstain": 0}
    return {"id": vj["id"], "motion": vj["question"], "secret": vj["secret"], "state": vj["state"],
            "state_label": _pair(VOTE_LABELS, vj["state"], lang),
            "mode_label": ("无记名表决" if vj["secret"] else "公开表决") if lang != "en"
            else ("Secret ballot" if vj["secret"] else "Open vote"),
            "cast": vj.get("voted", 0), "tally": t, "outcome": result.get("outcome"),
            "result_label": _result_label(result, lang), "quorum_label": _quorum_text(result, lang),
            "ballots": [{"name": b["name"], "choice_label": _pair(rules.CHOICE_LABELS, b["choice"] or "", lang)}
                        for b in vj.get("ballots") or []]}


def _quorum_label(q: dict[str, Any], lang: str) -> str:
    for rule, zh, en in QUORUM_CHOICES.values():
        if all(str(q.get(k)) == str(v) for k, v in rule.items()):
            return en if lang == "en" else zh
    rule_ = rules.QuorumRule.from_dict(q)
    return (f"Quorum {rule_.fraction}" if lang == "en" else f"法定人数 {rule_.fraction}")


# ---- loading ------------------------------------------------------------------------------------------


async def _council(s: Any, actor: Actor, request: web.Request, need: Action = Action.VIEW,
                   kind: access.Kind = access.Kind.COUNCIL) -> tuple[Council, str]:
    """The council the URL names, if the actor may ``need`` on it: 404 unseen, 403 seen but refused (checked
    before anything of the form is read, so a refusal never hides behind a form error)."""
    cid = path_id(request, "council", "no such council")
    try:
        c = await svc.get_council(s, actor, cid, need, kind)
    except CouncilError as e:
        raise ApiError(http_status(e), e.code, _err(e, language(request))) from None
    unit_name = await lk.unit_name(s, c)
    return c, unit_name


async def _may_manage(s: Any, actor: Actor, c: Council) -> bool:
    try:
        await svc.require(s, actor, c, Action.MANAGE)
        return True
    except CouncilError:
        return False


async def _may_supervise(s: Any, actor: Actor, c: Council) -> bool:
    try:
        await svc.require(s, actor, c, Action.SUPERVISE, access.Kind.TASK)
        return True
    except CouncilError:
        return False


async def _tasks_view(s: Any, tasks: list[Task], lang: str, today: date, public_code: str | None = None
                      ) -> list[dict[str, Any]]:
    out = []
    for t in tasks:
        notes = [] if public_code else await svc.task_notes(s, t)
        out.append(task_view(t, lang, today, await svc.task_photos(s, t), notes, public_code=public_code))
    return out


# ---- the list ---------------------------------------------------------------------------------------------


async def councils_page(request: web.Request, *, form_error: str | None = None, form: dict[str, Any] | None = None,
                        status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.read() as s:
        rows = await svc.list_councils(s, actor)
        counts = await lk.council_counts(s, [c.id for c, _ in rows])
        units = await lk.council_units(s, actor)
    return await render(request, "councils/list.html", {
        "councils": [council_view(c, u.name) | counts.get(c.id, {"members": 0, "topics": 0, "meetings": 0})
                     for c, u in rows],
        "units": [{"code": u.code, "name": u.name} for u in units],
        "form": form or {"unit": actor.unit_code}, "form_error": form_error, "ok": _ok(request),
    }, status=status)


async def create_council(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    values = {k: _form_text(form, k, 200) for k in ("unit", "name", "neighbourhood")}
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c = await svc.create_council(s, _ctx(request), actor, unit_code=values["unit"], name=values["name"],
                                         neighbourhood=values["neighbourhood"])
            cid = c.id
    except CouncilError as e:
        return await councils_page(request, form_error=_err(e, language(request)), form=values, status=_status(e))
    raise _back(f"/councils/{cid}", "created")


# ---- one council -------------------------------------------------------------------------------------------


async def council_page(request: web.Request, *, form_error: str | None = None, form: dict[str, Any] | None = None,
                       status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    lang = language(request)
    ctx = _ctx(request)
    async with services(request).db.read() as s:
        c, unit_name = await _council(s, actor, request)
        manage = await _may_manage(s, actor, c)
        supervise = await _may_supervise(s, actor, c)
        ms = await svc.members(s, c)
        ts = await svc.topics(s, c)
        mts = await svc.meetings(s, c)
        tasks = await _tasks_view(s, await svc.tasks(s, c), lang, ctx.today)
        counts = await lk.comment_counts(s, [t.id for t in ts])
    topics = [topic_view(t, lang) | {"comment_count": counts.get(t.id, 0)} for t in ts]
    return await render(request, "councils/council.html", {
        "council": council_view(c, unit_name),
        "members": [member_view(m, lang) for m in ms],
        "topics": topics,
        "agenda_topics": [t for t in topics if t["state"] in (rules.TopicState.PROPOSED, rules.TopicState.SUPPORTED,
                                                             rules.TopicState.ACCEPTED)],
        "meetings": [{"id": m.id, "title": m.title, "place": m.place, "starts_at": _local(m.scheduled_at),
                      "state": m.state, "state_label": _pair(MEETING_LABELS, m.state, lang)} for m in mts],
        "tasks": tasks,
        "can_manage": manage, "can_supervise": supervise, "can_propose": True,
        "member_roles": [(r.value, _pair(rules.ROLE_LABELS, r.value, lang)) for r in rules.MemberRole],
        "quorum_rules": [(k, zh if lang != "en" else en) for k, (_, zh, en) in QUORUM_CHOICES.items()],
        "today": ctx.today.isoformat(),
        "term_end": (ctx.today.replace(year=ctx.today.year + 3) - timedelta(days=1)).isoformat()
        if not (ctx.today.month == 2 and ctx.today.day == 29) else (ctx.today + timedelta(days=3 * 365)).isoformat(),
        "form": form or {}, "form_error": form_error, "ok": _ok(request),
    }, status=status)


Step = Callable[[Any, svc.Ctx, Actor, Council, dict[str, Any]], Awaitable[str]]


async def _council_action(request: web.Request, step: Step, anchor: str, need: Action = Action.MANAGE
                          ) -> web.StreamResponse:
    """Run one change on the council page: CSRF, load, the service, redirect back (or the page with the refusal)."""
    actor = await require_login(request)
    form = await check_csrf(request)
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c, _ = await _council(s, actor, request, need)
            ok = await step(s, _ctx(request), actor, c, form)
            cid = c.id
    except CouncilError as e:
        if e.kind is Kind.NOT_FOUND and e.code == "not_found" and "council" in e.message:
            raise _not_found(language(request)) from None
        return await council_page(request, form_error=_err(e, language(request)),
                                  form={k: v for k, v in form.items() if isinstance(v, str)}, status=_status(e))
    raise _back(f"/councils/{cid}", ok, anchor)


async def add_member(request: web.Request) -> web.StreamResponse:
    async def step(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, form: dict[str, Any]) -> str:
        start, end = _form_date(form, "term_from"), _form_date(form, "term_to")
        if start is None or end is None:
            raise CouncilError(Kind.INVALID, "bad_term", "the term needs a start and an end date")
        await svc.add_member(s, ctx, actor, c, role=_form_text(form, "role", 16), name=_form_text(form, "name", 100),
                             term_start=start, term_end=end, staff_username=_form_text(form, "username", 64) or None,
                             phone=_form_text(form, "phone", 20) or None,
                             affiliation=_form_text(form, "affiliation", 100))
        return "member"
    return await _council_action(request, step, "#members")


async def end_member(request: web.Request) -> web.StreamResponse:
    async def step(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, form: dict[str, Any]) -> str:
        await svc.end_membership(s, ctx, actor, c, path_id(request, "member", "no such member"),
                                 _form_text(form, "reason", 300))
        return "member_left"
    return await _council_action(request, step, "#members")


async def staff_topic(request: web.Request) -> web.StreamResponse:
    async def step(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, form: dict[str, Any]) -> str:
        await svc.propose_topic(s, ctx, c, title=_form_text(form, "title", 200), body=_form_text(form, "body", 4000),
                                proposer_name=actor.name, actor=actor)
        return "topic"
    return await _council_action(request, step, "#topics", Action.VIEW)


async def schedule_meeting(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    lang = language(request)
    topic_ids = [int(v) for v in (await request.post()).getall("topic", []) if isinstance(v, str) and v.isdigit()]
    quorum = QUORUM_CHOICES.get(_form_text(form, "quorum", 16), QUORUM_CHOICES["half"])[0]
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c, _ = await _council(s, actor, request, Action.MANAGE, access.Kind.MEETING)
            try:
                when = datetime.fromisoformat(_form_text(form, "starts_at", 20)).replace(tzinfo=BEIJING)
            except ValueError:
                raise CouncilError(Kind.INVALID, "missing_field", "missing field: scheduled_at") from None
            ctx = _ctx(request)
            m = await svc.schedule_meeting(s, ctx, actor, c, title=_form_text(form, "title", 200),
                                           place=_form_text(form, "place", 200), scheduled_at=when, quorum=quorum,
                                           gallery_open=bool(form.get("gallery")))
            if m.gallery_open:
                await lk.set_gallery(s, ctx, actor, m, True)  # the gallery's shareable link
            for tid in topic_ids:
                await lk.put_on_agenda(s, ctx, actor, m, tid)
            cid, mid = c.id, m.id
    except CouncilError as e:
        msg = ("请选择会议时间。" if lang != "en" else "Choose the meeting's time.") if "scheduled_at" in e.message \
            else _err(e, lang)
        return await council_page(request, form_error=msg, status=_status(e))
    raise _back(f"/councils/{cid}/meetings/{mid}", "meeting")


# ---- a topic (staff) ------------------------------------------------------------------------------------------


async def topic_page(request: web.Request, *, form_error: str | None = None, status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    lang = language(request)
    ctx = _ctx(request)
    async with services(request).db.read() as s:
        c, unit_name = await _council(s, actor, request)
        t = await lk.topic_in(s, c, path_id(request, "topic", "no such topic"))
        if t is None:
            raise _not_found(lang)
        manage = await _may_manage(s, actor, c)
        cs = await svc.comments(s, t)
        merged = await lk.topic_in(s, c, t.merged_into) if t.merged_into else None
        targets = [x for x in await svc.topics(s, c) if x.id != t.id and x.state not in rules.FINAL_TOPIC_STATES]
        tasks = await _tasks_view(s, await lk.topic_tasks(s, t), lang, ctx.today)
        case_code = await lk.case_code(s, t.case_id) if t.case_id else None
        spawned_code = await lk.case_code(s, t.spawned_case_id) if t.spawned_case_id else None
    view = topic_view(t, lang) | {
        "comments": [{"name": svc.mask_name(x.author_name), "text": x.body, "at": _local(x.created_at)} for x in cs],
        "merged_into": {"id": merged.id, "title": merged.title} if merged else None,
        "tasks": tasks, "case_code": case_code, "spawned_code": spawned_code}
    return await render(request, "councils/topic.html", {
        "council": council_view(c, unit_name), "topic": view,
        "can_decide": manage and t.state in (rules.TopicState.PROPOSED, rules.TopicState.SUPPORTED,
                                             rules.TopicState.ACCEPTED),
        "merge_targets": [{"id": x.id, "title": x.title} for x in targets],
        "can_spawn": manage and t.spawned_case_id is None,
        "form_error": form_error, "ok": _ok(request),
    }, status=status)


async def decide_topic(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    action = _form_text(form, "action", 16)
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c, _ = await _council(s, actor, request, Action.MANAGE)
            t = await lk.topic_in(s, c, path_id(request, "topic", "no such topic"))
            if t is None:
                raise _not_found(language(request))
            if action == "case":  # the topic is really a dispute: it becomes a case at the council's unit
                await svc.spawn_case(s, _ctx(request), actor, t)
            else:
                await svc.decide_topic(s, _ctx(request), actor, t, action, reason=_form_text(form, "reason", 600),
                                       merged_into=_form_int(form, "into"))
            cid, tid = c.id, t.id
    except CouncilError as e:
        return await topic_page(request, form_error=_err(e, language(request)), status=_status(e))
    raise _back(f"/councils/{cid}/topics/{tid}", {"accept": "accepted", "merge": "merged", "case": "case"}.get(action, "declined"))


# ---- a meeting -------------------------------------------------------------------------------------------------


async def _meeting_in(s: Any, c: Council, request: web.Request) -> Meeting:
    m = await lk.meeting_in(s, c, path_id(request, "meeting", "no such meeting"))
    if m is None:
        raise _not_found(language(request))
    return m


async def meeting_view(s: Any, c: Council, m: Meeting, lang: str, today: date, *, public: bool = False,
                       public_code: str | None = None) -> dict[str, Any]:
    items = await svc.agenda(s, m)
    vs = await svc.votes(s, m)
    vws = await svc.views(s, m)
    att = await svc.attendance_summary(s, m)
    tasks = await lk.meeting_tasks(s, m)
    task_views = await _tasks_view(s, tasks, lang, today, public_code=public_code)
    by_vote: dict[int, list[dict[str, Any]]] = {}
    for t, tv in zip(tasks, task_views, strict=True):
        if t.vote_id is not None:
            by_vote.setdefault(t.vote_id, []).append(tv)
    vote_views: dict[int, list[dict[str, Any]]] = {}
    for v in vs:
        vote_views.setdefault(v.item_id, []).append(
            vote_view(await svc.vote_json(s, v, public=public), lang) | {"tasks": by_vote.get(v.id, [])})
    out_items = []
    for i, it in enumerate(items, 1):
        ivotes = vote_views.get(it.id, [])
        passed = [v for v in ivotes if v["outcome"] == rules.Outcome.PASSED]
        out_items.append({
            "id": it.id, "no": i, "title": it.title, "current": m.current_item_id == it.id,
            "topic_id": it.topic_id,
            "views": [] if public else [{"speaker": v.speaker, "text": v.body} for v in vws if v.item_id == it.id],
            "votes": ivotes, "open_vote": any(v["state"] != rules.VoteState.CLOSED for v in ivotes),
            "decisions": passed,
        })
    return {"id": m.id, "title": m.title, "place": m.place, "starts_at": _local(m.scheduled_at),
            "state": m.state, "state_label": _pair(MEETING_LABELS, m.state, lang),
            "quorum_label": _quorum_label(m.quorum, lang), "gallery": m.gallery_open, "session_id": m.session_id,
            "members": att["members"], "present": att["present"], "quorum_met": att["quorate"],
            "quorum_needed": att["quorum_needed"],
            "attendees": [] if public else [{"name": a["name"], "member": a["member"],
                                             "where_label": _pair(MODE_LABELS, a["mode"], lang)}
                                            for a in att["attendees"]],
            "agenda": out_items, "minutes": m.minutes, "published_at": _local(m.published_at)}


async def meeting_page(request: web.Request, *, form_error: str | None = None, codes: list[dict[str, Any]] | None = None,
                       status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    lang = language(request)
    ctx = _ctx(request)
    async with services(request).db.read() as s:
        c, unit_name = await _council(s, actor, request)
        m = await _meeting_in(s, c, request)
        manage = await _may_manage(s, actor, c)
        view = await meeting_view(s, c, m, lang, ctx.today)
        ms = await svc.members(s, c)
        present = {a["member"] for a in view["attendees"]}
        in_person = await lk.in_person_ids(s, m)
        on_agenda = {it["topic_id"] for it in view["agenda"]}
        extra = [t for t in await svc.topics(s, c) if t.id not in on_agenda and t.state in (
            rules.TopicState.PROPOSED, rules.TopicState.SUPPORTED, rules.TopicState.ACCEPTED)]
        link = await lk.gallery_link(s, m) if manage else None
        live_token = None  # the page polls the room's live state with the viewer's own staff join token
        sess = await s.get(RoomSession, m.session_id) if m.session_id else None
        if sess is not None and sess.state in sessions.JOINABLE_STATES and m.state != rules.MeetingState.CLOSED:
            unit = await s.get(Unit, sess.unit_id)
            if unit is not None:
                role = await sessions.staff_join_role(s, actor, sess, unit)
                live_token = sessions.staff_join_token(services(request).config.secret_key, actor, sess, role)
    members = [member_view(x, lang) | {"at_table": x.id in in_person, "present": x.id in present} for x in ms]
    gallery_url = publicurl.for_page(services(request), _gallery_path(request, link)) if link is not None else None
    return await render(request, "councils/meeting.html", {
        "gallery_url": gallery_url, "live_token": live_token,
        "council": council_view(c, unit_name), "meeting": view, "members": members,
        "voters": [x for x, mm in zip(members, ms, strict=True) if svc.as_rule_member(mm).may_vote(ctx.today)],
        "can_manage": manage, "extra_topics": [{"id": t.id, "title": t.title} for t in extra],
        "tablet_codes": codes, "today": ctx.today.isoformat(),
        "form_error": form_error, "ok": _ok(request),
    }, status=status)


MeetingStep = Callable[[Any, svc.Ctx, Actor, Council, Meeting, dict[str, Any]], Awaitable[str]]


async def _open_vote_of(s: Any, m: Meeting, form: dict[str, Any]) -> Vote:
    vid = _form_int(form, "vote")
    if vid is None:
        raise CouncilError(Kind.INVALID, "missing_field", "missing field: vote", field="vote")
    v = await lk.vote_in(s, m, vid)
    if v is None:
        raise svc.not_found("vote")
    return v


async def _step_open(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    await svc.move_meeting(s, ctx, actor, m, "open")
    return "opened"


async def _step_close(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    await svc.move_meeting(s, ctx, actor, m, "close")
    if m.gallery_open:
        await lk.set_gallery(s, ctx, actor, m, False)  # the meeting is over: the gallery's passes are withdrawn
    return "closed"


async def _step_gallery(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    is_open = _form_text(form, "open", 4) == "1"
    await lk.set_gallery(s, ctx, actor, m, is_open)
    return "gallery_open" if is_open else "gallery_closed"


async def _step_attendance(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    chosen = {int(v) for v in form.get("__members__", []) if v.isdigit()}
    before = await lk.in_person_ids(s, m)
    for mid in chosen - before:
        await svc.record_attendance(s, ctx, actor, m, mid, mode=rules.Attendance.IN_PERSON)
    for mid in before - chosen:
        await svc.record_attendance(s, ctx, actor, m, mid, mode=rules.Attendance.IN_PERSON, present=False)
    return "attendance"


async def _step_item(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    tid = _form_int(form, "topic")
    if tid is not None:
        await lk.put_on_agenda(s, ctx, actor, m, tid)
    else:
        await svc.add_agenda_item(s, ctx, actor, m, title=_form_text(form, "title", 200))
    return "item"


async def _step_current(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    await lk.set_current_item(s, ctx, actor, m, _form_int(form, "item"))
    return "current"


async def _step_view(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    item = await lk.item_in(s, m, _form_int(form, "item"))
    await svc.record_view(s, ctx, actor, item.id, body=_form_text(form, "text", 4000),
                          member_id=_form_int(form, "member"))
    return "view"


async def _step_vote(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    item = await lk.item_in(s, m, _form_int(form, "item"))
    v = await svc.create_vote(s, ctx, actor, item.id, question=_form_text(form, "motion", 300) or item.title,
                              secret=_form_text(form, "mode", 8) == "secret")
    await svc.open_vote(s, ctx, actor, v)
    return "vote_open"


async def _step_vote_close(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    await svc.close_vote(s, ctx, actor, await _open_vote_of(s, m, form))
    return "vote_closed"


async def _step_task(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    v = await _open_vote_of(s, m, form)
    deadline = _form_date(form, "deadline")
    if deadline is None:
        raise CouncilError(Kind.INVALID, "missing_field", "missing field: due_at", field="deadline")
    owner_id = _form_int(form, "owner")
    owner = next((x for x in await svc.members(s, c) if x.id == owner_id), None)
    if owner is None:
        raise svc.not_found("member")
    await svc.create_task(s, ctx, actor, c, title=_form_text(form, "task", 200), owner_name=owner.name,
                          deadline=deadline, description=_form_text(form, "description", 4000), vote_id=v.id,
                          owner_member_id=owner.id)
    return "task"


async def _step_publish(s: Any, ctx: svc.Ctx, actor: Actor, c: Council, m: Meeting, form: dict[str, Any]) -> str:
    await svc.publish_meeting(s, ctx, actor, m, minutes=_form_text(form, "minutes", 20000))
    return "published"


MEETING_STEPS: dict[str, tuple[MeetingStep, str]] = {
    "open": (_step_open, ""), "close": (_step_close, "#publish"), "attendance": (_step_attendance, "#attendance"),
    "item": (_step_item, "#agenda"), "current": (_step_current, "#agenda"), "view": (_step_view, "#agenda"),
    "vote": (_step_vote, "#agenda"), "vote-close": (_step_vote_close, "#agenda"), "task": (_step_task, "#agenda"),
    "publish": (_step_publish, "#publish"), "gallery": (_step_gallery, "#gallery"),
}


# Steps the room hears about (the message type its council panel reloads on).
ROOM_STEPS = {"vote": "council_vote", "vote-close": "council_vote", "current": "council_item",
              "attendance": "council_attendance", "open": "council_item", "close": "council_item"}


async def meeting_action(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    step_name = request.match_info["step"]
    if step_name not in MEETING_STEPS and step_name != "codes":
        raise _not_found(language(request))
    post = await request.post()
    form = await check_csrf(request)
    form["__members__"] = [v for v in post.getall("member", []) if isinstance(v, str)]
    lang = language(request)
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c, _ = await _council(s, actor, request, Action.MANAGE, access.Kind.MEETING)
            m = await _meeting_in(s, c, request)
            if step_name == "codes":
                issued = await svc.issue_member_codes(s, _ctx(request), actor, m)
                codes = [{"name": e["name"], "code": e["code"], "invitation_id": e.get("invitation_id"),
                          "url": publicurl.for_page(services(request), e["url"]) if e.get("url") else None}
                         for e in issued.values()]
                session_id = m.session_id
            else:
                step, anchor = MEETING_STEPS[step_name]
                ok = await step(s, _ctx(request), actor, c, m, form)
            cid, mid, room_id = c.id, m.id, m.session_id
    except CouncilError as e:
        if e.kind is Kind.NOT_FOUND and e.code == "not_found" and ("council" in e.message or "meeting" in e.message):
            raise _not_found(lang) from None
        return await meeting_page(request, form_error=_err(e, lang), status=_status(e))
    if step_name == "codes":
        # Rendered, not redirected: the codes are shown this once (only their HMACs are kept).
        for cd in codes:
            if cd["invitation_id"] and session_id:
                cd["qr"] = f"/sessions/{session_id}/invitations/{cd['invitation_id']}/qr.svg"
        return await meeting_page(request, codes=codes, status=201)
    if step_name in ROOM_STEPS:
        await _tell_room(request, room_id, {"type": ROOM_STEPS[step_name], "meeting": mid})
    raise _back(f"/councils/{cid}/meetings/{mid}", ok, anchor)


# ---- cases and topics: a case raises a topic; the case page shows its topics ---------------------------------


async def case_topic(request: web.Request) -> web.StreamResponse:
    """``POST /councils/case-topics`` (the case page's 提交为议题): fields ``case`` (its code), ``council``,
    ``title``, ``body``. Goes to the new topic's page; a refusal goes back to the case with its message."""
    actor = await require_login(request)
    form = await check_csrf(request)
    lang = language(request)
    case_ref = _form_text(form, "case", 40)
    council_id = _form_int(form, "council")
    if not case_ref or not case_ref.replace("-", "").isalnum():
        raise ApiError(400, "missing_field", _pair(ERRORS, "missing_field", lang))
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            if council_id is None:
                raise CouncilError(Kind.INVALID, "missing_field", "missing field: council", field="council")
            c = await s.get(Council, council_id)
            if c is None:
                raise svc.not_found("council")
            await svc.require(s, actor, c)
            t = await lk.topic_from_case(s, _ctx(request), actor, c, case_ref, title=_form_text(form, "title", 200),
                                         body=_form_text(form, "body", 4000))
            cid, tid = c.id, t.id
    except CouncilError as e:
        raise web.HTTPSeeOther(f"/cases/{case_ref}?" + urlencode({"error": _err(e, lang)})) from None
    raise _back(f"/councils/{cid}/topics/{tid}", "topic")


async def case_page_extra(request: web.Request, actor: Actor | None) -> dict[str, Any]:
    """The case page's council links (a page extra: only on ``GET /cases/{code}``, for staff who see it)."""
    route = request.match_info.route.resource
    if actor is None or request.method != "GET" or route is None or route.canonical != "/cases/{code}":
        return {}
    async with services(request).db.read() as s:
        links = await lk.case_links(s, actor, request.match_info["code"], now_of(request))
    return {"council_links": links} if links is not None else {}


# ---- the public gallery (旁听) ---------------------------------------------------------------------------------


def _gallery_path(request: web.Request, link: Any) -> str:
    return f"/councils/g/{sessions.invitation_token(services(request).config.secret_key, link)}"


async def gallery_qr(request: web.Request) -> web.StreamResponse:
    """The open gallery's link as a QR code (managers: the convenor shows or prints it)."""
    actor = await require_login(request)
    async with services(request).db.read() as s:
        c, _ = await _council(s, actor, request, Action.MANAGE, access.Kind.MEETING)
        m = await _meeting_in(s, c, request)
        link = await lk.gallery_link(s, m)
    if link is None:
        raise _not_found(language(request))
    svg = publicurl.qr_or_placeholder(services(request), _gallery_path(request, link), lang=language(request))
    return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"})


GALLERY_REFUSALS: dict[str, tuple[str, str]] = {
    "gallery_closed": ("群众旁听已关闭。", "The public gallery is closed."),
    "session_ended": ("会议已结束。", "The meeting has ended."),
    "session_cancelled": ("会议已取消。", "The meeting was cancelled."),
    "rate_limited": ("进入过于频繁，请稍后再试。", "Too many entries from here; try again later."),
}


async def gallery_enter(request: web.Request) -> web.StreamResponse:
    """``GET /councils/g/{token}``: the gallery's shareable link. Each visit gets its own observer pass (its own
    identity in the room, observe-only) and goes on to the room's join page; refused once the gallery is closed
    or the meeting is over, and limited per address."""
    lang = language(request)
    svcs = services(request)

    def refuse(status: int, code: str) -> ApiError:
        return ApiError(status, code, _pair(GALLERY_REFUSALS, code, lang))

    lim = _limiters(request)["gallery"]
    if lim.hit(f"ip:{client_ip(request)}"):
        raise refuse(429, "rate_limited")
    try:
        grant = await sessions.resolve_join(svcs.db, svcs.config.secret_key, request.match_info["token"][:4096],
                                            at=now_of(request))
    except SessionError as e:
        if e.code in ("session_ended", "session_cancelled"):
            raise refuse(410, e.code) from None
        if e.code == "token_revoked":
            raise refuse(410, "gallery_closed") from None
        raise _not_found(lang) from None
    if grant.nonce is None or grant.role != "observer":
        raise _not_found(lang)
    try:
        async with svc.transaction(svcs.db, _ctx(request)) as s:
            m = await svc.meeting_of_session(s, grant.meta.session_id)
            if m is None:
                raise _not_found(lang)
            if not m.gallery_open or m.state == rules.MeetingState.CLOSED:
                raise refuse(410, "gallery_closed")
            sess = await s.get(RoomSession, grant.meta.session_id)
            assert sess is not None
            inv = await sessions.gallery_pass(s, sess, grant.nonce, _ctx(request).now)
            token = sessions.invitation_token(svcs.config.secret_key, inv)
    except SessionError as e:
        raise refuse(410, e.code if e.code in GALLERY_REFUSALS else "gallery_closed") from None
    raise web.HTTPSeeOther(sessions.join_url(token) + ("?lang=en" if lang == "en" else ""),
                           headers={"Cache-Control": "no-store"})


# ---- the shared tablet at the table ------------------------------------------------------------------------


async def tablet_page(request: web.Request, *, ok: str | None = None, receipt: str | None = None,
                      form_error: str | None = None, status: int = 200) -> web.StreamResponse:
    actor = await require_login(request)
    lang = language(request)
    async with services(request).db.read() as s:
        c, unit_name = await _council(s, actor, request, Action.MANAGE, access.Kind.MEETING)
        m = await _meeting_in(s, c, request)
        if not await _may_manage(s, actor, c):
            raise ApiError(403, "forbidden", _pair(ERRORS, "forbidden", lang))
        open_votes = [v for v in await svc.votes(s, m) if v.state == rules.VoteState.OPEN]
        vote = vote_view(await svc.vote_json(s, open_votes[0]), lang) if open_votes else None
    return await render(request, "councils/tablet.html", {
        "council": council_view(c, unit_name), "meeting": {"id": m.id, "title": m.title}, "vote": vote,
        "ok": ok, "receipt": receipt, "form_error": form_error}, status=status)


async def tablet_cast(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    form = await check_csrf(request)
    lang = language(request)
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c, _ = await _council(s, actor, request, Action.MANAGE, access.Kind.VOTE)
            m = await _meeting_in(s, c, request)
            v = await _open_vote_of(s, m, form)
            cast = await svc.cast_with_code(s, _ctx(request), actor, v, _form_text(form, "code", 8),
                                            _form_text(form, "choice", 8))
            mid, room_id = m.id, m.session_id
    except CouncilError as e:
        return await tablet_page(request, form_error=_err(e, lang), status=_status(e))
    await _tell_room(request, room_id, {"type": "council_vote", "meeting": mid})
    # Rendered: a secret ballot's receipt is shown this once, to the voter at the tablet.
    return await tablet_page(request, ok="已投票，请将平板交给下一位成员。" if lang != "en"
                             else "Counted. Hand the tablet to the next member.", receipt=cast.receipt)


# ---- tasks ----------------------------------------------------------------------------------------------------


TASK_NEEDS: dict[str, tuple[Action, access.Kind]] = {"complete": (Action.MANAGE, access.Kind.TASK),
                                                      "supervise": (Action.SUPERVISE, access.Kind.TASK)}


async def task_action(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    step = request.match_info["step"]
    if step not in ("complete", "supervise"):
        raise _not_found(language(request))
    post = await request.post()
    form = await check_csrf(request)
    lang = language(request)
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c, _ = await _council(s, actor, request, *TASK_NEEDS[step])
            task = await lk.task_in(s, c, path_id(request, "task", "no such task"))
            if task is None:
                raise _not_found(lang)
            ctx = _ctx(request)
            if step == "complete":
                f = post.get("photo")
                if f is None or not hasattr(f, "file"):
                    raise CouncilError(Kind.INVALID, "photo_required", "a task is completed with a photo")
                data = f.file.read(svc.MAX_PHOTO_BYTES + 1)
                await svc.add_task_photo(s, ctx, actor, task, data, services(request).config.data_dir)
                await svc.complete_task(s, ctx, actor, task, _form_text(form, "note", 2000))
                ok = "task_done"
            else:
                await svc.add_task_note(s, ctx, actor, task, body=_form_text(form, "instruction", 2000),
                                        kind="supervision")
                ok = "supervised"
            cid = c.id
    except CouncilError as e:
        if e.kind is Kind.NOT_FOUND and "council" in e.message:
            raise _not_found(lang) from None
        return await council_page(request, form_error=_err(e, lang), status=_status(e))
    raise _back(f"/councils/{cid}", ok, "#tasks")


async def _photo_response(request: web.Request, s: Any, photo_id: int, task_ok: Callable[[Task], Awaitable[bool]]
                          ) -> web.StreamResponse:
    lang = language(request)
    try:
        photo, path = await svc.task_photo(s, photo_id, services(request).config.data_dir)
    except CouncilError:
        raise _not_found(lang) from None
    task = await s.get(Task, photo.task_id)
    if task is None or not await task_ok(task):
        raise _not_found(lang)
    return web.FileResponse(path, headers={"Content-Type": photo.content_type, "Cache-Control": "private, max-age=300",
                                           "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"})


async def staff_photo(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    async with services(request).db.read() as s:
        c, _ = await _council(s, actor, request)

        async def ok(t: Task) -> bool:
            return t.council_id == c.id
        return await _photo_response(request, s, path_id(request, "photo", "no such photo"), ok)


# ---- the printable notice --------------------------------------------------------------------------------------


async def notice_page(request: web.Request) -> web.StreamResponse:
    actor = await require_login(request)
    lang = language(request)
    ctx = _ctx(request)
    async with services(request).db.read() as s:
        c, unit_name = await _council(s, actor, request)
        m = await _meeting_in(s, c, request)
        view = await meeting_view(s, c, m, lang, ctx.today, public=True)
    path = f"/councils/p/{c.public_code}"
    svcs = services(request)
    return await render(request, "councils/notice.html", {
        "council": council_view(c, unit_name), "meeting": view,
        "qr": Markup(publicurl.qr_or_placeholder(svcs, path, lang=lang)),
        "url_text": publicurl.for_document(svcs, path, lang)})


# ---- public: propose, follow, support, comment, the neighbourhood page -----------------------------------------


def _limiters(request: web.Request) -> dict[str, RateLimiter]:
    return services(request).council_limiters


async def propose_page(request: web.Request, *, form: dict[str, Any] | None = None,
                       errors: dict[str, str] | None = None, error: str | None = None,
                       status: int = 200) -> web.StreamResponse:
    unit = request.query.get("unit", "")[:32]
    code = request.query.get("council", "")[:32]
    async with services(request).db.read() as s:
        cs = await lk.public_councils(s, unit_code=unit or None, public_code=code or None)
    chosen = form or {}
    if not chosen.get("council") and len(cs) == 1:
        chosen = {**chosen, "council": str(cs[0][0].id)}
    return await render(request, "councils/propose.html", {
        "councils": [{"id": c.id, "name": c.name + (f"（{un}）" if un and un not in c.name else "")} for c, un in cs],
        "form": chosen, "errors": errors or {}, "error": error}, status=status)


async def propose_submit(request: web.Request) -> web.StreamResponse:
    lang = language(request)
    en = lang == "en"
    try:
        form = await check_csrf(request)
    except ApiError:
        return await propose_page(request, error="The page expired; reload and try again." if en
                                  else "页面已过期，请刷新后重新提交。", status=403)
    lim = _limiters(request)
    ip = f"ip:{client_ip(request)}"
    values = {k: _form_text(form, k, 4000) for k in ("council", "title", "body", "name", "phone")}
    if form.get("website"):  # the honeypot
        lim["propose"].hit(ip)
        return await propose_page(request, form=values, error="Not accepted." if en else "提交失败。", status=400)
    if lim["propose"].blocked(ip):
        return await propose_page(request, form=values, status=429, error=(
            "Too many topics from here; try again later." if en else "提交过于频繁，请稍后再试。"))
    errors: dict[str, str] = {}
    if not values["title"]:
        errors["title"] = "Enter the topic." if en else "请填写议题。"
    if len(values["body"]) < 5:
        errors["body"] = "Say a little more (at least 5 characters)." if en else "请具体说明（至少5个字）。"
    if not values["name"]:
        errors["name"] = "Enter your name." if en else "请填写姓名。"
    try:
        phone = rules.normalise_phone(values["phone"])
    except CouncilError:
        errors["phone"] = _pair(ERRORS, "bad_phone", lang)
        phone = ""
    cid = _form_int(form, "council")
    if cid is None:
        errors["council"] = "Choose the council." if en else "请选择议事会。"
    if errors:
        lim["propose"].hit(ip)
        return await propose_page(request, form=values, errors=errors, status=400)
    if lim["propose_phone"].blocked(f"phone:{phone}"):
        return await propose_page(request, form=values, status=429, error=(
            "This phone number has reached today's limit." if en else "该号码今日提交次数已达上限。"))
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            c = await lk.public_council(s, cid or 0)
            t = await svc.propose_topic(s, _ctx(request), c, title=values["title"], body=values["body"],
                                        proposer_name=values["name"])
            code = t.public_code
    except CouncilError as e:
        lim["propose"].hit(ip)
        return await propose_page(request, form=values, error=_err(e, lang), status=_status(e))
    lim["propose"].hit(ip)
    lim["propose_phone"].hit(f"phone:{phone}")
    return await render(request, "councils/proposed.html", {"ref": code, "path": f"/councils/t/{code}"}, status=201)


TIMELINE = [
    ("proposed", "提出议题", "Raised"),
    ("supported", "居民联署", "Residents' support"),
    ("accepted", "列入议程", "On the agenda"),
    ("decided", "议事会表决", "Voted by the council"),
    ("resolved", "落实完成", "Done"),
]
_ORDER = {"proposed": 0, "supported": 1, "accepted": 2, "decided": 3, "rejected": 3, "resolved": 4,
          "declined": 0, "merged": 0}


async def topic_public(request: web.Request, *, ok: str | None = None, error: str | None = None,
                       status: int = 200) -> web.StreamResponse:
    lang = language(request)
    ctx = _ctx(request)
    async with services(request).db.read() as s:
        try:
            t = await svc.topic_by_public_code(s, request.match_info["topic_code"][:32])
        except CouncilError:
            raise _not_found(lang) from None
        c = await svc.council_of(s, t)
        unit_name = await lk.unit_name(s, c)
        st = await svc.topic_status(s, t, ctx.today)
        tasks = await _tasks_view(s, await lk.topic_tasks(s, t), lang, ctx.today, public_code=c.public_code)
        decision = await lk.topic_decision(s, t)
    reached = _ORDER.get(t.state, 0)
    steps = []
    for i, (state, zh, en) in enumerate(TIMELINE):
        label = en if lang == "en" else zh
        if state == "decided" and t.state == rules.TopicState.REJECTED:
            label = _pair(rules.TOPIC_LABELS, rules.TopicState.REJECTED, lang)
        note = f"{t.supports} {'households' if lang == 'en' else '户'}" if state == "supported" else ""
        steps.append({"label": label, "done": i <= reached and t.state not in (rules.TopicState.DECLINED,
                                                                                rules.TopicState.MERGED) or i == 0,
                      "current": i == reached, "note": note,
                      "at": _local(t.created_at) if i == 0 else ""})
    if t.state in (rules.TopicState.DECLINED, rules.TopicState.MERGED):
        steps.append({"label": _pair(rules.TOPIC_LABELS, t.state, lang), "done": True, "current": True, "note": "",
                      "at": _local(t.updated_at)})
    merged = st.get("merged_into")
    view = {"ref": st["code"], "title": st["title"], "body": st["body"], "state": t.state,
            "state_label": _pair(rules.TOPIC_LABELS, t.state, lang),
            "reason": st["reason"], "supports": st["supports"], "proposer": st["proposer"],
            "proposed_at": _local(t.created_at), "public_path": f"/councils/t/{t.public_code}",
            "merged_into": {"title": merged["title"], "path": f"/councils/t/{merged['code']}"} if merged else None,
            "comments": [{"name": x["author"], "text": x["body"], "at": _local(datetime.fromisoformat(
                x["at"].replace("Z", "+00:00")))} for x in st["comments"]],
            "can_support": t.state in rules.OPEN_FOR_SUPPORT,
            "can_comment": t.state not in (rules.TopicState.MERGED,)}
    return await render(request, "councils/topic_public.html", {
        "council": {"name": c.name, "public_path": f"/councils/p/{c.public_code}", "unit_name": unit_name},
        "topic": view, "steps": steps, "tasks": tasks,
        "decision": {"text": decision["question"], "votes": [vote_view(d, lang) for d in decision["votes"]]}
        if decision else None,
        "ok": ok or _ok(request), "error": error}, status=status)


async def _public_form(request: web.Request, kind: str) -> tuple[dict[str, Any] | None, web.StreamResponse | None]:
    lang = language(request)
    en = lang == "en"
    try:
        form = await check_csrf(request)
    except ApiError:
        return None, await topic_public(request, status=403, error="The page expired; reload and try again." if en
                                        else "页面已过期，请刷新后重新提交。")
    lim = _limiters(request)[kind]
    ip = f"ip:{client_ip(request)}"
    if form.get("website"):
        lim.hit(ip)
        return None, await topic_public(request, status=400, error="Not accepted." if en else "提交失败。")
    if lim.blocked(ip):
        return None, await topic_public(request, status=429, error="Too many requests; try later." if en
                                        else "提交过于频繁，请稍后再试。")
    lim.hit(ip)
    return form, None


async def support_submit(request: web.Request) -> web.StreamResponse:
    form, refused = await _public_form(request, "support")
    if refused is not None:
        return refused
    assert form is not None
    lang = language(request)
    try:
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            t = await svc.topic_by_public_code(s, request.match_info["topic_code"][:32])
            await svc.support_topic(s, _ctx(request), t, phone=_form_text(form, "phone", 20),
                                    name=_form_text(form, "name", 100))
            code = t.public_code
    except CouncilError as e:
        if e.code == "not_found":
            raise _not_found(lang) from None
        return await topic_public(request, error=_err(e, lang), status=_status(e))
    raise _back(f"/councils/t/{code}", "supported", "#support")


async def comment_submit(request: web.Request) -> web.StreamResponse:
    form, refused = await _public_form(request, "comment")
    if refused is not None:
        return refused
    assert form is not None
    lang = language(request)
    try:
        rules.normalise_phone(_form_text(form, "phone", 20))
        async with svc.transaction(services(request).db, _ctx(request)) as s:
            t = await svc.topic_by_public_code(s, request.match_info["topic_code"][:32])
            if t.state == rules.TopicState.MERGED:
                raise CouncilError(Kind.CONFLICT, "topic_closed", "merged")
            await svc.comment_topic(s, _ctx(request), t, author_name=_form_text(form, "name", 100),
                                    body=_form_text(form, "text", 2000))
            code = t.public_code
    except CouncilError as e:
        if e.code == "not_found":
            raise _not_found(lang) from None
        return await topic_public(request, error=_err(e, lang), status=_status(e))
    raise _back(f"/councils/t/{code}", "commented", "#public-comments")


async def council_public(request: web.Request) -> web.StreamResponse:
    lang = language(request)
    ctx = _ctx(request)
    async with services(request).db.read() as s:
        try:
            c = await svc.council_by_public_code(s, request.match_info["council_code"][:32])
        except CouncilError:
            raise _not_found(lang) from None
        unit_name = await lk.unit_name(s, c)
        page = await svc.public_view(s, c, ctx.today)  # refuses (personal_data) rather than show a number
        meetings = []
        for m in await lk.published_meetings(s, c):
            meetings.append(await meeting_view(s, c, m, lang, ctx.today, public=True, public_code=c.public_code))
    topics = [{"title": t["title"], "supports": t["supports"], "public_path": f"/councils/t/{t['code']}"}
              for t in page["topics"] if t["state"] in rules.OPEN_FOR_SUPPORT]
    return await render(request, "councils/public.html", {
        "council": council_view(c, unit_name), "meetings": meetings, "topics": topics})


async def public_photo(request: web.Request) -> web.StreamResponse:
    """A completion photo shown on the public pages: only of a task on a published meeting or a public topic."""
    lang = language(request)
    async with services(request).db.read() as s:
        try:
            c = await svc.council_by_public_code(s, request.match_info["council_code"][:32])
        except CouncilError:
            raise _not_found(lang) from None

        async def ok(t: Task) -> bool:
            return t.council_id == c.id and await lk.task_is_public(s, t)
        return await _photo_response(request, s, path_id(request, "photo", "no such photo"), ok)


# ---- the room: the council panel's state, and what the room hears when the convenor acts on the page ------


async def room_state(s: Any, m: Meeting, today: date, identity: str | None, *, gallery: bool = False
                     ) -> dict[str, Any]:
    """What the room's council panel shows: the item under discussion, attendance and quorum (counts), every
    vote as the public sees it (totals only), whether this peer holds a voting seat, and (not for the public
    gallery) each member's council role by name, which labels their tile (党员代表, 居民代表, 物业)."""
    items = await svc.agenda(s, m)
    current = next((i.title for i in items if i.id == m.current_item_id), None)
    att = await svc.attendance_summary(s, m, today)
    member = await svc.member_by_identity(s, m, identity) if identity else None
    return {"meeting": m.id, "title": m.title, "state": m.state, "current_item": current,
            "speaking_limit_s": m.speaking_limit_s,
            "attendance": {k: v for k, v in att.items() if k != "attendees"},
            "votes": [await svc.vote_json(s, v, public=True) for v in await svc.votes(s, m)],
            "may_vote": member is not None and svc.as_rule_member(member).may_vote(today),
            "attendees": [] if gallery else [{"name": a["name"], "mode": a["mode"]} for a in att["attendees"]],
            "member_roles": {} if gallery else {x.name: x.role for x in await svc.members(s, await svc.council_of(s, m))
                                                if x.active}}


async def live_state(request: web.Request) -> web.StreamResponse:
    """``GET /councils/live?token=`` (JSON): the council panel's state, for whoever holds a join token of the
    meeting's room (a member's invitation, the gallery's, a staff join token)."""
    lim = _limiters(request)["live"]
    if lim.hit(f"ip:{client_ip(request)}"):
        raise ApiError(429, "rate_limited", "too many requests")
    svcs = services(request)
    try:
        grant = await sessions.resolve_join(svcs.db, svcs.config.secret_key, request.query.get("token", "")[:4096],
                                            at=now_of(request))
    except SessionError as e:
        raise ApiError(http_status(e), e.code, e.message) from None
    async with svcs.db.read() as s:
        m = await svc.meeting_of_session(s, grant.meta.session_id)
        if m is None:
            raise ApiError(404, "not_found", "no council meeting in this room")
        out = await room_state(s, m, _ctx(request).today, grant.identity,
                               gallery=grant.role == "observer" and grant.staff_id is None)
    return web.json_response(out, headers={"Cache-Control": "no-store"})


async def _tell_room(request: web.Request, session_id: int | None, msg: dict[str, Any]) -> None:
    """The convenor acted on the meeting page: the room's panels hear it (and reload their state)."""
    hub = services(request).room_hub
    if hub is not None and session_id is not None:
        await hub.broadcast(session_id, msg)


# ---- the dashboard's council figures (a page extra: the dashboard template shows them when present) ---------


async def dashboard_figures(request: web.Request, actor: Actor | None) -> dict[str, Any]:
    if actor is None or request.path != "/dashboard":
        return {}
    unit = request.query.get("unit", "")[:32] or actor.unit_code
    try:
        async with services(request).db.read() as s:
            figures = await svc.figures(s, _ctx(request), actor, unit)
    except CouncilError:
        return {}  # the dashboard itself answers for a unit the actor may not see
    return {"council_figures": figures}


def setup(app: web.Application) -> None:
    services(app).council_limiters = {
        "propose": RateLimiter(limit=PROPOSALS_PER_IP_PER_HOUR, window_s=3600),
        "propose_phone": RateLimiter(limit=PROPOSALS_PER_PHONE_PER_DAY, window_s=86400),
        "support": RateLimiter(limit=SUPPORTS_PER_IP_PER_HOUR, window_s=3600),
        "comment": RateLimiter(limit=COMMENTS_PER_IP_PER_HOUR, window_s=3600),
        "live": RateLimiter(limit=LIVE_PER_IP_PER_MINUTE, window_s=60),
        "gallery": RateLimiter(limit=GALLERY_PER_IP_PER_HOUR, window_s=3600),
    }
    add_room_module("/static/js/council-panel.js", button=("council", "people", "议事", "Council"))
    services(app).page_extras.append(dashboard_figures)
    services(app).page_extras.append(case_page_extra)
    r = app.router
    r.add_get("/councils", councils_page)
    r.add_post("/councils", create_council)
    r.add_post("/councils/case-topics", case_topic)
    r.add_get("/councils/live", live_state)
    r.add_get("/councils/propose", propose_page)
    r.add_post("/councils/propose", propose_submit)
    r.add_get("/councils/t/{topic_code}", topic_public)
    r.add_post("/councils/t/{topic_code}/support", support_submit)
    r.add_post("/councils/t/{topic_code}/comments", comment_submit)
    r.add_get("/councils/g/{token}", gallery_enter)
    r.add_get("/councils/p/{council_code}", council_public)
    r.add_get("/councils/p/{council_code}/photos/{photo}", public_photo)
    r.add_get("/councils/{council}", council_page)
    r.add_post("/councils/{council}/members", add_member)
    r.add_post("/councils/{council}/members/{member}/end", end_member)
    r.add_post("/councils/{council}/topics", staff_topic)
    r.add_get("/councils/{council}/topics/{topic}", topic_page)
    r.add_post("/councils/{council}/topics/{topic}/decide", decide_topic)
    r.add_post("/councils/{council}/meetings", schedule_meeting)
    r.add_get("/councils/{council}/meetings/{meeting}", meeting_page)
    r.add_get("/councils/{council}/meetings/{meeting}/tablet", tablet_page)
    r.add_post("/councils/{council}/meetings/{meeting}/tablet", tablet_cast)
    r.add_get("/councils/{council}/meetings/{meeting}/notice", notice_page)
    r.add_get("/councils/{council}/meetings/{meeting}/gallery.svg", gallery_qr)
    r.add_post("/councils/{council}/meetings/{meeting}/{step}", meeting_action)
    r.add_post("/councils/{council}/tasks/{task}/{step}", task_action)
    r.add_get("/councils/{council}/photos/{photo}", staff_photo)
