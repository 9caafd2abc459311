"""/api/openapi.json is a valid OpenAPI 3 document, covers every /api route, and the answers match it."""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.conftest import login


async def _doc(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await client.get("/api/openapi.json")
    assert r.status == 200
    return await r.json()


async def test_document_is_valid_openapi(client) -> None:
    doc = await _doc(client)
    validate(doc)
    assert doc["openapi"].startswith("3.")


async def test_document_covers_every_api_route(client) -> None:
    doc = await _doc(client)
    registered = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api") and route.method not in ("HEAD", "*"):
            registered.add((path, route.method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert registered, "no /api routes found"
    assert registered - documented == set(), "routes missing from the OpenAPI document"
    assert documented - registered == set(), "documented routes that do not exist"


async def test_every_operation_documents_errors(client) -> None:
    doc = await _doc(client)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "400" in op["responses"], (method, path)
            if op.get("security") != []:
                assert "401" in op["responses"], (method, path)
            for code, resp in op["responses"].items():
                if code.startswith("4"):
                    assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def _check(doc: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    """Validate a real answer against the schema the document declares for it."""
    schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    OAS30Validator({"allOf": [schema], "components": doc["components"]}).validate(body)


async def test_answers_match_their_schemas(client) -> None:
    doc = await _doc(client)
    h = await login(client, "admin_340321")
    r = await client.post("/api/auth/login", json={"username": "mediator", "password": "concord-demo-2026"})
    _check(doc, "/api/auth/login", "post", 200, await r.json())
    for path, url in [("/api/auth/me", "/api/auth/me"), ("/api/units", "/api/units"),
                      ("/api/units/{code}", "/api/units/340321"), ("/api/staff", "/api/staff"),
                      ("/api/experts", "/api/experts")]:
        r = await client.get(url, headers=h)
        assert r.status == 200, url
        _check(doc, path, "get", 200, await r.json())
    r = await client.post("/api/staff", json={"username": "doc_check", "role": "expert", "unit": "340321",
                                              "password": "long-enough-pw", "specialties": ["land"]}, headers=h)
    _check(doc, "/api/staff", "post", 201, await r.json())
    for status, url in [(401, "/api/units"), (404, "/api/units/nope")]:
        r = await client.get(url, headers=h if status != 401 else {})
        assert r.status == status
        _check(doc, "/api/units/{code}" if "nope" in url else "/api/units", "get", status, await r.json())
