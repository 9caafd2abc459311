"""``/whip/<session>`` and ``/whep/<session>`` refusals, on a server without Janus (the media paths are
in test_terminals_media.py). Every refusal is answered with a clear JSON error and the app goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.directory.models import Staff
from server.security import tokens
from server.services import services
from server.sessions.service import JOIN_PURPOSE, STAFF_JOIN_TTL_S
from server.sfu.http.terminals import ice_links
from tests.sfu.test_whip_sdp import CLIENT_OFFER, FFMPEG_OFFER
from tests.support.rooms import invite, make_session, staff_token


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}"


SDP = {"Content-Type": "application/sdp"}


def bearer(token: str) -> dict[str, str]:
    return {**SDP, "Authorization": f"Bearer {token}"}


async def error(r: Any) -> dict[str, Any]:
    body = await r.json()
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    return body["error"]


@pytest.mark.parametrize("kind", ["whip", "whep"])
async def test_refusals_before_any_media(client: Any, kind: str) -> None:
    sid, h = await make_session(client, "mediator")
    other, _ = await make_session(client, "mediator", title="另一场调解")
    inv = await invite(client, h, sid, "大厅终端", role="observer")
    offer = FFMPEG_OFFER if kind == "whip" else CLIENT_OFFER
    url = f"/{kind}/{sid}"

    r = await client.post(url, data=offer, headers=SDP)  # no token
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await error(r))["code"] == "unauthorized"
    r = await client.post(url, data=offer, headers=bearer("not-a-token"))
    assert r.status == 401 and "invalid_token" in r.headers["WWW-Authenticate"]
    expired = tokens.sign(services(client.app).config.secret_key, JOIN_PURPOSE,
                          {"sid": sid, "role": "observer", "name": "x", "n": "00"}, ttl_s=60, now=1_000_000)
    r = await client.post(url, data=offer, headers=bearer(expired))
    assert r.status == 401 and (await error(r))["code"] == "token_expired"
    r = await client.post(f"/{kind}/{other}", data=offer, headers=bearer(inv["token"]))  # another session's
    assert r.status == 403 and (await error(r))["code"] == "wrong_session"
    r = await client.post(url, data=offer, headers={"Authorization": f"Bearer {inv['token']}",
                                                    "Content-Type": "application/json"})
    assert r.status == 415 and (await error(r))["code"] == "unsupported_media_type"
    r = await client.post(url, data="v=0\r\n" + "a=x\r\n" * 20000, headers=bearer(inv["token"]))
    assert r.status == 413 and (await error(r))["code"] == "too_large"
    r = await client.post(url, data="hello, I am not SDP", headers=bearer(inv["token"]))
    assert r.status == 400 and (await error(r))["code"] == "bad_sdp"
    wrong_way = CLIENT_OFFER if kind == "whip" else FFMPEG_OFFER
    r = await client.post(url, data=wrong_way, headers=bearer(inv["token"]))
    assert r.status == 400 and "media" in (await error(r))["message"]
    r = await client.post("/whip/0", data=offer, headers=bearer(inv["token"]))
    assert r.status == 404

    checked = await invite(client, h, sid, "核验终端", role="observer", check={"method": "code"})
    r = await client.post(url, data=offer, headers=bearer(checked["token"]))
    assert r.status == 403 and (await error(r))["code"] == "check_required"
    revoked = await invite(client, h, sid, "撤回终端", role="observer")
    rr = await client.delete(f"/api/sessions/{sid}/invitations/{revoked['id']}", headers=h)
    assert rr.status in (200, 204), await rr.text()
    r = await client.post(url, data=offer, headers=bearer(revoked["token"]))
    assert r.status == 403 and (await error(r))["code"] == "token_revoked"

    # Everything checked: this server has no SFU, so there is nothing to publish into.
    r = await client.post(url, data=offer, headers=bearer(inv["token"]))
    assert r.status == 503 and (await error(r))["code"] == "no_sfu"
    # A staff member's own join token is checked the same way.
    r = await client.post(url, data=offer, headers=bearer(await staff_token(client, h, sid)))
    assert r.status == 503

    # The resource side: unknown resources, trickle, CORS.
    r = await client.delete(f"{url}/nope", headers={"Authorization": f"Bearer {inv['token']}"})
    assert r.status == 404
    r = await client.delete(f"{url}/nope")
    assert r.status == 401
    r = await client.patch(f"{url}/nope", data="a=candidate:1 1 udp 1 192.0.2.1 9 typ host",
                           headers={"Content-Type": "application/trickle-ice-sdpfrag"})
    assert r.status == 405 and "DELETE" in r.headers["Allow"]
    r = await client.options(url, headers={"Origin": "https://obs.example", "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    assert r.headers["Accept-Post"] == "application/sdp"
    # Nothing of this was seated in the room.
    rep = services(client.app).room_hub.rooms.get(sid)
    assert rep is None or not rep.room.peers


async def test_hidden_session_answers_404(client: Any) -> None:
    """A staff join token of someone who may not see the session (another township's mediator, as if
    minted with their id) reads as an unknown session, as everywhere else; a visible one gets further."""
    sid, h = await make_session(client, "mediator")
    async with services(client.app).db.session() as s:
        other = int((await s.execute(select(Staff.id).where(Staff.username == "mediator_340321002"))).scalar_one())
    minted = tokens.sign(services(client.app).config.secret_key, JOIN_PURPOSE,
                         {"sid": sid, "role": "observer", "name": "x", "staff": other}, STAFF_JOIN_TTL_S)
    for kind, offer in (("whep", CLIENT_OFFER), ("whip", FFMPEG_OFFER)):
        r = await client.post(f"/{kind}/{sid}", data=offer, headers=bearer(minted))
        assert r.status == 404 and (await error(r))["code"] == "not_found"
    r = await client.post(f"/whep/{sid}", data=CLIENT_OFFER, headers=bearer(await staff_token(client, h, sid)))
    assert r.status == 503  # visible: refused only for want of an SFU


def test_ice_servers_as_link_headers() -> None:
    links = ice_links([{"urls": "stun:stun.example.cn:3478"},
                       {"urls": ["turn:turn.example.cn:3478?transport=udp", "turns:turn.example.cn:5349"],
                        "username": "1700000000:p1", "credential": 'a/b+c="'}])
    assert links == [
        '<stun:stun.example.cn:3478>; rel="ice-server"',
        '<turn:turn.example.cn:3478?transport=udp>; rel="ice-server"; username="1700000000:p1"; '
        'credential="a/b+c=\\""; credential-type="password"',
        '<turns:turn.example.cn:5349>; rel="ice-server"; username="1700000000:p1"; '
        'credential="a/b+c=\\""; credential-type="password"',
    ]
