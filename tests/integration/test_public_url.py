"""CONCORD_PUBLIC_URL is the only source of absolute URLs in documents, QR codes and messages
(server/publicurl.py): a forged ``Host`` or ``X-Forwarded-Host`` changes nothing that is written down, even
from a trusted proxy; unset, the server warns at start and documents say 未配置公开地址."""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

import pymupdf
import pytest

from server.publicurl import PLACEHOLDER, PLACEHOLDER_EN, WARNING, parse_public_url
from server.security.clientip import parse_networks
from server.services import services
from tests.conftest import login
from tests.integration.agreements.helpers import create_frozen
from tests.integration.cases.helpers import create
from tests.support.rooms import invite, make_session

PUBLIC = "https://tiaojie.example.gov.cn"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
          "Forwarded": "for=1.2.3.4;proto=http;host=evil.example"}
CARD_LINK = re.compile(r'id="card-intake-link">([^<]+)<')


async def _client(aiohttp_client, config, public_url: str | None):  # type: ignore[no-untyped-def]
    from server.app import create_app
    from server.directory.demo import seed

    # The proxy on 127.0.0.1 is trusted: before, its X-Forwarded-Host went into every link.
    app = create_app(dataclasses.replace(config, public_url=public_url, trusted_proxies=parse_networks("127.0.0.1")))
    c = await aiohttp_client(app)
    async with services(app).db.session() as s:
        await seed(s)
    return c


@pytest.fixture
async def public(aiohttp_client, config):  # type: ignore[no-untyped-def]
    return await _client(aiohttp_client, config, PUBLIC)


@pytest.fixture
async def unset(aiohttp_client, config, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="concord")
    return await _client(aiohttp_client, config, None)


def pdf_lines(data: bytes) -> list[str]:
    doc = pymupdf.open(stream=data, filetype="pdf")
    return [line for page in doc for line in page.get_text().split("\n")
            if not line.startswith(("导出时间", "20"))]  # the export time moves with the clock


def qr_pixels(data: bytes) -> list[bytes]:
    doc = pymupdf.open(stream=data, filetype="pdf")
    page = doc[-1]
    return [pymupdf.Pixmap(doc, xref).samples for xref, *_ in page.get_images()]


