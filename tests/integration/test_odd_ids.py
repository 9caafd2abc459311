"""Odd path and query values on every route of the app (API and pages): ids beyond the database's range,
non-ASCII digits, and segments that are not UTF-8 text are a 4xx (404, 400 or 422), never a 500, on SQLite
and PostgreSQL. The routes come from the app's router, so a new route is covered without listing it."""

from __future__ import annotations

import re

import pytest

from server.api import openapi
from server.http import MAX_ID, parse_id
from tests.conftest import login
from tests.integration.cases.helpers import create
from tests.support.rooms import make_session

ODD = ["99999999999999999999999", str(2**63), str(2**63 - 1), str(MAX_ID + 1), "0", "-1", "%C2%B2", "%D9%A3",
       "%ED%A0%80", "%FF", "%C0%80", "1e3", "%20"]
# What a refusal may be; 405 for a method the route does not have, 403 for a write the caller may not make.
FINE = {400, 401, 403, 404, 405, 409, 413, 415, 422}
PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def test_parse_id() -> None:
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID
    for bad in (None, "", "0", "-1", str(MAX_ID + 1), "²", "٣", " 1", "1 ", "+1", "1_0", "9" * 30):
        assert parse_id(bad) is None, bad


def test_openapi_states_the_id_range() -> None:
    doc = openapi.build()
    ids = [p["schema"] for ops in doc["paths"].values() for op in ops.values() for p in op.get("parameters", [])
           if p["in"] == "path" and p["schema"].get("type") == "integer"]
    assert ids and all(s == {"type": "integer", "minimum": 1, "maximum": MAX_ID} for s in ids)
    assert str(MAX_ID) in doc["info"]["description"]


async def test_odd_path_ids_are_never_a_500(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "admin")
    case = await create(client)  # so that id 1 and a real code exist and handlers reach the odd parameter
    await make_session(client)
    routes = sorted({(route.method, route.resource.canonical) for route in client.app.router.routes()
                     if route.resource is not None and PARAM.search(route.resource.canonical)
                     and route.method != "HEAD" and not route.resource.canonical.startswith("/static")})
    assert len(routes) > 40
    seen = 0
    for method, template in routes:
        names = PARAM.findall(template)
        for name in names:
            for odd in ODD:
                path = template
                for other in names:
                    value = odd if other == name else (case["code"] if other == "code" else "1")
                    path = re.sub(r"\{" + re.escape(other) + r"(?::[^}]*)?\}", value, path)
                kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                r = await client.request(method, path, headers=h, allow_redirects=False, **kw)
                seen += 1
                assert r.status in FINE or r.status < 400, (method, path, r.status, (await r.text())[:300])
    assert seen > 40 * len(ODD)


@pytest.mark.parametrize("query", [
    "/api/sessions?case_id=99999999999999999999999", f"/api/sessions?case_id={MAX_ID + 1}", "/api/sessions?case_id=0",
    "/api/sessions?case_id=%C2%B2", "/api/sessions?limit=99999999999999999999", "/api/agreements?case_id=" + "9" * 30,
    "/api/cases?page=99999999999999999999", "/api/cases?per_page=%D9%A3",
])
async def test_odd_query_ids_are_a_4xx(client, query: str) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "admin")
    r = await client.get(query, headers=h)
    assert r.status in (400, 422), (r.status, await r.text())
    assert "error" in await r.json()
