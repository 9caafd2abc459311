"""Pure decisions for the SFU backend (no I/O): naming, roles → publish/subscribe, who may see whom,
whose audio Janus forwards, and which simulcast layer each subscriber receives.

``server.rooms.room.Room`` keeps deciding everything (roles, lobby, sub-rooms, floor, mute); these
functions turn its state into what Concord asks Janus for (docs/sfu.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.sessions.kinds import SYSTEM_ROLES, KindRules, may_speak

ROOM_PREFIX = "concord"
# VideoRoom codecs: Janus gives each publisher the first of these it offers (browsers VP8; WHIP terminals,
# FFmpeg and OBS, send only H.264). Subscribers get the publisher's codec as sent.
VIDEO_CODECS = "vp8,h264"


def janus_room_id(session_id: int, *, generation: int = 0) -> str:
    """The VideoRoom id of a session (Janus runs with ``string_ids``). ``generation`` > 0 names the room
    recreated after a move to another instance, so a late request to the old one cannot touch it."""
    if session_id <= 0 or generation < 0:
        raise ValueError("session ids are positive, generations non-negative")
    return f"{ROOM_PREFIX}-{session_id}" + (f"-g{generation}" if generation else "")


def janus_participant_id(peer_id: str) -> str:
    """A Concord peer's id in the VideoRoom: the same token, so events map back without a table."""
    if not peer_id or len(peer_id) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in peer_id):
        raise ValueError("peer ids are 1-128 characters of [A-Za-z0-9_-]")
    return f"p-{peer_id}"


def peer_of_participant(participant_id: str) -> str | None:
    """Inverse of ``janus_participant_id`` (None for ids Concord did not make)."""
    return participant_id[2:] if participant_id.startswith("p-") and len(participant_id) > 2 else None


@dataclass(frozen=True)
class MediaPlan:
    """What a room role does on the SFU: publish a feed (camera + microphone) and/or subscribe."""

    publish: bool
    subscribe: bool


def media_plan(role: str) -> MediaPlan:
    """Every person publishes (a centre's thumbnail is how a host checks on it; whether its audio is
    forwarded is the floor's business, ``audio_forwarded``) and subscribes. The recorder only subscribes."""
    if role in SYSTEM_ROLES:
        return MediaPlan(publish=False, subscribe=True)
    return MediaPlan(publish=True, subscribe=True)


def audio_forwarded(rules: KindRules, role: str, *, has_floor: bool, muted: bool) -> bool:
    """Whether Janus relays this publisher's audio: the kind's speaking rule and a moderator's mute.
    When False, Concord sends VideoRoom ``moderate`` (mute) for the audio mid; the client's own state
    does not matter."""
    return may_speak(rules, role, has_floor) and not muted


@dataclass(frozen=True)
class Party:
    """The parts of a ``Room`` peer that decide visibility on the SFU."""

    peer_id: str
    subroom: str | None
    admitted: bool = True
    system: bool = False
    recorded: bool = False  # Room.is_recorded(peer): the recorder may take this person's media
    moderator: bool = False  # a role in MODERATOR_ROLES (the host of a briefing, the mediator)


def may_subscribe(viewer: Party, publisher: Party) -> bool:
    """Whether ``viewer`` may receive ``publisher``'s feed: the same rule as ``Room.check_signal`` for
    the mesh. Admitted people of the same sub-room see each other; the recorder takes only recorded
    people. Concord enforces it by never asking Janus for any other subscription."""
    if not (viewer.admitted and publisher.admitted) or viewer.peer_id == publisher.peer_id:
        return False
    if publisher.system:
        return False
    if viewer.system:
        return publisher.recorded
    return viewer.subroom == publisher.subroom


def visible_feeds(viewer: Party, publishers: Iterable[Party]) -> list[str]:
    return [p.peer_id for p in publishers if may_subscribe(viewer, p)]


# Kinds where one side briefs or hears many (视频调度, 视频信访): a non-moderator receives only the
# moderators and whoever holds the floor, never every other centre.
BRIEFING_KINDS = frozenset({"dispatch", "petition"})


def subscription_feeds(kind: str, viewer: Party, publishers: Iterable[Party], *, floor: str | None) -> list[str]:
    """The feeds ``viewer`` subscribes to: a subset of ``visible_feeds`` (the sub-room and recorder rules
    always apply first). In a briefing kind a moderator takes everyone (thumbnails: the layer is
    ``allocate_layers``'s business) and anyone else only the moderators and the floor holder, so the feed
    set follows the floor. Other kinds (mediation, consultation): everyone of the sub-room."""
    visible = [p for p in publishers if may_subscribe(viewer, p)]
    if kind not in BRIEFING_KINDS or viewer.system or viewer.moderator:
        return [p.peer_id for p in visible]
    return [p.peer_id for p in visible if p.moderator or p.peer_id == floor]


