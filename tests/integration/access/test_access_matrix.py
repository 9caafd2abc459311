"""The access matrix: every route (API, pages, the WebSocket join) x every actor x a normal and a DV case,
judged against the table below; and the leak scan over every answer and download it produced.

How to read the table. ``ROUTES`` maps each route (``METHOD /path`` as the router knows it) to a ``Row``
naming its rule; ``RULES`` says, per rule and case kind, which actors are let through. Everyone else
must be refused: 401, 403 or 404 (or the rule's own refusal codes, e.g. 410 for a dead link), or a page's
redirect to /login. "Let through" means "not refused": a GET answers 2xx/3xx; a change may still be
judged invalid (400, 409, 422) because the matrix sends harmless bodies and must not break the world for
the rows after it. A route the router has and the table lacks fails the test: no route goes unjudged.

Rows with ``phase=1`` change the world (cancel a session, revoke a link) and run after every other row;
``phase=2`` (sign-out) runs last of all.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import aiohttp
import pytest
import pytest_asyncio

from server.api.registry import OPERATIONS
from tests.integration.access.world import (
    ACTORS,
    ADMIN,
    ANON,
    CITY,
    CONFIDENTIAL,
    COUNTY,
    EXPERT,
    EXPIRED,
    MARK_TURNED,
    NAMED,
    OTHER,
    PARTY_A,
    PARTY_B,
    PEER,
    PNG,
    RESTRICTED_CONTENT,
    STAFF_USERNAMES,
    TOWNSHIP,
    CaseWorld,
    World,
)
from tests.support.leaks import find_leaks

# The module fixture (world + 3,552 requests) is set up inside the first test; on a loaded CI box that
# can pass the suite's 300 s per-test limit.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(900)]

# ---- who ---------------------------------------------------------------------------------------------
UNIT = frozenset({NAMED, PEER, COUNTY, CITY, ADMIN})      # handlers of the township, and the tiers above it
STAFF = UNIT | {EXPERT, EXPIRED, OTHER}                   # every signed-in account
PARTIES = frozenset({PARTY_A, PARTY_B})
EVERYONE = frozenset(ACTORS)
NONE: frozenset[str] = frozenset()

# A case-independent rule has one column, "-"; a case rule has "normal" and "dv".
RULES: dict[str, dict[str, frozenset[str]]] = {
    "public": {"-": EVERYONE},
    "public_case": {"normal": EVERYONE, "dv": EVERYONE},
    "staff": {"-": STAFF},
    # A unit's figures would tell an expert more than their granted cases: none for experts.
    "staff_not_expert": {"-": STAFF - {EXPERT, EXPIRED}},
    # 龙亢镇's own pages: staff whose subtree holds it (the county's experts included).
    "township": {"-": UNIT | {EXPERT, EXPIRED}},
    "township_admin": {"-": frozenset({ADMIN})},
    "issue_notice": {"-": frozenset({NAMED, PEER, COUNTY, CITY, ADMIN, OTHER})},  # leads of a township or above
    "drafters": {"-": STAFF - {EXPERT, EXPIRED}},
    "nobody": {"-": NONE},
    # A residents' council at 龙亢镇 (server/councils): seen by the township and the tiers above (not experts),
    # run by the township's own staff (its convenor would too), its tasks supervised from above.
    "council_read": {"-": UNIT},
    "council_manage": {"-": frozenset({NAMED, PEER})},
    "council_supervise": {"-": frozenset({COUNTY, CITY, ADMIN})},
    # Signing out: anyone may ask, nothing to refuse (judged only as "no 5xx").
    "sign_out": {"-": EVERYONE},
    # The case and everything that belongs to it: its unit path and live grantees; a DV case only its
    # named staff and live grantees. An expired grant opens nothing.
    "case_read": {"normal": UNIT | {EXPERT}, "dv": frozenset({NAMED, EXPERT})},
    "case_handle": {"normal": UNIT, "dv": frozenset({NAMED})},
    # Answering a supervision order: the owning unit (or the assignee), not the tiers above that issued it.
    "case_owner": {"normal": frozenset({NAMED, PEER}), "dv": frozenset({NAMED})},
    "case_upload": {"normal": UNIT | {EXPERT}, "dv": frozenset({NAMED, EXPERT})},
    "case_above": {"normal": frozenset({COUNTY, CITY, ADMIN}), "dv": NONE},
    "case_expert": {"normal": frozenset({EXPERT}), "dv": frozenset({EXPERT})},
    "agreement_mediator": {"normal": frozenset({NAMED, PEER, COUNTY, CITY}), "dv": frozenset({NAMED})},
    "agreement_seal": {"normal": frozenset({NAMED, PEER}), "dv": frozenset({NAMED})},
    # The party endpoints: the case's own parties, by their invitation and identity check.
    "party": {"normal": PARTIES, "dv": PARTIES},
    # The WebSocket join: whoever may take part in the case's session.
    "ws": {"normal": UNIT | {EXPERT} | PARTIES, "dv": frozenset({NAMED, EXPERT}) | PARTIES},
}
# Refusals besides 401/403/404 that a rule accepts (a link that is not the caller's is "gone").
REFUSALS = {"party_token": {400, 410}}
# A page form answers a refusal by going back to the case page with the refusal in its own words.
PAGE_REFUSALS = ("您的角色或层级不能", "您无权执行此操作")
RULES["party_token"] = RULES["party"]
# Session rules are the case's: the session belongs to the case and inherits its list and grants.
RULES["session_read"] = RULES["case_read"]
RULES["session_host"] = RULES["case_handle"]
RULES["recording"] = RULES["case_handle"]


@dataclass(frozen=True)
class Row:
    rule: str
    body: Any = None            # JSON body, or "form" / "upload" / "verify" for the special ones
    phase: int = 0
    # Known gaps, each reported in the output with its reason (actor, or "*" for every actor -> reason).
    xfail: dict[str, str] = field(default_factory=dict)
    sessions: bool = False      # run against the mediation session and the consultation session
    skip: dict[str, frozenset[str]] = field(default_factory=dict)  # case kind -> actors not judged (no record)
    query: str = ""


S = True  # readability: Row(..., sessions=S)
ROUTES: dict[str, Row] = {
    # ---- public ------------------------------------------------------------------------------------
    "GET /healthz": Row("public"),
    "GET /metrics": Row("nobody"),
    "GET /static": Row("public"),
    "GET /favicon.ico": Row("public"),
    "GET /login": Row("public"),
    "POST /login": Row("public", "form"),
    "GET /status": Row("public"),
    "POST /status": Row("public", "form"),
    "GET /status/photo/{token}": Row("nobody"),   # only a status lookup's own signed token opens a photo
    "GET /intake": Row("public"),
    "POST /intake": Row("public", "form"),
    "GET /verify": Row("public"),
    "POST /verify": Row("public", "verify"),
    "GET /api/openapi.json": Row("public"),
    "POST /api/auth/login": Row("public", {}),
    "POST /api/verify": Row("public", "verify"),
    "GET /ca/crl.der": Row("public"),  # the city CA's revocation list: readers fetch it
    "GET /ca/root.cer": Row("public"),  # the city root certificate, to import into readers
    "GET /cards/units/{code}": Row("township"),      # the printed intake card of a unit
    "GET /cards/staff/{username}": Row("township"),
    # ---- any staff ---------------------------------------------------------------------------------
    "GET /": Row("staff"),
    "GET /network": Row("staff"),
    "GET /experts": Row("staff"),
    "GET /cases": Row("staff"),
    "GET /cases/export.csv": Row("staff"),
    "GET /cases/export.xlsx": Row("staff"),
    "GET /cases/new": Row("staff"),
    "POST /cases/new": Row("staff", "form"),
    "GET /notifications": Row("staff"),
    "POST /notifications/read": Row("staff", "form"),
    "GET /notices": Row("staff"),
    "POST /notices": Row("issue_notice", {"kind": "bulletin", "title": "矩阵测试", "body": "矩阵测试"}),
    "GET /consultations": Row("staff"),
    "POST /consultations/answer": Row("staff", "form"),
    "GET /agreements": Row("staff"),
    "GET /sessions": Row("staff"),
    "POST /sessions": Row("staff", "form"),
    "GET /dashboard": Row("staff_not_expert"),
    "GET /units/{code}": Row("township"),
    "POST /units/{code}/staff": Row("township_admin", "new_staff"),
    "POST /logout": Row("sign_out", "form", phase=3),
    "GET /api/auth/me": Row("staff"),
    "POST /api/auth/logout": Row("staff", {}, phase=2),
    "GET /api/units": Row("staff"),
    "GET /api/units/{code}": Row("township"),
    "GET /api/staff": Row("staff"),
    "POST /api/staff": Row("township_admin", "new_staff"),
    "GET /api/experts": Row("staff"),
    "GET /api/case-catalog": Row("staff"),
    "GET /api/cases": Row("staff"),
    "POST /api/cases": Row("staff", {}),
    "GET /api/supervision": Row("staff"),
    "GET /api/notifications": Row("staff"),
    "POST /api/notifications/read": Row("staff", {}),
    "GET /api/notices": Row("staff"),
    "POST /api/notices": Row("issue_notice", {"kind": "bulletin", "title": "矩阵测试", "body": "矩阵测试"}),
    "GET /api/consultations": Row("staff"),
    "POST /api/petitions": Row("staff", {}),
    "POST /api/agreements": Row("drafters", {}),
    "GET /api/agreements": Row("staff"),
    "POST /api/sessions": Row("staff", {}),
    "GET /api/sessions": Row("staff"),
    "GET /api/dashboard": Row("staff_not_expert"),
    "GET /api/evaluation": Row("staff_not_expert"),
    "GET /api/dashboard.csv": Row("staff_not_expert", query="?table=by_status"),
    "GET /api/dashboard.xlsx": Row("staff_not_expert"),
    "GET /api/evaluation.csv": Row("staff_not_expert"),
    "GET /api/evaluation.xlsx": Row("staff_not_expert"),
    # ---- a case and its records ------------------------------------------------------------------
    "GET /cases/{code}": Row("case_read"),
    "GET /cases/{code}/qr.svg": Row("case_read"),
    "GET /cases/{code}/parties/{party_id}/copy": Row("case_handle"),
    "POST /cases/{code}/transition": Row("case_handle", {"action": "archive"}),
    "POST /cases/{code}/edit": Row("case_handle", {"title": "改", "version": "9999"}),
    "POST /cases/{code}/upload": Row("case_upload", "upload"),
    "POST /cases/{code}/follow-up": Row("case_handle", {"method": "phone", "satisfaction": 5,
                                                        "recurrence_risk": "low", "notes": "矩阵回访"}),
    "POST /cases/{code}/obligation": Row("case_handle", {"obligor": "李四", "obligee": "张三", "content": "支付",
                                                         "due_at": "2030-12-31T09:00"}),
    "POST /cases/{code}/supervise": Row("case_above", {"instruction": "请按期办结", "due_at": "2030-12-31T09:00"}),
    "POST /cases/{code}/respond": Row("case_owner", "respond", skip={"dv": frozenset({NAMED})}),
    "POST /cases/{code}/consult": Row("case_handle", "form"),
    "POST /cases/{code}/opinion": Row("case_expert", "opinion"),
    "POST /cases/{code}/session": Row("case_handle", "form"),
    "POST /cases/{code}/joint": Row("case_handle", "form"),
    "POST /cases/{code}/dv": Row("case_handle", "form"),
    "POST /cases/{code}/named": Row("case_handle", "form"),
    # Neither case is a petition: those allowed find nothing to answer (404), so only refusals are judged.
    "POST /cases/{code}/petition": Row("case_handle", {"step": "reply", "reply": "答复"},
                                       skip={"normal": UNIT, "dv": frozenset({NAMED})}),
    "GET /api/cases/{code}": Row("case_read"),
    "PATCH /api/cases/{code}": Row("case_handle", {"title": "改", "version": 9999}),
    "POST /api/cases/{code}/transitions": Row("case_handle", {"action": "archive"}),
    "GET /api/cases/{code}/log": Row("case_read"),
    "POST /api/cases/{code}/named-staff": Row("case_handle", {"add": ["mediator"]}),
    "POST /api/cases/{code}/follow-ups": Row("case_handle", {}),
    "POST /api/cases/{code}/obligations": Row("case_handle", {}),
    "POST /api/cases/{code}/documents": Row("case_upload", "upload"),
    "GET /api/cases/{code}/documents/{doc_id}": Row("case_read"),
    "POST /api/cases/{code}/supervision": Row("case_above", {}),
    "POST /api/cases/{code}/supervision/{order_id}/response": Row("case_owner", {"response": "已办"},
                                                                   skip={"dv": frozenset({NAMED})}),
    "POST /api/cases/{code}/consultations": Row("case_handle", {}),
    "POST /api/consultations/{cid}/accept": Row("case_expert", {}),
    "POST /api/consultations/{cid}/decline": Row("case_expert", {}),
    "POST /api/cases/{code}/consultations/{cid}/opinion": Row("case_expert", {"opinion": "建议按考勤结算"}),
    "POST /api/cases/{code}/consultations/{cid}/cancel": Row("case_handle", {}),
    "POST /api/cases/{code}/petition/hearing": Row("case_handle", {}),
    "POST /api/cases/{code}/petition/outcome": Row("case_handle", {}),
    "POST /api/cases/{code}/petition/reply": Row("case_handle", {}),
    "POST /api/cases/{code}/dv-responses": Row("case_handle", {}),
    "POST /api/cases/{code}/sessions": Row("case_handle", {}),
    "POST /api/cases/{code}/sessions/{sid}/joint-override": Row("case_handle", {}),
    # ---- its sessions (the mediation session, and the expired expert's consultation session) -----
    "GET /sessions/{id}": Row("session_read", sessions=S),
    "GET /sessions/{id}/record": Row("session_read", sessions=S),
    "GET /sessions/{id}/playback": Row("recording", sessions=S),
    "POST /sessions/{id}/invitations": Row("session_host", {"role": "observer", "name": "旁听人乙"}, sessions=S),
    "GET /sessions/{id}/invitations/{inv}/qr.svg": Row("session_host", sessions=S),
    "POST /sessions/{id}/invitations/{inv}/revoke": Row("session_host", "form", phase=1, sessions=S),
    "POST /sessions/{id}/cancel": Row("session_host", "form", phase=1, sessions=S),
    "POST /sessions/{id}/join": Row("session_read", "form", sessions=S),
    "GET /api/sessions/{id}": Row("session_read", sessions=S),
    "GET /api/sessions/{id}/log": Row("session_read", sessions=S),
    "GET /api/sessions/{id}/log.jsonl": Row("session_read", sessions=S),
    "GET /api/sessions/{id}/minutes": Row("session_read", sessions=S),
    "GET /api/sessions/{id}/minutes/versions": Row("session_read", sessions=S),
    "PUT /api/sessions/{id}/minutes": Row("session_host", {"text": "覆盖", "base_version": 9999}, sessions=S),
    "GET /api/sessions/{id}/recordings": Row("session_read", sessions=S),  # the list; the media is "recording"
    "GET /api/sessions/{id}/recordings/{rid}/file": Row("recording"),
    "GET /api/sessions/{id}/playback": Row("session_read", sessions=S),
    "POST /api/sessions/{id}/playback": Row("recording", {}, sessions=S),
    "POST /api/sessions/{id}/invitations": Row("session_host", {"role": "observer", "name": "旁听人乙"},
                                               sessions=S),
    "GET /api/sessions/{id}/invitations": Row("session_host", sessions=S),
    "DELETE /api/sessions/{id}/invitations/{inv}": Row("session_host", phase=1, sessions=S),
    "POST /api/sessions/{id}/join-token": Row("session_read", sessions=S),
    "POST /api/sessions/{id}/cancel": Row("session_host", {}, phase=1, sessions=S),
    "POST /api/sessions/{id}/end": Row("session_host", {}, phase=1, sessions=S),
    "GET /join/{token}": Row("party_token"),
    "GET /api/join/{token}": Row("party_token"),
    "GET /ws": Row("ws"),
    # WHIP/WHEP terminals (server/sfu/http): opened only by a session's join token or invitation as Bearer,
    # never by a login token or cookie, so no actor here gets through. Who may use which join token is the
    # /ws rule above; tests/sfu/test_terminals_http.py judges each refusal with real join tokens.
    "POST /whip/{session}": Row("nobody"),
    "POST /whep/{session}": Row("nobody"),
    "DELETE /{kind}/{session}/{resource}": Row("nobody"),
    # CORS preflight (204) and trickle (405, not supported): they touch nothing.
    "OPTIONS /whip/{session}": Row("public"),
    "OPTIONS /whep/{session}": Row("public"),
    "OPTIONS /whip/{session}/{resource}": Row("public"),
    "OPTIONS /whep/{session}/{resource}": Row("public"),
    "PATCH /whip/{session}/{resource}": Row("public"),
    "PATCH /whep/{session}/{resource}": Row("public"),
    # ---- its agreement -----------------------------------------------------------------------------
    "GET /agreements/{id}": Row("case_read"),
    "GET /agreements/{id}/sign": Row("public_case"),  # a page shell: its data comes from the party API
    "GET /api/agreements/{id}": Row("case_read"),
    "PUT /api/agreements/{id}/draft": Row("case_handle", {"base_version": 9999, "content": {}}),
    "GET /api/agreements/{id}/versions": Row("case_read"),
    "GET /api/agreements/{id}/diff": Row("case_read"),
    "POST /api/agreements/{id}/freeze": Row("case_handle", {}),
    "POST /api/agreements/{id}/reopen": Row("case_handle", {}),
    "POST /api/agreements/{id}/withdraw": Row("case_handle", {}),
    "POST /api/agreements/{id}/void": Row("case_handle", {}),
    "POST /api/agreements/{id}/amend": Row("case_handle", {}),
    "POST /api/agreements/{id}/sign/mediator": Row("agreement_mediator", {}),
    "POST /api/agreements/{id}/seal": Row("agreement_seal", {}),
    "POST /api/agreements/{id}/comments": Row("case_read", {"version": 1, "clause": "t1", "text": "矩阵"}),
    "POST /api/agreements/{id}/present": Row("case_handle", {}),
    "GET /api/agreements/{id}/pdf": Row("case_read"),
    "GET /api/agreements/{id}/judicial-application.pdf": Row("case_read"),
    "GET /api/agreements/{id}/obligations": Row("case_read"),
    "POST /api/agreements/{id}/obligations/{key}/performance": Row("case_handle", {}),
    "POST /api/agreements/{id}/sign-links": Row("case_handle", {"party": "p1"}),
    "GET /api/agreements/{id}/party": Row("party"),
    "POST /api/agreements/{id}/party/check": Row("party", "party"),
    "POST /api/agreements/{id}/party/text": Row("party", "party"),
    "POST /api/agreements/{id}/party/sign": Row("party", "party"),
    "POST /api/agreements/{id}/party/comments": Row("party", "party"),
    "GET /api/agreements/{id}/party/pdf": Row("party"),
    # ---- council pages (server/councils/http/pages.py; the world's council: council_world.py) -----------
    "GET /councils": Row("staff"),
    "POST /councils": Row("council_manage", {"unit": TOWNSHIP, "name": "矩阵新议事会"}),
    "POST /councils/case-topics": Row("staff", "form"),  # the case and council are checked in the handler (tests)
    "GET /councils/live": Row("nobody"),  # only a join token of the meeting's room opens the panel's state
    "GET /councils/propose": Row("public"),
    "POST /councils/propose": Row("public", "form"),
    "GET /councils/t/{topic_code}": Row("public"),
    "POST /councils/t/{topic_code}/support": Row("public", "form"),
    "POST /councils/t/{topic_code}/comments": Row("public", "form"),
    "GET /councils/p/{council_code}": Row("public"),
    "GET /councils/g/{token}": Row("nobody"),  # only an open gallery's own link makes an observer pass
    "GET /councils/p/{council_code}/photos/{photo}": Row("public"),  # a task that follows a public topic
    "GET /councils/{council}": Row("council_read"),
    "POST /councils/{council}/members": Row("council_manage", "form"),
    "POST /councils/{council}/members/{member}/end": Row("council_manage", "form", phase=1),
    "POST /councils/{council}/topics": Row("council_read", "form"),
    "GET /councils/{council}/topics/{topic}": Row("council_read"),
    "POST /councils/{council}/topics/{topic}/decide": Row("council_manage", "form"),
    "POST /councils/{council}/meetings": Row("council_manage", "form"),
    "GET /councils/{council}/meetings/{meeting}": Row("council_read"),
    "GET /councils/{council}/meetings/{meeting}/tablet": Row("council_manage"),
    "POST /councils/{council}/meetings/{meeting}/tablet": Row("council_manage", "form"),
    "GET /councils/{council}/meetings/{meeting}/notice": Row("council_read"),
    "GET /councils/{council}/meetings/{meeting}/gallery.svg": Row("council_manage"),  # the world's gallery is open
    "POST /councils/{council}/meetings/{meeting}/{step}": Row("council_manage", "form"),  # step: attendance
    "POST /councils/{council}/tasks/{task}/{step}": Row("council_supervise", "form"),  # step: supervise
    "GET /councils/{council}/photos/{photo}": Row("council_read"),
    # ---- a residents' council (world.council) -------------------------------------------------------
    "POST /api/councils": Row("staff", {}),
    "GET /api/councils": Row("staff"),
    "GET /api/councils/figures": Row("staff"),
    "GET /api/councils/{id}": Row("council_read"),
    "POST /api/councils/{id}/members": Row("council_manage", {"role": "guest", "name": "矩阵嘉宾",
                                                              "term_start": "2026-01-01", "term_end": "2026-12-31"}),
    "DELETE /api/councils/{id}/members/{member}": Row("council_manage", phase=1),
    "GET /api/councils/{id}/topics": Row("council_read"),
    "POST /api/councils/{id}/topics": Row("council_read", {"title": "矩阵议题"}),
    "GET /api/councils/topics/{id}": Row("council_read"),
    "POST /api/councils/topics/{id}/decision": Row("council_manage", {"action": "decline", "reason": "矩阵"}),
    "POST /api/councils/topics/{id}/case": Row("council_manage", {}),
    "POST /api/councils/{id}/meetings": Row("council_manage", {"title": "矩阵会议", "place": "会议室",
                                                               "scheduled_at": "2030-01-02T10:00:00", "room": False}),
    "GET /api/councils/{id}/meetings": Row("council_read"),
    "GET /api/councils/meetings/{id}": Row("council_read"),
    "POST /api/councils/meetings/{id}/items": Row("council_manage", {"title": "矩阵事项"}),
    "POST /api/councils/meetings/{id}/open": Row("council_manage", {}),
    "POST /api/councils/meetings/{id}/codes": Row("council_manage", {}),
    "POST /api/councils/meetings/{id}/attendance": Row("council_manage", "council_attendance"),
    "POST /api/councils/items/{id}/views": Row("council_manage", {"body": "矩阵观点", "speaker": "甲"}),
    "POST /api/councils/items/{id}/votes": Row("council_manage", {"question": "矩阵表决", "secret": True}),
    "GET /api/councils/votes/{id}": Row("council_read"),
    "POST /api/councils/votes/{id}/secrecy": Row("council_manage", {"secret": True}),
    "POST /api/councils/votes/{id}/open": Row("council_manage", {}),
    # Nobody here holds a voting seat: every ballot is refused (a member votes in the room or on the tablet).
    "POST /api/councils/votes/{id}/ballots": Row("nobody", {"choice": "agree"}),
    "POST /api/councils/votes/{id}/receipt": Row("council_read", {"receipt": "AAAA-BBBB-CCCC"}),
    "POST /api/councils/votes/{id}/close": Row("council_manage", {}, phase=1),
    "POST /api/councils/meetings/{id}/close": Row("council_manage", {}, phase=1),
    "POST /api/councils/meetings/{id}/publish": Row("council_manage", {"minutes": "矩阵纪要"}, phase=1),
    "POST /api/councils/{id}/tasks": Row("council_manage", {"title": "矩阵任务", "owner": "物业",
                                                            "deadline": "2030-12-31"}),
    "GET /api/councils/{id}/tasks": Row("council_read"),
    "GET /api/councils/tasks/{id}": Row("council_read"),
    "POST /api/councils/tasks/{id}/photos": Row("council_manage", "png"),
    "GET /api/councils/photos/{id}": Row("council_read"),
    "POST /api/councils/tasks/{id}/done": Row("council_manage", {}),
    "POST /api/councils/tasks/{id}/notes": Row("council_supervise", {"body": "请按期完成", "kind": "supervision"}),
}

COUNCIL_IDS = {"{id}": "council", "topics": "topic", "meetings": "meeting", "items": "item", "votes": "vote",
               "tasks": "task", "photos": "photo"}

# Files made to be handed on (printed, given to a party, checked on /verify): no confidential contact
# field in plaintext, whoever downloads them (issue 10, "Redaction by audience").
HANDED_ON = {"GET /api/agreements/{id}/pdf", "GET /api/agreements/{id}/party/pdf",
             "GET /api/agreements/{id}/judicial-application.pdf", "GET /cases/export.csv", "GET /cases/export.xlsx",
             "GET /api/dashboard.csv", "GET /api/dashboard.xlsx", "GET /api/evaluation.csv",
             "GET /api/evaluation.xlsx"}


def router_routes(app: Any) -> set[str]:
    """Every route the application serves, as ``METHOD /path`` (HEAD mirrors GET and is judged with it)."""
    out = set()
    for r in app.router.routes():
        if r.method == "HEAD":
            continue
        info = r.resource.get_info() if r.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        out.add(f"{r.method} {path.rstrip('/') if path != '/' else path}")
    return out


# ---- running ---------------------------------------------------------------------------------------

@dataclass
class Result:
    route: str
    actor: str
    case: str                   # "-", "normal", "dv" (with ":consultation" for the second session)
    expected: str               # "allow" | "refuse"
    status: int
    url: str
    xfail: str = ""
    body: bytes = b""
    content_type: str = ""

    ghost_status: int | None = None  # the same request on a record that does not exist

    @property
    def refused(self) -> bool:
        rule = ROUTES[self.route].rule
        if rule == "sign_out":
            return False
        if self.status in {401, 403, 404} | REFUSALS.get(rule, set()):
            return True
        if self.status in (302, 303):
            location = unquote_plus(self.body.split(b"\n", 1)[0].decode())
            return location.startswith("LOCATION /login") or any(p in location for p in PAGE_REFUSALS)
        return False

    @property
    def ok(self) -> bool:
        if self.status >= 500:
            return False
        if self.expected == "skip":
            return True
        if self.expected == "refuse":
            # A body refused before any lookup tells nothing: the same answer as for a record that is not there.
            return self.refused or (self.ghost_status is not None and self.ghost_status == self.status)
        return not self.refused

    def line(self) -> str:
        snippet = unquote_plus(self.body[:400].decode(errors="replace")).replace("\n", " ")[:200]
        return (f"{self.route:56} {self.case:20} {self.actor:10} expected {self.expected:6} got {self.status}"
                f"  {self.url}  {snippet}")


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    downloads: list[Result] = field(default_factory=list)  # extra fetches made only for the leak scan
    seconds: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)


def _fill(route: str, world: World, cw: CaseWorld | None, actor: str, session: str) -> str:
    path = route.split(" ", 1)[1]
    party = _party(cw, actor)
    row = ROUTES[route]
    if path == "/static":
        return "/static/css/concord.css"
    values: dict[str, str] = {"username": STAFF_USERNAMES[NAMED], "token": "not-a-real-token"}
    if path.startswith(("/whip/", "/whep/", "/{kind}/")):  # terminals: the normal case's mediation session
        values |= {"session": str(world.cases["normal"].sid), "kind": "whip", "resource": "not-a-resource"}
    if path.startswith("/api/councils/") and "{" in path:
        which = COUNCIL_IDS[path.split("/")[3]]
        values |= {"id": str(world.council[which]), "member": str(world.council["spare_member"])}
    elif cw is None:
        values["code"] = TOWNSHIP
    else:
        sid = cw.csid if session == "consultation" else cw.sid
        values |= {"code": cw.code, "doc_id": str(cw.doc_id), "rid": str(cw.rid), "party_id": str(cw.party_id),
                   "cid": str(cw.consultation_live), "sid": str(cw.sid), "order_id": str(cw.order_id),
                   "key": "t1", "inv": str(cw.spare_inv.get(session, 0)),
                   "id": str(sid if "/sessions/" in path else cw.aid)}
        if party is not None and route in ("GET /join/{token}", "GET /api/join/{token}"):
            values["token"] = party.invitation
    if path.startswith("/councils/"):
        values |= world.council_pages | {"step": "supervise" if "/tasks/" in path else "attendance"}
    for k, v in values.items():
        path = path.replace("{" + k + "}", v)
    invitation = party.invitation if party is not None else FORGED
    if route == "GET /agreements/{id}/sign":
        path += f"?invitation={invitation}"
    if route in ("GET /api/agreements/{id}/party", "GET /api/agreements/{id}/party/pdf"):
        path += f"?invitation={invitation}" + (f"&ticket={party.ticket}" if party is not None else "")
    if route == "GET /api/agreements/{id}/diff":
        path += "?from=1&to=1"
    return path + row.query


FORGED = "forged.invitation.token"
GHOSTS = {"code": "340321-2026-999999", "id": "999999", "doc_id": "999999", "rid": "999999", "cid": "999999",
          "sid": "999999", "order_id": "999999", "inv": "999999", "party_id": "999999"}


def _ghost(url: str, route: str, world: World, cw: CaseWorld) -> str:
    """The same URL naming records that do not exist."""
    path = route.split(" ", 1)[1]
    real = _fill(route, world, cw, NAMED, "mediation").split("?")[0]
    parts, names = real.split("/"), path.split("/")
    return "/".join(GHOSTS.get(n.strip("{}"), p) if n.startswith("{") else p for p, n in zip(parts, names, strict=False))


def _party(cw: CaseWorld | None, actor: str) -> Any:
    if cw is None or actor not in PARTIES:
        return None
    return cw.parties[0 if actor == PARTY_A else 1]


def _headers(world: World, actor: str, path: str) -> dict[str, str]:
    creds = world.creds[actor]
    if path.startswith("/api/"):
        return dict(creds.bearer)
    return dict(creds.cookie)


def _body(route: str, world: World, cw: CaseWorld | None, actor: str) -> dict[str, Any]:
    row = ROUTES[route]
    party = _party(cw, actor)
    if row.body is None:
        return {}
    page = not route.split(" ", 1)[1].startswith("/api/")
    if row.body == "form":
        return {"data": {"note": ""}}
    if row.body == "respond":
        return {"data": {"order_id": str(cw.order_id if cw else 0), "response": "已办"}}
    if row.body == "opinion":
        return {"data": {"consultation_id": str(cw.consultation_live if cw else 0), "opinion": "建议按考勤结算"}}
    if isinstance(row.body, dict) and page:
        return {"data": {k: str(v) for k, v in row.body.items()}}
    if row.body == "upload":
        form = aiohttp.FormData()
        form.add_field("description", "matrix")
        form.add_field("file", io.BytesIO(PNG), filename="matrix.png", content_type="image/png")
        return {"data": form}
    if row.body == "verify":
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="a.pdf", content_type="application/pdf")
        return {"data": form}
    if row.body == "new_staff":
        fields = {"username": f"matrix_{actor}_{len(route)}", "name": "测试甲", "role": "observer", "unit": TOWNSHIP,
                  "password": "matrix-password-2026"}
        return {"data": fields} if page else {"json": fields}
    if row.body == "png":
        return {"data": PNG}
    if row.body == "council_attendance":
        return {"json": {"member": world.council["member"], "mode": "in_person"}}
    if row.body == "party":
        if party is None:
            return {"json": {"invitation": FORGED, "answer": "000000"}}
        return {"json": {"invitation": party.invitation, "ticket": party.ticket, "answer": party.code}}
    return {"json": row.body}


async def _request(world: World, route: str, actor: str, cw: CaseWorld | None, session: str) -> Result:
    row = ROUTES[route]
    method = route.split(" ", 1)[0]
    url = _fill(route, world, cw, actor, session)
    kwargs = _body(route, world, cw, actor)
    r = await world.client.request(method, url, headers=_headers(world, actor, url), allow_redirects=False,
                                   **kwargs)
    body = await r.read()
    if r.status in (301, 302, 303, 307):
        body = f"LOCATION {r.headers.get('Location', '')}\n".encode() + body
    case = "-" if cw is None else cw.kind + (f":{session}" if session != "mediation" else "")
    xfail = row.xfail.get(actor, row.xfail.get("*", ""))
    return Result(route, actor, case, "", r.status, url, xfail, body, r.headers.get("Content-Type", ""))


async def _ghost_status(world: World, res: Result, cw: CaseWorld) -> int:
    ROUTES[res.route]
    method = res.route.split(" ", 1)[0]
    url = _ghost(res.url, res.route, world, cw)
    r = await world.client.request(method, url, headers=_headers(world, res.actor, url), allow_redirects=False,
                                   **_body(res.route, world, cw, res.actor))
    await r.read()
    return r.status


async def _ws(world: World, actor: str, cw: CaseWorld, session: str) -> Result:
    """Join the case's session over /ws: parties with their invitation, staff with a join token they ask
    for (or, for the signed-out and expired, the one they were given before)."""
    sid = cw.csid if session == "consultation" else cw.sid
    token = ""
    party = _party(cw, actor)
    if party is not None:
        token = party.invitation
    elif str(sid) in world.creds[actor].join_tokens:
        token = world.creds[actor].join_tokens[str(sid)]
    elif actor != ANON and world.creds[actor].bearer:
        r = await world.client.post(f"/api/sessions/{sid}/join-token", headers=world.creds[actor].bearer)
        if r.status == 200:
            token = (await r.json())["token"]
    case = cw.kind + (f":{session}" if session != "mediation" else "")
    if not token:
        return Result("GET /ws", actor, case, "", 403, f"/ws (no token for session {sid})")
    join: dict[str, Any] = {"type": "join", "token": token}
    if party is not None:
        join["check"] = party.code  # the invitation's identity check, answered as the join page does
    async with world.client.ws_connect("/ws") as ws:
        await ws.send_str(json.dumps(join))
        msg = await ws.receive(timeout=5)
        reply = json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else {"type": "closed"}
        if reply.get("type") in ("welcome", "lobby"):
            await ws.send_str(json.dumps({"type": "leave"}))
    status = 200 if reply.get("type") in ("welcome", "lobby") else 403
    xfail = ROUTES["GET /ws"].xfail.get(actor, "")
    return Result("GET /ws", actor, case, "", status, f"/ws session {sid} -> {reply.get('type')}", xfail,
                  body=json.dumps(reply, ensure_ascii=False).encode(), content_type="application/json")


def _expected(route: str, case_kind: str) -> Callable[[str], str]:
    allowed = RULES[ROUTES[route].rule][case_kind]
    return lambda actor: "allow" if actor in allowed else "refuse"


async def run_matrix(world: World) -> Run:
    run = Run()
    start = time.perf_counter()
    plan: list[tuple[int, str, CaseWorld | None, str]] = []
    for route, row in ROUTES.items():
        case_rule = "-" not in RULES[row.rule]
        if not case_rule:
            plan.append((row.phase, route, None, "mediation"))
            continue
        for cw in world.cases.values():
            plan.append((row.phase, route, cw, "mediation"))
            if row.sessions:
                plan.append((row.phase, route, cw, "consultation"))
    for phase in (0, 1, 2, 3):
        for p, route, cw, session in plan:
            if p != phase:
                continue
            expect = _expected(route, cw.kind if cw else "-")
            # Within a changing row, those who must be refused go first: an allowed cancel must not make
            # a later refusal pass for the wrong reason.
            actors = sorted(ACTORS, key=lambda a: expect(a) == "allow") if phase else list(ACTORS)
            t0 = time.perf_counter()
            if route.startswith("GET ") and route != "GET /ws" and phase == 0:
                # Reads change nothing the table depends on: all actors at once (the server overlaps the
                # database round trips and renders PDFs on its worker threads).
                got = await asyncio.gather(*(_request(world, route, a, cw, session) for a in actors))
            else:
                got = []
                for actor in actors:
                    if route == "GET /ws":
                        assert cw is not None
                        got.append(await _ws(world, actor, cw, session))
                    else:
                        got.append(await _request(world, route, actor, cw, session))
            run.timing[route] = run.timing.get(route, 0.0) + time.perf_counter() - t0
            for res in got:
                res.expected = expect(res.actor)
                if cw is not None and res.actor in ROUTES[route].skip.get(cw.kind, NONE):
                    res.expected = "skip"
                if res.expected == "refuse" and not res.refused and res.status in (400, 409, 415, 422) and cw:
                    res.ghost_status = await _ghost_status(world, res, cw)
                run.results.append(res)
    run.seconds = time.perf_counter() - start
    return run


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(world: World) -> Run:
    return await run_matrix(world)


# ---- the tests ---------------------------------------------------------------------------------------

async def test_every_route_has_a_row(world: World) -> None:
    served = router_routes(world.client.server.app)
    api = {f"{op.method} {op.path}" for op in OPERATIONS}
    assert api <= served, "registry operations missing from the router"
    missing = sorted(served - set(ROUTES))
    stale = sorted(set(ROUTES) - served)
    assert not missing, "routes without a row in the access table (judge them in ROUTES):\n" + "\n".join(missing)
    assert not stale, "rows for routes the app no longer serves:\n" + "\n".join(stale)
    for route, row in ROUTES.items():
        assert row.rule in RULES, f"{route}: unknown rule {row.rule!r}"


async def test_a_partys_invitation_opens_only_its_own_case(world: World) -> None:
    """The matrix gives each case its own parties; here each party's invitation (checked) is tried on the
    other case's agreement, session description and room: all refused, and nothing of the DV case comes back.
    It runs before the matrix, whose last rows cancel the sessions (after which every invitation is gone)."""
    c = world.client
    failures: list[str] = []
    for mine, theirs in (("normal", "dv"), ("dv", "normal")):
        other = world.cases[theirs]
        for p in world.cases[mine].parties:
            q = f"invitation={p.invitation}&ticket={p.ticket}"
            for url in (f"/api/agreements/{other.aid}/party?{q}", f"/api/agreements/{other.aid}/party/pdf?{q}"):
                r = await c.get(url)
                body = await r.read()
                if r.status not in (401, 403, 404) or find_leaks(body, CONFIDENTIAL + RESTRICTED_CONTENT):
                    failures.append(f"{mine} party {p.name}: GET {url.split('?')[0]} -> {r.status}")
            r = await c.post(f"/api/agreements/{other.aid}/party/check",
                             json={"invitation": p.invitation, "answer": p.code})
            if r.status not in (401, 403, 404):
                failures.append(f"{mine} party {p.name}: check on the other agreement -> {r.status}")
            async with c.ws_connect(f"/ws?session={other.sid}") as ws:
                await ws.send_str(json.dumps({"type": "join", "token": p.invitation, "check": p.code}))
                msg = await ws.receive(timeout=5)
                reply = json.loads(msg.data) if msg.type == aiohttp.WSMsgType.TEXT else {}
                if reply.get("type") in ("welcome", "lobby") and reply.get("room", {}).get("session_id") == other.sid:
                    failures.append(f"{mine} party {p.name}: joined the other case's session {other.sid}")
                if reply.get("type") in ("welcome", "lobby"):
                    await ws.send_str(json.dumps({"type": "leave"}))
    assert not failures, "\n".join(failures)


async def test_access_matrix(matrix: Run, world: World) -> None:
    bad = [r for r in matrix.results if not r.ok and not r.xfail]
    known = [r for r in matrix.results if not r.ok and r.xfail]
    routes = {r.route for r in matrix.results}
    cells = len(matrix.results)
    print(f"\naccess matrix: {len(routes)} routes x {len(ACTORS)} actors x cases -> {cells} requests "
          f"in {matrix.seconds:.1f} s")
    ghosts = sum(1 for r in matrix.results if r.expected == "refuse" and not r.refused and r.ok)
    invalid = sum(1 for r in matrix.results if r.expected == "allow" and r.ok and r.status >= 400)
    print(f"  refusals: {sum(r.expected == 'refuse' for r in matrix.results)} "
          f"({ghosts} by an answer identical to a request for records that do not exist); "
          f"let through: {sum(r.expected == 'allow' for r in matrix.results)} ({invalid} of them a 4xx "
          f"judgement of the harmless body)")
    for route, t in sorted(matrix.timing.items(), key=lambda x: -x[1])[:12]:
        print(f"  {t:6.2f} s  {route}")
    for r in known:
        print(f"XFAIL {r.line()[:140]}  ({r.xfail})")
    for r in matrix.results:
        if r.ok and r.xfail:
            print(f"XPASS (remove its xfail) {r.route} {r.case} {r.actor}")
    assert not bad, f"{len(bad)} of {cells} cells disagree with the table:\n" + "\n".join(r.line() for r in bad)


# ---- the leak scan -----------------------------------------------------------------------------------

def _markers_for(res: Result, world: World) -> list[str]:
    """The marker strings this answer must not hold, given who asked.

    - The DV victim's confidential address and phone reach nobody but the case's named handler, and not
      even them in a file made to be handed on (agreement PDFs, the judicial application, CSV/XLSX).
      The victim's own party view may show her own details; her copies may not.
    - The DV case's other content (title, minutes, evidence, its code) reaches only its list: the named
      handler and the live grantee (and its parties, through their agreement).
    - The case that became a DV case after a notice named it: only its named handler.
    Case codes are looked for only outside that case's own rows (a refusal may echo the code it was sent),
    and not in what the expired expert was told while the grant was live (a code is no new knowledge).
    """
    dv = world.cases["dv"]
    on_dv_row = res.case.startswith("dv")
    out: list[str] = []
    handed_on = res.route in HANDED_ON
    victim_view = on_dv_row and res.actor == PARTY_A and not handed_on
    if (res.actor != NAMED or handed_on) and not victim_view:
        out += CONFIDENTIAL
    dv_parties = on_dv_row and res.actor in PARTIES
    if res.actor not in (NAMED, EXPERT) and not dv_parties:
        out += [m for m in RESTRICTED_CONTENT if m != MARK_TURNED]
        if not on_dv_row and res.actor != EXPIRED:
            out.append(dv.code)
    if res.actor != NAMED:
        out += [MARK_TURNED, world.turned_code]
    return out


async def test_leak_scan(matrix: Run, world: World) -> None:
    hits: list[str] = []
    scanned = 0
    seen: dict[tuple[bytes, tuple[str, ...]], list[Any]] = {}  # many answers are the same refusal
    for res in matrix.results:
        if not res.body:
            continue
        markers = tuple(_markers_for(res, world))
        scanned += 1
        key = (hashlib.sha256(res.body).digest(), markers)
        if key not in seen:
            seen[key] = find_leaks(res.body, markers, where=res.content_type.split(";")[0] or "body")
        for hit in seen[key]:
            hits.append(f"{res.route:56} {res.case:20} {res.actor:10} {res.status}  {hit}")
    print(f"\nleak scan: {scanned} answers and files scanned ({len(seen)} distinct)")
    assert not hits, f"{len(hits)} leaks of the DV case's markers:\n" + "\n".join(hits)

