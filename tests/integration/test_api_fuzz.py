"""Property-based fuzzing of the foundation's JSON API from its own OpenAPI document (schemathesis).

Random, malformed and hostile inputs against a real ``concord serve`` process: no 5xx, every status and
body as documented. Only the foundation's operations (auth, directory, meta) are fuzzed here; other
features can add their tags to FUZZ_TAGS once their endpoints are ready for it.
"""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from server.api import openapi
from server.app import FEATURES
from tests.conftest import cli_env

for _name in FEATURES:
    importlib.import_module(_name)

FUZZ_TAGS = {"auth", "directory", "meta"}
DOC = openapi.build()
DOC["paths"] = {p: {m: op for m, op in ops.items() if set(op["tags"]) & FUZZ_TAGS} for p, ops in DOC["paths"].items()}
DOC["paths"] = {p: ops for p, ops in DOC["paths"].items() if ops}
# Refusing a too-large body with 413 is a correct rejection of invalid data too.
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]}}})
schema = schemathesis.openapi.from_dict(DOC, config=CONFIG)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    env = cli_env()
    for name in ("CONCORD_SECRET_KEY", "CONCORD_DATABASE_URL", "CONCORD_REDIS_URL"):
        env.pop(name, None)
    subprocess.run([sys.executable, "-m", "server", "demo", "--data-dir", str(data)], env=env, check=True,
                   capture_output=True, timeout=120)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("server did not start")
                time.sleep(0.1)
        req = urllib.request.Request(base + "/api/auth/login", method="POST",
                                     data=json.dumps({"username": "admin_340321", "password": "concord-demo-2026"}).encode(),
                                     headers={"Content-Type": "application/json"})
        token = json.loads(urllib.request.urlopen(req, timeout=10).read())["token"]
        yield {"base": base, "token": token}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        # A 5xx is always a bug: the server logs each one as "unhandled error".
        assert "unhandled error" not in err, err


@schema.parametrize()
# Derandomized: the same cases on every run, so a failure in CI reproduces locally.
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_fuzz(case: schemathesis.Case, live: dict[str, str]) -> None:
    # Put a real token in place of the generated one, except where the negative case is "no token at all":
    # filling that in would turn it into a valid request the checks still expect to be refused.
    mutated_auth = case.meta is not None and case.meta.generation.mode.is_negative and \
        "Authorization" not in (case.headers or {})
    headers = {} if mutated_auth else {"Authorization": f"Bearer {live['token']}"}
    case.call_and_validate(base_url=live["base"], headers=headers)
