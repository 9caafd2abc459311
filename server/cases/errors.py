"""Domain errors of the case module; the web layer (server.http) maps ``kind`` and ``code`` onto its JSON
error shape.

``message`` is English (API clients read it); pages show ``localized(lang)``: the Chinese text given with
the error, else one kept for its code, else one for its kind. A zh page never shows the English text.
"""

from __future__ import annotations

from server.failures import DomainError, Kind

# Chinese text per error code, for errors raised without their own.
ZH_BY_CODE = {
    "stale_version": "案件已被他人修改，请刷新页面后重试。",
    "reason_required": "请填写理由。",
    "unit_required": "请选择目标单位。",
    "unknown_unit": "没有这个单位。",
    "invalid_unit": "不能流转到该单位。",
    "invalid_grade": "请选择风险等级。",
    "invalid_category": "请从列表中选择类别与事项。",
    "assignees_required": "请至少选择一名承办人。",
    "invalid_staff": "所选人员不能办理此案件。",
    "illegal_transition": "案件当前状态下不能执行此操作。",
    "unknown_action": "没有这个操作。",
    "triage_required": "请先分流（确定类别与风险等级）再受理。",
    "follow_up_required": "结案前须至少完成一次回访。",
    "case_finished": "案件已办结，不能再修改。",
    "not_handling": "只有办理中的案件才能调整风险等级。",
    "missing_field": "请填写必填项。",
    "invalid_field": "填写的内容有误，请检查后重试。",
    "invalid_party": "当事人信息有误，请检查后重试。",
    "invalid_source": "请选择案件来源。",
    "invalid_kind": "请选择案件类型。",
    "version_required": "页面已过期，请刷新后重试。",
    "no_changes": "没有需要保存的修改。",
    "dv_locked": "家暴案件始终限定人员查看。",
    "not_restricted": "只有限定人员的案件才有授权名单。",
    "last_named": "至少保留一名承办人在授权名单中。",
    "empty_file": "文件为空。",
    "too_many_documents": "本案材料数量已达上限。",
    "wrong_state": "案件当前状态下不能执行此操作。",
    "not_dv": "此操作只适用于家暴案件。",
    "session_over": "会议已结束。",
    "already_overridden": "已授权同室调解。",
    "invalid_expert": "该专家不能为本案提供指导。",
    "expert_required": "限定人员的案件须指定专家。",
    "no_expert": "没有该专长的专家服务本单位。",
    "not_open": "该请求已处理。",
    "not_targeted": "未指定专家的请求无需婉拒，留给其他专家即可。",
    "not_accepted": "该指导请求尚未被接受。",
    "grant_expired": "对本案的授权已过期。",
    "already_responded": "该督办已回复。",
    "already_heard": "听证已举行。",
    "no_hearing": "请先安排听证。",
    "no_outcome": "请先记录听证结果。",
    "restricted_case": "通报中不能提及限定人员的案件。",
    "invalid_obligation": "履行事项填写有误，请检查后重试。",
    "invalid_transition_input": "填写的内容不完整，请检查后重试。",
}
ZH_BY_KIND = {
    Kind.INVALID: "填写的内容有误，请检查后重试。",
    Kind.FORBIDDEN: "您无权执行此操作。",
    Kind.NOT_FOUND: "未找到该记录。",
    Kind.CONFLICT: "当前状态下不能执行此操作。",
    Kind.TOO_LARGE: "文件过大。",
    Kind.UNREADABLE: "文件无法读取。",
    Kind.UNSUPPORTED: "文件类型不支持，请上传照片（JPEG、PNG、WebP、HEIC）或PDF。",
}


def zh_for(code: str, kind: Kind | None) -> str:
    return ZH_BY_CODE.get(code) or (ZH_BY_KIND.get(kind) if kind is not None else None) or "操作未能完成。"


class CaseError(DomainError):
    kind = Kind.INVALID
    code = "invalid"

    def __init__(self, message: str, code: str | None = None, *, zh: str | None = None) -> None:
        super().__init__(self.kind, code or self.code, message)
        self.zh = zh

    def localized(self, lang: str) -> str:
        """The message for a page in ``lang``."""
        if lang == "en":
            return self.message
        return self.zh or zh_for(self.code, self.kind)


class Invalid(CaseError):
    kind = Kind.INVALID
    code = "invalid"


class NotFound(CaseError):
    """Also what unlisted staff get for a restricted case: its existence is not confirmed."""

    kind = Kind.NOT_FOUND
    code = "not_found"


class Denied(CaseError):
    kind = Kind.FORBIDDEN
    code = "forbidden"


class Stale(CaseError):
    kind = Kind.CONFLICT
    code = "stale_version"


class Conflict(CaseError):
    kind = Kind.CONFLICT
    code = "conflict"


class TooLarge(CaseError):
    kind = Kind.TOO_LARGE
    code = "too_large"


class Unreadable(CaseError):
    """A file of an accepted type that cannot be read (truncated, damaged, or unsupported inside)."""

    kind = Kind.UNREADABLE
    code = "unreadable"


class UnsupportedType(CaseError):
    kind = Kind.UNSUPPORTED
    code = "unsupported_media_type"
