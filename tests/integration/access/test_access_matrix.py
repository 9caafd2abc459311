from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_world(world) -> None:
    assert world.cases["dv"].aid
