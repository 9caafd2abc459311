"""Who may do what in a live room, by role and session kind. Plain Python, no I/O.

Contract rule: moderator actions (admit, deny, mute, remove, lock, move, floor, recording) belong to
hosts and mediators only. Participant actions (signal, chat, hand, consent, leave, ping) belong to
anyone admitted. The recorder system peer only signals.
"""

from __future__ import annotations

from server.sessions.kinds import KINDS, MODERATOR_ROLES, PERSON_ROLES

MODERATOR_ACTIONS = frozenset({"admit", "deny", "mute", "remove", "lock", "move", "floor", "recording", "end"})
PARTICIPANT_ACTIONS = frozenset({"signal", "chat", "hand", "consent", "leave", "ping", "media", "sfu"})
# What a peer still waiting in the lobby may send.
LOBBY_ACTIONS = frozenset({"leave", "ping"})
SYSTEM_ACTIONS = frozenset({"signal", "leave", "ping", "sfu"})

# Per kind and role. Today every kind grants the same actions per role; kinds differ in who may *speak*
# (server.sessions.kinds.may_speak), which the floor controls. The table keeps the kind axis so a kind can
# narrow a role without touching the room.
_TABLE: dict[str, dict[str, frozenset[str]]] = {}


def _build() -> None:
    for kind in KINDS:
        per_role: dict[str, frozenset[str]] = {}
        for role in PERSON_ROLES:
            acts = set(PARTICIPANT_ACTIONS)
            if role in MODERATOR_ROLES:
                acts |= MODERATOR_ACTIONS
            per_role[role] = frozenset(acts)
        per_role["recorder"] = SYSTEM_ACTIONS
        _TABLE[kind] = per_role


_build()


def allowed(kind: str, role: str, action: str) -> bool:
    """True when a peer of ``role`` in a session of ``kind`` may perform ``action`` once admitted."""
    return action in _TABLE.get(kind, {}).get(role, frozenset())


def is_moderator(role: str) -> bool:
    return role in MODERATOR_ROLES


def actions(kind: str, role: str) -> frozenset[str]:
    return _TABLE.get(kind, {}).get(role, frozenset())
