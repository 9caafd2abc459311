"""Messages in the viewer's language, for pages (no aiohttp here).

Domain code and the JSON API speak English, and some messages are written bilingually as
``"中文 / English"``. A page shows one language only: :func:`localise` picks one side of a bilingual
message, and on a Chinese page it replaces an English-only message with its Chinese text from the
catalogue below (patterns, so that field names and numbers carry over) or, failing that, with a
Chinese sentence chosen by the error code. server/views/render.py applies it to the messages every
page shows (``ok``, ``error``, ``errors``, ``form_error``, ``message``); server/errors.py to error
pages and, for the browser's own API calls, to JSON errors (as ``error.display``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

LANG_COOKIE = "concord_lang"
# Sent by web/static/js/concord.js api(): the page's language, so JSON errors can carry display text.
LANG_HEADER = "X-Concord-Lang"

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
# "中文 / English": Chinese on the left (it may hold digits or codes), Latin text on the right.
_BILINGUAL = re.compile(r"^(?P<zh>.*[\u3400-\u9fff（）。].*?)\s+/\s+(?P<en>[^\u3400-\u9fff]+)$", re.S)


def language_of(query: Any, cookies: Any, header: str | None = None) -> str:
    """``en`` or ``zh-CN``: the query's ``lang``, else the explicit header, else the cookie; zh-CN first."""
    lang = query.get("lang") or header or cookies.get(LANG_COOKIE) or "zh-CN"
    return "en" if str(lang).startswith("en") else "zh-CN"


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def pick(text: str, lang: str) -> str:
    """One side of a bilingual ``"中文 / English"`` message; any other text unchanged."""
    m = _BILINGUAL.match(text)
    if not m:
        return text
    return m["en"].strip() if lang == "en" else m["zh"].strip()


# Field names as they appear in English messages -> how a Chinese form labels them.
FIELDS = {
    "title": "标题", "name": "姓名", "summary": "案情摘要", "description": "情况说明", "phone": "电话",
    "address": "地址", "unit": "单位", "reason": "理由", "grade": "风险等级", "category": "类别",
    "item": "事项", "kind": "类型", "source": "来源", "scheduled_at": "开始时间", "due_at": "截止时间",
    "issued_at": "签发时间", "reply_due_at": "答复期限", "username": "用户名", "password": "密码",
    "role": "角色", "specialties": "专长", "instruction": "督办要求", "response": "回复", "question": "问题",
    "opinion": "专家意见", "notes": "备注", "content": "内容", "obligor": "义务人", "obligee": "权利人",
    "outcome": "处理结果", "reply": "答复", "version": "版本", "case_id": "案件", "session_id": "会议",
    "text": "内容", "comment": "意见", "authority": "机关", "reference": "文号", "stage": "处置措施",
    "id_number": "公民身份号码", "invitation": "邀请", "file": "文件", "parties": "当事人",
    "petitioners": "信访人数", "satisfaction": "满意度", "method": "方式", "recurrence_risk": "复发风险",
}


def _field(name: str) -> str:
    return FIELDS.get(name, "该项")


_Sub = str | Callable[[re.Match[str]], str]

