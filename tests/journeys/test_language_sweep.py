"""Language sweep: every page a user reaches by clicking, in zh and in en, speaks that language only.

One live server holds realistic data made in setup (a resident's intake turned into an assigned case, a
session of it with a start time and an invitation, a second session of the same case). Then, for each demo
role and for a visitor who is not logged in, Chromium starts on the home (or login) page and follows the
links it finds (menu included), breadth first and bounded, in each language. On every page the visible text
(``document.body.innerText``) must hold:

- no snake_case or dotted code (``land_boundary``, ``case.intake``);
- on a zh page, no English phrase (abbreviations such as PDF, ID numbers, hashes and case codes are fine);
- on an en page, no Chinese except the names that come from the data (places, people, units, case text);
- no UTC time (``...Z``, ``+00:00``, ``UTC``): times are Beijing time;
- and no server error.

Every offence is reported with its page, and the list is saved as ``offences.txt`` in the artefact folder.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from server.cases.models import Case, CaseParty
from server.clock import BEIJING
from server.directory.models import Staff, Unit
from server.services import services
from server.sessions.models import Session
from tests.journeys.conftest import Journey, open_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLES = ["mediator", "expert", "admin"]
LANGS = ["zh-CN", "en"]
MAX_PAGES = 40  # per role and language
PER_SHAPE = 2  # pages of one shape (/cases/N, /units/N, ...) per role and language
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

# Not pages: files, the live room, the API, and the switch to the other language (each language is swept).
SKIP = re.compile(r"^/(?:static|api|ws)/|\.(?:pdf|csv|xlsx|svg|png|jpe?g|webm|zip|json|ico)$|/room$|"
                  r"/download|/export|/logout$")

URL = re.compile(r"\b(?:https?://|www\.)\S+")
FILE = re.compile(r"\S+\.(?:pdf|csv|xlsx|webm|png|jpe?g|json|db|html|js|css|svg)\b", re.I)
CODE = re.compile(r"(?<![\w./:@-])[a-z]{2,}(?:[._][a-z]{2,})+(?![\w/@-])")
UTC = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]00:?00)(?!\w)|\bUTC\b")
ENGLISH = re.compile(r"\b[A-Za-z][a-z]+(?:[ ,'’-]+[A-Za-z]?[a-z]+)+\b")
WORD = re.compile(r"(?<![\w./:@-])[a-z]{3,}(?![\w/@-])")  # one lowercase word on a zh page: a code
COMMAND = re.compile(r"\bconcord [a-z-]+")  # the command line, named on the /verify page
CHINESE = re.compile(r"[\u3400-\u9fff][\u3400-\u9fff\u3000-\u303f\uff00-\uffef·]*")
# Words that are not English prose on a zh page (product and browser names).
EN_ALLOWED = {"Chrome", "Edge", "Safari", "English"}


def offences(text: str, lang: str, data_names: list[str], data_words: frozenset[str] = frozenset()
             ) -> list[tuple[str, str]]:
    """(kind, snippet) for each thing on a page that is not in the page's language.

    ``data_names`` are the names that come from the data (shown as they are in both languages), longest
    first; ``data_words`` the Latin words that are data (login names).
    """
    found: list[tuple[str, str]] = []
    found += [("utc-time", m) for m in UTC.findall(text)]
    plain = COMMAND.sub(" ", FILE.sub(" ", URL.sub(" ", text)))
    found += [("code", m) for m in CODE.findall(plain)]
    if lang == "en":
        for name in data_names:  # longest first, so a unit's full name goes before its parts
            plain = plain.replace(name, " ")
        found += [("chinese", m) for m in CHINESE.findall(plain) if m != "中文"]
    else:
        for m in ENGLISH.finditer(plain):
            words = re.findall(r"[A-Za-z]+", m.group(0))
            if not all(w in EN_ALLOWED or w in data_words for w in words):
                found.append(("english", m.group(0)))
        phrases = {m for kind, m in found if kind in ("english", "code")}
        found += [("english", w) for w in WORD.findall(plain)
                  if w not in data_words and not any(w in p for p in phrases)]
    return list(dict.fromkeys(found))


def _shape(path: str, query: list[tuple[str, str]]) -> str:
    return re.sub(r"\d[\d-]*", "N", path) + "?" + ",".join(sorted({k for k, _ in query}))


def _normal(url: str, base: str) -> str | None:
    """The same-site page a link leads to, without ``lang`` or fragment; None for what is not swept."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != base:
        return None
    if SKIP.search(parts.path):
        return None
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return parts.path + ("?" + urlencode(query) if query else "")


