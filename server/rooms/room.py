"""The state of one live room, as a pure state machine (no I/O, no aiohttp, no clock of its own).

Every change goes through a method that returns the *effects* to carry out: messages to send (each
addressed to peers by ``(peer_id, node, conn)`` so the caller can deliver to the sockets it holds), sockets
to close, ledger events to record, and session state changes to persist. The signaling handler parses,
authorises against this state, calls a method and fans the effects out; it decides nothing itself.

Determinism: given the same commands in the same order, two replicas of a room reach the same state and
produce the same effects. Commands therefore carry everything that is not deterministic (new peer ids,
hashes of new resume tokens, the time ``at``). That is what lets two server nodes share a room by
replaying one ordered command log (see docs/multinode.md).

Invariants (checked by tests/unit/test_room_properties.py):
- a peer in the lobby is never a recipient of room broadcasts, signals or chat;
- every peer in a sub-room is admitted;
- the floor holder and raised hands are admitted people;
- while recording is off no recorder peer is present;
- after the session ended nobody is in the room;
- one person holds at most one place: a dropped place is kept (shown as reconnecting) and taken back.

A dropped network never ends a session: a moderator ends it, or the hub's sweep after ``idle_end_s``
with nobody in the room (``idle_expired``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.rooms import permissions
from server.sessions.kinds import MODERATOR_ROLES, SYSTEM_ROLES, KindRules, may_speak, rules

GRACE_S = 60.0  # a dropped peer keeps its place this long
IDLE_END_S = 7200.0  # a live room with nobody in it ends this long after the last person went
MAX_PEERS = 50  # a mesh is for small rooms; large briefings belong on an SFU backend
MAX_PEERS_SFU = 2000  # on the SFU (docs/sfu.md): a city-wide briefing
TOPOLOGIES = ("mesh", "sfu")  # how media flows: peer to peer, or through Janus (docs/sfu.md)
# "instance failover": the Janus instance under the room died and the room moved to another
# (server.sfu.failover); "failover" is kept for a move back to the mesh. terminal: a WHIP/WHEP terminal joined.
TOPOLOGY_CAUSES = ("kind", "size", "failover", "instance failover", "terminal")
MAX_SUBROOM_LEN = 40
MAX_CHAT_LEN = 2000

# WebSocket close codes used with Close effects (documented in docs/protocol.md).
CLOSE_NORMAL = 1000
CLOSE_REMOVED = 4403
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410

Target = tuple[str, str, str]  # (peer_id, node_id, conn_id)


# ---- effects ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``msg`` to each target (encode once, deliver to the targets this node holds)."""

    to: tuple[Target, ...]
    msg: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Close:
    """Close a peer's connection after the messages queued for it."""

    to: Target
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    """A ledger event for the session chain."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionState:
    """Persist the session's state: ``live`` (first moderator in) or ``ended``."""

    state: str


@dataclass(frozen=True, slots=True)
class RecordingChanged:
    """Recording was switched; the node that took the command starts or stops the recorder."""

    on: bool
    subrooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecorderLost:
    """The recorder's node died with recording on; the node that noticed starts a new recorder."""

    subrooms: tuple[str, ...]


Effect = Send | Close | Record | SessionState | RecordingChanged | RecorderLost


