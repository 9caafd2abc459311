"""Council pages (议事会): the staff pages in zh and en, the residents' public pages with their protections, the
convenor's run of a meeting through forms (attendance, open and secret votes on the tablet, tasks, a photo,
publication), the public page (totals only, no phone), the dashboard figures, and refusals by role."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from PIL import Image

from server.clock import BEIJING
from server.directory.demo import DEMO_PASSWORD
from server.services import services

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CONVENOR = "grid_340302001001"          # 网格员 of the first community under 东风街道 (a village-tier unit)
COMMUNITY = "340302001001"
TOWNSHIP_ABOVE = "mediator_340302001"   # the 街道's mediator: supervises, does not run the council
ELSEWHERE = "grid_340321001001"         # a grid worker of another community
PHONES = ["13800000001", "13800000002", "13800000003"]


async def token(client: Any, path: str) -> str:
    r = await client.get(path)
    assert r.status in (200, 201), (path, r.status, (await r.text())[:500])
    m = TOKEN.search(await r.text())
    assert m, f"{path} has no CSRF field"
    return m.group(1)


async def sign_in(client: Any, username: str) -> None:
    client.session.cookie_jar.clear()
    t = await token(client, "/login")
    r = await client.post("/login", data={"csrf_token": t, "username": username, "password": DEMO_PASSWORD,
                                          "next": "/"}, allow_redirects=False)
    assert r.status == 302, await r.text()


async def post(client: Any, path: str, data: dict[str, Any], *, page: str | None = None) -> Any:
    fields = {"csrf_token": await token(client, page or path), **data}
    return await client.post(path, data=fields, allow_redirects=False)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 140, 60)).save(buf, "PNG")
    return buf.getvalue()


async def setup_council(client: Any) -> int:
    await sign_in(client, CONVENOR)
    r = await post(client, "/councils", {"unit": COMMUNITY, "name": "幸福小区居民议事会", "neighbourhood": "幸福小区"})
    assert r.status == 303, await r.text()
    cid = int(re.search(r"/councils/(\d+)", r.headers["Location"]).group(1))
    path = f"/councils/{cid}"
    today = services(client.app).clock.now().astimezone(BEIJING).date()
    term = {"term_from": today.isoformat(), "term_to": (today + timedelta(days=1000)).isoformat()}
    r = await post(client, f"{path}/members", {"username": CONVENOR, "role": "convenor", **term}, page=path)
    assert r.status == 303, await r.text()
    for name, role in [("测试党员甲", "party_rep"), ("测试居民乙", "resident_rep"), ("测试居民丙", "resident_rep"),
                       ("测试物业丁", "property")]:
        r = await post(client, f"{path}/members", {"name": name, "role": role, **term}, page=path)
        assert r.status == 303, await r.text()
    return cid


async def test_pages_in_both_languages_and_the_menu(client) -> None:
    cid = await setup_council(client)
    zh = await (await client.get("/councils")).text()
    assert 'href="/councils"' in zh and "议事会" in zh and "幸福小区居民议事会" in zh
    en = await (await client.get("/councils?lang=en")).text()
    assert "Residents&#39; councils" in en or "Residents' councils" in en
    page = await (await client.get(f"/councils/{cid}?lang=zh-CN")).text()
    for text in ("测试党员甲", "党员代表", "物业公司", "召集人", "任期"):
        assert text in page
    page_en = await (await client.get(f"/councils/{cid}?lang=en")).text()
    assert "Party-member representative" in page_en and "Term" in page_en and "党员代表" not in page_en
    # The residents' pages, signed out, in both languages.
    client.session.cookie_jar.clear()
    zh = await (await client.get(f"/councils/propose?unit={COMMUNITY}&lang=zh-CN")).text()
    assert "提出议题" in zh and "幸福小区居民议事会" in zh and "Raise a" not in zh
    en = await (await client.get(f"/councils/propose?unit={COMMUNITY}&lang=en")).text()
    assert "Raise a neighbourhood question" in en and "提出议题" not in en and "手机号" not in en
    public = re.search(r'href="(/councils/p/[^"]+)"', page).group(1)
    en = await (await client.get(public + "?lang=en")).text()
    assert "Council notices" in en and "Nothing published yet." in en and "公示" not in en
    zh = await (await client.get(public + "?lang=zh-CN")).text()
    assert "议事公示" in zh and "还没有公示的会议" in zh


async def test_resident_proposes_supports_comments_and_sees_the_reason_declined(client) -> None:
    cid = await setup_council(client)
    client.session.cookie_jar.clear()
    # The contact card and the intake page link to the proposal form.
    await sign_in(client, CONVENOR)
    card = await (await client.get(f"/cards/units/{COMMUNITY}")).text()
    assert f"/councils/propose?unit={COMMUNITY}" in card
    client.session.cookie_jar.clear()
    form = await (await client.get(f"/councils/propose?unit={COMMUNITY}")).text()
    assert "幸福小区居民议事会" in form and 'name="website"' in form
    # No CSRF token: refused.
    r = await client.post("/councils/propose", data={"council": str(cid), "title": "x"}, allow_redirects=False)
    assert r.status == 403
    # The honeypot filled: refused.
    r = await post(client, "/councils/propose", {"council": cid, "title": "t", "body": "正文正文正文", "name": "甲",
                                                 "phone": PHONES[0], "website": "http://spam"})
    assert r.status == 400
    # A bad phone: the form comes back with what was typed.
    r = await post(client, "/councils/propose", {"council": cid, "title": "小区安装充电桩", "body": "车库没有充电桩",
                                                 "name": "测试居民", "phone": "12345"})
    assert r.status == 400 and "请填写11位手机号码" in await r.text() and "小区安装充电桩" in await r.text()
    r = await post(client, "/councils/propose", {"council": cid, "title": "小区安装充电桩",
                                                 "body": "地下车库没有充电桩，电动车只能飞线充电。",
                                                 "name": "测试居民", "phone": PHONES[0]})
    assert r.status == 201
    status_path = re.search(r'href="(/councils/t/[^"]+)"', await r.text()).group(1)
    page = await (await client.get(status_path)).text()
    assert "小区安装充电桩" in page and "测*" in page and PHONES[0] not in page and "测试居民" not in page
    # Two households support; the first again is refused, with the reason in Chinese.
    for phone in PHONES[1:]:
        r = await post(client, f"{status_path}/support", {"name": "邻居", "phone": phone}, page=status_path)
        assert r.status == 303
    r = await post(client, f"{status_path}/support", {"name": "邻居", "phone": PHONES[1]}, page=status_path)
    assert r.status == 409 and "每户一次" in await r.text()
    page = await (await client.get(status_path)).text()
    assert re.search(r'id="support-count">2<', page)
    # A comment with a phone number is refused; a plain one shows, masked.
    r = await post(client, f"{status_path}/comments", {"name": "王测试", "phone": PHONES[2],
                                                       "text": "联系我 13900000000"}, page=status_path)
    assert r.status == 400 and "电话号码" in await r.text()
    r = await post(client, f"{status_path}/comments", {"name": "王测试", "phone": PHONES[2], "text": "支持，建议装在东门"},
                   page=status_path)
    assert r.status == 303
    page = await (await client.get(status_path)).text()
    assert "支持，建议装在东门" in page and "王*" in page
    # The convenor declines it with a reason; the resident reads the reason.
    await sign_in(client, CONVENOR)
    board = await (await client.get(f"/councils/{cid}")).text()
    tpath = re.search(r'href="(/councils/\d+/topics/\d+)"', board).group(1)
    r = await post(client, f"{tpath}/decide", {"action": "decline", "reason": ""}, page=tpath)
    assert r.status == 400 and "理由" in await r.text()
    r = await post(client, f"{tpath}/decide", {"action": "decline", "reason": "物业已另行立项，请关注物业公告"}, page=tpath)
    assert r.status == 303
    client.session.cookie_jar.clear()
    page = await (await client.get(status_path)).text()
    assert "物业已另行立项" in page and "未采纳" in page
    assert 'id="support-form"' not in page  # a declined topic takes no more signatures


async def test_meeting_votes_tasks_photo_publication_and_figures(client) -> None:
    cid = await setup_council(client)
    path = f"/councils/{cid}"
    r = await post(client, f"{path}/topics", {"title": "小区安装充电桩", "body": "在地下车库安装充电桩"}, page=path)
    assert r.status == 303
    board = await (await client.get(path)).text()
    topic_id = re.search(r'href="/councils/\d+/topics/(\d+)"', board).group(1)
    when = (services(client.app).clock.now().astimezone(BEIJING) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    r = await post(client, f"{path}/meetings", {"title": "充电桩议事会", "starts_at": when, "place": "社区议事厅",
                                                "quorum": "half", "topic": topic_id, "gallery": "on"}, page=path)
    assert r.status == 303, await r.text()
    mpath = r.headers["Location"].split("?")[0]
    page = await (await client.get(mpath)).text()
    assert "充电桩议事会" in page and "小区安装充电桩" in page and "未达法定人数" in page
    r = await post(client, f"{mpath}/codes", {}, page=mpath)
    assert r.status == 201
    codes = dict(re.findall(r'data-member="([^"]+)">\s*<strong>[^<]+</strong> · [^<]+<strong class="mono code">(\d{6})',
                            await r.text()))
    assert set(codes) == {"网格员" + n for n in []} | set(codes) and len(codes) == 5
    members = dict((name, mid) for mid, name in re.findall(r'name="member" value="(\d+)"[^>]*> ([^（]+)（', page))
    r = await post(client, f"{mpath}/open", {}, page=mpath)
    assert r.status == 303
    # Three at the table.
    at_table = [members[n] for n in ("测试党员甲", "测试居民乙", "测试物业丁")]
    fields = {"csrf_token": await token(client, mpath)}
    r = await client.post(f"{mpath}/attendance", data=[*fields.items(), *[("member", m) for m in at_table]],
                          allow_redirects=False)
    assert r.status == 303
    page = await (await client.get(mpath)).text()
    assert re.search(r'id="attendance-count">3<', page) and "已达法定人数" in page
    item = re.search(r'name="item" value="(\d+)"', page).group(1)
    r = await post(client, f"{mpath}/current", {"item": item}, page=mpath)
    assert r.status == 303
    r = await post(client, f"{mpath}/view", {"item": item, "member": members["测试物业丁"],
                                             "text": "物业同意配合，建议设在东侧车位"}, page=mpath)
    assert r.status == 303
    # An open vote on the tablet: a wrong code, then three members; a second ballot is refused.
    r = await post(client, f"{mpath}/vote", {"item": item, "mode": "open", "motion": "同意在小区安装充电桩"}, page=mpath)
    assert r.status == 303, await r.text()
    tablet = f"{mpath}/tablet"
    tp = await (await client.get(tablet)).text()
    vote_id = re.search(r'name="vote" value="(\d+)"', tp).group(1)
    r = await post(client, tablet, {"vote": vote_id, "code": "000000", "choice": "agree"}, page=tablet)
    assert r.status == 403 and "表决码不正确" in await r.text()
    for name, choice in [("测试党员甲", "agree"), ("测试居民乙", "agree"), ("测试物业丁", "abstain")]:
        r = await post(client, tablet, {"vote": vote_id, "code": codes[name], "choice": choice}, page=tablet)
        assert r.status == 200, await r.text()
    r = await post(client, tablet, {"vote": vote_id, "code": codes["测试党员甲"], "choice": "against"}, page=tablet)
    assert r.status == 409 and "一人一票" in await r.text()
    r = await post(client, f"{mpath}/vote-close", {"vote": vote_id}, page=mpath)
    assert r.status == 303
    page = await (await client.get(mpath)).text()
    assert "测试党员甲：同意" in page and "通过" in page
    # A secret vote: the receipt is shown to the voter; the meeting page shows no names for it.
    r = await post(client, f"{mpath}/vote", {"item": item, "mode": "secret", "motion": "充电桩设在东侧车位"}, page=mpath)
    assert r.status == 303
    tp = await (await client.get(tablet)).text()
    secret_id = re.search(r'name="vote" value="(\d+)"', tp).group(1)
    for name, choice in [("测试党员甲", "agree"), ("测试居民乙", "against"), ("测试物业丁", "agree")]:
        r = await post(client, tablet, {"vote": secret_id, "code": codes[name], "choice": choice}, page=tablet)
        assert r.status == 200 and re.search(r'id="tablet-receipt">[0-9A-Z]{4}-', await r.text())
    r = await post(client, f"{mpath}/vote-close", {"vote": secret_id}, page=mpath)
    assert r.status == 303
    page = await (await client.get(mpath)).text()
    secret_block = page[page.index(f'id="vote-{secret_id}"'):]
    secret_block = secret_block[:secret_block.index("</div>\n        </div>") if "</div>\n        </div>" in secret_block else 2000]
    assert "测试居民乙：" not in secret_block
    # Tasks from the passed vote; one completed with a photo.
    deadline = (services(client.app).clock.now().astimezone(BEIJING).date() + timedelta(days=14)).isoformat()
    for title, owner in [("实地考察充电桩位置", "测试党员甲"), ("物业提交安装方案", "测试物业丁")]:
        r = await post(client, f"{mpath}/task", {"vote": vote_id, "task": title, "owner": members[owner],
                                                 "deadline": deadline}, page=mpath)
        assert r.status == 303, await r.text()
    board = await (await client.get(path)).text()
    task_id = re.search(r'action="/councils/\d+/tasks/(\d+)/complete"', board).group(1)
    data = {"csrf_token": await token(client, path), "note": "已与物业现场查看东侧车位"}
    form = __import__("aiohttp").FormData()
    for k, v in data.items():
        form.add_field(k, v)
    form.add_field("photo", png(), filename="site.png", content_type="image/png")
    r = await client.post(f"{path}/tasks/{task_id}/complete", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    # Closing and publishing: minutes with a phone number are refused, clean ones go public.
    r = await post(client, f"{mpath}/close", {}, page=mpath)
    assert r.status == 303
    r = await post(client, f"{mpath}/publish", {"minutes": "联系人电话13900000000"}, page=mpath)
    assert r.status == 400 and "电话号码" in await r.text()
    r = await post(client, f"{mpath}/publish", {"minutes": "会议同意在小区安装充电桩，位置设在东侧车位。"}, page=mpath)
    assert r.status == 303
    page = await (await client.get(mpath)).text()
    public_path = re.search(r'href="(/councils/p/[^"]+)" id="published-link"', page).group(1)
    notice = await (await client.get(f"{mpath}/notice")).text()
    assert "<svg" in notice or "未配置公开地址" in notice
    client.session.cookie_jar.clear()
    pub = await (await client.get(public_path)).text()
    assert "会议同意在小区安装充电桩" in pub and "实地考察充电桩位置" in pub and "已完成" in pub
    assert "测试党员甲（同意）" not in pub and "13800000" not in pub  # totals only
    photo = re.search(r'src="(/councils/p/[^"]+/photos/\d+)"', pub).group(1)
    r = await client.get(photo)
    assert r.status == 200 and r.headers["Content-Type"] == "image/png"
    # The 街道 above supervises the task still open; the convenor's page shows the instruction.
    await sign_in(client, TOWNSHIP_ABOVE)
    board = await (await client.get(path)).text()
    assert 'class="task-complete"' not in board  # supervises, does not complete
    open_task = re.search(r'action="(/councils/\d+/tasks/\d+/supervise)"', board).group(1)
    r = await post(client, open_task, {"instruction": "请物业于本月底前提交方案"}, page=path)
    assert r.status == 303, await r.text()
    await sign_in(client, CONVENOR)
    assert "请物业于本月底前提交方案" in await (await client.get(path)).text()
    r = await post(client, open_task, {"instruction": "越权督办"}, page=path)
    assert r.status == 403
    # The dashboard counts it.
    dash = await (await client.get(f"/dashboard?unit={COMMUNITY}")).text()
    assert 'id="council-figures"' in dash and "议事会" in dash


async def test_refusals_by_role(client) -> None:
    cid = await setup_council(client)
    path = f"/councils/{cid}"
    # Signed out: to the login page.
    client.session.cookie_jar.clear()
    r = await client.get(path, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    # Another community's grid worker: not there at all.
    await sign_in(client, ELSEWHERE)
    r = await client.get(path)
    assert r.status == 404
    # The expert sees no council.
    await sign_in(client, "expert")
    assert (await client.get(path)).status == 404
    # The township above sees it and may supervise, but not run it.
    await sign_in(client, TOWNSHIP_ABOVE)
    page = await client.get(path)
    assert page.status == 200 and 'id="add-member"' not in await page.text()
    today = services(client.app).clock.now().astimezone(BEIJING).date()
    r = await post(client, f"{path}/members", {"name": "冒名", "role": "resident_rep", "term_from": today.isoformat(),
                                               "term_to": (today + timedelta(days=30)).isoformat()}, page=path)
    assert r.status == 403 and "无权" in await r.text()


async def test_topic_becomes_a_case_and_a_member_leaves(client) -> None:
    cid = await setup_council(client)
    path = f"/councils/{cid}"
    r = await post(client, f"{path}/topics", {"title": "楼上漏水纠纷", "body": "楼上卫生间漏水到楼下，协商未果"}, page=path)
    assert r.status == 303
    board = await (await client.get(path)).text()
    tpath = re.search(r'href="(/councils/\d+/topics/\d+)"', board).group(1)
    r = await post(client, f"{tpath}/decide", {"action": "case"}, page=tpath)
    assert r.status == 303
    page = await (await client.get(tpath)).text()
    code = re.search(r'id="topic-case" href="/cases/([0-9-]+)"', page).group(1)
    assert 'id="topic-spawn-case"' not in page
    case = await client.get(f"/cases/{code}")
    assert case.status == 200 and "楼上漏水纠纷" in await case.text()
    # A member leaves: the row goes from the table (the seat stays on the ledger).
    member = re.search(r'<td>测试物业丁</td>.*?action="(/councils/\d+/members/\d+/end)"', board, re.S).group(1)
    r = await post(client, member, {"reason": ""}, page=path)
    assert r.status == 303
    assert "测试物业丁" not in await (await client.get(path)).text()