async def records(client: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A frozen agreement, a case, a session with an invitation."""
    h = await login(client, "mediator")
    a = await create_frozen(client, h)
    case = await create(client)
    sid, sh = await make_session(client)
    inv = await invite(client, sh, sid, "张三")
    return {"h": h, "aid": a["id"], "code": case["code"], "sid": sid, "sh": sh, "inv": inv["id"]}


async def everything_written(client: Any, rec: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every document, QR code and message the server writes about ``rec``, fetched with ``headers`` added."""
    hh = {**rec["h"], **headers}
    out: dict[str, Any] = {}
    r = await client.get(f"/api/agreements/{rec['aid']}/pdf", headers=hh)
    assert r.status == 200, await r.text()
    out["pdf"] = await r.read()
    r = await client.post(f"/api/agreements/{rec['aid']}/sign-links", json={"party": "p1"}, headers=hh)
    assert r.status == 201, await r.text()
    link = await r.json()
    # Each link has its own token and expiry: compare the message around them.
    out["sms"] = re.sub(r"link=\S+ 链接.*", "link=TOKEN", link["sms_text"])
    out["sign_qr"] = link["qr_svg"]
    out["sign_url"] = link["url"].split("?")[0]
    r = await client.get("/cards/units/340321001001", headers=hh)
    out["card"] = CARD_LINK.search(await r.text()).group(1)  # type: ignore[union-attr]
    r = await client.get(f"/cases/{rec['code']}/qr.svg", headers=hh)
    assert r.status == 200
    out["case_qr"] = await r.text()
    r = await client.get(f"/sessions/{rec['sid']}/invitations/{rec['inv']}/qr.svg", headers={**rec["sh"], **headers})
    assert r.status == 200
    out["join_qr"] = await r.text()
    r = await client.get(f"/sessions/{rec['sid']}", headers={**rec["sh"], **headers})
    out["session_page"] = await r.text()
    return out


async def test_a_forged_host_changes_no_document(public) -> None:  # type: ignore[no-untyped-def]
    rec = await records(public)
    plain = await everything_written(public, rec, {})
    forged = await everything_written(public, rec, FORGED)
    for got in (plain, forged):
        lines = pdf_lines(got["pdf"])
        assert f"{PUBLIC}/verify?h=" in "".join(lines), lines[-40:]  # the URL wraps under the QR code
        assert not any("evil" in line or "127.0.0.1" in line for line in lines)
        assert f"{PUBLIC}/agreements/" in got["sms"] and got["sign_url"].startswith(PUBLIC)
        assert got["card"] == f"{PUBLIC}/intake?unit=340321001001"
        assert "evil" not in got["session_page"] and f"{PUBLIC}/join/" in got["session_page"]
        assert PLACEHOLDER not in got["case_qr"] and PLACEHOLDER not in got["join_qr"]
    # Byte for byte: the PDF's text and its QR code image, the text message, the QR codes.
    assert pdf_lines(plain["pdf"]) == pdf_lines(forged["pdf"])
    assert qr_pixels(plain["pdf"]) == qr_pixels(forged["pdf"]) and qr_pixels(plain["pdf"])
    assert plain["sms"] == forged["sms"]
    assert plain["case_qr"] == forged["case_qr"] and plain["join_qr"] == forged["join_qr"]
    assert plain["card"] == forged["card"]


async def test_unset_public_url_says_so_and_warns(unset, caplog) -> None:  # type: ignore[no-untyped-def]
    assert any(r.getMessage() == WARNING for r in caplog.get_records("setup"))  # logged at start
    got = await everything_written(unset, await records(unset), FORGED)
    text = "".join(pdf_lines(got["pdf"]))
    assert PLACEHOLDER in text and PLACEHOLDER_EN in text and "/verify?h=" not in text and "evil" not in text
    assert qr_pixels(got["pdf"]) == []  # no QR code at all: the placeholder box stands in its place
    assert PLACEHOLDER in got["sms"] and "http" not in got["sms"]
    # The drawing speaks the reader's language: an API client with no language cookie reads English.
    assert PLACEHOLDER_EN in got["sign_qr"] and got["sign_url"].startswith("/agreements/")
    assert got["card"] == PLACEHOLDER
    assert PLACEHOLDER in got["case_qr"] and PLACEHOLDER in got["join_qr"]
    # The session page's copy field holds the path; its script completes it with the browser's address.
    assert "evil" not in got["session_page"] and re.search(r'value="/join/[^"]+" data-path', got["session_page"])


async def test_no_warning_when_configured(aiohttp_client, config, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="concord")
    await _client(aiohttp_client, config, PUBLIC)
    assert not any(r.getMessage() == WARNING for r in caplog.records)


def test_public_url_parsing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from server.config import Config, ConfigError

    assert parse_public_url(None) is None and parse_public_url("  ") is None
    assert parse_public_url("https://tiaojie.example.gov.cn/") == "https://tiaojie.example.gov.cn"
    assert parse_public_url("http://10.0.0.5:8080/concord/") == "http://10.0.0.5:8080/concord"
    for bad in ("tiaojie.example.gov.cn", "javascript:alert(1)", "https://user@evil.example", "https://x.cn/?a=1",
                "https://x.cn/#f", "https://", "https://x.cn:99999", "https://x .cn", "ftp://x.cn"):
        with pytest.raises(ValueError):
            parse_public_url(bad)
    monkeypatch.setenv("CONCORD_PUBLIC_URL", "https://user@evil.example")
    with pytest.raises(ConfigError, match="CONCORD_PUBLIC_URL"):
        Config.load("/tmp/i12t/cfg")
    monkeypatch.setenv("CONCORD_PUBLIC_URL", "https://tiaojie.example.gov.cn/")
    assert Config.load("/tmp/i12t/cfg").public_url == "https://tiaojie.example.gov.cn"
