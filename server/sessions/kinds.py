"""What each session kind means for a live room: its roles, lobby policy and speaking rules.

Plain Python, no I/O. The room (``server.rooms.room``) and the sessions API both read these rules, so
a kind is defined in one place.

- ``mediation`` (调解): a mediator with the parties, their agents, interpreters and experts. Everybody
  may speak; parties wait in the lobby until a moderator admits them.
- ``consultation`` (远程指导): staff ask an expert for guidance. Everybody may speak.
- ``petition`` (视频信访): a hearing. The resident (role ``party``) and their agent speak when a moderator
  gives them the floor; staff speak freely.
- ``dispatch`` (视频调度): a briefing or supervision from a higher tier. Only hosts and mediators speak unless
  given the floor; every staff member invited enters directly (they are the audience), parties wait.
- ``council`` (居民议事会): a residents' council meeting (server/councils). The convenor hosts and moderates;
  members join as ``party`` (by their invitation and code), the public gallery as ``observer``. Members speak
  when the convenor gives them the floor (the speaking queue); staff speak freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

KINDS = ("mediation", "consultation", "petition", "dispatch", "council")

MODERATOR_ROLES = frozenset({"host", "mediator"})
SYSTEM_ROLES = frozenset({"recorder"})
# Every role a person can hold in a room (the recorder is a system peer, never invited).
PERSON_ROLES = ("host", "mediator", "expert", "party", "agent", "interpreter", "observer")
ROOM_ROLES = PERSON_ROLES + ("recorder",)


class Speaking(StrEnum):
    ALL = "all"  # everybody may speak
    FLOOR_FOR_PARTIES = "floor_for_parties"  # parties and agents speak only with the floor
    HOSTS_ONLY = "hosts_only"  # only moderators speak, others with the floor


class Lobby(StrEnum):
    # Outsiders (invitation links without a staff account) wait; staff of the hosting unit (or of a unit
    # above it) enter directly; staff from elsewhere wait.
    HOSTING_UNIT_DIRECT = "hosting_unit_direct"
    # Every staff member enters directly; only outsiders wait.
    STAFF_DIRECT = "staff_direct"


@dataclass(frozen=True)
class KindRules:
    kind: str
    label_zh: str
    label_en: str
    roles: frozenset[str]
    # Role given to an invitation when the mediator does not choose one, and to staff joining by policy.
    default_invite_role: str
    lobby: Lobby
    speaking: Speaking
    # Roles that speak only with the floor under FLOOR_FOR_PARTIES.
    floor_roles: frozenset[str] = frozenset({"party", "agent"})
    # People a room of this kind holds, when not the room's default (the mesh size, rooms.room.MAX_PEERS).
    # A council meeting takes its whole membership and the gallery: beyond a mesh's size, members follow and
    # vote without sending media (or through the SFU where one is configured; docs/councils.md).
    room_cap: int | None = None
    # Roles that never speak in this kind, floor or not (a council's public gallery only watches).
    listen_only: frozenset[str] = frozenset()
    # Whether the kind has a public gallery: one shareable link, an observer pass per visitor
    # (sessions.service.open_gallery).
    gallery: bool = False
    # How this kind names the room roles, when not by their general names (role -> (zh, en)).
    role_labels: tuple[tuple[str, str, str], ...] = ()

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "label": {"zh": self.label_zh, "en": self.label_en},
            "roles": sorted(self.roles),
            "default_invite_role": self.default_invite_role,
            "lobby": str(self.lobby),
            "speaking": str(self.speaking),
            "role_labels": {r: {"zh": zh, "en": en} for r, zh, en in self.role_labels},
        }


_ALL = frozenset(PERSON_ROLES)

# A council room's roles by their council names. Members join as ``party``; the room shows each member's own
# council role (党员代表, 居民代表, 物业: server/councils) where it knows it, else 议事会成员.
COUNCIL_ROLE_LABELS = (
    ("host", "召集人", "Convenor"),
    ("mediator", "会务人员", "Meeting staff"),
    ("party", "议事会成员", "Council member"),
    ("expert", "列席嘉宾", "Invited guest"),
    ("observer", "旁听", "Public gallery"),
)

RULES: dict[str, KindRules] = {
    "mediation": KindRules("mediation", "视频调解", "Mediation", _ALL, "party",
                           Lobby.HOSTING_UNIT_DIRECT, Speaking.ALL),
    "consultation": KindRules("consultation", "远程指导", "Consultation", _ALL, "expert",
                              Lobby.HOSTING_UNIT_DIRECT, Speaking.ALL),
    "petition": KindRules("petition", "视频信访", "Petition hearing", _ALL, "party",
                          Lobby.HOSTING_UNIT_DIRECT, Speaking.FLOOR_FOR_PARTIES),
    "dispatch": KindRules("dispatch", "视频调度", "Dispatch briefing",
                          frozenset({"host", "mediator", "expert", "observer", "party"}), "observer",
                          Lobby.STAFF_DIRECT, Speaking.HOSTS_ONLY),
    "council": KindRules("council", "居民议事会", "Residents' council",
                         frozenset({"host", "mediator", "expert", "observer", "party"}), "party",
                         Lobby.HOSTING_UNIT_DIRECT, Speaking.FLOOR_FOR_PARTIES, room_cap=500,
                         listen_only=frozenset({"observer"}), gallery=True,
                         role_labels=COUNCIL_ROLE_LABELS),
}


def rules(kind: str) -> KindRules:
    try:
        return RULES[kind]
    except KeyError:
        raise ValueError(f"unknown session kind {kind!r}") from None


def enters_directly(r: KindRules, role: str, *, staff: bool, of_hosting_unit: bool) -> bool:
    """Whether a joiner skips the lobby (before the room lock is considered).

    Moderator invitations enter directly: a mediator created them on purpose. Everybody else follows the
    kind's lobby policy.
    """
    if role in MODERATOR_ROLES or role in SYSTEM_ROLES:
        return True
    if not staff:
        return False
    if r.lobby is Lobby.STAFF_DIRECT:
        return True
    return of_hosting_unit


def role_label(r: KindRules, role: str, lang: str = "zh") -> str | None:
    """The kind's own name for a room role (None: the role's general name)."""
    for code, zh, en in r.role_labels:
        if code == role:
            return en if lang == "en" else zh
    return None


def may_speak(r: KindRules, role: str, has_floor: bool) -> bool:
    """Speaking rule of the kind. Clients honour it (media is peer to peer; the server cannot cut audio)."""
    if role in SYSTEM_ROLES or role in r.listen_only:
        return False
    if has_floor or r.speaking is Speaking.ALL:
        return True
    if r.speaking is Speaking.FLOOR_FOR_PARTIES:
        return role not in r.floor_roles
    return role in MODERATOR_ROLES


def staff_room_role(r: KindRules, *, creator: bool, can_host: bool, same_unit: bool, staff_role: str) -> str:
    """The room role of a logged-in staff member joining their own session without an invitation.

    The creator hosts. Staff who may host sessions of this kind at the session's own unit moderate as
    ``mediator``; supervisors from a higher tier and everybody else watch as ``observer``, except experts,
    who join as ``expert``.
    """
    if creator:
        return "host"
    if can_host and same_unit:
        return "mediator"
    if staff_role == "expert" and "expert" in r.roles:
        return "expert"
    return "observer"
