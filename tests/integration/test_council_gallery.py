"""The public gallery of a council meeting (群众旁听): the convenor opens it from the meeting page, which shows a
shareable link and its QR code; every visitor of the link gets their own observer pass in the room (observe
only: no speaking, no publishing, no voting); visits are rate limited; closing the gallery or ending the meeting
withdraws the link and every pass."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from server.clock import BEIJING
from server.rooms import permissions
from server.security.ratelimit import RateLimiter
from server.services import services
from server.sessions import kinds
from server.sessions import service as sessions
from server.sessions.service import SessionError
from server.sfu.plan import audio_forwarded, media_plan
from tests.integration.test_council_pages import CONVENOR, post, setup_council, sign_in


async def _meeting(client) -> str:
    cid = await setup_council(client)
    path = f"/councils/{cid}"
    when = (services(client.app).clock.now().astimezone(BEIJING) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    r = await post(client, f"{path}/meetings", {"title": "充电桩议事会", "starts_at": when, "place": "社区议事厅",
                                                "quorum": "half"}, page=path)
    assert r.status == 303, await r.text()
    return r.headers["Location"].split("?")[0]


async def _grant(client, join_location: str) -> sessions.JoinGrant:
    token = join_location.split("/join/")[1].split("?")[0]
    svcs = services(client.app)
    return await sessions.resolve_join(svcs.db, svcs.config.secret_key, token)


async def test_gallery_link_gives_each_visitor_an_observer_pass_until_closed(client) -> None:
    mpath = await _meeting(client)
    page = await (await client.get(mpath)).text()
    assert 'id="gallery-open"' in page and 'id="gallery-link"' not in page
    r = await post(client, f"{mpath}/gallery", {"open": "1"}, page=mpath)
    assert r.status == 303 and "ok=gallery_open" in r.headers["Location"]
    page = await (await client.get(mpath)).text()
    link = re.search(r'id="gallery-link" [^>]*value="[^"]*(/councils/g/[^"]+)"|value="[^"]*(/councils/g/[^"]+)"[^>]*id="gallery-link"',
                     page)
    assert link, page
    link_path = link.group(1) or link.group(2)
    qr = await client.get(f"{mpath}/gallery.svg")
    assert qr.status == 200 and qr.content_type == "image/svg+xml" and "<svg" in await qr.text()

    # Two visitors (no login): each gets their own observer identity.
    client.session.cookie_jar.clear()
    a = await client.get(link_path, allow_redirects=False)
    b = await client.get(link_path, allow_redirects=False)
    assert a.status == 303 and b.status == 303 and a.headers["Location"].startswith("/join/")
    ga, gb = await _grant(client, a.headers["Location"]), await _grant(client, b.headers["Location"])
    assert ga.role == gb.role == "observer" and ga.identity != gb.identity
    assert (ga.name, gb.name) == ("旁听 1", "旁听 2")
    assert not ga.direct  # the gallery waits in the lobby like every outsider
    council = kinds.rules("council")
    assert not kinds.may_speak(council, "observer", True)  # not even with the floor
    assert not audio_forwarded(council, "observer", has_floor=True, muted=False)
    assert not media_plan("observer", council).publish and media_plan("observer", council).subscribe
    assert not permissions.allowed("council", "observer", "vote")
    assert kinds.may_speak(kinds.rules("mediation"), "observer", False)  # other kinds unchanged

    # Rate limited per address.
    services(client.app).council_limiters["gallery"] = RateLimiter(limit=1, window_s=3600)
    assert (await client.get(link_path, allow_redirects=False)).status == 303
    r = await client.get(link_path, allow_redirects=False)
    assert r.status == 429 and "进入过于频繁" in await r.text()
    services(client.app).council_limiters["gallery"] = RateLimiter(limit=100, window_s=3600)

    # Closed: the link and every pass are withdrawn.
    await sign_in(client, CONVENOR)
    r = await post(client, f"{mpath}/gallery", {"open": "0"}, page=mpath)
    assert r.status == 303 and "ok=gallery_closed" in r.headers["Location"]
    page = await (await client.get(mpath)).text()
    assert 'id="gallery-link"' not in page and 'id="gallery-open"' in page
    assert (await client.get(f"{mpath}/gallery.svg")).status == 404
    r = await client.get(link_path, allow_redirects=False)
    assert r.status == 410 and "群众旁听已关闭" in await r.text()
    with pytest.raises(SessionError) as e:
        await _grant(client, a.headers["Location"])
    assert e.value.code == "token_revoked"

    # Reopened, then the meeting ends: the new link is refused too.
    r = await post(client, f"{mpath}/gallery", {"open": "1"}, page=mpath)
    page = await (await client.get(mpath)).text()
    link2 = re.search(r'value="[^"]*(/councils/g/[^"]+)"', page).group(1)
    assert link2 != link_path
    c = await client.get(link2, allow_redirects=False)
    assert c.status == 303
    assert (await post(client, f"{mpath}/open", {}, page=mpath)).status == 303
    assert (await post(client, f"{mpath}/close", {}, page=mpath)).status == 303
    r = await client.get(link2 + "?lang=en", allow_redirects=False)
    assert r.status == 410
    with pytest.raises(SessionError):
        await _grant(client, c.headers["Location"])
    # A closed meeting's gallery cannot reopen.
    r = await post(client, f"{mpath}/gallery", {"open": "1"}, page=f"{mpath}/notice")
    assert r.status == 409 and ("会议已结束" in (body := await r.text()) or "The meeting is over" in body)


async def test_gallery_refusals(client) -> None:
    mpath = await _meeting(client)
    # A forged or unknown link is a 404; only managers open the gallery.
    assert (await client.get("/councils/g/not-a-token", allow_redirects=False)).status == 404
    client.session.cookie_jar.clear()
    r = await client.post(f"{mpath}/gallery", data={"open": "1"}, allow_redirects=False)
    assert r.status in (302, 303, 401, 403)
    await sign_in(client, "mediator_340302001")  # the tier above supervises, does not run the meeting
    r = await post(client, f"{mpath}/gallery", {"open": "1"}, page=mpath)
    assert r.status == 403
    assert (await client.get(f"{mpath}/gallery.svg")).status == 403