# English message (whole text, case-insensitive) -> Chinese. The common shapes first.
_ENTRIES: list[tuple[str, _Sub]] = [
    (r"missing field: (\w+)", lambda m: f"请填写{_field(m[1])}。"),
    (r"(\w+) is required", lambda m: f"请填写{_field(m[1])}。"),
    (r"(\w+) is empty", lambda m: f"请填写{_field(m[1])}。"),
    (r"the (\w+) is empty", lambda m: f"请填写{_field(m[1])}。"),
    (r"(?:field )?(\w+) is longer than (\d+)(?: characters)?", lambda m: f"{_field(m[1])}不能超过{m[2]}个字。"),
    (r"(?:field )?(\w+) is too long", lambda m: f"{_field(m[1])}过长。"),
    (r"(?:field )?(\w+) (?:has the wrong type|must be text)", lambda m: f"{_field(m[1])}的格式不正确。"),
    (r"(\w+) contains control characters", lambda m: f"{_field(m[1])}含有不可见字符，请删除后重试。"),
    (r"(\w+) must be an ISO 8601 time", lambda m: f"{_field(m[1])}不是有效的时间，请重新选择。"),
    (r"(\w+) must be a date \(YYYY-MM-DD\)", lambda m: f"{_field(m[1])}不是有效的日期。"),
    (r"(?:field )?(\w+) must be (?:an integer|between .*|a number)|(?:field )?(\w+) is out of range",
     lambda m: f"{_field(m[1] or m[2])}的数值不正确。"),
    (r"(\w+) must be (?:one of|from)\b.*", lambda m: f"请从列表中选择{_field(m[1])}。"),
    (r"(\w+) must be true or false", lambda m: f"{_field(m[1])}的取值不正确。"),
    (r"ID number must be .*", "公民身份号码格式不正确（6至18位数字，末位可为 X）。"),
    (r"phone must be digits", "电话号码只能包含数字。"),
    (r"unknown unit.*", "没有这个单位。"),
    (r"unknown staff.*", "没有这个工作人员账号。"),
    (r"staff \d+ cannot work on this case", "所选人员不能办理此案件。"),
    (r"category and item must match the catalogue", "请从列表中选择类别和事项。"),
    (r"nothing to change", "没有需要保存的修改。"),
    (r"unknown (status|state|action|step)", lambda m: {"status": "没有这个状态。", "state": "没有这个状态。",
                                                      "action": "没有这个操作。", "step": "没有这个步骤。"}[m[1]]),
    (r"the case was changed by someone else; reload and try again", "案件已被他人修改，请刷新页面后重试。"),
    (r"(?:missing|invalid) CSRF token.*", "页面已过期，请刷新页面后重试。"),
    (r"authentication required", "请先登录。"),
    (r"not allowed for your role or tier", "您的角色或层级无权执行此操作。"),
    (r"not found", "没有找到。"),
    (r"no such (case|session|agreement|invitation|party|consultation|recording|version)",
     lambda m: "没有这个" + {"case": "案件", "session": "会议", "agreement": "协议", "invitation": "邀请",
                            "party": "当事人", "consultation": "远程指导请求", "recording": "录像",
                            "version": "版本"}[m[1].lower()] + "。"),
    (r"choose a file to upload|no file.*", "请选择要上传的文件。"),
    (r"the (?:uploaded )?file is empty", "文件是空的。"),
    (r"files are limited to (\d+) MB|the file is over (\d+) MiB", lambda m: f"文件不能超过 {m[1] or m[2]} MB。"),
    (r"only photos .* accepted", "只能上传照片（JPEG、PNG、WebP、HEIC）或 PDF 文件。"),
    (r"obligor and content are required", "请填写义务人和履行内容。"),
    (r"give a response deadline", "请填写回复期限。"),
    (r"give the hearing time", "请填写听证时间。"),
    (r"a finished case is read only", "案件已办结，不能再修改。"),
    (r"assign the case before scheduling a mediation session", "请先指派调解员，再安排视频调解。"),
    (r"the session is over|this session has ended", "会议已结束。"),
    (r"the session is \w+", "会议已结束或已取消。"),
    (r"this session was cancelled", "会议已取消。"),
    (r"password must be at least 8 characters", "密码至少需要 8 位。"),
    (r"user '?(.+?)'? already exists", lambda m: f"用户名 {m[1]} 已被使用。"),
    (r"open and read the full text before signing", "请先打开并阅读协议全文，再签名。"),
    (r"this agreement is still a draft; it is not open for signing", "协议仍是草稿，尚未开放签署。"),
    (r"you may not dispatch this case to .*", "不能把案件下派到该单位。"),
    (r"internal server error", "服务器内部错误，请稍后再试。"),
]
CATALOGUE = [(re.compile(p, re.I), zh) for p, zh in _ENTRIES]

