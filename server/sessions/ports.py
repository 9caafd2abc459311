"""What the sessions module asks of the case module, as a small interface (wired in ``server.app``).

"A session belongs to a case, so ask the case for access": sessions never import ``server.cases``; the case
module implements ``CaseGate`` (``server.cases.session_link``) and the app hands it to the sessions feature.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.policy import Actor


class CaseGate(Protocol):
    async def settings_for_case(self, s: AsyncSession, actor: Actor, case_id: Any, *,
                                now: datetime) -> dict[str, Any] | None:
        """The settings of a new session linked to ``case_id``; None when the actor cannot see that case
        at ``now`` (the app clock's)."""

    async def case_id_for(self, s: AsyncSession, actor: Actor, ref: str, now: datetime) -> int | None:
        """The id of the case a person names in a form (its code), if the actor may see it."""

    async def pick_list(self, s: AsyncSession, actor: Actor, now: datetime) -> list[tuple[str, str]]:
        """(code, title) of the actor's open cases, for a form's case picker."""

    async def codes_by_id(self, s: AsyncSession, ids: set[int]) -> dict[int, str]:
        """Case id -> case code, for pages that hold only the id."""
