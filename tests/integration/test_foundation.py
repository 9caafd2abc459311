from server.services import services
from tests.conftest import login


async def test_healthz(client) -> None:
    r = await client.get("/healthz")
    assert r.status == 200
    assert (await r.json())["status"] == "ok"


async def test_login_and_units(client) -> None:
    h = await login(client)
    r = await client.get("/api/units", headers=h)
    assert r.status == 200
    units = (await r.json())["units"]
    assert len(units) >= 90
    by_code = {u["code"]: u for u in units}
    assert by_code["340300"] == {"code": "340300", "name": "蚌埠市", "tier": "city", "parent": None}
    assert by_code["340321"]["parent"] == "340300"


async def test_township_sees_only_its_subtree(client) -> None:
    h = await login(client, "mediator")  # 龙亢镇
    units = (await (await client.get("/api/units", headers=h)).json())["units"]
    assert {u["tier"] for u in units} == {"township", "village"}
    assert all(u["code"].startswith("340321001") for u in units)


async def test_wrong_password_same_message_for_unknown_user(client) -> None:
    a = await client.post("/api/auth/login", json={"username": "admin", "password": "nope-nope"})
    b = await client.post("/api/auth/login", json={"username": "ghost", "password": "nope-nope"})
    assert a.status == b.status == 401
    assert (await a.json())["error"]["message"] == (await b.json())["error"]["message"]


async def test_malformed_json_is_400(client) -> None:
    r = await client.post("/api/auth/login", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "invalid_json"


async def test_no_token_is_401(client) -> None:
    r = await client.get("/api/units")
    assert r.status == 401
    assert "error" in await r.json()


async def test_api_logout_ends_every_session_of_the_account(client, aiohttp_client, config) -> None:
    from server.app import create_app

    laptop, phone = await login(client, "mediator"), await login(client, "mediator")
    other = await login(client, "admin")
    node2 = await aiohttp_client(create_app(config))  # a second node on the same database
    assert (await node2.get("/api/auth/me", headers=phone)).status == 200  # now cached there
    assert (await client.post("/api/auth/logout")).status == 401
    r = await client.post("/api/auth/logout", headers=laptop)
    assert r.status == 204
    for h in (laptop, phone):
        r = await client.get("/api/auth/me", headers=h)
        assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
    services(node2.app).actor_cache.forget()  # what its cache's few seconds of grace come to
    assert (await node2.get("/api/auth/me", headers=phone)).status == 401
    assert (await client.get("/api/auth/me", headers=other)).status == 200  # other accounts untouched
    async with services(client.app).db.read() as s:
        from server import ledger
        from server.ledger_store import events, verify_chain

        signed_out = [e for e in await events(s, ledger.DIRECTORY_CHAIN) if e.type == "account.signed_out"]
        assert [e.data["username"] for e in signed_out] == ["mediator"] and signed_out[0].data["via"] == "api"
        assert (await verify_chain(s, ledger.DIRECTORY_CHAIN)).ok
    again = await login(client, "mediator")  # logging in again works at once
    assert (await client.get("/api/auth/me", headers=again)).status == 200


async def test_new_password_or_deactivation_ends_sessions(client) -> None:
    from server.auth import now_ms
    from server.directory.queries import set_active, set_password

    h = await login(client, "mediator")
    async with services(client.app).db.session() as s:
        await set_password(s, "mediator", "新的密码-long-enough", now_ms())
    services(client.app).actor_cache.forget()  # as on a node that did not make the change, after a few seconds
    assert (await client.get("/api/auth/me", headers=h)).status == 401
    old = await client.post("/api/auth/login", json={"username": "mediator", "password": "concord-demo-2026"})
    assert old.status == 401
    h = await login(client, "mediator", "新的密码-long-enough")
    async with services(client.app).db.session() as s:
        await set_active(s, "mediator", False, now_ms())
    services(client.app).actor_cache.forget()
    assert (await client.get("/api/auth/me", headers=h)).status == 401
    r = await client.post("/api/auth/login", json={"username": "mediator", "password": "新的密码-long-enough"})
    assert r.status == 401
    async with services(client.app).db.session() as s:
        await set_active(s, "mediator", True, now_ms())
    await login(client, "mediator", "新的密码-long-enough")
