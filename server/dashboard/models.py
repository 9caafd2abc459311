"""``case_rollup``: per unit, per dimension bucket, the additive sums of ``figures.Measures``.

Kept exact by triggers on ``cases`` (see ``rollup_sql``). Restricted (domestic-violence) cases are kept in
rows of their own (``restricted`` is part of the key), so unrestricted figures never include them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.cases.models import Case, PathString
from server.db.base import Base


class CaseRollup(Base):
    __tablename__ = "case_rollup"
    __table_args__ = (Index("ix_case_rollup_time", "dim", "restricted", "bucket", "unit_path", "n"),)

    # all | category | grade | status | opened | resolved
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    restricted: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    unit_path: Mapped[str] = mapped_column(PathString, primary_key=True)
    # The category, grade or status code, or the week's Monday (YYYY-MM-DD); "" for "all" and for unset.
    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    handling: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    timed: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    days_sum: Mapped[float] = mapped_column(Float, default=0.0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    sat_sum: Mapped[float] = mapped_column(Float, default=0.0)


# The overdue list picks its 50 earliest deadlines from this index alone (migration 0009).
Index("ix_cases_dash_overdue", Case.restricted, Case.status, Case.unit_path, Case.due_at, Case.id)

