"""A council meeting's room names its roles as a council does (召集人, 议事会成员, 列席嘉宾, 旁听; each member's
own 党员代表 / 居民代表 / 物业 on their tile), not as a mediation does (当事人), in Chinese and English."""

from __future__ import annotations

import re
from pathlib import Path

from server.sessions import kinds
from tests.integration.test_council_gallery import _meeting
from tests.integration.test_council_pages import post

ROOT = Path(__file__).resolve().parents[2]


def test_the_council_kind_names_its_roles() -> None:
    council = kinds.rules("council")
    assert kinds.role_label(council, "host") == "召集人" and kinds.role_label(council, "host", "en") == "Convenor"
    assert kinds.role_label(council, "party") == "议事会成员"
    assert kinds.role_label(council, "expert") == "列席嘉宾"
    assert kinds.role_label(kinds.rules("mediation"), "party") is None  # other kinds keep the general names
    assert council.as_dict()["role_labels"]["observer"] == {"zh": "旁听", "en": "Public gallery"}


def test_client_catalogues_have_the_council_roles_in_both_languages() -> None:
    zh = (ROOT / "web/static/js/i18n/zh-CN.js").read_text()
    en = (ROOT / "web/static/js/i18n/en.js").read_text()
    for code, label in (("host", "召集人"), ("party_rep", "党员代表"), ("resident_rep", "居民代表"),
                        ("property", "物业"), ("guest", "列席嘉宾")):
        assert f'"role.council.{code}": "{label}"' in zh
        assert f'"role.council.{code}":' in en


async def test_council_room_pages_use_council_role_names(client) -> None:
    mpath = await _meeting(client)
    r = await post(client, f"{mpath}/codes", {}, page=mpath)
    assert r.status == 201
    url = re.search(r'value="[^"]*(/join/[^"]+)"', await r.text()).group(1)
    page = await (await client.get(url)).text()
    assert "议事会成员" in page and "当事人" not in page
    page = await (await client.get(url + "?lang=en")).text()
    assert "Council member" in page and ">Party<" not in page
    page = await (await client.get(mpath.replace("?lang=en", ""))).text()
    sid = re.search(r'href="/sessions/(\d+)" id="meeting-session"', page).group(1)
    detail = await (await client.get(f"/sessions/{sid}?lang=zh")).text()
    assert "<td>议事会成员</td>" in detail and "<td>当事人</td>" not in detail and "召集人" in detail
    # The room's panel learns each member's own council role (not the public gallery's business).
    token = url.split("/join/")[1].split("?")[0]
    live = await (await client.get(f"/councils/live?token={token}")).json()
    assert live["member_roles"]["测试党员甲"] == "party_rep" and live["member_roles"]["测试物业丁"] == "property"
    r = await post(client, f"{mpath}/gallery", {"open": "1"}, page=mpath)
    page = await (await client.get(mpath)).text()
    link = re.search(r'value="[^"]*(/councils/g/[^"]+)"', page).group(1)
    g = await client.get(link, allow_redirects=False)
    gtoken = g.headers["Location"].split("/join/")[1].split("?")[0]
    glive = await (await client.get(f"/councils/live?token={gtoken}")).json()
    assert glive["member_roles"] == {} and glive["may_vote"] is False
