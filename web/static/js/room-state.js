// The room's state store: everything the room page knows, changed only by the reducers below (one per
// server message or user action) and read by the views (room-grid.js, room-controls.js, room-panels.js).
// No DOM and no media here. After a change the app calls changed(), and the views render from the store.
//
// State comes only from the server (docs/protocol.md, protocol v1): `welcome` gives us our id, the room and
// the peers; `peer-joined` / `peer-updated` / `peer-left` / `room` / `moved` keep it current.
import { t } from "./i18n.js";

export const MODERATOR_ROLES = new Set(["host", "mediator"]);
const MAX_CHAT = 2000;

/** Shown on the tile and in the lists while a dropped person's place waits for them (room.grace_s). */
export const reconnectingText = () => t("room.reconnecting");

/** Reading peer records (server: Room.peer_json) in one place. */
export const peerInfo = {
  hand: (p) => !!p.hand,
  consent: (p) => (p.consent === undefined ? null : p.consent),
  inLobby: (p) => p.admitted === false,
  subroom: (p) => (p.subroom === undefined || p.subroom === "" ? null : p.subroom),
  isRecorder: (p) => p.role === "recorder" || p.system === true,
  away: (p) => p.connected === false,
};

/** Mirror of server.sessions.kinds.may_speak: the kind's speaking rule, honoured by clients. */
export function maySpeak(room, role, peerId) {
  if (role === "recorder" || (room.listen_only || []).includes(role)) return false;
  if (room.floor !== null && room.floor !== undefined && String(room.floor) === String(peerId)) return true;
  const rule = room.speaking || "all";
  if (rule === "all") return true;
  if (rule === "floor_for_parties") return role !== "party" && role !== "agent";
  return MODERATOR_ROLES.has(role);
}

export class RoomStore extends EventTarget {
  constructor(config) {
    super();
    this.me = { id: null, name: config.name, role: config.role, subroom: null };
    this.peers = new Map(); // everyone admitted except us, in any sub-room
    this.lobby = new Map(); // moderators: who knocked and waits
    this.room = {};
    this.consent = null; // our recording consent: null (not asked yet) | true | false
    this.mayTalk = true; // the kind's speaking rule allows our microphone now
    this.handRaised = false;
    this.movedTo = undefined; // the sub-room of the last move we handled
    // Our own media, as room-media.js last set it.
    this.media = { audio: false, video: false, sharing: false, lowData: false };
    this.chatLog = [];
    this.unread = 0;
    this.openPanelId = null;
    this.lastPanel = null;
    this.conn = "connecting";
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change"));
  }

  // ---- reading ------------------------------------------------------------------------------------
  isModerator() {
    return MODERATOR_ROLES.has(this.me.role);
  }

  peerName(id) {
    if (id === this.me.id) return t("room.you");
    const p = this.peers.get(id) || this.lobby.get(id);
    return p ? p.name : String(id ?? "");
  }

  /** Peers sharing our sub-room (and so our media), excluding the recorder. */
  roommates() {
    return [...this.peers.values()].filter(
      (p) => !peerInfo.isRecorder(p) && !peerInfo.inLobby(p) && peerInfo.subroom(p) === this.me.subroom);
  }

  recorder() {
    return [...this.peers.values()].find((p) => peerInfo.isRecorder(p)) || null;
  }

  /** Whether our media goes to the recorder (server: Room.is_recorded). Private rooms only when named. */
  recorded() {
    if (!this.room.recording || this.consent !== true) return false;
    const sub = this.me.subroom;
    return sub === null || (this.room.recording_subrooms || []).includes(sub);
  }

  /** Peers we should hold a media connection with. */
  wanted() {
    const out = this.roommates();
    const rec = this.recorder();
    if (rec && this.recorded()) out.push(rec);
    return out;
  }

  hasFloor(peerId) {
    const floor = this.room.floor ?? null;
    return floor !== null && String(floor) === String(peerId);
  }

  /** Names of who declined recording, ourselves first as "me". */
  declinedNames() {
    const you = t("room.you");
    const names = [...this.peers.values(), this.me].filter((p) => !peerInfo.isRecorder(p) && peerInfo.consent(p) === false)
      .map((p) => (p === this.me ? you : p.name));
    if (this.consent === false && !names.includes(you)) names.unshift(you);
    return names;
  }

