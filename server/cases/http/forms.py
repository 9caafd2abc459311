"""Request parsing shared by the case API and the case pages: the list filters from a query string, a new
case from a body, staff named by username."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from server.cases import catalog
from server.cases.queries import CaseFilter, staff_by_username
from server.cases.service import CaseDraft, party_from
from server.cases.workflow import State
from server.errors import ApiError, bad_request, field
from server.services import services


def _date_query(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as e:
        raise bad_request(f"{name} must be a date (YYYY-MM-DD)", "invalid_query") from e


FLAGS = ("1", "0", "true", "false")


async def case_filter(request: web.Request, actor: Any, *, strict: bool = True) -> CaseFilter:
    """The list filters from the query string. ``strict`` (the API) refuses empty or malformed values that
    the page's GET form may leave behind."""
    q = request.query
    if strict:
        for name in ("status", "unit", "from", "to", "page", "per_page", "overdue", "mine"):
            if name in q and q[name] == "":
                raise bad_request(f"{name} is empty", "invalid_query")
        for name in ("overdue", "mine"):
            if name in q and q[name] not in FLAGS:
                raise bad_request(f"{name} must be one of {', '.join(FLAGS)}", "invalid_query")
    statuses = [x for x in q.get("status", "").split(",") if x]
    if any(x not in set(State) for x in statuses):
        raise bad_request("unknown status", "invalid_query")
    unit_path = None
    if q.get("unit"):
        cache = services(request).units_cache
        await cache.all(services(request).db)
        u = cache.by_code.get(q["unit"])
        if u is None:
            raise ApiError(404, "not_found", "unknown unit")
        unit_path = u["path"]
    for name in ("category", "item", "grade", "kind", "source", "q"):
        if len(q.get(name, "")) > 100:
            raise bad_request(f"{name} is too long", "invalid_query")
    return CaseFilter(
        status=statuses or None, category=q.get("category") or None, item=q.get("item") or None,
        grade=q.get("grade") or None, kind=q.get("kind") or None, source=q.get("source") or None,
        unit_path=unit_path, overdue=q.get("overdue") in ("1", "true"), mine=q.get("mine") in ("1", "true"),
        q=q.get("q") or None, opened_from=_date_query(request, "from"), opened_to=_date_query(request, "to"),
    )


async def staff_ids(s: Any, usernames: Any, name: str = "staff") -> list[int]:
    if usernames is None:
        return []
    if not isinstance(usernames, list) or len(usernames) > 50 or not all(isinstance(u, str) for u in usernames):
        raise bad_request(f"{name} must be a list of usernames", "invalid_field", field=name)
    if not usernames:
        return []
    rows = await staff_by_username(s, usernames)
    missing = [u for u in usernames if u not in rows]
    if missing:
        raise bad_request(f"unknown staff: {', '.join(missing[:5])}", "unknown_staff", field=name)
    return [rows[u] for u in usernames]


def draft_from(body: dict[str, Any]) -> CaseDraft:
    parties = body.get("parties") or []
    if not isinstance(parties, list):
        raise bad_request("parties must be a list", "invalid_field", field="parties")
    dv = body.get("domestic_violence")
    dv = False if dv is None else dv
    if not isinstance(dv, bool):
        raise bad_request("domestic_violence must be true or false", "invalid_field", field="domestic_violence")
    return CaseDraft(
        unit_code=field(body, "unit", max_len=32), title=field(body, "title", max_len=200),
        summary=field(body, "summary", required=False, max_len=5000, default=""),
        source=field(body, "source", required=False, max_len=32, default=catalog.Source.WALK_IN),
        kind=field(body, "kind", required=False, max_len=32, default=catalog.Kind.DISPUTE),
        category=field(body, "category", required=False, max_len=32),
        item=field(body, "item", required=False, max_len=32),
        grade=field(body, "grade", required=False, max_len=16), domestic_violence=dv,
        parties=[party_from(p) for p in parties],
    )
