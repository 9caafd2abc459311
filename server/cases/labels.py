"""Bilingual labels of case codes for pages (plain Python)."""

from __future__ import annotations

from collections.abc import Callable

from server.agreements.workflow import EVENT_LABELS as AGREEMENT_EVENTS
from server.cases import catalog, workflow

Tr = Callable[[str, str], str]


def labeller(lang: str) -> dict[str, Callable[..., str]]:
    en = lang == "en"

    def pick(zh: str, eng: str) -> str:
        return eng if en else zh

    def from_labels(items: list[catalog.Label]) -> Callable[[str | None], str]:
        table = {x.code: x for x in items}

        def f(code: str | None) -> str:
            x = table.get(code or "")
            return pick(x.zh, x.en) if x else (code or "—")
        return f

    def state(code: str | None) -> str:
        zh_en = workflow.STATE_LABELS.get(workflow.State(code)) if code in set(workflow.State) else None
        return pick(*zh_en) if zh_en else (code or "—")

    def action(code: str | None) -> str:
        zh_en = workflow.ACTION_LABELS.get(workflow.Action(code)) if code in set(workflow.Action) else None
        return pick(*zh_en) if zh_en else (code or "—")

    def category(code: str | None) -> str:
        lab = catalog.label_of(code) if code else None
        return pick(lab.zh, lab.en) if lab else (code or "—")

    def item(cat: str | None, code: str | None) -> str:
        lab = catalog.label_of(cat, code) if cat and code else None
        return pick(lab.zh, lab.en) if lab else (code or "—")

    def status(code: str | None) -> str:
        zh_en = STATUS_LABELS.get(code or "")
        return pick(*zh_en) if zh_en else (code or "—")

    return {
        "status_label": status,
        "state_label": state,
        "action_label": action,
        "category_label": category,
        "item_label": item,
        "grade_label": from_labels(catalog.GRADES),
        "source_label": from_labels(catalog.SOURCES),
        "kind_label": from_labels(catalog.KINDS),
        "party_role_label": from_labels(catalog.PARTY_ROLES),
        "dv_stage_label": from_labels(catalog.DV_STAGES),
    }


# Statuses of the work around a case (consultations, supervision, petitions, obligations, sessions).
STATUS_LABELS = {
    "requested": ("待接受", "Requested"), "accepted": ("已接受", "Accepted"), "declined": ("已婉拒", "Declined"),
    "completed": ("已完成", "Completed"), "cancelled": ("已撤回", "Cancelled"), "open": ("待回复", "Open"),
    "responded": ("已回复", "Answered"), "registered": ("已登记", "Registered"),
    "hearing_scheduled": ("已安排听证", "Hearing scheduled"), "heard": ("已听证", "Heard"),
    "replied": ("已答复", "Replied"), "pending": ("待履行", "Pending"), "performed": ("已履行", "Performed"),
    "partial": ("部分履行", "Partly performed"), "not_performed": ("未履行", "Not performed"),
    "mediation": ("调解", "Mediation"), "consultation": ("远程指导", "Consultation"), "petition": ("信访听证", "Petition"),
    "dispatch": ("调度", "Dispatch"), "scheduled": ("已安排", "Scheduled"), "live": ("进行中", "Live"),
    "ended": ("已结束", "Ended"), "interrupted": ("已中断", "Interrupted"), "expert": ("专家", "Expert"),
    "panel": ("听证组", "Panel"), "visit": ("上门", "Visit"), "phone": ("电话", "Phone"), "video": ("视频", "Video"),
    "low": ("低", "Low"), "medium": ("中", "Medium"), "high": ("高", "High"), "draft": ("草稿", "Draft"),
    "frozen": ("待签署", "Frozen"), "signing": ("签署中", "Signing"), "effective": ("已生效", "Effective"),
    "withdrawn": ("已撤回", "Withdrawn"), "voided": ("已作废", "Voided"), "superseded": ("已被变更", "Superseded"),
}

EVENT_LABELS = {
    "case.registered": ("登记", "Registered"),
    "case.edited": ("修改", "Edited"),
    "case.overdue": ("超期预警", "Overdue warning"),
    "case.due_soon": ("临期提醒", "Due-soon reminder"),
    "document.added": ("上传材料", "Document added"),
    "supervision.issued": ("督办", "Supervision order"),
    "supervision.responded": ("督办回复", "Supervision answered"),
    "supervision.overdue": ("督办逾期", "Supervision overdue"),
    "follow_up.recorded": ("回访", "Follow-up visit"),
    "obligations.added": ("履行事项", "Obligations recorded"),
    "obligation.follow_up_due": ("回访提醒", "Follow-up due"),
    "consultation.requested": ("请求远程指导", "Consultation requested"),
    "consultation.accepted": ("专家接受", "Expert accepted"),
    "consultation.declined": ("专家未接受", "Expert declined"),
    "consultation.opinion": ("专家意见", "Expert opinion"),
    "consultation.cancelled": ("撤回指导请求", "Consultation cancelled"),
    "session.scheduled": ("安排视频会议", "Session scheduled"),
    "petition.registered": ("信访登记", "Petition registered"),
    "petition.hearing_scheduled": ("安排听证", "Hearing scheduled"),
    "petition.outcome": ("听证结果", "Hearing outcome"),
    "petition.replied": ("信访答复", "Petition answered"),
    "petition.reply_overdue": ("答复逾期", "Reply overdue"),
    "dv.response": ("家暴处置措施", "DV response"),
    "dv.joint_override": ("同室调解授权", "Joint-room override"),
    "access.named": ("授权人员变更", "Named staff changed"),
    "notice.published": ("通报", "Notice"),
    "case.intake": ("群众求助", "Resident request"),
    "case.routed": ("案件流转", "Case routed"),
    "case.assigned": ("指派案件", "Case assigned"),
    "petition.hearing": ("信访听证", "Petition hearing"),
}  # agreement.* events are labelled by the agreements module (server.agreements.workflow.EVENT_LABELS)

# Event types added later still get a readable label by their family, never the raw code.
EVENT_FAMILIES = {
    "case": ("案件办理", "Case event"), "agreement": ("调解协议", "Agreement event"),
    "document": ("证据材料", "Document event"), "supervision": ("督办", "Supervision event"),
    "consultation": ("远程指导", "Consultation event"), "petition": ("信访", "Petition event"),
    "session": ("视频会议", "Session event"), "obligation": ("履行事项", "Obligation event"),
    "obligations": ("履行事项", "Obligation event"), "follow_up": ("回访", "Follow-up event"),
    "dv": ("家暴处置", "DV event"), "access": ("授权人员", "Access event"), "notice": ("通报", "Notice"),
}


def event_label(type_: str, lang: str) -> str:
    en = lang == "en"
    if type_ in EVENT_LABELS:
        zh, eng = EVENT_LABELS[type_]
        return eng if en else zh
    if type_.startswith("agreement."):

        if type_ in AGREEMENT_EVENTS:
            return AGREEMENT_EVENTS[type_][1 if en else 0]
    if type_.startswith("case.") and type_[5:] in set(workflow.Action):
        zh, eng = workflow.ACTION_LABELS[workflow.Action(type_[5:])]
        return eng if en else zh
    zh, eng = EVENT_FAMILIES.get(type_.split(".", 1)[0], ("其他记录", "Other event"))
    return eng if en else zh


def notification_title(kind: str, title: str, lang: str) -> str:
    """Stored titles are Chinese ("label：subject"); an English reader gets the kind's label with the subject."""
    if lang != "en":
        return title
    head, sep, rest = title.partition("：")
    return f"{event_label(kind, lang)}: {rest}" if sep else title