# By error code, when the message itself is not in the catalogue: (zh, en).
BY_CODE = {
    "missing_field": ("请填写必填项。", "Fill in the required fields."),
    "invalid_field": ("填写的内容格式不正确，请检查后重试。", "A field is not valid; check it and try again."),
    "invalid": ("填写的内容有误，请检查后重试。", "Something in the form is not valid; check it and try again."),
    "invalid_party": ("当事人信息有误，请检查后重试。", "A party's details are not valid."),
    "invalid_unit": ("请选择有效的单位。", "Choose a valid unit."),
    "unknown_unit": ("没有这个单位。", "No such unit."),
    "forbidden": ("您无权执行此操作。", "You are not allowed to do that."),
    "not_found": ("没有找到。", "Not found."),
    "stale_version": ("内容已被他人修改，请刷新页面后重试。", "Someone else changed this; reload and try again."),
    "wrong_state": ("当前状态下不能执行此操作。", "That cannot be done in the current state."),
    "illegal_transition": ("当前状态下不能执行此操作。", "That cannot be done in the current state."),
    "conflict": ("操作与当前状态冲突，请刷新页面后重试。", "That conflicts with the current state; reload and try again."),
    "too_large": ("内容过大。", "Too large."),
    "rate_limited": ("操作过于频繁，请稍后再试。", "Too many requests; try again later."),
    "csrf": ("页面已过期，请刷新页面后重试。", "The page expired; reload it and try again."),
    # Residents' councils (server/councils/rules.py)
    "already_supported": ("该户已经联署过这个议题，每户限一次。", "This household has already supported the topic."),
    "topic_closed": ("这个议题已不再征集联署。", "This topic no longer collects support."),
    "bad_phone": ("请填写11位手机号码。", "Give an 11-digit mobile number."),
    "reason_required": ("不予采纳须写明理由，提议人可以看到。", "Declining needs a reason the proposer can read."),
    "merge_target": ("只能合并到本议事会另一个未办结的议题。", "Merge into another open topic of this council."),
    "not_member": ("只有议事会有表决权的成员才能投票。", "Only the council's voting members vote."),
    "outside_window": ("当前不在投票时间内。", "This vote is not taking ballots now."),
    "already_voted": ("一人一票：您已经投过票了。", "One member, one vote: you have voted."),
    "no_quorum": ("到会人数不足法定人数，不能表决。", "The quorum is not met."),
    "vote_closed": ("表决已结束，不能重新开启；请就新事项另行表决。", "A closed vote cannot be reopened; vote on a new item."),
    "vote_started": ("投票开始后不能更改公开或无记名方式。", "Open or secret is chosen before voting starts."),
    "vote_open": ("表决已经开始。", "This vote is already open."),
    "vote_not_open": ("只有进行中的表决才能结束。", "Only an open vote can be closed."),
    "meeting_not_open": ("会议开始后才能表决。", "Votes are taken while the meeting is in session."),
    "meeting_closed": ("会议已结束。", "The meeting is over."),
    "photo_required": ("请先上传现场照片作为完成凭证。", "Upload a photo as proof first."),
    "task_not_open": ("只有进行中的任务才能办结。", "Only an open task can be completed."),
    "not_decided": ("只有表决通过的事项才能分解任务。", "Tasks follow a vote that passed."),
    "personal_data": ("公示内容含有手机号或身份证号，请删除后再发布。",
                      "The public page would show a phone or ID number; remove it first."),
    "already_member": ("此人已是议事会成员。", "This person already sits on the council."),
    "bad_term": ("任期起止日期有误（最长五年）。", "The term's dates are not valid (at most five years)."),
    "bad_quorum": ("法定人数规则有误。", "The quorum rule is not valid."),
    "bad_window": ("投票时长应在30秒到2小时之间。", "A voting window lasts 30 seconds to 2 hours."),
}
GENERIC = ("操作未能完成，请检查填写的内容后重试。", "That did not work; check the form and try again.")


def localise(text: str | None, lang: str, code: str | None = None) -> str:
    """``text`` in the page's language only (see the module docstring)."""
    if not text:
        return text or ""
    text = pick(text, lang)
    if lang == "en":
        if has_cjk(text) and code in BY_CODE:
            return BY_CODE[code][1]
        return text
    if has_cjk(text):
        return text
    plain = text.strip().rstrip(".")
    for pattern, zh in CATALOGUE:
        m = pattern.fullmatch(plain)
        if m:
            return zh(m) if callable(zh) else zh
    return BY_CODE.get(code or "", GENERIC)[0]


# The keys of a page's context that hold messages for the viewer.
MESSAGE_KEYS = ("ok", "error", "form_error", "message")


def localise_context(ctx: dict[str, Any], lang: str) -> None:
    """Localise the messages in a page's context in place (``errors`` is a field -> message mapping)."""
    for key in MESSAGE_KEYS:
        if isinstance(ctx.get(key), str):
            ctx[key] = localise(ctx[key], lang)
    errors = ctx.get("errors")
    if isinstance(errors, dict):
        ctx["errors"] = {k: localise(v, lang) if isinstance(v, str) else v for k, v in errors.items()}
