"""A staff join token lives no longer than the login it came from: sign-out and deactivation end it."""

from __future__ import annotations

from server.auth import now_ms
from server.directory.queries import set_active
from server.services import services
from tests.conftest import login
from tests.support.rooms import connect, join, make_session, staff_token


async def refused(client, token: str) -> str:  # type: ignore[no-untyped-def]
    p = await connect(client, token)
    err = await p.expect("error")
    assert await p.closed() == 4401
    return err["code"]


async def test_join_token_is_refused_after_logout(client) -> None:  # type: ignore[no-untyped-def]
    sid, h = await make_session(client)
    token = await staff_token(client, h, sid)
    host = await join(client, token)  # works while logged in
    await host.ws.close()
    assert (await client.post("/api/auth/logout", headers=h)).status == 204
    assert await refused(client, token) == "token_revoked"
    # Every other door that takes a join token says the same.
    r = await client.get(f"/api/sessions/{sid}/minutes", headers={"X-Join-Token": token})
    assert r.status == 401 and (await r.json())["error"]["code"] == "token_revoked"
    r = await client.get(f"/api/join/{token}")
    assert r.status == 401 and (await r.json())["error"]["code"] == "token_revoked"
    assert (await client.get(f"/join/{token}")).status == 401
    # Logging in again gives a new token that works.
    h2 = await login(client, "mediator")
    fresh = await staff_token(client, h2, sid)
    again = await join(client, fresh)
    assert again.welcome["role"] == "host"


async def test_logout_from_another_login_of_the_same_account_also_ends_it(client) -> None:  # type: ignore[no-untyped-def]
    sid, h = await make_session(client)
    token = await staff_token(client, h, sid)
    other = await login(client, "mediator")
    assert (await client.post("/api/auth/logout", headers=other)).status == 204
    assert await refused(client, token) == "token_revoked"


async def test_join_token_is_refused_after_deactivation_even_once_reactivated(client) -> None:  # type: ignore[no-untyped-def]
    sid, h = await make_session(client)
    token = await staff_token(client, h, sid)
    async with services(client.app).db.session() as s:
        await set_active(s, "mediator", False, now_ms())
    services(client.app).actor_cache.forget()
    p = await connect(client, token)
    assert (await p.expect("error"))["code"] == "token_revoked"
    async with services(client.app).db.session() as s:
        await set_active(s, "mediator", True, now_ms())
    assert await refused(client, token) == "token_revoked"


async def test_invitation_links_are_not_tied_to_the_inviters_login(client) -> None:  # type: ignore[no-untyped-def]
    """A party's link is the mediator's gift, not the mediator's session: it survives their sign-out."""
    from tests.support.rooms import invite

    sid, h = await make_session(client)
    inv = await invite(client, h, sid, "张三")
    assert (await client.post("/api/auth/logout", headers=h)).status == 204
    p = await join(client, inv["token"], expect="lobby")
    assert p is not None
