"""The meeting page's attendance refreshes live: the page carries the viewer's own join token of the room and
loads council-meeting.js (no inline script); the live endpoint it polls answers the attendance, the quorum and
who is present, and reflects a sign-in at the table."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.test_council_gallery import _meeting
from tests.integration.test_council_pages import post, token

ROOT = Path(__file__).resolve().parents[2]


async def test_meeting_page_polls_the_live_attendance(client) -> None:
    mpath = await _meeting(client)
    page = await (await client.get(mpath)).text()
    live = re.search(r'id="attendance" data-live-token="([^"]+)"', page)
    assert live, "the attendance section carries the live token"
    assert '<script type="module" src="/static/js/council-meeting.js"></script>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "no inline script (strict CSP)"
    state = await (await client.get(f"/councils/live?token={live.group(1)}")).json()
    assert state["attendance"]["present"] == 0 and state["attendees"] == []
    members = dict((name, mid) for mid, name in re.findall(r'name="member" value="(\d+)"[^>]*> ([^（]+)（', page))
    fields = {"csrf_token": await token(client, mpath)}
    r = await client.post(f"{mpath}/attendance", data=[*fields.items(), ("member", members["测试党员甲"]),
                                                       ("member", members["测试居民乙"])], allow_redirects=False)
    assert r.status == 303
    state = await (await client.get(f"/councils/live?token={live.group(1)}")).json()
    assert state["attendance"]["present"] == 2 and state["attendance"]["in_person"] == 2
    assert {a["name"] for a in state["attendees"]} == {"测试党员甲", "测试居民乙"}
    # Once the meeting is over, the page stops polling (no token).
    assert (await post(client, f"{mpath}/open", {}, page=mpath)).status == 303
    assert (await post(client, f"{mpath}/close", {}, page=mpath)).status == 303
    page = await (await client.get(mpath)).text()
    assert "data-live-token" not in page and "council-meeting.js" not in page


def test_the_poller_backs_off_and_is_bounded() -> None:
    js = (ROOT / "web/static/js/council-meeting.js").read_text()
    assert "const MAX_MS = 60000" in js and "Math.min(wait * 2, MAX_MS)" in js and "/councils/live?token=" in js
