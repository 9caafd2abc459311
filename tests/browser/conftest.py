"""Browser tests: the real Concord app on a loopback port, driven by Debian's Chromium with fake devices.

Chromium comes from the ``chromium`` fixture (skips with a notice when missing, fails in CI). Never a
downloaded browser. Screenshots go to ``$CONCORD_SCREENSHOTS`` when set (for looking at the pages).
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from server.config import Config
from server.services import services

# TEAM.md flags, plus loopback ICE candidates so two pages on one box connect even without a LAN address.
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless=new", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}


def _csp_safe_wait_for_function() -> None:
    """Let ``wait_for_function`` poll plain expressions on pages whose CSP forbids eval (all of ours).

    Playwright evaluates a plain-expression predicate with ``eval`` on every poll, which ``script-src 'self'``
    refuses after the first; a function predicate is evaluated once and then called. So every expression is
    wrapped in a function that computes it (and calls it with ``arg`` when it is itself a function).
    """
    from playwright.async_api import Frame, Page

    for cls in (Page, Frame):
        original = cls.wait_for_function
        if getattr(original, "csp_safe", False):
            continue

        def make(original: Any) -> Any:
            async def wait_for_function(self: Any, expression: str, *args: Any, **kwargs: Any) -> Any:
                wrapped = f"(arg) => {{ const v = ({expression.strip().rstrip(';')}\n); " \
                          "return typeof v === 'function' ? v(arg) : v; }"
                return await original(self, wrapped, *args, **kwargs)
            wait_for_function.csp_safe = True  # type: ignore[attr-defined]
            return wait_for_function

        cls.wait_for_function = make(original)  # type: ignore[method-assign]


_csp_safe_wait_for_function()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    app: web.Application

    async def api(self, method: str, path: str, token: str | None = None, json: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with ClientSession() as http:
            async with http.request(method, self.url + path, json=json, headers=headers) as r:
                body = await r.json()
                assert r.status < 300, (r.status, body)
                return body

    async def login(self, username: str) -> str:
        from server.directory.demo import DEMO_PASSWORD

        body = await self.api("POST", "/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        return body["token"]


@pytest.fixture
def live_config() -> dict[str, Any]:
    """Config fields for ``live_server``; override this fixture in a module, e.g. a short ``room_grace_s``."""
    return {}


@pytest.fixture
async def live_server(tmp_path: Path, live_config: dict[str, Any]) -> AsyncIterator[LiveServer]:
    """The whole app (all FEATURES, /ws included) on SQLite, seeded with the demo network."""
    from server.app import create_app
    from server.directory.demo import seed

    rec = tmp_path / "recordings"
    rec.mkdir()
    config = Config(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'concord.db'}",
                    secret_key=b"browser-test-secret-key", recordings_dir=rec, schedulers=False, **live_config)
    app = create_app(config)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    async with services(app).db.session() as s:
        await seed(s)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def poll(page: Any, js: str, arg: Any = None, timeout_s: float = 30.0, every_s: float = 0.25) -> Any:
    """Evaluate ``js`` (may be async) until it returns something truthy, or fail at the deadline.

    Playwright's wait_for_function treats a returned Promise as truthy, so async checks (getStats) poll here.
    """
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await page.evaluate(js, arg)
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {js!r} (last value {last!r})")


def screenshot_dir() -> Path | None:
    d = os.environ.get("CONCORD_SCREENSHOTS")
    if not d:
        return None
    p = Path(d)
    p.mkdir(parents=True, exist_ok=True)
    return p


async def shot(page: Any, name: str, full_page: bool = False) -> None:
    d = screenshot_dir()
    if d is not None:
        await page.screenshot(path=str(d / f"{name}.png"), full_page=full_page)


def watch_csp(page: Any, seen: list[str]) -> None:
    """Collect what Chromium reports on the console as refused by the Content-Security-Policy."""
    def on_console(msg: Any) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            seen.append(f"{page.url}: {msg.text}")
    page.on("console", on_console)
