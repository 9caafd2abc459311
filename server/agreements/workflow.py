"""The agreement's life: draft → signing → effective, with withdrawal, voiding and amendment. Plain Python.

A frozen (signing) or effective agreement cannot be edited: any change is refused with 409. An amendment is
a new agreement whose first version references the old one; when it becomes effective the old one is
superseded. Withdrawal (before effect) and voiding (after, e.g. by a court) need a reason.
"""

from __future__ import annotations

DRAFT, SIGNING, EFFECTIVE = "draft", "signing", "effective"
WITHDRAWN, VOIDED, SUPERSEDED = "withdrawn", "voided", "superseded"
STATES = (DRAFT, SIGNING, EFFECTIVE, WITHDRAWN, VOIDED, SUPERSEDED)
STATE_LABELS = {DRAFT: ("草稿", "Draft"), SIGNING: ("签署中", "Signing"), EFFECTIVE: ("已生效", "Effective"),
                WITHDRAWN: ("已撤回", "Withdrawn"), VOIDED: ("已作废", "Voided"),
                SUPERSEDED: ("已被变更", "Superseded")}

# action -> (states it is allowed from, resulting state or None when unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "edit": (frozenset({DRAFT}), DRAFT),
    "freeze": (frozenset({DRAFT}), SIGNING),
    "reopen": (frozenset({SIGNING}), DRAFT),  # only while nobody has signed
    "sign": (frozenset({SIGNING}), SIGNING),
    "complete": (frozenset({SIGNING}), EFFECTIVE),
    "withdraw": (frozenset({DRAFT, SIGNING}), WITHDRAWN),
    "void": (frozenset({EFFECTIVE}), VOIDED),
    "amend": (frozenset({EFFECTIVE}), None),
    "supersede": (frozenset({EFFECTIVE}), SUPERSEDED),
    "record_performance": (frozenset({EFFECTIVE}), None),
}


class WorkflowError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def transition(state: str, action: str, *, signatures: int = 0, reason: str = "") -> str:
    """The state after ``action``; refuses what the state does not allow (the web layer answers 409)."""
    if action not in TRANSITIONS:
        raise WorkflowError("unknown_action", f"unknown action {action!r}")
    allowed, result = TRANSITIONS[action]
    if state not in allowed:
        if action == "edit" and state in (SIGNING, EFFECTIVE):
            raise WorkflowError("frozen", "a frozen or signed agreement cannot be edited; "
                                "reopen it before anyone signs, or amend it once effective")
        raise WorkflowError("illegal_transition", f"cannot {action} an agreement that is {state}")
    if action == "reopen" and signatures:
        raise WorkflowError("already_signed", "signing has started; withdraw it instead of editing")
    if action in ("withdraw", "void") and not reason.strip():
        raise WorkflowError("reason_required", f"a reason is required to {action}")
    return result or state


# What each ledgered agreement event (``agreement.<type>``) is called where people read a timeline.
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "agreement.created": ("协议草稿创建", "Agreement drafted"),
    "agreement.version_saved": ("协议草稿修改", "Agreement draft revised"),
    "agreement.frozen": ("协议定稿，开始签署", "Agreement frozen for signing"),
    "agreement.reopened": ("协议退回草稿", "Agreement reopened"),
    "agreement.withdrawn": ("协议撤回", "Agreement withdrawn"),
    "agreement.voided": ("协议作废", "Agreement voided"),
    "agreement.amendment_started": ("协议变更", "Agreement amendment started"),
    "agreement.superseded": ("协议被变更取代", "Agreement superseded"),
    "agreement.signed": ("协议签署", "Agreement signed"),
    "agreement.effective": ("协议生效", "Agreement took effect"),
    "agreement.handed_to_case": ("履行义务转入回访", "Obligations handed to follow-up"),
    "agreement.case_note": ("协议与案件备注", "Agreement note on the case"),
    "agreement.comment": ("协议条款意见", "Comment on the agreement"),
    "agreement.identity_check": ("签署人身份核验", "Signer identity check"),
    "agreement.text_opened": ("当事人打开协议全文", "Party opened the full text"),
    "agreement.presented": ("会议中展示协议", "Agreement presented in a session"),
    "agreement.presentation_ended": ("停止展示协议", "Agreement no longer presented"),
    "agreement.sign_link_created": ("生成当事人签署链接", "Signing link made for a party"),
    "agreement.performance": ("协议履行记录", "Performance recorded"),
}
