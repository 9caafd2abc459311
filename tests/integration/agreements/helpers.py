"""Shared steps for the agreement API tests."""

from __future__ import annotations

from typing import Any

from server.directory.demo import DEMO_PASSWORD
from tests.support.agreement_sample import sample_content, stroke_png

PNG_URL = "data:image/png;base64,"


def data_url(seed: int = 0) -> str:
    import base64

    return PNG_URL + base64.b64encode(stroke_png(seed)).decode()


def content(**over: Any) -> dict[str, Any]:
    d = sample_content().to_dict()
    for k in ("number", "unit_code", "unit_name"):
        d.pop(k)
    d.update(over)
    return d


async def mediator_name(client, headers) -> str:  # type: ignore[no-untyped-def]
    r = await client.get("/api/auth/me", headers=headers)
    return (await r.json())["name"]


async def create_frozen(client, headers, **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    name = await mediator_name(client, headers)
    r = await client.post("/api/agreements", json={"content": content(mediator_name=name, **over)}, headers=headers)
    assert r.status == 201, await r.text()
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": a["version"]}, headers=headers)
    assert r.status == 200, await r.text()
    return await r.json()


def mediator_body(a: dict[str, Any], name: str, **over: Any) -> dict[str, Any]:
    body = {"version": a["version"], "document_hash": a["document_hash"], "consent": True,
            "password": DEMO_PASSWORD, "typed_name": name, "image": data_url(7)}
    body.update(over)
    return body


async def check_ticket(client, aid: int, cred: dict[str, str], answer: str) -> str:  # type: ignore[no-untyped-def]
    """A party's identity check (``cred`` is {"invitation": ...} or {"link": ...}): the ticket it gives."""
    r = await client.post(f"/api/agreements/{aid}/party/check", json={**cred, "answer": answer})
    assert r.status == 200, await r.text()
    return str((await r.json())["ticket"])
