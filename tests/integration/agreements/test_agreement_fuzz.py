"""Fuzzing the agreement API from its own OpenAPI document (schemathesis) against a real server with a few
agreements in every state: no 5xx, every status documented."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.live import api_slice, fuzz_schema, live_server

FUZZ_TAGS = {"agreements"}
schema = fuzz_schema(api_slice(FUZZ_TAGS))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from tests.integration.agreements.helpers import content

    with live_server(tmp_path_factory.mktemp("fuzz-agreements"), "mediator") as server:
        me = server.call("GET", "/api/auth/me")
        for i in range(3):  # ids 1..3: a draft, a frozen one, a withdrawn one
            a = server.call("POST", "/api/agreements", {"content": content(mediator_name=me["name"])})
            if i:
                server.call("POST", f"/api/agreements/{a['id']}/freeze", {"version": 1})
            if i == 2:
                server.call("POST", f"/api/agreements/{a['id']}/withdraw", {"reason": "测试"})
        yield {"base": server.base, "token": server.token}


@schema.parametrize()
# Derandomized: the same cases on every run, so a failure in CI reproduces locally.
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_agreement_api_fuzz(case: schemathesis.Case, live: dict[str, str]) -> None:
    mode = str(getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", ""))
    if case.path_parameters and "id" in case.path_parameters and "positive" in mode.lower():
        case.path_parameters["id"] = abs(hash(str(case.path_parameters["id"]))) % 4  # mostly real agreements
    # The agreement content is validated more deeply than its schema can say (a valid ID number, parties
    # that exist...), so a schema-valid body may still be a 400: that check is left out, all others run.
    # A negative case whose mutation is "no token at all" keeps it that way (see test_api_fuzz).
    no_token = "negative" in mode.lower() and "Authorization" not in (case.headers or {})
    headers = {} if no_token else {"Authorization": f"Bearer {live['token']}"}
    case.call_and_validate(base_url=live["base"], headers=headers,
                           excluded_checks=[positive_data_acceptance], timeout=120)
