"""The printable session record and the playback page render for the right people."""

from __future__ import annotations

from sqlalchemy import select

from server import ledger
from server.directory.models import Unit
from server.ledger_store import append
from server.services import services
from server.sessions.models import Session


async def _browser_login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    from server.directory.demo import DEMO_PASSWORD

    r = await client.get("/login")
    html = await r.text()
    token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
                          allow_redirects=False)
    assert r.status in (302, 303), await r.text()


async def test_record_page_shows_timeline_and_verification(client) -> None:  # type: ignore[no-untyped-def]
    async with services(client.app).db.session() as s:
        unit = (await s.execute(select(Unit).where(Unit.code == "340321001"))).scalar_one()
        sess = Session(kind="mediation", title="邻里纠纷", unit_id=unit.id, state="ended", settings={})
        s.add(sess)
        await s.flush()
        sid = sess.id
        await append(s, ledger.session_chain(sid), "consent", {"peer": "p1", "name": "张三", "recording": False})
        await append(s, ledger.session_chain(sid), "chat", {"peer": "p1", "name": "张三", "text": "我不同意录像"})
    assert (await client.get(f"/sessions/{sid}/record", allow_redirects=False)).status in (302, 303)
    await _browser_login(client, "mediator")
    r = await client.get(f"/sessions/{sid}/record")
    html = await r.text()
    assert r.status == 200
    assert "时间线" in html and "录像同意" in html and "我不同意录像" in html and "校验通过" in html
    r = await client.get(f"/sessions/{sid}/playback")
    assert r.status == 200 and "回放" in await r.text()
    r = await client.get(f"/sessions/{sid}/record?lang=en")
    assert "Timeline" in await r.text()


async def test_record_page_hidden_from_other_branch(client) -> None:  # type: ignore[no-untyped-def]
    async with services(client.app).db.session() as s:
        unit = (await s.execute(select(Unit).where(Unit.code == "340321001"))).scalar_one()
        sess = Session(kind="mediation", title="x", unit_id=unit.id, state="ended", settings={})
        s.add(sess)
        await s.flush()
        sid = sess.id
    await _browser_login(client, "mediator_340322")
    assert (await client.get(f"/sessions/{sid}/record")).status == 404
    await _browser_login(client, "observer")
    assert (await client.get(f"/sessions/{sid}/record")).status == 200
    assert (await client.get(f"/sessions/{sid}/playback")).status == 403
