"""Security headers on every response, and pages that a strict Content-Security-Policy does not break.

The crawl walks every page a logged-in admin and mediator can reach (plus the public and token pages),
checks each response's headers, and parses the HTML: no inline ``<script>`` (only ``src=`` or
``type="application/json"``), no ``on...=`` handler, no ``style=`` attribute and no ``<style>`` element.
Every page route of the app must have been visited, so a new page cannot skip the check.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from server.directory.models import Staff, Unit
from server.security.headers import CSP
from server.services import services
from tests.conftest import login
from tests.integration.access import council_world
from tests.integration.access.world import PNG
from tests.integration.agreements.helpers import content, mediator_name
from tests.integration.cases.helpers import create
from tests.integration.cases.test_case_pages import page_login

# Page routes that are not HTML pages or need a state the crawl does not build, and why.
NOT_PAGES = {
    "/ws": "the WebSocket endpoint",
    "/healthz": "JSON probe (headers checked below)",
    "/metrics": "Prometheus text (tests/integration/test_metrics.py)",
    "/favicon.ico": "an icon (headers checked below)",
    "/ca/crl.der": "the city CA's CRL, DER (headers checked below)",
    "/ca/root.cer": "the city root certificate, DER (headers checked below)",
    "/status/photo/{token}": "an image for a closed case's public status (needs a closing photo)",
    "/councils/live": "JSON for the room's council panel (tests/integration/test_council_meeting_live.py)",
    "/councils/g/{token}": "a gallery link: redirects each visitor to their own join page (test_council_gallery.py)",
}


class PageCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style")
        if tag == "script" and not a.get("src") and a.get("type") != "application/json":
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        for name in ("href", "src", "action"):
            if (a.get(name) or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:...>")


def assert_headers(r: Any, url: str) -> None:
    assert r.headers.get("Content-Security-Policy") == CSP, url
    assert r.headers.get("X-Content-Type-Options") == "nosniff", url
    # The join page (its URL is the invitation) sends no referrer at all.
    assert r.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), url


def _followable(href: str) -> str | None:
    if not href.startswith("/") or href.startswith("//"):
        return None
    path = href.split("#")[0]
    if path.startswith(("/static/", "/api/", "/logout", "/ws")) or path.endswith((".csv", ".xlsx", ".svg", ".pdf")):
        return None
    return path


def _shape(url: str) -> str:
    """Same page, other record: visit a few of each, not all."""
    path, _, query = url.partition("?")
    keys = sorted(k.split("=")[0] for k in query.split("&") if k)
    return re.sub(r"[0-9]+", "N", path) + "?" + "&".join(keys)


async def crawl(client: Any, start: list[str], seen: set[str], visited_paths: list[str]) -> None:
    queue = deque(start)
    shapes: dict[str, int] = {}
    while queue and len(seen) < 400:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        shape = _shape(url)
        shapes[shape] = shapes.get(shape, 0) + 1
        if shapes[shape] > 3:
            continue
        r = await client.get(url, allow_redirects=False)
        assert_headers(r, url)
        visited_paths.append(url.split("?")[0])
        if not r.headers.get("Content-Type", "").startswith("text/html"):
            continue
        page = PageCheck()
        page.feed(await r.text())
        assert not page.problems, (url, page.problems)
        for href in page.links:
            nxt = _followable(href)
            if nxt is not None and nxt not in seen:
                queue.append(nxt)


async def records(client: Any) -> list[str]:
    """A case, its session with an invitation, an agreement with a party link: the pages behind tokens."""
    case = await create(client)
    h = await login(client, "mediator")
    r = await client.post("/api/sessions", json={"kind": "mediation", "title": "宅基地纠纷调解", "unit": "340321001",
                                                 "case_id": case["id"]}, headers=h)
    assert r.status == 201
    sid = (await r.json())["id"]
    r = await client.post(f"/api/sessions/{sid}/invitations", json={"name": "李四", "role": "party"}, headers=h)
    assert r.status == 201, await r.text()
    inv = await r.json()
    join = inv["url"]
    name = await mediator_name(client, h)
    c = content(mediator_name=name)
    c["parties"][1]["id_number"] = ""
    r = await client.post("/api/agreements", json={"content": c}, headers=h)
    a = await r.json()
    r = await client.post(f"/api/agreements/{a['id']}/freeze", json={"version": 1}, headers=h)
    assert r.status == 200, await r.text()
    r = await client.post(f"/api/agreements/{a['id']}/sign-links", json={"party": "p1"}, headers=h)
    assert r.status == 201, await r.text()
    sign = urlsplit((await r.json())["url"])
    sign_url = f"{sign.path}?{sign.query}"
    pid = case["parties"][0]["id"]
    return [join, sign_url, f"/cases/{case['code']}/parties/{pid}/copy", f"/sessions/{sid}/record",
            f"/sessions/{sid}/playback", f"/cases/{case['code']}/qr.svg",
            f"/sessions/{sid}/invitations/{inv['id']}/qr.svg", "/cards/staff/mediator", f"/status?code={case['code']}"]


async def council_pages(app: web.Application) -> tuple[list[str], list[str]]:
    """A residents' council of the demo mediator's township, built as the access matrix builds it: its
    public pages, and its staff pages (the ones the menu's links do not reach: the tablet, the notice, the
    gallery QR code, the photos)."""
    async with services(app).db.session() as s:
        staff = (await s.execute(select(Staff).where(Staff.username == "mediator"))).scalar_one()
        unit = await s.get(Unit, staff.unit_id)
        assert unit is not None
    v = await council_world.build(app, staff.id, unit.code, PNG)
    c, m = f"/councils/{v['council']}", f"/councils/{v['council']}/meetings/{v['meeting']}"
    public = [f"/councils/t/{v['topic_code']}", f"/councils/p/{v['council_code']}",
              f"/councils/p/{v['council_code']}/photos/{v['photo']}"]
    return public, [c, f"{c}/topics/{v['topic']}", m, f"{m}/tablet", f"{m}/notice", f"{m}/gallery.svg",
                    f"{c}/photos/{v['photo']}"]


async def test_every_page_has_the_headers_and_no_inline_script_or_handler(client) -> None:  # type: ignore[no-untyped-def]
    app: web.Application = client.app
    extra = await records(client)
    council_public, council_staff = await council_pages(app)
    extra += council_public + council_staff
    public = ["/login", "/intake", "/intake?unit=340321001001", "/status", "/verify", "/nowhere-404", *council_public]
    seen: set[str] = set()
    visited: list[str] = []
    client.session.cookie_jar.clear()
    await crawl(client, public + [u for u in extra if u.startswith(("/join/", "/agreements/"))], seen, visited)
    for user in ("admin", "mediator"):
        await page_login(client, user)
        await crawl(client, ["/", *extra, "/?lang=en", "/cases?lang=en"], set(), visited)
    # Every page route was rendered at least once.
    missed = []
    for route in app.router.routes():
        resource = route.resource
        if route.method != "GET" or resource is None:
            continue
        canonical = resource.canonical
        if canonical.startswith(("/api/", "/static")) or canonical in NOT_PAGES:
            continue
        if not any(resource._match(p) is not None for p in visited):  # noqa: SLF001 (aiohttp's own matcher)
            missed.append(canonical)
    assert not missed, f"pages never rendered by the crawl: {missed}"


async def test_json_errors_files_and_redirects_carry_the_headers(client) -> None:  # type: ignore[no-untyped-def]
    h = await login(client, "admin")
    for url, headers in [("/api/units", h), ("/api/units", {}), ("/healthz", {}), ("/favicon.ico", {}),
                         ("/ca/crl.der", {}), ("/ca/root.cer", {}),
                         ("/static/js/concord.js", {}), ("/api/openapi.json", {}), ("/", {}),
                         ("/api/no-such-thing", {})]:
        r = await client.get(url, headers=headers, allow_redirects=False)
        assert_headers(r, url)
    r = await client.post("/api/auth/login", json={"username": "admin", "password": "wrong"})
    assert r.status == 401
    assert_headers(r, "POST /api/auth/login")


def test_policy_is_strict() -> None:
    rules = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert rules["script-src"] == "'self'" and "unsafe" not in CSP
    assert rules["object-src"] == "'none'" and rules["frame-ancestors"] == "'none'"
    assert rules["base-uri"] == "'self'" and rules["default-src"] == "'self'"