# -- simulcast layers --

@dataclass(frozen=True)
class Layer:
    substream: int  # VideoRoom's index: 0 = lowest
    height: int
    bitrate: int  # bits/s the layer needs


# Three layers as browsers publish them (docs/sfu.md): quarter, half and full resolution of 720p.
LAYERS: tuple[Layer, ...] = (Layer(0, 180, 150_000), Layer(1, 360, 500_000), Layer(2, 720, 1_500_000))
AUDIO_BITRATE = 48_000  # reserved per audio feed before any video: audio is never starved


@dataclass(frozen=True)
class View:
    """One video a subscriber shows: the feed, the tile's height in device pixels, its priority
    (active speaker or shared screen first)."""

    feed: str
    height: int
    priority: int = 0  # higher first: feed_priority (a bool still works: True is 1)


def allocate_layers(views: Sequence[View], bandwidth: int, *, audio_feeds: int = 0, low_data: bool = False,
                    layers: Sequence[Layer] = LAYERS) -> dict[str, int | None]:
    """Choose a substream per viewed feed (None: pause that video).

    Audio is reserved first. Every video then gets the lowest layer, priority feeds first, while the
    bandwidth lasts (the rest pause). Left-over bandwidth raises feeds, priority first, each up to the
    layer that fits its tile (the smallest layer at least as tall, so a 200 px tile gets 360p and a
    thumbnail 180p). Low-data mode (省流量) never goes above the lowest layer.
    """
    if bandwidth < 0 or not layers:
        raise ValueError("bandwidth must be >= 0 and layers non-empty")
    order = sorted(views, key=lambda v: (-int(v.priority), -v.height))
    budget = bandwidth - audio_feeds * AUDIO_BITRATE
    chosen: dict[str, int | None] = {v.feed: None for v in views}
    for v in order:
        if budget >= layers[0].bitrate:
            chosen[v.feed] = 0
            budget -= layers[0].bitrate
    if low_data:
        return {f: (None if s is None else layers[0].substream) for f, s in chosen.items()}
    for v in order:
        if chosen[v.feed] is None:
            continue
        want = next((i for i, layer in enumerate(layers) if layer.height >= v.height), len(layers) - 1)
        current = 0
        while current < want and budget >= layers[current + 1].bitrate - layers[current].bitrate:
            budget -= layers[current + 1].bitrate - layers[current].bitrate
            current += 1
        chosen[v.feed] = current
    return {f: (None if s is None else layers[s].substream) for f, s in chosen.items()}


def feed_priority(peer: str | None, *, speaker: str | None, screens: Iterable[str] = (), floor: str | None = None,
                  moderators: Iterable[str] = ()) -> int:
    """A viewed feed's priority for ``allocate_layers``: 2 for the active speaker (Janus's talking events)
    and a shared screen (the viewer's client marks that tile), 1 for the floor holder and moderators, 0
    for the rest."""
    if peer is None:
        return 0
    if peer == speaker or peer in set(screens):
        return 2
    if peer == floor or peer in set(moderators):
        return 1
    return 0


# -- topology --

MESH = "mesh"
SFU = "sfu"
TOPOLOGIES = (MESH, SFU)
# Kinds whose rules the server must enforce (the floor) or that brief many centres: on the SFU whenever
# one is configured.
SFU_KINDS = frozenset({"dispatch", "petition"})
MESH_LIMIT = 4  # CONCORD_MESH_LIMIT: a mesh room with more admitted people than this moves to the SFU


@dataclass(frozen=True)
class TopologyChange:
    """A move of a room to ``topology``, with its cause (``kind``, ``size`` or ``failover``) and, for
    ``size``, the admitted people ``n`` and the ``limit`` that was passed."""

    topology: str
    cause: str
    n: int = 0
    limit: int = 0


def choose_topology(kind: str, current: str, people: int, *, sfu_configured: bool,
                    mesh_limit: int = MESH_LIMIT) -> TopologyChange | None:
    """Whether a room must move, and why (None: it stays). ``people`` counts admitted persons (not the
    recorder). A room never moves back from the SFU to the mesh: a briefing that shrinks keeps its
    moderation, and clients are spared a second renegotiation."""
    if current == SFU or not sfu_configured:
        return None
    if kind in SFU_KINDS:
        return TopologyChange(SFU, "kind")
    if people > mesh_limit:
        return TopologyChange(SFU, "size", people, mesh_limit)
    return None
