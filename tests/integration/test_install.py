"""Installing: the wheel carries web/ and the migrations but no test code, `concord serve` refuses to run
without web/, and /favicon.ico exists."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from server.config import ROOT, default_web_dir, missing_web_files
from tests.support.servers import free_port

TIMEOUT = 300  # building a wheel on the shared machine


async def test_favicon_is_served(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/favicon.ico")
    assert r.status == 200
    assert r.headers["Content-Type"] == "image/x-icon"
    body = await r.read()
    assert body[:4] == b"\x00\x00\x01\x00"  # the ICO signature


def test_source_tree_finds_its_web_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONCORD_WEB_DIR", raising=False)
    assert default_web_dir() == ROOT / "web"
    assert missing_web_files(default_web_dir()) == []
    monkeypatch.setenv("CONCORD_WEB_DIR", "/elsewhere")
    assert default_web_dir() == Path("/elsewhere")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCORD_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def test_serve_refuses_to_start_without_templates(tmp_path: Path) -> None:
    empty = tmp_path / "web"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "server", "serve", "--port", str(free_port()),
                        "--data-dir", str(tmp_path / "data")],
                       env=_clean_env(CONCORD_WEB_DIR=str(empty), PYTHONPATH=str(ROOT)), cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "templates and static files are missing" in r.stderr and "login.html" in r.stderr
    assert "CONCORD_WEB_DIR" in r.stderr
    assert "Traceback" not in r.stderr


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def _check_wheel_contents(wheel: Path) -> None:
    """web/ and the migrations are in; nothing that only the tests or benchmarks use is."""
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"server", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1]
                                                + ".dist-info"}, sorted({n.split("/")[0] for n in names})
    assert "server/web/templates/login.html" in names and "server/web/static/css/concord.css" in names
    versions = {Path(n).name for n in names if n.startswith("server/db/migrations/versions/")}
    assert versions == {p.name for p in (ROOT / "server" / "db" / "migrations" / "versions").glob("*.py")}
    assert "server/db/migrations/env.py" in names
    for test_only in ("server/rooms/client.py", "server/agreements/sample.py"):
        assert test_only not in names
    assert not [n for n in names if "room_client" in n or "agreement_sample" in n or "/tests/" in n]


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_serves_the_login_page_from_an_empty_directory(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    assert "project.license" not in build.stdout + build.stderr
    wheel = next(dist.glob("concord-*.whl"))
    _check_wheel_contents(wheel)

    # A fresh venv; its dependencies come from this interpreter's site-packages (a path in a .pth file),
    # so nothing is downloaded and the checkout itself is not importable from there.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_concord_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                              "--no-index", str(wheel)], capture_output=True, text=True, timeout=TIMEOUT)
    assert install.returncode == 0, install.stderr[-2000:]

    here = tmp_path / "empty"
    here.mkdir()
    env = _clean_env()
    where = subprocess.run([str(py), "-c", "import server; print(server.__file__)"], cwd=here, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(site)), where

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(venv / "bin" / "concord"), "serve", "--port", str(port)], cwd=here, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        status = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, _, _ = _get(base + "/healthz")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.3)
        assert status == 200, (tmp_path / "serve.log").read_text()[-3000:]
        status, ctype, body = _get(base + "/login")
        assert status == 200 and ctype.startswith("text/html")
        page = body.decode()
        assert 'name="password"' in page and "登录" in page
        assert _get(base + "/static/css/concord.css")[0] == 200
        assert _get(base + "/favicon.ico")[:2] == (200, "image/x-icon")
        # The default data directory is ./data of the working directory; nothing lands in site-packages.
        assert (here / "data" / "concord.db").is_file()
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
