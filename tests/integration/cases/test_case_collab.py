"""Expert consultations, petitions with multi-tier panels, DV staged responses and shuttle sessions, hooks
used by the agreements module."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server import ledger_store
from server.cases import followups, hooks
from server.cases.service import Ctx
from server.ledger import session_chain
from server.services import services
from tests.integration.cases.helpers import act, create, get, hdr

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def assigned(client, **kw) -> str:  # type: ignore[no-untyped-def]
    c = await create(client, **kw)
    code = c["code"]
    grade = "orange" if c["domestic_violence"] else "yellow"
    for a, extra in [("triage", {"grade": grade}), ("accept", {}), ("assign", {"assignees": ["mediator"]})]:
        await act(client, "mediator", code, a, **extra)
    return code


async def test_expert_consultation_with_timed_grant(client) -> None:
    services(client.app).clock.set(T0)
    code = await assigned(client)
    h = await hdr(client, "mediator")
    hx = await hdr(client, "expert")  # 怀远县 land expert
    # Before anything, the expert cannot see the case.
    await get(client, "expert", code, 404)
    r = await client.post(f"/api/cases/{code}/consultations", headers=h,
                          json={"specialty": "astrology", "question": "?"})
    assert r.status == 400
    r = await client.post(f"/api/cases/{code}/consultations", headers=h,
                          json={"specialty": "traffic", "question": "事故责任"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "no_expert"
    r = await client.post(f"/api/cases/{code}/consultations", headers=h,
                          json={"specialty": "land", "question": "宅基地边界如何认定？", "grant_hours": 48})
    assert r.status == 201, await r.text()
    cons = await r.json()
    # The county land expert above this township sees it; a land expert of another county does not.
    inbox = (await (await client.get("/api/consultations", headers=hx)).json())["consultations"]
    assert [x["id"] for x in inbox] == [cons["id"]] and inbox[0]["case_code"] == code
    other = (await (await client.get("/api/consultations", headers=await hdr(client, "expert_340302"))).json())
    assert other["consultations"] == []
    r = await client.post(f"/api/consultations/{cons['id']}/accept", headers=await hdr(client, "expert_340302"),
                          json={})
    assert r.status == 404
    r = await client.post(f"/api/consultations/{cons['id']}/accept", headers=hx,
                          json={"scheduled_at": (T0 + timedelta(hours=2)).isoformat()})
    assert r.status == 200, await r.text()
    acc = await r.json()
    assert acc["status"] == "accepted" and acc["grant_expires_at"] == "2026-03-04T01:00:00.000000Z"
    assert acc["session_id"]
    r = await client.post(f"/api/consultations/{cons['id']}/accept", headers=hx, json={})
    assert r.status == 409
    # The expert now sees the case, with the confidential details still withheld, and may add an opinion.
    d = await get(client, "expert", code)
    assert d["sessions"][0]["kind"] == "consultation" and d["actions"] == []
    await act(client, "expert", code, "start_mediation", 403)
    r = await client.post(f"/api/cases/{code}/consultations/{cons['id']}/opinion", headers=hx,
                          json={"opinion": "以1998年确权图为准，建议现场复测。"})
    assert r.status == 200 and (await r.json())["status"] == "completed"
    # The grant is time-boxed: after 48 hours the case is gone for the expert.
    services(client.app).clock.set(T0 + timedelta(hours=49))
    await get(client, "expert", code, 404)
    log = await (await client.get(f"/api/cases/{code}/log", headers=h)).json()
    types = [e["type"] for e in log["events"]]
    assert ["consultation.requested", "session.scheduled", "consultation.accepted", "consultation.opinion"] == \
        [t for t in types if t.startswith(("consultation.", "session."))]


async def test_targeted_consultation_decline_and_cancel(client) -> None:
    code = await assigned(client)
    h = await hdr(client, "mediator")
    r = await client.post(f"/api/cases/{code}/consultations", headers=h,
                          json={"specialty": "land", "question": "请指导", "expert": "expert"})
    cons = await r.json()
    r = await client.post(f"/api/consultations/{cons['id']}/decline", headers=await hdr(client, "expert"),
                          json={"reason": "回避"})
    assert r.status == 200 and (await r.json())["status"] == "declined"
    r = await client.post(f"/api/cases/{code}/consultations", headers=h,
                          json={"specialty": "land", "question": "再次请求", "expert": "mediator_340321"})
    assert r.status == 400  # not an expert
    r = await client.post(f"/api/cases/{code}/consultations", headers=h, json={"specialty": "land", "question": "x"})
    cons = await r.json()
    r = await client.post(f"/api/cases/{code}/consultations/{cons['id']}/cancel", headers=h)
    assert r.status == 200 and (await r.json())["status"] == "cancelled"


async def test_petition_with_multi_tier_panel(client) -> None:
    services(client.app).clock.set(T0)
    h = await hdr(client, "petition")  # city petition officer
    body = {"unit": "340321", "title": "征地补偿信访", "subject": "对征地补偿标准有异议", "petitioners": 3,
            "category": "social_management", "item": "construction",
            "parties": [{"role": "applicant", "name": "孙七"}]}
    r = await client.post("/api/petitions", json=body, headers=await hdr(client, "grid_340321001001"))
    assert r.status == 403
    r = await client.post("/api/petitions", json=body, headers=h)
    assert r.status == 201, await r.text()
    case = await r.json()
    code = case["code"]
    assert case["kind"] == "petition" and case["source"] == "petition" and case["petition"]["petitioners"] == 3
    when = (T0 + timedelta(days=3)).isoformat()
    r = await client.post(f"/api/cases/{code}/petition/hearing", headers=h,
                          json={"panel": ["mediator_340322"], "scheduled_at": when})
    assert r.status == 400  # another county is not in this case's line
    r = await client.post(f"/api/cases/{code}/petition/hearing", headers=h,
                          json={"panel": ["petition", "mediator_340321", "mediator"], "scheduled_at": when})
    assert r.status == 200, await r.text()
    pet = await r.json()
    assert pet["status"] == "hearing_scheduled" and pet["hearing_session_id"]
    # The township mediator on the panel sees the county case through the panel grant.
    d = await get(client, "mediator", code)
    assert d["sessions"][0]["kind"] == "petition"
    log = await (await client.get(f"/api/cases/{code}/log", headers=h)).json()
    ev = next(e for e in log["events"] if e["type"] == "petition.hearing_scheduled")
    assert ev["data"]["tiers"] == ["city", "county", "township"]
    r = await client.post(f"/api/cases/{code}/petition/reply", headers=h, json={"reply": "x"})
    assert r.status == 409
    r = await client.post(f"/api/cases/{code}/petition/outcome", headers=h,
                          json={"outcome": "补偿标准按2025年文件执行，差额部分予以补足"})
    assert r.status == 200
    pet = await r.json()
    assert pet["reply_due_at"] == "2026-05-01T01:00:00.000000Z"  # 60 days from registration
    r = await client.post(f"/api/cases/{code}/petition/reply", headers=h, json={"reply": "已书面答复信访人"})
    assert r.status == 200 and (await r.json())["status"] == "replied"


async def test_dv_staged_responses_and_shuttle_sessions(client) -> None:
    services(client.app).clock.set(T0)
    code = await assigned(client, title="家暴", category="policing", item="domestic_violence",
                          parties=[{"role": "victim", "name": "王五", "phone": "13700003333"},
                                   {"role": "perpetrator", "name": "赵六"}])
    h = await hdr(client, "mediator")
    for stage in ("warning_letter", "summons", "detention"):
        r = await client.post(f"/api/cases/{code}/dv-responses", headers=h, json={
            "stage": stage, "authority": "怀远县公安局龙亢派出所", "reference": f"怀公{stage}〔2026〕1号",
            "issued_at": T0.isoformat()})
        assert r.status == 201, await r.text()
    r = await client.post(f"/api/cases/{code}/dv-responses", headers=h,
                          json={"stage": "lecture", "authority": "x", "issued_at": T0.isoformat()})
    assert r.status == 400
    d = await get(client, "mediator", code)
    assert [x["stage"] for x in d["dv_responses"]] == ["warning_letter", "summons", "detention"]
    r = await client.post(f"/api/cases/{code}/sessions", headers=h, json={"title": "背靠背调解"})
    assert r.status == 201
    sess = await r.json()
    assert sess["settings"]["shuttle"] is True and sess["settings"]["joint_override"] is None
    url = f"/api/cases/{code}/sessions/{sess['id']}/joint-override"
    r = await client.post(url, headers=h, json={})
    assert r.status == 400
    r = await client.post(url, headers=h, json={"reason": "受害人书面同意面对面调解"})
    assert r.status == 200
    assert (await r.json())["settings"]["joint_override"]["reason"] == "受害人书面同意面对面调解"
    r = await client.post(url, headers=h, json={"reason": "again"})
    assert r.status == 409
    async with services(client.app).db.session() as s:
        evs = await ledger_store.events(s, session_chain(sess["id"]))
    assert [e.type for e in evs] == ["session_created", "joint_override"]
    # An ordinary case's sessions are not shuttle by default and refuse the override.
    plain = await assigned(client)
    r = await client.post(f"/api/cases/{plain}/sessions", headers=h, json={})
    ps = await r.json()
    assert "shuttle" not in ps["settings"]
    r = await client.post(f"/api/cases/{plain}/sessions/{ps['id']}/joint-override", headers=h, json={"reason": "x"})
    assert r.status == 409


async def test_agreement_hooks_move_the_case(client) -> None:
    code = await assigned(client)
    await act(client, "mediator", code, "start_mediation")
    d = await get(client, "mediator", code)
    ctx = Ctx(datetime.now(UTC), services(client.app).config.secret_key)
    async with services(client.app).db.session() as s:
        why = await hooks.agreement_effective(s, ctx, d["id"], 77, [
            followups.ObligationDraft(obligor="李四", content="赔偿3000元", due_at=datetime.now(UTC) + timedelta(days=30))])
    assert why is None
    d = await get(client, "mediator", code)
    assert d["status"] == "agreement_effective" and d["grade"] == "green"
    assert d["obligations"][0]["agreement_id"] == 77
    log = await (await client.get(f"/api/cases/{code}/log", headers=await hdr(client, "mediator"))).json()
    sys_events = [e for e in log["events"] if e["data"].get("by") == {"system": "agreements"}]
    assert [e["type"] for e in sys_events] == ["case.begin_signing", "case.make_effective", "obligations.added"]
    async with services(client.app).db.session() as s:
        assert await hooks.agreement_frozen(s, ctx, d["id"], 78) == "case is agreement_effective"


async def test_sessions_api_applies_case_rules(client) -> None:
    """POST /api/sessions with a case_id: the case must be visible, and a DV case starts in shuttle mode."""
    from server.sessions.models import Session
    from server.sessions.service import room_meta

    dv = await assigned(client, title="家暴", category="policing", item="domestic_violence",
                        parties=[{"role": "victim", "name": "王五"}, {"role": "perpetrator", "name": "赵六"}])
    d = await get(client, "mediator", dv)
    body = {"kind": "mediation", "title": "调解", "unit": "340321001", "case_id": d["id"]}
    r = await client.post("/api/sessions", json=body, headers=await hdr(client, "mediator"))
    assert r.status == 201, await r.text()
    sid = (await r.json())["id"]
    async with services(client.app).db.session() as s:
        sess = await s.get(Session, sid)
        assert sess.settings["shuttle"] is True and room_meta(sess).shuttle is True
    # Someone who cannot see the case cannot attach a session to it (the county is not named on it).
    r = await client.post("/api/sessions", json={**body, "unit": "340321"}, headers=await hdr(client, "mediator_340321"))
    assert r.status == 404
    r = await client.post("/api/sessions", json={**body, "case_id": 999999}, headers=await hdr(client, "mediator"))
    assert r.status == 404
