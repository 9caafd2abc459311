"""Fuzz the councils API from its own OpenAPI document (schemathesis) against a real ``concord serve``:
random, malformed and hostile input never produces a 5xx, and every answer matches the document.

A seeded council (members, a meeting with an agenda item, a vote and a task, all id 1) gives the generated
requests real ids to work on, so the fuzzing reaches past the 404 of unknown records.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.live import LiveServer, api_slice, fuzz_schema, live_server

COUNCIL_TAGS = {"councils"}
DOC = api_slice(COUNCIL_TAGS)
for ops in DOC["paths"].values():
    for op in ops.values():
        for prm in op.get("parameters", []):
            if prm["in"] == "path":
                prm["schema"] = {**prm["schema"], "example": 1}
schema = fuzz_schema(DOC)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("council-fuzz"), "grid_340321001001") as server:
        c = server.call("POST", "/api/councils", {"unit": "340321001001", "name": "模糊测试议事会"})
        term = {"term_start": "2026-01-01", "term_end": "2028-12-31"}
        server.call("POST", f"/api/councils/{c['id']}/members", {"role": "convenor", "name": "",
                                                                   "username": "grid_340321001001", **term})
        for name in ("甲", "乙", "丙"):
            server.call("POST", f"/api/councils/{c['id']}/members", {"role": "resident_rep", "name": name, **term})
        server.call("POST", f"/api/councils/{c['id']}/topics", {"title": "模糊议题"})
        m = server.call("POST", f"/api/councils/{c['id']}/meetings", {
            "title": "模糊会议", "place": "议事厅", "scheduled_at": "2030-01-01T10:00:00", "topics": [1]})
        server.call("POST", f"/api/councils/items/{m['agenda'][0]['id']}/votes", {"question": "模糊表决"})
        server.call("POST", f"/api/councils/{c['id']}/tasks", {"title": "模糊任务", "owner": "甲",
                                                                 "deadline": "2030-12-31"})
        yield server


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_council_api_fuzz(case: schemathesis.Case, live: LiveServer) -> None:
    # A schema-valid request may still meet a state that forbids it (409) or a record of another unit (404).
    mutated_auth = case.meta is not None and case.meta.generation.mode.is_negative and \
        "Authorization" not in (case.headers or {})
    headers = {} if mutated_auth else {"Authorization": f"Bearer {live.token}"}
    case.call_and_validate(base_url=live.base, headers=headers, excluded_checks=[positive_data_acceptance])
