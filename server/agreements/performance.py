"""Performance of each obligation after the agreement takes effect; feeds the follow-up visits (回访)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.agreements.content import AgreementContent

# The same words as the case module's follow-up visits (cases.catalog.PERFORMANCE).
PENDING, PERFORMED, PARTIAL, NOT_PERFORMED = "pending", "performed", "partial", "not_performed"
STATUSES = (PENDING, PERFORMED, PARTIAL, NOT_PERFORMED)
STATUS_LABELS = {PENDING: ("待履行", "Pending"), PERFORMED: ("已履行", "Performed"),
                 PARTIAL: ("部分履行", "Partly performed"), NOT_PERFORMED: ("未履行", "Not performed")}
FINAL = {PERFORMED}


class PerformanceError(ValueError):
    pass


@dataclass(frozen=True)
class ObligationProgress:
    key: str
    status: str
    deadline: str
    overdue: bool
    note: str = ""
    proof_sha256: str | None = None
    updated_at: str | None = None

    def as_dict(self) -> dict:
        return {"key": self.key, "status": self.status, "deadline": self.deadline, "overdue": self.overdue,
                "note": self.note, "proof_sha256": self.proof_sha256, "updated_at": self.updated_at}


def check_update(content: AgreementContent, key: str, status: str, note: str) -> None:
    try:
        content.obligation(key)
    except KeyError as e:
        raise PerformanceError(f"no obligation {key!r} in this agreement") from e
    if status not in STATUSES:
        raise PerformanceError(f"status must be one of {', '.join(STATUSES)}")
    if status != PENDING and not note.strip():
        raise PerformanceError("describe the proof of performance (or what was not done)")


def progress(content: AgreementContent, latest: dict[str, dict], today: date) -> list[ObligationProgress]:
    """Each obligation's current status from its latest update; overdue when the deadline passed unfinished."""
    out = []
    for o in content.obligations:
        u = latest.get(o.key) or {}
        status = u.get("status", PENDING)
        overdue = bool(o.deadline) and status not in FINAL and date.fromisoformat(o.deadline) < today
        out.append(ObligationProgress(o.key, status, o.deadline, overdue, u.get("note", ""),
                                      u.get("proof_sha256"), u.get("at")))
    return out
