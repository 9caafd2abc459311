"""Run as a separate process: append N events to one chain, each in its own transaction.

    python -m tests.integration.ledger_appender DB_URL CHAIN N START_AT_EPOCH
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from server.db import Database
from server.ledger_store import append


async def main(url: str, chain: str, n: int, start_at: float) -> None:
    db = Database(url)
    try:
        await db.ping()
        time.sleep(max(0.0, start_at - time.time()))  # both processes start together
        for i in range(n):
            async with db.session() as s:
                await append(s, chain, "chat", {"pid": os.getpid(), "i": i, "text": "并发"})
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
