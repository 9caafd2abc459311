"""Cases and council topics from the pages: a topic's 转为案件 gives a case that links back to the topic; a case
page raises a topic (提交为议题) that links back to the case, and the case lists it; a restricted
(domestic-violence) case never raises a public topic, refused with a clear message."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from sqlalchemy import select

from server import ledger, ledger_store
from server.cases.models import Case, CaseAccess
from server.directory.models import Staff
from server.services import services
from tests.conftest import login
from tests.integration.test_council_pages import CONVENOR, ELSEWHERE, post, setup_council, sign_in


async def test_topic_to_case_and_case_to_topic_link_both_ways(client) -> None:
    cid = await setup_council(client)
    path = f"/councils/{cid}"
    r = await post(client, f"{path}/topics", {"title": "楼上漏水纠纷", "body": "楼上卫生间漏水到楼下"}, page=path)
    board = await (await client.get(path)).text()
    tpath = re.search(r'href="(/councils/\d+/topics/\d+)"', board).group(1)
    r = await post(client, f"{tpath}/decide", {"action": "case"}, page=tpath)
    assert r.status == 303
    code = re.search(r'id="topic-case" href="/cases/([0-9A-Za-z-]+)"', await (await client.get(tpath)).text()).group(1)
    case_page = await (await client.get(f"/cases/{code}")).text()
    assert re.search(rf'id="case-from-topic" href="{tpath}"', case_page), "the case links back to its topic"

    # The case raises a neighbourhood question as a topic.
    r = await post(client, "/councils/case-topics", {"case": code, "council": str(cid), "title": "楼道管道老化统一更换",
                                                    "body": "多户漏水源于公共管道"}, page=f"/cases/{code}")
    assert r.status == 303, await r.text()
    new_topic = r.headers["Location"].split("?")[0]
    page = await (await client.get(new_topic)).text()
    assert "楼道管道老化统一更换" in page and f'id="topic-from-case" href="/cases/{code}"' in page
    case_page = await (await client.get(f"/cases/{code}")).text()
    assert f'href="{new_topic}">楼道管道老化统一更换' in case_page

    # Public text: a phone number is refused, back on the case page with the message.
    r = await post(client, "/councils/case-topics", {"case": code, "council": str(cid), "title": "联系13800001111",
                                                    "body": ""}, page=f"/cases/{code}")
    assert r.status == 303 and r.headers["Location"].startswith(f"/cases/{code}?error=")
    assert "电话号码" in unquote_plus(r.headers["Location"])

    # Someone who does not see the case cannot raise a topic from it.
    await sign_in(client, ELSEWHERE)
    r = await post(client, "/councils/case-topics", {"case": code, "council": str(cid), "title": "越权议题",
                                                    "body": ""}, page="/councils")
    assert r.status == 303 and "error=" in r.headers["Location"]


async def test_a_restricted_case_never_raises_a_public_topic(client) -> None:
    cid = await setup_council(client)
    path = f"/councils/{cid}"
    await post(client, f"{path}/topics", {"title": "家中纠纷", "body": "待核实"}, page=path)
    board = await (await client.get(path)).text()
    tpath = re.search(r'href="(/councils/\d+/topics/\d+)"', board).group(1)
    await post(client, f"{tpath}/decide", {"action": "case"}, page=tpath)
    code = re.search(r'id="topic-case" href="/cases/([0-9A-Za-z-]+)"', await (await client.get(tpath)).text()).group(1)
    db = services(client.app).db
    async with db.session() as s:  # the case turns out to be domestic violence: restricted, the convenor named
        case = (await s.execute(select(Case).where(Case.code == code))).scalar_one()
        case.restricted = True
        staff = (await s.execute(select(Staff).where(Staff.username == CONVENOR))).scalar_one()
        s.add(CaseAccess(case_id=case.id, staff_id=staff.id, kind="named"))
    case_page = await (await client.get(f"/cases/{code}")).text()
    assert 'id="case-topic-restricted"' in case_page and 'id="case-raise-topic"' not in case_page
    r = await post(client, "/councils/case-topics", {"case": code, "council": str(cid), "title": "小区议题",
                                                    "body": ""}, page=f"/cases/{code}")
    assert r.status == 303
    assert "受保护案件" in unquote_plus(r.headers["Location"])
    assert "小区议题" not in await (await client.get(path)).text()
    # The JSON API refuses it the same way (the rule is the service's, not the page's).
    r = await client.post(f"/api/councils/{cid}/topics", headers=await login(client, CONVENOR),
                          json={"title": "小区议题", "case_id": case.id})
    assert r.status == 403 and "case_restricted" in await r.text()
    async with db.session() as s:  # the refusal is on the council's chain (with the case's id, no text)
        entries = await ledger_store.events(s, ledger.council_chain(cid))
    refused = [e for e in entries if e.type == "topic_refused"]
    assert len(refused) == 2 and all(e.data["reason"] == "case_restricted" for e in refused)
    assert "小区议题" not in str([e.data for e in refused])
