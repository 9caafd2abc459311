from server.auth import ActorCache
from server.policy import Actor

A = Actor(id=1, username="zhangsan", name="张三", role="mediator", unit_id=1, unit_code="1", unit_path="1/",
          unit_tier="township")


def test_hit_until_ttl_then_miss() -> None:
    c = ActorCache()
    assert c.get(1, 0.0) is None
    c.put(1, (A, 123), 0.0)
    assert c.get(1, ActorCache.TTL_S - 0.1) == (A, 123)
    assert c.get(1, ActorCache.TTL_S + 0.1) is None


def test_negative_entries_and_forget() -> None:
    c = ActorCache()
    c.put(2, (None, 0), 0.0)  # an inactive or deleted account is cached as "nobody"
    assert c.get(2, 1.0) == (None, 0)
    c.put(1, (A, 0), 0.0)
    c.forget(1)
    assert c.get(1, 1.0) is None
    c.forget()
    assert c.get(2, 1.0) is None


def test_bounded() -> None:
    c = ActorCache()
    for i in range(ActorCache.MAX + 10):
        c.put(i, (A, 0), 0.0)
    assert len(c._entries) <= ActorCache.MAX