async def sweep(page: Any, base: str, start: str, lang: str, data: tuple[list[str], frozenset[str]], who: str,
                journey: Journey) -> tuple[list[str], list[str]]:
    """Visit the pages reachable from ``start`` by links; returns (pages visited, offences as lines)."""
    await page.goto(base + start)
    if not (await page.evaluate("document.documentElement.lang")).startswith(lang[:2]):
        async with page.expect_navigation():
            await page.click("a.lang")  # the language switch in the top bar; a cookie keeps the choice
    queue: deque[str] = deque([start])
    seen: set[str] = {start}
    shapes: dict[str, int] = {}
    visited: list[str] = []
    report: list[str] = []
    while queue and len(visited) < MAX_PAGES:
        path = queue.popleft()
        try:
            resp = await page.goto(base + path, wait_until="load")
        except Exception as e:  # a download, or a page that never loads
            if "Download is starting" not in str(e):
                report.append(f"{who} {lang} {path}: did not load ({str(e).splitlines()[0][:120]})")
            continue
        if resp is None or "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        try:
            await page.wait_for_load_state("networkidle", timeout=1000)
        except Exception:  # a page that polls: its first state is what a user sees
            pass
        visited.append(path)
        if resp.status >= 500:
            report.append(f"{who} {lang} {path}: HTTP {resp.status}")
        text = await page.evaluate("document.body.innerText")
        for kind, snippet in offences(text, lang, *data):
            report.append(f"{who} {lang} {path}: {kind}: {snippet!r}")
        if len(visited) <= 3:
            await journey.step(page, f"{who}-{lang}-{path}", full_page=False)
        hrefs = await page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            target = _normal(href, base)
            if target is None or target in seen:
                continue
            parts = urlsplit(target)
            shape = _shape(parts.path, parse_qsl(parts.query))
            if shapes.get(shape, 0) >= PER_SHAPE:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            seen.add(target)
            queue.append(target)
    return visited, report


