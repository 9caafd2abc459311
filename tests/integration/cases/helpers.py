"""Shared helpers for the case API tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import login

_tokens: dict[tuple[int, str], dict[str, str]] = {}


async def hdr(client, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    key = (id(client), username)
    if key not in _tokens:
        _tokens[key] = await login(client, username)
    return _tokens[key]


async def create(client, username: str = "mediator", **body: Any) -> dict:  # type: ignore[no-untyped-def]
    payload = {"unit": "340321001", "title": "张三与李四宅基地边界纠纷", "summary": "两家因地界发生争执",
               "category": "disputes", "item": "land_boundary", "source": "walk_in",
               "parties": [{"role": "applicant", "name": "张三", "phone": "13800001111", "address": "新华村1组"},
                           {"role": "respondent", "name": "李四", "phone": "13900002222"}]}
    payload.update(body)
    r = await client.post("/api/cases", json=payload, headers=await hdr(client, username))
    assert r.status == 201, await r.text()
    return await r.json()


async def act(client, username: str, code: str, action: str, status: int = 200, **body: Any) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/cases/{code}/transitions", json={"action": action, **body},
                          headers=await hdr(client, username))
    data = await r.json()
    assert r.status == status, data
    return data


async def get(client, username: str, code: str, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/cases/{code}", headers=await hdr(client, username))
    data = await r.json()
    assert r.status == status, data
    return data
