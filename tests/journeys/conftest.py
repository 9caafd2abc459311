"""Journeys: Chromium walks a user's task through the pages only, as that user would.

After the demo data is seeded, a journey types no URL that no page links to and makes no API call: it
clicks. Every step saves a screenshot under ``$CONCORD_JOURNEY_ARTEFACTS`` (default
``artefacts/journeys``), one folder per test, so a failed run shows where the user got stuck.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from server.directory.demo import DEMO_PASSWORD
from tests.browser.conftest import DESKTOP, PHONE, poll  # noqa: F401
from tests.browser.conftest import browser as browser  # noqa: F401 - fixtures shared with tests/browser
from tests.browser.conftest import live_config as live_config  # noqa: F401
from tests.browser.conftest import live_server as live_server  # noqa: F401

pytestmark = [pytest.mark.browser]
TIMEOUT_MS = 60_000


class Journey:
    """Numbered screenshots of one journey, in its own artefact folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def step(self, page: Any, name: str, full_page: bool = True) -> None:
        self.count += 1
        safe = re.sub(r"[^\w.-]+", "-", name)
        await page.screenshot(path=str(self.folder / f"{self.count:02d}-{safe}.png"), full_page=full_page)


@pytest.fixture
def journey(request: pytest.FixtureRequest) -> Journey:
    root = Path(os.environ.get("CONCORD_JOURNEY_ARTEFACTS") or "artefacts/journeys")
    folder = root / re.sub(r"[^\w.-]+", "-", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Journey(folder)


async def open_page(chrome: Any, url: str, phone: bool = False, lang: str = "zh-CN") -> Any:
    """A fresh browser context (its own cookies) on ``url``: the one address a user is given or types."""
    ctx = await chrome.new_context(**{**(PHONE if phone else DESKTOP), "locale": lang})
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    await page.goto(url)
    return page


async def sign_in(chrome: Any, base: str, username: str, phone: bool = False) -> Any:
    """Staff open the site's address and sign in on the login page; returns the page on the home screen."""
    page = await open_page(chrome, base + "/", phone=phone)
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(re.compile(r".*/$"))
    return page
