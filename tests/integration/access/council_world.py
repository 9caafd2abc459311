"""The council the access matrix judges the council pages on: a residents' council of 龙亢镇 (the world's
township, so its mediators run it and the county and city above supervise), with three resident members, a
topic, a meeting in session with the topic on its agenda, a passed open vote, a task from it with a photo, and
the public codes of the council and the topic. Built through the councils service, as the pages write it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server import access
from server.councils import lookups as lk
from server.councils import service as svc
from server.directory.models import Staff, Unit
from server.services import services


async def build(app: Any, staff_id: int, township: str, png: bytes) -> dict[str, str]:
    """Path values for the council rows (``{council}``, ``{topic}``, ``{meeting}``, ``{task}``, ``{member}``,
    ``{photo}``, ``{council_code}``, ``{topic_code}``, ``{step}``)."""
    now = datetime.now(UTC)
    sv = services(app)
    ctx = svc.Ctx(now, sv.config.secret_key)
    async with sv.db.session() as s:
        staff = await s.get(Staff, staff_id)
        assert staff is not None
        unit = await s.get(Unit, staff.unit_id)
        assert unit is not None
        actor = access.actor_of(staff, unit)
        c = await svc.create_council(s, ctx, actor, unit_code=township, name="矩阵测试议事会")
        members = [await svc.add_member(s, ctx, actor, c, role=role, name=name, term_start=ctx.today,
                                        term_end=ctx.today + timedelta(days=365))
                   for name, role in (("矩阵居民甲", "resident_rep"), ("矩阵居民乙", "resident_rep"),
                                      ("矩阵物业丙", "property"))]
        spare = await svc.add_member(s, ctx, actor, c, role="guest", name="矩阵嘉宾丁", term_start=ctx.today,
                                     term_end=ctx.today + timedelta(days=365))
        topic = await svc.propose_topic(s, ctx, c, title="矩阵议题", body="矩阵议题说明", proposer_name="矩阵居民")
        m = await svc.schedule_meeting(s, ctx, actor, c, title="矩阵会议", place="议事厅",
                                       scheduled_at=now + timedelta(hours=1))
        await lk.set_gallery(s, ctx, actor, m, True)  # the gallery's QR code is the managers'
        item = await svc.add_agenda_item(s, ctx, actor, m, title="", topic_id=topic.id)
        await svc.move_meeting(s, ctx, actor, m, "open")
        for mb in members:
            await svc.record_attendance(s, ctx, actor, m, mb.id, mode="in_person")
        vote = await svc.create_vote(s, ctx, actor, item.id, question="矩阵表决", secret=False)
        await svc.open_vote(s, ctx, actor, vote)
        for mb in members:
            await svc.cast_ballot(s, ctx, vote, mb.id, "agree", channel="http")
        await svc.close_vote(s, ctx, actor, vote)
        task = await svc.create_task(s, ctx, actor, c, title="矩阵任务", owner_name=members[0].name,
                                     deadline=ctx.today + timedelta(days=30), vote_id=vote.id,
                                     owner_member_id=members[0].id)
        photo = await svc.add_task_photo(s, ctx, actor, task, png, sv.config.data_dir)
        return {"council": str(c.id), "topic": str(topic.id), "meeting": str(m.id), "task": str(task.id),
                "member": str(spare.id), "photo": str(photo.id), "council_code": c.public_code,
                "topic_code": topic.public_code}
