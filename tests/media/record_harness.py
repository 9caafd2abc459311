"""Run as a process that records until it is killed (crash tests and benches).

    python -m tests.media.record_harness DB_URL RECORDINGS_DIR SESSION_ID [MAX_SEGMENT_S]

A real aiortc participant (synthetic camera and microphone) offers to a real Recorder whose reports go to
the database and the ledger, exactly as in a live room, under a recording run for CONCORD_NODE_ID. Prints
``SEGMENT <path>`` for each closed segment, so a test knows when to kill it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from server.db import Database
from server.media.recorder import Recorder, RemotePeer
from server.recording.store import DbRecordingEvents, next_track_no, node_id, open_run
from tests.media.helpers import Sender


class PrintingEvents(DbRecordingEvents):
    async def segment_closed(self, track, seg) -> None:  # type: ignore[no-untyped-def]
        await super().segment_closed(track, seg)
        print(f"SEGMENT {seg.path}", flush=True)


async def main(url: str, root: str, sid: int, max_segment_s: float) -> None:
    db = Database(url)
    node = node_id()
    async with db.session() as s:
        await open_run(s, sid, node, [])
        first = await next_track_no(s, sid)
    answers: asyncio.Queue = asyncio.Queue()

    async def send(to: str, data: dict) -> None:
        await answers.put((to, data))

    rec = Recorder(sid, Path(root), send, PrintingEvents(db, sid, node), first_track_no=first,
                   max_segment_s=max_segment_s)
    sender = Sender(RemotePeer("p-zhang", "张三", "party"))
    await sender.offer_to(rec, answers)
    print("RECORDING", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 10.0))
