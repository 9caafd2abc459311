"""Domain errors carry a kind, not an HTTP status; the web layer maps every kind in one table, and the
error middleware answers a domain error no handler caught with the usual JSON shape and that status."""

from __future__ import annotations

import pytest
from aiohttp import web

from server.agreements.signing import SigningError
from server.agreements.store import StoreError
from server.cases.errors import Conflict, NotFound, Stale, TooLarge, UnsupportedType, zh_for
from server.errors import error_middleware
from server.failures import DomainError, Kind
from server.http import STATUS, api_error, http_status, kind_of, status_of
from server.security.uploads import UploadRefused
from server.sessions.service import SessionError


def test_every_kind_has_one_status() -> None:
    assert set(STATUS) == set(Kind)
    assert {k: kind_of(s) for k, s in STATUS.items()} == {k: k for k in Kind}
    assert kind_of(405) is None


def test_domain_errors_keep_the_statuses_clients_saw() -> None:
    assert http_status(NotFound("x")) == 404 and NotFound("x").code == "not_found"
    assert http_status(Stale("x")) == 409 and Stale("x").code == "stale_version"
    assert http_status(Conflict("x", "state")) == 409 and Conflict("x", "state").code == "state"
    assert http_status(TooLarge("x")) == 413 and http_status(UnsupportedType("x")) == 415
    assert http_status(SigningError("out_of_order", "m")) == 409
    assert http_status(SigningError("not_a_signer", "m", Kind.FORBIDDEN)) == 403
    assert http_status(SessionError(Kind.GONE, "session_ended", "m")) == 410
    assert http_status(UploadRefused(Kind.UNREADABLE, "unreadable", "无法读取", "cannot be read")) == 422
    e = StoreError(Kind.CONFLICT, "stale_version", "v2 is current", current_version=2)
    api = api_error(e)
    assert (api.status, api.code, api.message, api.extra) == (409, "stale_version", "v2 is current",
                                                              {"current_version": 2})
    assert status_of(api) == 409 and status_of(e) == 409
    for err in (e, NotFound("x"), SessionError(Kind.FORBIDDEN, "forbidden", "m")):
        assert isinstance(err, DomainError) and not hasattr(err, "status")


def test_pages_word_a_refusal_by_its_kind() -> None:
    assert zh_for("nothing_special", Kind.NOT_FOUND) == "未找到该记录。"
    assert zh_for("stale_version", Kind.CONFLICT).startswith("案件已被他人修改")
    assert zh_for("nothing_special", None) == "操作未能完成。"


@pytest.mark.parametrize(("kind", "status"), [(Kind.NOT_FOUND, 404), (Kind.RATE_LIMITED, 429), (Kind.GONE, 410)])
async def test_an_uncaught_domain_error_is_the_json_error_shape(aiohttp_client, kind: Kind,  # type: ignore[no-untyped-def]
                                                                status: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        raise StoreError(kind, "some_code", "some message", field="x")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/thing", handler)
    client = await aiohttp_client(app)
    r = await client.get("/api/thing")
    assert r.status == status
    assert await r.json() == {"error": {"code": "some_code", "message": "some message", "field": "x"}}
