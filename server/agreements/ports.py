"""What the agreements module asks of the case module, as a small interface (wired in ``server.app``).

Agreements never import ``server.cases``: the case module implements ``CaseLink``
(``server.cases.agreement_link``) and the app hands it to the agreements feature. The flows:

- drafting: find a case the actor may see, prefill a draft from it, list the cases still open;
- "an agreement was frozen / took effect, so move its case along" (``frozen``, ``took_effect``);
- performance: a proof names a case's evidence upload, and an obligation's status is mirrored on the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from server.failures import DomainError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.directory.models import Unit
    from server.policy import Actor


class CaseLinkError(DomainError):
    """The case an agreement names cannot be used (unknown, not visible, or not in a fitting state)."""


class CaseLink(Protocol):
    async def visible_case(self, s: AsyncSession, actor: Actor, case_id: int, *, now: datetime) -> Any:
        """The case, if the actor may see it at ``now``; otherwise ``CaseLinkError`` (not found)."""

    async def visible_case_by_code(self, s: AsyncSession, actor: Actor, code: str, *, now: datetime) -> Any:
        """The case named by its code (340321-2026-000002), if the actor may see it; otherwise not found."""

    async def case_code(self, s: AsyncSession, case_id: int | None) -> str:
        """The case's code for links and labels; "" without a case."""

    async def may_reveal(self, s: AsyncSession, actor: Actor, case_id: int | None, *, now: datetime) -> bool:
        """Whether the actor sees confidential party details (the case's ``reveal_confidential`` rule)."""

    async def open_cases(self, s: AsyncSession, actor: Actor, limit: int = 200, *,
                         now: datetime) -> list[tuple[str, str]]:
        """(code, title) of the visible cases that may still get an agreement."""

    async def prefill(self, s: AsyncSession, actor: Actor, case_id: int, unit: Unit,
                      dispute_type: str | None, *, now: datetime) -> dict[str, Any]:
        """A draft's content prefilled from the case's parties and facts."""

    async def frozen(self, s: AsyncSession, case_id: int | None, agreement_id: int, *, now: datetime) -> str | None:
        """An agreement was frozen for signature: move the case on. Returns what was not done."""

    async def took_effect(self, s: AsyncSession, secret: bytes, agreement_id: int, case_id: int | None,
                          obligations: list[dict[str, Any]], *, now: datetime) -> str | None:
        """An agreement took effect: advance its case, hand the obligations to its follow-ups."""

    async def proof_document(self, s: AsyncSession, case_id: int | None, sha256: str) -> tuple[str, str] | None:
        """The case's evidence upload with this SHA-256, as (filename, content type)."""

    async def performance(self, s: AsyncSession, agreement_id: int, case_id: int | None, content: str,
                          status: str) -> bool:
        """Mirror an obligation's performance onto the case's obligation."""
