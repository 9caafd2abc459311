"""A real ``concord serve`` subprocess with the demo network, for tests that fuzz it over HTTP,
and the OpenAPI slice they fuzz."""

from __future__ import annotations

import copy
import importlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig

from server.api import openapi
from server.app import FEATURES
from server.directory.demo import DEMO_PASSWORD
from tests.conftest import cli_env

for _name in FEATURES:
    importlib.import_module(_name)

# 413 is a correct refusal of a schema-violating body too (an over-long field can push a body past the
# endpoint's size limit), but it is not among schemathesis' default expected statuses.
FUZZ_CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]}}})


# Logging out would revoke the one token every fuzz case uses; tests/integration/test_foundation.py covers it.
NOT_FUZZED = {("/api/auth/logout", "post")}


def api_slice(tags: set[str] | None = None, only: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The OpenAPI document cut down to the operations carrying one of ``tags`` (None: every tag), without
    NOT_FUZZED; or, with ``only``, to exactly those (path, method) pairs."""
    doc = copy.deepcopy(openapi.build())

    def keep(path: str, method: str, op: dict[str, Any]) -> bool:
        if only is not None:
            return (path, method) in only
        return (tags is None or bool(set(op["tags"]) & tags)) and (path, method) not in NOT_FUZZED

    paths = {p: {m: op for m, op in ops.items() if keep(p, m, op)} for p, ops in doc["paths"].items()}
    doc["paths"] = {p: ops for p, ops in paths.items() if ops}
    return doc


def fuzz_schema(doc: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(doc, config=FUZZ_CONFIG)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    base: str
    token: str = ""

    def call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        return json.loads(urllib.request.urlopen(req, timeout=30).read())

    def login(self, username: str) -> str:
        self.token = self.call("POST", "/api/auth/login", {"username": username, "password": DEMO_PASSWORD},
                               auth=False)["token"]
        return self.token


@contextmanager
def live_server(data: Path, username: str) -> Iterator[LiveServer]:
    """Seed the demo network into ``data``, serve it on a free port, log in as ``username``.

    On exit, fails if the server logged any unhandled error: a 5xx is always a bug.
    """
    env = cli_env()
    for name in ("CONCORD_SECRET_KEY", "CONCORD_DATABASE_URL", "CONCORD_REDIS_URL"):
        env.pop(name, None)
    subprocess.run([sys.executable, "-m", "server", "demo", "--data-dir", str(data)], env=env, check=True,
                   capture_output=True, timeout=180)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), "--data-dir", str(data)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = LiveServer(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(server.base + "/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)
        server.login(username)
        yield server
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert "unhandled error" not in err, err