class RoomError(Exception):
    """A refused action. ``apply`` turns it into an ``error`` message to the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---- peers -----------------------------------------------------------------------------------------


@dataclass
class Peer:
    id: str
    name: str
    role: str
    identity: str  # "inv:<nonce>", "staff:<id>" or "system:<id>": one person, one place in the room
    node: str
    conn: str
    resume_hash: str
    admitted: bool = False
    system: bool = False
    subroom: str | None = None
    hand: bool = False
    consent: bool | None = None
    audio: bool = True
    video: bool = True
    connected: bool = True
    dropped_at: float | None = None
    epoch: int = 0
    joined_at: float = 0.0
    # On the SFU: this person's feed is up on the room's current Janus room (``sfu_feed`` command).
    sfu_feed: bool = False
    # The Janus instance (a server.sfu.cluster id, never sent to clients) their feed is up on: a room on the
    # SFU may span several instances (server.sfu.span); reported with ``sfu_feed``.
    sfu_instance: str | None = None

    @property
    def target(self) -> Target:
        return (self.id, self.node, self.conn)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- the room --------------------------------------------------------------------------------------


class Room:
    def __init__(self, session_id: int, kind: str, title: str = "", *, grace_s: float = GRACE_S,
                 clock: Callable[[], float] = time.time, max_peers: int = MAX_PEERS, shuttle: bool = False,
                 idle_end_s: float = IDLE_END_S) -> None:
        self.session_id = session_id
        self.kind = kind
        self.rules: KindRules = rules(kind)
        self.title = title
        self.grace_s = grace_s
        self.idle_end_s = idle_end_s
        # When the last person went from a live room (from the command's time): the idle timeout runs from here.
        self.empty_since: float | None = None
        self.clock = clock
        self.max_peers = self.rules.room_cap or max_peers  # a kind may hold more (a council meeting)
        self.peers: dict[str, Peer] = {}
        self.live = False
        self.ended = False
        self.locked = False
        self.floor: str | None = None
        self.floor_since: float | None = None  # when the floor was given (a kind's speaking time limit)
        self.hands: list[str] = []
        self.recording = False
        self.recording_subrooms: set[str] = set()
        self.banned: set[str] = set()  # identities removed or denied: they cannot come back
        # Shuttle mediation (背靠背, the default for domestic-violence cases): each party is seated in a
        # private sub-room of their own when admitted, and no move may put two parties in one room.
        self.shuttle = shuttle
        # The agreement draft shown to everyone (set through the agreements API, op "agreement").
        self.agreement: dict[str, Any] | None = None
        # Media topology (docs/sfu.md): "mesh" or "sfu". ``sfu_instance`` names the Janus instance (an id
        # of server.sfu.cluster, never a URL, never sent to clients); ``sfu_generation`` counts moves to a
        # new Janus room (failover). A switch in progress waits for every connected person's feed.
        self.topology = "mesh"
        self.sfu_instance: str | None = None
        self.sfu_generation = 0
        self.switches = 0
        self.switch: dict[str, Any] | None = None  # {"seq", "at", "cause", "pending": set of peer ids}

    # ---- queries --------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return "ended" if self.ended else "live" if self.live else "scheduled"

    @property
    def empty(self) -> bool:
        return not self.peers

    def admitted(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.admitted]

    def lobby(self) -> list[Peer]:
        return [p for p in self.peers.values() if not p.admitted]

    def moderators(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.admitted and p.role in MODERATOR_ROLES]

    def humans(self) -> list[Peer]:
        return [p for p in self.peers.values() if not p.system]

    def subrooms(self) -> list[str]:
        return sorted({p.subroom for p in self.peers.values() if p.admitted and p.subroom is not None})

    def may_speak(self, p: Peer) -> bool:
        return may_speak(self.rules, p.role, self.floor == p.id)

    def is_recorded(self, p: Peer) -> bool:
        """Whether this person's media goes to the recorder: recording on, consenting, recorded sub-room."""
        return (self.recording and not p.system and p.admitted and p.consent is True
                and (p.subroom is None or p.subroom in self.recording_subrooms))

    def check_signal(self, src: str, dst: str) -> str | None:
        """Why a ``signal`` from ``src`` to ``dst`` may not be relayed (an error code), or None.

        Signals flow only between admitted peers of the same sub-room. The recorder sits outside
        sub-rooms: it pairs with each person whose media is recorded (is_recorded).
        """
        a = self.peers.get(src)
        if a is None or not a.admitted:
            return "not_admitted"
        b = self.peers.get(dst)
        if b is None or not b.admitted or b.id == a.id:
            return "unknown_peer"
        if a.system or b.system:
            person = b if a.system else a
            if a.system and b.system:
                return "unknown_peer"
            if not self.recording:
                return "not_recording"
            if person.consent is not True:
                return "no_consent"
            if not self.is_recorded(person):
                return "other_subroom"
            return None
        if a.subroom != b.subroom:
            return "other_subroom"
        return None

    def resume_matches(self, identity: str, resume_hash: str | None) -> bool:
        if not resume_hash:
            return False
        return any(p.resume_hash == resume_hash and p.identity == identity for p in self.peers.values())

    def expired(self, now: float | None = None) -> list[tuple[str, int]]:
        """Dropped peers whose grace period is over, as (peer_id, epoch) for ``expire`` commands."""
        now = self.clock() if now is None else now
        return [(p.id, p.epoch) for p in self.peers.values()
                if not p.connected and p.dropped_at is not None and now - p.dropped_at >= self.grace_s]

    def idle_expired(self, now: float | None = None) -> bool:
        """A live room nobody has been in for ``idle_end_s``: the hub ends it (``end`` with reason idle)."""
        now = self.clock() if now is None else now
        return (self.live and not self.ended and self.empty_since is not None and not self.humans()
                and now - self.empty_since >= self.idle_end_s)

    @property
    def holding(self) -> bool:
        """Live and not ended: a replica must stay open (even with nobody in it) to run the idle timeout."""
        return self.live and not self.ended

    def peer_json(self, p: Peer) -> dict[str, Any]:
        return {
            "id": p.id, "name": p.name, "role": p.role, "subroom": p.subroom, "hand": p.hand,
            "consent": p.consent, "audio": p.audio, "video": p.video, "connected": p.connected,
            "epoch": p.epoch, "may_speak": self.may_speak(p), "system": p.system,
        }

    def room_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id, "kind": self.kind, "title": self.title, "state": self.state,
            "locked": self.locked, "floor": self.floor, "hands": list(self.hands),
            "recording": self.recording, "recording_subrooms": sorted(self.recording_subrooms),
            "subrooms": self.subrooms(), "speaking": str(self.rules.speaking), "grace_s": self.grace_s,
            "listen_only": sorted(self.rules.listen_only),
            "shuttle": self.shuttle,
            "agreement": self.agreement,
            "topology": self.topology, "sfu_generation": self.sfu_generation,
        }

    # ---- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _to(peers: Iterable[Peer]) -> tuple[Target, ...]:
        return tuple(p.target for p in peers if p.connected)

    def _others(self, p: Peer) -> list[Peer]:
        return [q for q in self.peers.values() if q.admitted and q.id != p.id]

    def _room_msg(self) -> dict[str, Any]:
        return {"type": "room", "room": self.room_json()}

    def _broadcast_room(self) -> Send:
        return Send(self._to(self.admitted()), self._room_msg())

    def _updated(self, p: Peer, *, include_self: bool = True) -> Send:
        peers = self.admitted() if include_self else self._others(p)
        return Send(self._to(peers), {"type": "peer-updated", "peer": self.peer_json(p)})

    def _welcome(self, p: Peer, resumed: bool) -> dict[str, Any]:
        return {
            "type": "welcome", "peer_id": p.id, "resume": None, "role": p.role, "name": p.name,
            "resumed": resumed, "subroom": p.subroom, "self": self.peer_json(p), "room": self.room_json(),
            "peers": [self.peer_json(q) for q in self._others(p)], "ice_servers": [],
        }

    def _knocks(self, to: list[Peer]) -> list[Effect]:
        targets = self._to(to)
        if not targets:
            return []
        return [Send(targets, {"type": "knock", "peer": self._lobby_json(q)}) for q in self.lobby()]

    @staticmethod
    def _lobby_json(p: Peer) -> dict[str, Any]:
        return {"id": p.id, "name": p.name, "role": p.role}

    def _peer(self, peer_id: Any) -> Peer:
        p = self.peers.get(peer_id) if isinstance(peer_id, str) else None
        if p is None:
            raise RoomError("unknown_peer", "no such peer in this room")
        return p

    def _actor(self, actor_id: str, action: str) -> Peer:
        a = self.peers.get(actor_id)
        if a is None:
            raise RoomError("not_joined", "you are not in this room")
        if not a.admitted and action not in permissions.LOBBY_ACTIONS:
            raise RoomError("not_admitted", "wait until a moderator admits you")
        if a.admitted and not permissions.allowed(self.kind, a.role, action):
            raise RoomError("forbidden", f"your role ({a.role}) may not {action}")
        return a

    def _person(self, peer_id: Any) -> Peer:
        """An admitted person (not the recorder) as the object of a moderator action."""
        p = self._peer(peer_id)
        if p.system:
            raise RoomError("forbidden", "the recorder is controlled with the recording switch")
        if not p.admitted:
            raise RoomError("unknown_peer", "that peer is still in the lobby")
        return p

    def _not_ended(self) -> None:
        if self.ended:
            raise RoomError("session_ended", "this session has ended")

    def _id_free(self, peer_id: str) -> None:
        if peer_id in self.peers:
            raise RoomError("conflict", "peer id already in use")

    def _seat(self, p: Peer) -> list[Effect]:
        """In a shuttle room, an admitted party gets a private sub-room of its own (before its welcome)."""
        if not self.shuttle or p.role != "party" or p.subroom is not None:
            return []
        taken = {q.subroom for q in self.peers.values() if q.id != p.id}
        name = p.name[:MAX_SUBROOM_LEN]
        if name in taken:
            name = f"{p.name[:MAX_SUBROOM_LEN - 6]}·{p.id[-4:]}"
        p.subroom = name
        return [Record("moved", {"peer": p.id, "name": p.name, "from": None, "to": name, "by": None,
                                 "by_name": None, "reason": "shuttle"})]

    def _shuttle_check(self, p: Peer, subroom: str | None) -> None:
        if not self.shuttle or p.role != "party":
            return
        if any(q.role == "party" and q.admitted and q.id != p.id and q.subroom == subroom
               for q in self.peers.values()):
            raise RoomError("shuttle", "背靠背调解：双方当事人不能同室 / shuttle mediation keeps the parties apart")

    def set_shuttle(self, on: bool) -> list[Effect]:
        """The session's shuttle setting changed (a ledgered joint override, made outside the room)."""
        if self.shuttle == bool(on):
            return []
        self.shuttle = bool(on)
        return [self._broadcast_room(), Record("shuttle", {"on": self.shuttle})]

    def _go_live(self, p: Peer) -> list[Effect]:
        """The first moderator in makes the session live (call before building p's welcome)."""
        if self.live or p.role not in MODERATOR_ROLES or not p.admitted:
            return []
        self.live = True
        return [SessionState("live"), Record("session_live", {"by": p.id, "name": p.name}),
                Send(self._to(self._others(p)), self._room_msg())]

    # ---- joining and leaving --------------------------------------------------------------------

    def join(self, *, peer_id: str, name: str, role: str, identity: str, node: str, conn: str,
             new_resume_hash: str, direct: bool, resume_hash: str | None = None, system: bool = False,
             now: float | None = None) -> list[Effect]:
        """A connection presents a valid join token (already verified by the handler).

        The same person (identity, or a matching resume token) takes over their existing place: their
        peer id, sub-room, hand and consent survive, the old socket is closed, and the epoch goes up so
        the others drop their old peer connection to them.
        """
        now = self.clock() if now is None else now
        self._not_ended()
        if identity in self.banned:
            raise RoomError("removed", "you were removed from this session")
        if system:
            if role not in SYSTEM_ROLES:
                raise RoomError("forbidden", "system peers are recorders")
            if not self.recording:
                raise RoomError("not_recording", "recording is off")
        elif role not in self.rules.roles:
            raise RoomError("forbidden", f"role {role!r} does not take part in a {self.kind} session")

        existing = None
        if resume_hash:
            existing = next((p for p in self.peers.values()
                             if p.resume_hash == resume_hash and p.identity == identity), None)
        if existing is None and not system:
            existing = next((p for p in self.peers.values() if p.identity == identity), None)
        if existing is None and not system:
            # A new link for the same person (same name and role) while their old place waits for them:
            # take it back rather than sit in the room twice.
            existing = next((p for p in self.peers.values() if not p.connected and not p.system
                             and p.name == name and p.role == role), None)
            if existing is not None:
                existing.identity = identity
        if existing is not None:
            return self._take_over(existing, node, conn, new_resume_hash, resumed=bool(resume_hash))

        self._id_free(peer_id)
        limit = self.max_peers if self.topology == "mesh" else max(self.max_peers, MAX_PEERS_SFU)
        if len(self.peers) >= limit:
            raise RoomError("room_full", f"a room holds at most {limit} people")
        admitted = system or role in MODERATOR_ROLES or (direct and not self.locked)
        p = Peer(id=peer_id, name=name, role=role, identity=identity, node=node, conn=conn,
                 resume_hash=new_resume_hash, admitted=admitted, system=system, joined_at=now)
        self.peers[p.id] = p
        if not system:
            self.empty_since = None
        if not admitted:
            return [
                Send((p.target,), {"type": "lobby"}),
                Send(self._to(self.moderators()), {"type": "knock", "peer": self._lobby_json(p)}),
                Record("lobby_waiting", {"peer": p.id, "name": p.name, "role": p.role}),
            ]
        seated = self._seat(p)
        live = self._go_live(p)
        effects: list[Effect] = [*seated,
            Send((p.target,), self._welcome(p, resumed=False)),
            Send(self._to(self._others(p)), {"type": "peer-joined", "peer": self.peer_json(p)}),
            Record("peer_joined", {"peer": p.id, "name": p.name, "role": p.role, "system": system}),
            *live,
        ]
        if p.role in MODERATOR_ROLES:
            effects += self._knocks([p])
        return effects

    def _take_over(self, p: Peer, node: str, conn: str, new_resume_hash: str, resumed: bool) -> list[Effect]:
        effects: list[Effect] = []
        if p.connected:
            effects.append(Close(p.target, CLOSE_REPLACED, "joined from another connection"))
        p.node, p.conn, p.connected, p.dropped_at = node, conn, True, None
        p.epoch += 1
        p.sfu_feed, p.sfu_instance = False, None  # the new connection publishes afresh (and is placed again)
        p.resume_hash = new_resume_hash
        effects.append(Record("peer_resumed", {"peer": p.id, "name": p.name, "epoch": p.epoch,
                                               "with_token": resumed}))
        if not p.admitted:
            effects.append(Send((p.target,), {"type": "lobby"}))
            return effects
        effects.append(Send((p.target,), self._welcome(p, resumed=True)))
        effects.append(self._updated(p, include_self=False))
        if p.role in MODERATOR_ROLES:
            effects += self._knocks([p])
        return effects

    def leave(self, peer_id: str, *, conn: str | None = None, now: float | None = None) -> list[Effect]:
        p = self.peers.get(peer_id)
        if p is None or (conn is not None and p.conn != conn):
            return []
        return [Close(p.target, CLOSE_NORMAL, "left")] + self._remove(p, "left", now)

    def drop(self, peer_id: str | None, conn: str, now: float | None = None) -> list[Effect]:
        """The socket went away without ``leave``: keep the place for ``grace_s``.

        ``peer_id`` may be None when the socket died before its join was answered: the connection id
        finds the place.
        """
        now = self.clock() if now is None else now
        if peer_id is None:
            p = next((q for q in self.peers.values() if q.conn == conn), None)
        else:
            p = self.peers.get(peer_id)
        if p is None or p.conn != conn or not p.connected:
            return []  # a stale connection (already replaced) or already dropped
        if p.system:
            effects = self._remove(p, "left", now)
            if self.recording and not any(q.system for q in self.peers.values()):
                effects += [Record("recorder_lost", {"peer": p.id}),
                            RecorderLost(tuple(sorted(self.recording_subrooms)))]
            return effects
        p.connected, p.dropped_at = False, now
        p.sfu_feed = False
        effects = [Record("peer_dropped", {"peer": p.id, "name": p.name}), *self._unpend(p, now)]
        if p.admitted:
            effects.append(self._updated(p, include_self=False))
        return effects

    def expire(self, peer_id: str, epoch: int, now: float | None = None) -> list[Effect]:
        now = self.clock() if now is None else now
        p = self.peers.get(peer_id)
        if (p is None or p.connected or p.epoch != epoch or p.dropped_at is None
                or now - p.dropped_at < self.grace_s):
            return []
        return self._remove(p, "timeout", now)

    def _remove(self, p: Peer, reason: str, now: float | None = None) -> list[Effect]:
        del self.peers[p.id]
        effects: list[Effect] = self._unpend(p, now)
        if p.admitted:
            effects.append(Send(self._to(self.admitted()), {"type": "peer-left", "peer_id": p.id, "reason": reason}))
        else:
            effects.append(Send(self._to(self.moderators()), {"type": "peer-left", "peer_id": p.id,
                                                               "reason": reason}))
        changed = False
        if p.id in self.hands:
            self.hands.remove(p.id)
            changed = True
        if self.floor == p.id:
            self.floor = None
            changed = True
        if changed and self.admitted():
            effects.append(self._broadcast_room())
        kind = "lobby_left" if not p.admitted else "peer_left"
        effects.append(Record(kind, {"peer": p.id, "name": p.name, "role": p.role, "reason": reason}))
        if self.live and not self.ended and not p.system and not self.humans():
            # Nobody left: the session stays open for them to come back (idle_expired ends it later).
            self.empty_since = self.clock() if now is None else now
            effects.append(Record("room_empty", {"idle_end_s": self.idle_end_s}))
        return effects

    def _end(self, reason: str, by: Peer | None) -> list[Effect]:
        self.ended = True
        effects: list[Effect] = [SessionState("ended"),
                                 Record("session_ended", {"reason": reason, "by": by.id if by else None})]
        remaining = list(self.peers.values())
        self.peers.clear()
        self.hands.clear()
        self.floor = None
        if self.recording:
            self.recording = False
            effects.append(RecordingChanged(False, ()))
        msg = self._room_msg()
        if remaining:
            effects.append(Send(self._to(remaining), msg))
            effects += [Close(p.target, CLOSE_ENDED, "session ended") for p in remaining if p.connected]
        return effects

    def end(self, actor_id: str | None, now: float | None = None, *, reason: str = "ended") -> list[Effect]:
        """A moderator (or the API, with ``actor_id`` None) ends the session for everybody."""
        if self.ended:
            return []
        by = None
        if actor_id is not None:
            by = self._actor(actor_id, "end")
        return self._end(reason, by)

    # ---- moderation -----------------------------------------------------------------------------

    def admit(self, actor_id: str, peer_id: str | None, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "admit")
        p = self._peer(peer_id)
        if p.admitted:
            return []  # two moderators admitted at once: the second is a no-op
        p.admitted = True
        seated = self._seat(p)
        effects: list[Effect] = [*seated,
            Send((p.target,) if p.connected else (), self._welcome(p, resumed=False)),
            Send(self._to(self._others(p)), {"type": "peer-joined", "peer": self.peer_json(p)}),
            Record("admitted", {"peer": p.id, "name": p.name, "role": p.role, "by": a.id, "by_name": a.name}),
        ]
        return effects

    def deny(self, actor_id: str, peer_id: str | None, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "deny")
        p = self._peer(peer_id)
        if p.admitted:
            raise RoomError("invalid_field", "that peer is already admitted; use remove")
        self.banned.add(p.identity)
        effects: list[Effect] = [
            Send((p.target,) if p.connected else (), {"type": "error", "code": "denied",
                                                      "message": "主持人未准许您进入 / the host did not admit you"}),
        ]
        if p.connected:
            effects.append(Close(p.target, CLOSE_REMOVED, "denied"))
        effects.append(Record("denied", {"peer": p.id, "name": p.name, "by": a.id, "by_name": a.name}))
        return effects + self._remove(p, "denied", now)

    def remove(self, actor_id: str, peer_id: str | None, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "remove")
        p = self._peer(peer_id)
        if p.id == a.id:
            raise RoomError("invalid_field", "use leave to leave the room yourself")
        if p.system:
            raise RoomError("forbidden", "the recorder is controlled with the recording switch")
        if not p.admitted:
            return self.deny(actor_id, peer_id, now)
        if p.role == "host" and a.role != "host":
            raise RoomError("forbidden", "only a host may remove a host")
        self.banned.add(p.identity)
        effects: list[Effect] = []
        if p.connected:
            effects += [Send((p.target,), {"type": "removed", "by": a.id}),
                        Close(p.target, CLOSE_REMOVED, "removed")]
        effects.append(Record("removed", {"peer": p.id, "name": p.name, "by": a.id, "by_name": a.name}))
        return effects + self._remove(p, "removed", now)

    def mute(self, actor_id: str, peer_id: str | None, kind: str, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "mute")
        if kind not in ("audio", "video"):
            raise RoomError("invalid_field", "kind must be audio or video")
        p = self._person(peer_id)
        setattr(p, kind, False)
        return [
            Send((p.target,) if p.connected else (), {"type": "muted", "kind": kind, "by": a.id}),
            self._updated(p),
            Record("muted", {"peer": p.id, "name": p.name, "kind": kind, "by": a.id, "by_name": a.name}),
        ]

    def lock(self, actor_id: str, locked: bool, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "lock")
        self.locked = bool(locked)
        return [self._broadcast_room(), Record("lock", {"locked": self.locked, "by": a.id, "by_name": a.name})]

    def move(self, actor_id: str, peer_id: str | None, subroom: str | None, now: float | None = None) -> list[Effect]:
        """Move a person into a private sub-room (背靠背) or back to the main room (None).

        The mover gets ``moved`` and offers to the peers already in the new sub-room; everybody gets
        ``peer-updated`` and closes peer connections that now cross sub-rooms.
        """
        a = self._actor(actor_id, "move")
        if subroom is not None and (not isinstance(subroom, str) or not subroom.strip()
                                    or len(subroom) > MAX_SUBROOM_LEN):
            raise RoomError("invalid_field", f"subroom must be null or a name of 1-{MAX_SUBROOM_LEN} characters")
        subroom = subroom.strip() if subroom is not None else None
        p = self._person(peer_id)
        if p.subroom == subroom:
            return []
        self._shuttle_check(p, subroom)
        old, p.subroom = p.subroom, subroom
        there = [q.id for q in self._others(p) if (q.system and self.is_recorded(p))
                 or (not q.system and q.subroom == subroom)]
        return [
            Send((p.target,) if p.connected else (), {"type": "moved", "subroom": subroom, "peers": there}),
            self._updated(p, include_self=False),
            self._broadcast_room(),
            Record("moved", {"peer": p.id, "name": p.name, "from": old, "to": subroom, "by": a.id,
                             "by_name": a.name}),
        ]

    def give_floor(self, actor_id: str, peer_id: str | None, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "floor")
        p = self._person(peer_id) if peer_id is not None else None
        old = self.peers.get(self.floor) if self.floor else None
        self.floor = p.id if p else None
        self.floor_since = (self.clock() if now is None else now) if p else None
        effects: list[Effect] = []
        if p is not None and p.hand:
            p.hand = False
            self.hands.remove(p.id)
        for q in {x.id: x for x in (old, p) if x is not None}.values():
            effects.append(self._updated(q))
        effects.append(self._broadcast_room())
        effects.append(Record("floor", {"peer": self.floor, "name": p.name if p else None, "by": a.id,
                                        "by_name": a.name}))
        return effects

    def expire_floor(self, peer_id: Any, since: Any, now: float | None = None) -> list[Effect]:
        """The floor's speaking time ran out (a council meeting's limit per turn; the hub times it): the floor
        goes back, so the speaker's audio is no longer forwarded (clients, and the SFU's ``audio_forwarded``).
        A stale expiry (the floor moved on, or was given again since) does nothing."""
        if self.floor is None or self.floor != peer_id or self.floor_since != since:
            return []
        p = self.peers.get(self.floor)
        self.floor = None
        self.floor_since = None
        effects: list[Effect] = [self._updated(p)] if p is not None else []
        effects.append(self._broadcast_room())
        effects.append(Record("floor", {"peer": None, "name": None, "by": None, "by_name": None,
                                        "reason": "time_limit", "from": peer_id, "from_name": p.name if p else None}))
        return effects

    def set_recording(self, actor_id: str, on: bool, subrooms: Iterable[str] = (),
                      now: float | None = None) -> list[Effect]:
        """Switch recording. Private sub-rooms are recorded only when named in ``subrooms``."""
        a = self._actor(actor_id, "recording")
        subs = set()
        for s in subrooms:
            if not isinstance(s, str) or not s.strip() or len(s) > MAX_SUBROOM_LEN:
                raise RoomError("invalid_field", "subrooms must be sub-room names")
            subs.add(s.strip())
        effects: list[Effect] = []
        if on:
            changed = not self.recording or subs != self.recording_subrooms
            self.recording, self.recording_subrooms = True, subs
            if not changed:
                return []
            effects += [self._broadcast_room(),
                        Record("recording_on", {"by": a.id, "by_name": a.name, "subrooms": sorted(subs)}),
                        RecordingChanged(True, tuple(sorted(subs)))]
            return effects
        if not self.recording:
            return []
        self.recording, self.recording_subrooms = False, set()
        for r in [p for p in self.peers.values() if p.system]:
            if r.connected:
                effects.append(Close(r.target, CLOSE_NORMAL, "recording off"))
            effects += self._remove(r, "recording_off", now)
        effects += [self._broadcast_room(), Record("recording_off", {"by": a.id, "by_name": a.name}),
                    RecordingChanged(False, ())]
        return effects

    # ---- participants ---------------------------------------------------------------------------

    def show_agreement(self, agreement: Any) -> list[Effect]:
        """Everyone admitted sees the same agreement version (or none): a room state change."""
        self._not_ended()
        self.agreement = dict(agreement) if isinstance(agreement, dict) else None
        return [self._broadcast_room()]

    def chat(self, actor_id: str, text: str, now: float | None = None) -> list[Effect]:
        now = self.clock() if now is None else now
        a = self._actor(actor_id, "chat")
        text = (text or "").strip()
        if not text or len(text) > MAX_CHAT_LEN:
            raise RoomError("invalid_field", f"text must be 1-{MAX_CHAT_LEN} characters")
        to = [p for p in self.admitted() if not p.system and p.subroom == a.subroom]
        msg = {"type": "chat", "from": a.id, "name": a.name, "text": text, "at": _iso(now), "subroom": a.subroom}
        return [Send(self._to(to), msg),
                Record("chat", {"peer": a.id, "name": a.name, "text": text, "subroom": a.subroom})]

    def hand(self, actor_id: str, raised: bool, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "hand")
        raised = bool(raised)
        if a.hand == raised:
            return []
        a.hand = raised
        if raised:
            self.hands.append(a.id)
        else:
            self.hands.remove(a.id)
        return [self._updated(a), self._broadcast_room(), Record("hand", {"peer": a.id, "name": a.name,
                                                                          "raised": raised})]

    def consent(self, actor_id: str, recording: bool, now: float | None = None) -> list[Effect]:
        a = self._actor(actor_id, "consent")
        a.consent = bool(recording)
        return [self._updated(a), Record("consent", {"peer": a.id, "name": a.name, "role": a.role,
                                                     "recording": a.consent})]

    def media(self, actor_id: str, audio: bool | None, video: bool | None, now: float | None = None) -> list[Effect]:
        """A peer reports its own microphone/camera state (shown to others; not ledgered)."""
        a = self._actor(actor_id, "media")
        if audio is not None:
            a.audio = bool(audio)
        if video is not None:
            a.video = bool(video)
        return [self._updated(a, include_self=False)]

    # ---- media topology (docs/sfu.md) -------------------------------------------------------------

    def set_topology(self, topology: str, cause: str, *, instance: str | None = None, generation: int | None = None,
                     n: int = 0, limit: int = 0, now: float | None = None) -> list[Effect]:
        """Move the room's media to ``topology`` in place (nobody rejoins or loses their place), or to a
        new Janus room (``generation`` up, e.g. after an instance failed). Every connected person
        renegotiates; when all of their feeds are up again, ``topology_settled`` records how long it took."""
        now = self.clock() if now is None else now
        self._not_ended()
        if topology not in TOPOLOGIES or cause not in TOPOLOGY_CAUSES:
            raise RoomError("invalid_field", "unknown topology or cause")
        gen = self.sfu_generation if generation is None else int(generation)
        if topology == self.topology and gen == self.sfu_generation:
            return []  # two nodes decided the same move: the first one took it
        if topology == "mesh" and self.topology == "sfu" and cause not in ("failover", "instance failover"):
            return []  # a room does not go back to the mesh (server.sfu.plan.choose_topology)
        old = self.topology
        self.topology, self.sfu_generation = topology, gen
        self.sfu_instance = instance if topology == "sfu" else None
        for p in self.peers.values():
            p.sfu_feed, p.sfu_instance = False, None
        self.switches += 1
        pending = {p.id for p in self.admitted() if p.connected and not p.system}
        self.switch = {"seq": self.switches, "at": now, "cause": cause, "pending": pending} if pending else None
        msg = {"type": "topology", "topology": topology, "cause": cause, "generation": gen}
        return [
            Send(self._to(self.admitted()), msg),
            self._broadcast_room(),
            Record("topology", {"from": old, "to": topology, "cause": cause, "n": n, "limit": limit,
                                "generation": gen, "switch": self.switches, "peers": len(pending)}),
        ]

    def set_sfu_feed(self, peer_id: str, generation: int, epoch: int, up: bool, now: float | None = None,
                     instance: str | None = None) -> list[Effect]:
        """A person's feed came up (or went down) on the SFU, on Janus ``instance``. Reported by the node
        that holds their connection (server.sfu.bridge); every node then subscribes its viewers to it."""
        p = self.peers.get(peer_id)
        if (p is None or p.system or self.topology != "sfu" or generation != self.sfu_generation
                or epoch != p.epoch or not p.connected or p.sfu_feed == up):
            return []
        p.sfu_feed = up
        if up and instance:
            p.sfu_instance = instance
        return self._unpend(p, now) if up else []

    def _unpend(self, p: Peer, now: float | None) -> list[Effect]:
        """``p`` renegotiated (or left): the switch in progress may be complete."""
        sw = self.switch
        if sw is None or p.id not in sw["pending"]:
            return []
        sw["pending"].discard(p.id)
        if sw["pending"]:
            return []
        self.switch = None
        now = self.clock() if now is None else now
        return [Record("topology_settled", {"switch": sw["seq"], "cause": sw["cause"], "topology": self.topology,
                                            "duration_ms": max(0, round((now - sw["at"]) * 1000))})]

    def sfu_publishers(self) -> list[Peer]:
        """People whose feed is up on the SFU (candidates for subscriptions)."""
        return [p for p in self.peers.values() if p.sfu_feed and p.admitted and p.connected and not p.system]

    # ---- replicated commands --------------------------------------------------------------------

    def apply(self, cmd: dict[str, Any]) -> list[Effect]:
        """Apply one command of the room's log. A refusal becomes an ``error`` to the sender."""
        op = cmd.get("op")
        at = float(cmd.get("at") or self.clock())
        try:
            if op == "join":
                return self.join(peer_id=cmd["peer_id"], name=cmd["name"], role=cmd["role"],
                                 identity=cmd["identity"], node=cmd["node"], conn=cmd["conn"],
                                 new_resume_hash=cmd["new_resume_hash"], direct=bool(cmd.get("direct")),
                                 resume_hash=cmd.get("resume_hash"), system=bool(cmd.get("system")), now=at)
            if op == "drop":
                return self.drop(cmd.get("peer"), cmd["conn"], now=at)
            if op == "expire":
                return self.expire(cmd["peer"], int(cmd["epoch"]), now=at)
            if op == "end":
                if cmd.get("reason") == "idle" and not self.idle_expired(at):
                    return []  # someone came back after the sweep decided
                return self.end(None, now=at, reason=cmd.get("reason") or "ended")
            if op == "settings":
                return self.set_shuttle(bool(cmd.get("shuttle")))
            if op == "floor_expire":
                return self.expire_floor(cmd.get("peer"), cmd.get("since"), now=at)
            if op == "msg":
                return self._message(cmd["peer"], cmd["conn"], cmd["message"], at)
            if op == "agreement":
                return self.show_agreement(cmd.get("agreement"))
            if op == "topology":
                return self.set_topology(str(cmd.get("topology")), str(cmd.get("cause")),
                                         instance=cmd.get("instance"), generation=cmd.get("generation"),
                                         n=int(cmd.get("n") or 0), limit=int(cmd.get("limit") or 0), now=at)
            if op == "sfu_feed":
                return self.set_sfu_feed(str(cmd.get("peer")), int(cmd.get("generation") or 0),
                                         int(cmd.get("epoch") or 0), bool(cmd.get("up", True)), now=at,
                                         instance=str(cmd["instance"]) if cmd.get("instance") else None)
        except RoomError as e:
            return self._refusal(cmd, e)
        return []

    def _refusal(self, cmd: dict[str, Any], e: RoomError) -> list[Effect]:
        if cmd.get("op") == "join":
            target = (cmd.get("peer_id", ""), cmd.get("node", ""), cmd.get("conn", ""))
            return [Send((target,), {"type": "error", "code": e.code, "message": e.message, "ref": "join"}),
                    Close(target, CLOSE_REMOVED if e.code == "removed" else CLOSE_ENDED
                          if e.code == "session_ended" else 4400, e.code)]
        p = self.peers.get(cmd.get("peer", ""))
        if p is None or p.conn != cmd.get("conn"):
            return []
        ref = (cmd.get("message") or {}).get("type")
        return [Send((p.target,), {"type": "error", "code": e.code, "message": e.message, "ref": ref})]

    def _message(self, peer_id: str, conn: str, m: dict[str, Any], at: float) -> list[Effect]:
        p = self.peers.get(peer_id)
        if p is None or p.conn != conn:
            return []  # from a connection that has since been replaced
        t = m.get("type")
        if t == "leave":
            return self.leave(peer_id, conn=conn, now=at)
        if t == "chat":
            return self.chat(peer_id, m.get("text", ""), now=at)
        if t == "hand":
            return self.hand(peer_id, m.get("raised", False), now=at)
        if t == "consent":
            return self.consent(peer_id, m.get("recording", False), now=at)
        if t == "media":
            return self.media(peer_id, m.get("audio"), m.get("video"), now=at)
        if t == "admit":
            return self.admit(peer_id, m.get("peer"), now=at)
        if t == "deny":
            return self.deny(peer_id, m.get("peer"), now=at)
        if t == "mute":
            return self.mute(peer_id, m.get("peer"), m.get("kind", ""), now=at)
        if t == "remove":
            return self.remove(peer_id, m.get("peer"), now=at)
        if t == "lock":
            return self.lock(peer_id, m.get("locked", False), now=at)
        if t == "move":
            return self.move(peer_id, m.get("peer"), m.get("subroom"), now=at)
        if t == "floor":
            return self.give_floor(peer_id, m.get("peer"), now=at)
        if t == "recording":
            return self.set_recording(peer_id, m.get("on", False), m.get("subrooms") or (), now=at)
        if t == "end":
            return self.end(peer_id, now=at)
        raise RoomError("unknown_type", f"unknown message type {t!r}")


__all__ = [
    "CLOSE_ENDED", "CLOSE_NORMAL", "CLOSE_REMOVED", "CLOSE_REPLACED", "GRACE_S", "IDLE_END_S", "MAX_PEERS",
    "MAX_PEERS_SFU", "TOPOLOGIES", "Close",
    "Effect", "Peer", "Record", "RecorderLost", "RecordingChanged", "Room", "RoomError", "Send", "SessionState", "Target",
]

