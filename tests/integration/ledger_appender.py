"""Run as a separate process: append N events to one chain, each in its own transaction.

    python -m tests.integration.ledger_appender DB_URL CHAIN N BARRIER_DIR PARTIES
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from server.db import Database
from server.ledger_store import append


async def main(url: str, chain: str, n: int, barrier: str, parties: int) -> None:
    db = Database(url)
    try:
        await db.ping()
        # Start together: announce readiness, then wait until every process is ready.
        Path(barrier, str(os.getpid())).touch()
        deadline = time.time() + 120
        while len(os.listdir(barrier)) < parties:
            if time.time() > deadline:
                raise SystemExit("the other appender never came")
            time.sleep(0.01)
        for i in range(n):
            async with db.session() as s:
                await append(s, chain, "chat", {"pid": os.getpid(), "i": i, "text": "并发"})
            # Yield the CPU between transactions, as a busy node would, so the two writers really
            # interleave even on a loaded machine.
            await asyncio.sleep(0.005)
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