  // ---- reducers: server messages ------------------------------------------------------------------
  welcome(msg) {
    this.me = { ...this.me, id: msg.peer_id, role: msg.role || this.me.role, name: msg.name || this.me.name };
    this.peers.clear();
    for (const p of msg.peers || []) {
      if (p.id === msg.peer_id) {
        this.me = { ...this.me, ...p, id: msg.peer_id, role: msg.role || p.role };
        continue;
      }
      if (peerInfo.inLobby(p)) this.lobby.set(p.id, p);
      else this.peers.set(p.id, p);
    }
    for (const p of msg.lobby || (msg.room && msg.room.lobby) || []) this.lobby.set(p.id, p);
    // Our own record (sub-room, hand, consent) after a resume: a reloaded page knows nothing else.
    const own = msg.self || msg.me;
    if (own && typeof own === "object") this.me = { ...this.me, ...own, id: msg.peer_id };
    if (msg.subroom !== undefined) this.me.subroom = msg.subroom;
    this.me.subroom = peerInfo.subroom(this.me);
    this.movedTo = this.me.subroom;
    if (typeof this.me.hand === "boolean") this.handRaised = this.me.hand;
    const myConsent = peerInfo.consent(this.me);
    if (myConsent !== undefined && myConsent !== null) this.consent = myConsent;
    this.room = msg.room || {};
    this.mayTalk = maySpeak(this.room, this.me.role, this.me.id);
  }

  /** A peer arrived: "lobby", "recorder", "roommate" (in our sub-room), "elsewhere", or null (ignored). */
  peerJoined(peer) {
    if (!peer || peer.id === this.me.id) return null;
    this.lobby.delete(peer.id);
    if (peerInfo.inLobby(peer)) {
      this.lobby.set(peer.id, peer);
      return "lobby";
    }
    this.peers.set(peer.id, peer);
    if (peerInfo.isRecorder(peer)) return "recorder";
    return peerInfo.subroom(peer) === this.me.subroom ? "roommate" : "elsewhere";
  }

  /** A peer's record changed: {self, before} for our own, {lobby} for a knocking one, else {old, now}. */
  peerUpdated(peer) {
    if (peer.id === this.me.id) {
      const before = this.me.subroom;
      this.me = { ...this.me, ...peer, id: this.me.id };
      this.me.subroom = peerInfo.subroom(peer);
      if (typeof peer.hand === "boolean" || typeof peer.raised === "boolean") this.handRaised = peerInfo.hand(peer);
      const c = peerInfo.consent(peer);
      if (c === true || c === false) this.consent = c;
      return { self: true, before };
    }
    if (peerInfo.inLobby(peer)) {
      this.lobby.set(peer.id, peer);
      return { lobby: true };
    }
    this.lobby.delete(peer.id);
    const old = this.peers.get(peer.id);
    this.peers.set(peer.id, { ...(old || {}), ...peer });
    return { old, now: this.peers.get(peer.id) };
  }

  /** A peer went; returns its last record (or undefined). */
  peerLeft(peerId) {
    const p = this.peers.get(peerId) || this.lobby.get(peerId);
    this.lobby.delete(peerId);
    this.peers.delete(peerId);
    return p;
  }

  knock(peer) {
    this.lobby.set(peer.id, peer);
  }

  /** The room object changed; returns whether recording was on before. */
  roomChanged(room) {
    const wasRecording = !!this.room.recording;
    this.room = { ...this.room, ...room };
    if (Array.isArray(room.lobby)) {
      this.lobby.clear();
      for (const p of room.lobby) this.lobby.set(p.id, p);
    }
    return wasRecording;
  }

  /** Whether the speaking rule changed for us (it is then applied to the store). */
  speakingRuleChanged() {
    if (!this.me.id) return false;
    const may = maySpeak(this.room, this.me.role, this.me.id);
    if (may === this.mayTalk) return false;
    this.mayTalk = may;
    return true;
  }

  /** We were moved; false when that move was already handled. */
  moveTo(subroom, peers = null) {
    if (this.movedTo === subroom && this.me.subroom === subroom && peers === null) return false;
    this.movedTo = subroom;
    this.me.subroom = subroom;
    return true;
  }

  addChat(msg) {
    const entry = { from: msg.from, name: msg.name || this.peerName(msg.from), text: String(msg.text ?? ""), at: msg.at };
    this.chatLog.push(entry);
    if (this.chatLog.length > MAX_CHAT) this.chatLog.shift();
    const counted = this.openPanelId !== "chat" && msg.from !== this.me.id;
    if (counted) this.unread += 1;
    return { entry, counted };
  }

  // ---- reducers: our own actions ------------------------------------------------------------------
  setHand(raised) {
    this.handRaised = !!raised;
  }

  setConsent(agree) {
    this.consent = !!agree;
  }

  /** Our microphone and camera switches, as room-media.js reads them from the tracks. */
  setMedia({ audio, video, sharing, lowData }) {
    this.media = { audio: !!audio, video: !!video, sharing: !!sharing, lowData: !!lowData };
  }

  openPanel(id) {
    this.openPanelId = id;
    if (id !== null) this.lastPanel = id;
    if (id === "chat") this.unread = 0;
  }

  /** The panel the phone's "more" button opens: someone waiting, then the last panel, then people. */
  morePanel() {
    const first = this.isModerator() && this.lobby.size ? "moderate" : this.lastPanel || "people";
    return first === "chat" ? "people" : first;
  }
}