async def _intake(base: str) -> str:
    """A resident asks for help on the public form; returns the case code it registers."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies on an IP
        async with http.get(base + "/intake?unit=340321001001") as r:
            token = TOKEN.search(await r.text()).group(1)  # type: ignore[union-attr]
        form = {"csrf_token": token, "unit": "340321001001", "name": "钱八", "phone": "13812345678",
                "category_item": "disputes:neighbourhood",
                "description": "邻居家装修噪音持续到深夜，多次沟通无果，希望村里帮忙调解。",
                "wants_video": "on", "preferred_time": "工作日晚上"}
        async with http.post(base + "/intake", data=form) as r:
            html = await r.text()
            assert r.status == 200, html
    return re.search(r'id="intake-code">([^<]+)<', html).group(1)  # type: ignore[union-attr]


DATA_TEXT = ["钱八", "邻居家装修噪音持续到深夜，多次沟通无果，希望村里帮忙调解。", "工作日晚上", "新华村1组",
             "钱八与邻居噪音纠纷调解", "噪音纠纷第二次调解", "邻居孙九"]


async def seed_cases(server: Any) -> None:
    """The realistic data: an intake case triaged, accepted and assigned, with two sessions and an invitation."""
    base = server.url
    code = await _intake(base)
    token = await server.login("mediator")
    for action, extra in [("triage", {"grade": "yellow"}), ("accept", {}), ("assign", {"assignees": ["mediator"]})]:
        await server.api("POST", f"/api/cases/{code}/transitions", token, {"action": action, **extra})
    case = await server.api("GET", f"/api/cases/{code}", token)
    start = (datetime.now(BEIJING) + timedelta(days=1)).replace(hour=9, minute=30, second=0,
                                                                                   microsecond=0)
    first = await server.api("POST", "/api/sessions", token, {
        "kind": "mediation", "title": "钱八与邻居噪音纠纷调解", "unit": "340321001", "case_id": case["id"],
        "scheduled_at": start.isoformat()})
    await server.api("POST", f"/api/sessions/{first['id']}/invitations", token, {"role": "party", "name": "钱八"})
    await server.api("POST", "/api/sessions", token, {
        "kind": "mediation", "title": "噪音纠纷第二次调解", "unit": "340321001", "case_id": case["id"],
        "scheduled_at": (start + timedelta(days=2)).isoformat()})


async def data_of(server: Any) -> tuple[list[str], frozenset[str]]:
    """Names that come from the data (units, people, case and session titles, the text made in setup),
    longest first, and the login names."""
    names = list(DATA_TEXT)
    async with services(server.app).db.read() as s:
        for column in (Unit.name, Staff.name, Case.title, CaseParty.name, CaseParty.address, Session.title):
            names += [n for n in (await s.execute(select(column))).scalars() if n]
        logins = frozenset((await s.execute(select(Staff.username))).scalars())
    return sorted(set(names), key=len, reverse=True), logins


@pytest.mark.timeout(1500)
async def test_every_page_speaks_the_viewers_language(live_server, browser, journey) -> None:  # type: ignore[no-untyped-def]
    await seed_cases(live_server)
    data = await data_of(live_server)
    base = live_server.url
    report: list[str] = []
    summary: list[str] = []

    async def one(who: str, lang: str) -> tuple[list[str], list[str]]:
        if who == "public":
            page = await open_page(browser, base + "/login", lang=lang)
        else:
            page = await sign_in(browser, base, who)
        try:
            return await sweep(page, base, "/login" if who == "public" else "/", lang, data, who, journey)
        finally:
            await page.context.close()

    for lang in LANGS:  # the roles side by side: each has its own browser context
        results = await asyncio.gather(*(one(who, lang) for who in ["public", *ROLES]))
        for who, (visited, found) in zip(["public", *ROLES], results, strict=True):
            report += found
            summary.append(f"{who} {lang}: {len(visited)} pages: {' '.join(visited)}")
        (journey.folder / "offences.txt").write_text("\n".join(summary + [""] + report) + "\n")
    assert not report, f"{len(report)} offences:\n" + "\n".join(report)


@pytest.mark.parametrize(("text", "lang", "kinds"), [
    ("类别 land_boundary 事项", "zh-CN", {"code"}),
    ("新通知 case.intake", "zh-CN", {"code"}),
    ("时间 2026-03-01T01:30:00Z", "zh-CN", {"utc-time"}),
    ("开始 2026-03-01 09:30 UTC", "zh-CN", {"utc-time"}),
    ("请填写姓名 / Enter your name", "zh-CN", {"english"}),
    ("下载 PDF 或 CSV，案件 340321-2026-000001，哈希 9f86d081884c7d65", "zh-CN", set()),
    ("Case 340321-2026-000001 at 龙亢镇 with 钱八", "en", set()),
    ("Status: 已登记", "en", {"chinese"}),
    ("Open https://example.org/a_b.c and report.pdf", "en", set()),
    ("来源 walk_in，等级 green", "zh-CN", {"code", "english"}),
    ("账号 mediator，命令 concord verify-agreement FILE", "zh-CN", set()),
])
def test_offence_rules(text: str, lang: str, kinds: set[str]) -> None:
    assert {k for k, _ in offences(text, lang, ["龙亢镇", "钱八"], frozenset({"mediator"}))} == kinds
