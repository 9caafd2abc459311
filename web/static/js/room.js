// The live room: video grid, controls, people, chat, recording consent and the side panels.
//
// State comes only from the server (protocol v1, docs/protocol.md): `welcome` gives us our id, the room and
// the peers; `peer-joined` / `peer-updated` / `peer-left` / `room` / `moved` keep it current. The mesh
// follows that state: we hold a connection to every admitted peer in our own sub-room, and, while
// recording is on and we consented, to the `recorder` peer.

import { LevelMeter, acquire, listDevices, stopStream } from "./devices.js";
import { errorText, lang, roleName, t, timeText } from "./i18n.js";
import { PoorNetworkWatch } from "./bandwidth.js";
import { Mesh } from "./mesh.js";
import { onRegister, panelTitle, panels, registerPanel } from "./panels.js";
import { Signaling } from "./signaling.js";

export const MODERATOR_ROLES = new Set(["host", "mediator"]);
const STATS_EVERY_MS = 1000;
const SPEAKING_LEVEL = 0.02; // getStats audioLevel is linear 0..1; speech sits well above this
const MAX_CHAT = 2000;
/** Shown on the tile and in the lists while a dropped person's place waits for them (room.grace_s). */
export const reconnectingText = () => (lang === "en" ? "Reconnecting…" : "重新连接中…");

// ---- small DOM helpers ----------------------------------------------------------------------------
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const $ = (sel, root = document) => root.querySelector(sel);

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
  if (role === "recorder") return false;
  if (room.floor !== null && room.floor !== undefined && String(room.floor) === String(peerId)) return true;
  const rule = room.speaking || "all";
  if (rule === "all") return true;
  if (rule === "floor_for_parties") return role !== "party" && role !== "agent";
  return MODERATOR_ROLES.has(role);
}

export async function confirmDialog(text, okText, cancelText) {
  const dlg = el("dialog", { class: "confirm" },
    el("p", {}, text),
    el("form", { method: "dialog", class: "actions" },
      el("button", { value: "cancel", class: "secondary" }, cancelText || (lang === "en" ? "Cancel" : "取消")),
      el("button", { value: "ok", class: "danger" }, okText || (lang === "en" ? "OK" : "确定"))));
  document.body.append(dlg);
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "ok");
      dlg.remove();
    });
  });
}

// ---- the room ---------------------------------------------------------------------------------------
const LOW_DATA = "concord.lowData";

function loadLowData() {
  try {
    return localStorage.getItem(LOW_DATA) === "1";
  } catch {
    return false;
  }
}

function saveLowData(on) {
  try {
    localStorage.setItem(LOW_DATA, on ? "1" : "0");
  } catch { /* private mode */ }
}

export class RoomApp extends EventTarget {
  /**
   * @param {{root: HTMLElement, config: object, stream: MediaStream|null, token: string}} opts
   */
  constructor({ root, config, stream, token }) {
    super();
    this.root = root;
    this.config = config;
    this.token = token;
    this.lang = lang;
    this.t = t;
    this.localStream = stream || new MediaStream();
    this.me = { id: null, name: config.name, role: config.role, subroom: null };
    this.peers = new Map(); // everyone admitted except us, in any sub-room
    this.lobby = new Map(); // moderators: who knocked and waits
    this.room = {};
    this.consent = null; // our recording consent: null (not asked yet) | true | false
    this.mayTalk = true; // the kind's speaking rule allows our microphone now
    this.check = null; // identity-check answer, sent with join
    this.handRaised = false;
    this.sharing = null; // screen track while sharing
    this.tiles = new Map();
    this.stats = {};
    this.speaker = null;
    this.unread = 0;
    this.openPanelId = null;
    this.mountedPanels = new Map();
    this.chatLog = [];
    this.signaling = new Signaling({
      token, check: config.check_answer || null,
      storageKey: config.session_id ? `${config.session_id}.${token.slice(-16)}` : null,
    });
    this.mesh = new Mesh({ signaling: this.signaling, localStream: this.localStream });
    this.mesh.lowData = loadLowData();
    this.poorWatch = new PoorNetworkWatch();
    this.meter = new LevelMeter(this.localStream);
    this._timers = [];
  }

  // ---- context for panels -----------------------------------------------------------------------
  isModerator() {
    return MODERATOR_ROLES.has(this.me.role);
  }

  send(msg) {
    const ok = this.signaling.send(msg);
    if (!ok) this.toast(t("conn.reconnecting"));
    return ok;
  }

  on(type, fn) {
    const handler = (ev) => fn(ev.detail);
    this.signaling.addEventListener(type, handler);
    return () => this.signaling.removeEventListener(type, handler);
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

  // ---- start --------------------------------------------------------------------------------------
  start() {
    this._bindControls();
    this._bindSignaling();
    this._bindMesh();
    this._addLocalTile();
    this._mountPanels();
    this._unregister = onRegister(() => this._mountPanels());
    this._timers.push(setInterval(() => this._pollStats(), STATS_EVERY_MS));
    this._timers.push(setInterval(() => this._localLevel(), 200));
    this._resizeObserver = new ResizeObserver(() => this._layout());
    this._resizeObserver.observe($("#stage", this.root));
    // No `leave` on pagehide: a reload (or a phone dropping the tab) should resume our place with the
    // resume token kept in sessionStorage, not send a party back to the lobby.
    this.signaling.connect();
    this._setConn("connecting");
    window.concord = this; // a handle for tests and for support staff in the console
  }

  _bindSignaling() {
    const s = this.signaling;
    s.addEventListener("state", (e) => this._setConn(e.detail.state));
    s.addEventListener("lobby", () => this._showScreen("lobby"));
    s.addEventListener("welcome", (e) => this._onWelcome(e.detail));
    s.addEventListener("peer-joined", (e) => this._onPeerJoined(e.detail.peer));
    s.addEventListener("peer-updated", (e) => this._onPeerUpdated(e.detail.peer));
    s.addEventListener("peer-left", (e) => this._onPeerLeft(e.detail.peer_id, e.detail.reason));
    s.addEventListener("knock", (e) => this._onKnock(e.detail.peer));
    s.addEventListener("room", (e) => this._onRoom(e.detail.room));
    s.addEventListener("moved", (e) => this._onMoved(e.detail.subroom ?? null, e.detail.peers));
    s.addEventListener("muted", (e) => this._onMuted(e.detail.kind));
    s.addEventListener("signal", (e) => this.mesh.handleSignal(e.detail.from, e.detail.data));
    s.addEventListener("chat", (e) => this._onChat(e.detail));
    s.addEventListener("error", (e) => this._onError(e.detail));
    s.addEventListener("disconnected", () => {
      // The contract: after a reconnect every connection is new; drop the old ones now so the
      // grid shows who is really reachable.
      this.mesh.closeAll();
    });
    s.addEventListener("finished", (e) => this._onFinished(e.detail.reason, e.detail.error));
  }

  _bindMesh() {
    this.mesh.addEventListener("track", (e) => {
      const tile = this._tile(e.detail.peerId);
      if (tile) this._attach(tile, e.detail.stream);
    });
    this.mesh.addEventListener("link-state", (e) => {
      const tile = this.tiles.get(e.detail.peerId);
      if (tile) tile.dataset.state = e.detail.state;
    });
    this.mesh.addEventListener("link-closed", (e) => {
      const tile = this.tiles.get(e.detail.peerId);
      if (tile) {
        const v = $("video", tile);
        v.srcObject = null;
        tile.dataset.state = "new";
      }
    });
  }

  // ---- protocol handlers --------------------------------------------------------------------------
  _onWelcome(msg) {
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
    this._movedTo = this.me.subroom;
    if (typeof this.me.hand === "boolean") this.handRaised = this.me.hand;
    const myConsent = peerInfo.consent(this.me);
    if (myConsent !== undefined && myConsent !== null) this.consent = myConsent;
    this.room = msg.room || {};
    this.mayTalk = maySpeak(this.room, this.me.role, this.me.id);
    if (!this.mayTalk && this.mesh.tracks.audio) this.mesh.tracks.audio.enabled = false;
    this.mesh.closeAll(); // fresh connections after every (re)join
    this.mesh.setSelf(msg.peer_id, msg.ice_servers || []);
    this._showScreen("room");
    this._syncTiles();
    // We are the newcomer: we offer to everyone already in our sub-room.
    for (const p of this._wanted()) this.mesh.connect(p.id);
    this._onRoom(this.room);
    this._publishMedia();
    this._refresh();
    this._emit("welcome", msg);
  }

  /** Peers we should hold a media connection with. */
  _wanted() {
    const out = this.roommates();
    const rec = this._recorder();
    if (rec && this._recorded()) out.push(rec);
    return out;
  }

  _recorder() {
    return [...this.peers.values()].find((p) => peerInfo.isRecorder(p)) || null;
  }

  /** Whether our media goes to the recorder (server: Room.is_recorded). Private rooms only when named. */
  _recorded() {
    if (!this.room.recording || this.consent !== true) return false;
    const sub = this.me.subroom;
    return sub === null || (this.room.recording_subrooms || []).includes(sub);
  }

  /** Tell the others whether our microphone and camera are on (the `media` message). */
  _publishMedia() {
    const a = this.mesh.tracks.audio;
    const v = this.mesh.tracks.video;
    this.signaling.send({ type: "media", audio: !!(a && a.enabled), video: !!(v && v.enabled) || !!this.sharing });
  }

  _onPeerJoined(peer) {
    if (!peer || peer.id === this.me.id) return;
    this.lobby.delete(peer.id);
    if (peerInfo.inLobby(peer)) {
      this.lobby.set(peer.id, peer);
      this._refresh();
      return;
    }
    this.peers.set(peer.id, peer);
    if (peerInfo.isRecorder(peer)) {
      // The recorder never offers: each consenting participant offers to it.
      this._syncRecorder();
    } else if (peerInfo.subroom(peer) === this.me.subroom) {
      this.toast(`${peer.name} ${lang === "en" ? "joined" : "加入了会议"}`);
    }
    this._syncTiles();
    this._refresh();
  }

  _onPeerUpdated(peer) {
    if (!peer) return;
    if (peer.id === this.me.id) {
      const before = this.me.subroom;
      this.me = { ...this.me, ...peer, id: this.me.id };
      this.me.subroom = peerInfo.subroom(peer);
      if (typeof peer.hand === "boolean" || typeof peer.raised === "boolean") this.handRaised = peerInfo.hand(peer);
      const c = peerInfo.consent(peer);
      if (c === true || c === false) this.consent = c;
      if (before !== this.me.subroom) this._onMoved(this.me.subroom);
      this._refresh();
      return;
    }
    if (peerInfo.inLobby(peer)) {
      this.lobby.set(peer.id, peer);
      this._refresh();
      return;
    }
    this.lobby.delete(peer.id);
    const old = this.peers.get(peer.id);
    this.peers.set(peer.id, { ...(old || {}), ...peer });
    const now = this.peers.get(peer.id);
    const together = peerInfo.subroom(now) === this.me.subroom;
    if (!together && this.mesh.has(peer.id) && !peerInfo.isRecorder(now)) this.mesh.close(peer.id);
    // A new epoch means the peer reconnected with a fresh RTCPeerConnection and will offer again.
    if (old && old.epoch !== undefined && now.epoch !== old.epoch) this.mesh.close(peer.id);
    // A peer that moved in to us offers; we only wait. The recorder is ours to call.
    if (peerInfo.isRecorder(now)) this._syncRecorder();
    this._syncTiles();
    this._refresh();
  }

  _onPeerLeft(peerId, reason) {
    const p = this.peers.get(peerId) || this.lobby.get(peerId);
    this.lobby.delete(peerId);
    this.peers.delete(peerId);
    this.mesh.close(peerId);
    if (p && !peerInfo.isRecorder(p) && !peerInfo.inLobby(p) && reason !== "denied") {
      this.toast(`${p.name} ${lang === "en" ? "left" : "离开了会议"}`);
    }
    this._syncTiles();
    this._refresh();
  }

  _onKnock(peer) {
    if (!peer) return;
    this.lobby.set(peer.id, peer);
    if (this.isModerator() && this.openPanelId !== "moderate") {
      this.toast(`${t("mod.knock")}${peer.name}`, { action: t("mod.title"), onAction: () => this.openPanel("moderate") });
    }
    this._refresh();
  }

  _onRoom(room) {
    if (!room) return;
    const wasRecording = !!this.room.recording;
    this.room = { ...this.room, ...room };
    if (Array.isArray(room.lobby)) {
      this.lobby.clear();
      for (const p of room.lobby) this.lobby.set(p.id, p);
    }
    if (this.room.state === "ended") {
      this.signaling._finish("ended");
      return;
    }
    const recording = !!this.room.recording;
    if (recording && this.consent === null && this.me.role !== "recorder") this._askConsent();
    if (!recording) this._closeConsent();
    if (recording !== wasRecording || recording) this._syncRecorder();
    this._applySpeakingRule();
    this._refresh();
  }

  /** Petition hearings and briefings: who may talk follows the floor. Mute when it is taken away. */
  _applySpeakingRule() {
    if (!this.me.id) return;
    const may = maySpeak(this.room, this.me.role, this.me.id);
    if (may === this.mayTalk) return;
    this.mayTalk = may;
    const a = this.mesh.tracks.audio;
    if (a) a.enabled = may; // given the floor: speak at once; floor taken: microphone off
    this.toast(may ? (lang === "en" ? "You may speak now." : "您现在可以发言。")
      : (lang === "en" ? "Your microphone is off until the host gives you the floor." : "主持人给予发言权后才能开启麦克风。"));
    this._publishMedia();
  }

  _onMoved(subroom, peers = null) {
    subroom = subroom === undefined || subroom === "" ? null : subroom;
    if (this._movedTo === subroom && this.me.subroom === subroom && peers === null) return; // already handled
    this._movedTo = subroom;
    this.me.subroom = subroom;
    // Old connections end; we are the mover, so we offer to everyone already in the new room (the
    // server lists them in `moved.peers`, the recorder included when this room is recorded).
    this.mesh.closeAll();
    this._syncTiles();
    const ids = Array.isArray(peers) ? peers : this._wanted().map((p) => p.id);
    for (const id of ids) {
      const p = this.peers.get(id);
      if (p && peerInfo.isRecorder(p) && !this._recorded()) continue;
      this.mesh.connect(id);
    }
    this.toast(subroom === null ? t("room.moved_main") : `${t("room.moved")}${subroom}`);
    this._refresh();
  }

  _onMuted(kind) {
    if (kind === "video") this._releaseCamera();
    else if (this.mesh.tracks.audio) this.mesh.tracks.audio.enabled = false;
    this.toast(kind === "video" ? t("room.video_off_by_host") : t("room.muted_by_host"));
    this._publishMedia();
    this._refresh();
  }

  _onChat(msg) {
    const entry = { from: msg.from, name: msg.name || this.peerName(msg.from), text: String(msg.text ?? ""), at: msg.at };
    this.chatLog.push(entry);
    if (this.chatLog.length > MAX_CHAT) this.chatLog.shift();
    const list = $("#chat-log", this.root);
    if (list) {
      list.append(this._chatItem(entry));
      list.scrollTop = list.scrollHeight;
    }
    if (this.openPanelId !== "chat" && msg.from !== this.me.id) {
      this.unread += 1;
      this._refresh();
    }
  }

  _onError(err) {
    if (!this.signaling.welcomed) return; // handled by `finished`
    this.toast(`${t("room.error")}${errorText(err)}`, { kind: "error" });
  }

  _onFinished(reason, error) {
    for (const id of this._timers) clearInterval(id);
    this.mesh.closeAll();
    this.meter.stop();
    stopStream(this.localStream);
    if (this.sharing) this.sharing.stop();
    this._closeConsent();
    const text = {
      left: t("conn.left"), removed: t("conn.removed"), denied: t("conn.denied"), ended: t("conn.ended"),
      replaced: t("conn.replaced"),
    }[reason] || `${t("conn.failed")}${errorText(error) || reason}`;
    $("#ended-text", this.root).textContent = text;
    $("#btn-rejoin", this.root).hidden = ["removed", "denied", "ended"].includes(reason);
    this._showScreen("ended");
    this._emit("finished", { reason, error });
  }

  // ---- recorder and consent -----------------------------------------------------------------------
  _syncRecorder() {
    const rec = this._recorder();
    if (!rec) return;
    const want = this._wanted().some((p) => p.id === rec.id);
    if (want && !this.mesh.has(rec.id)) this.mesh.connect(rec.id);
    if (!want && this.mesh.has(rec.id)) this.mesh.close(rec.id);
  }

  _askConsent() {
    const dlg = $("#consent-dialog", this.root);
    if (!dlg || dlg.open) return;
    dlg.showModal();
  }

  _closeConsent() {
    const dlg = $("#consent-dialog", this.root);
    if (dlg && dlg.open) dlg.close();
  }

  setConsent(agree) {
    this.consent = !!agree;
    this.send({ type: "consent", recording: this.consent });
    this._closeConsent();
    this._syncRecorder();
    this._refresh();
  }

  // ---- tiles --------------------------------------------------------------------------------------
  _addLocalTile() {
    const tile = this._makeTile("self", true);
    this._attach(tile, this.localStream);
  }

  _makeTile(id, local = false) {
    const video = el("video", { autoplay: true, playsinline: true, muted: local ? true : null });
    if (local) video.muted = true;
    const tile = el("figure", { class: `tile${local ? " local" : ""}`, dataset: { peer: String(id), state: local ? "connected" : "new" } },
      video,
      el("div", { class: "avatar", "aria-hidden": "true" }),
      el("figcaption", {},
        el("span", { class: "name" }),
        el("span", { class: "role" }),
        el("span", { class: "flags" })),
      el("span", { class: "quality", title: "" }),
      el("span", { class: "reconnecting", role: "status", hidden: true }));
    $("#stage", this.root).append(tile);
    this.tiles.set(id, tile);
    this._layout();
    return tile;
  }

  _tile(peerId) {
    if (this.tiles.has(peerId)) return this.tiles.get(peerId);
    const p = this.peers.get(peerId);
    if (!p || peerInfo.isRecorder(p)) return null;
    return this._makeTile(peerId);
  }

  _attach(tile, stream) {
    const v = $("video", tile);
    if (!v._watched) {
      // Show the picture (not the initial) as soon as frames arrive, without waiting for the stats poll.
      v._watched = true;
      const update = () => this._videoShown(tile);
      for (const ev of ["loadedmetadata", "resize", "playing", "emptied"]) v.addEventListener(ev, update);
    }
    if (v.srcObject !== stream) v.srcObject = stream;
    const play = v.play();
    if (play && play.catch) play.catch(() => { /* autoplay refused until a tap; controls give one */ });
  }

  _videoShown(tile, statsWidth = 0) {
    if (tile.classList.contains("local")) return;
    const p = this.peers.get(tile.dataset.peer);
    const showing = statsWidth > 0 || $("video", tile).videoWidth > 0;
    tile.classList.toggle("no-video", !showing || (p && p.video === false));
  }

  /** Tiles follow our sub-room: one per roommate plus ourselves. */
  _syncTiles() {
    const want = new Set(this.roommates().map((p) => p.id));
    for (const [id, tile] of this.tiles) {
      if (id === "self") continue;
      if (!want.has(id)) {
        $("video", tile).srcObject = null;
        tile.remove();
        this.tiles.delete(id);
      }
    }
    for (const id of want) {
      const tile = this._tile(id);
      const link = this.mesh.links.get(id);
      if (tile && link && link.stream.getTracks().length) this._attach(tile, link.stream);
    }
    this._layout();
  }

  _layout() {
    const stage = $("#stage", this.root);
    if (!stage) return;
    const n = Math.max(1, this.tiles.size);
    const gap = 8;
    const w = Math.max(1, stage.clientWidth - 2 * gap);
    const h = Math.max(1, stage.clientHeight - 2 * gap);
    // Pick columns and tile shape that give the largest tiles: landscape shapes on landscape screens,
    // a portrait shape too when the stage itself is tall (a phone held upright).
    const aspects = h > w * 1.2 ? [16 / 9, 4 / 3, 3 / 4] : [16 / 9, 4 / 3];
    let best = { area: 0, cols: 1, tileW: w, aspect: 16 / 9 };
    for (const aspect of aspects) {
      for (let cols = 1; cols <= n; cols++) {
        const rows = Math.ceil(n / cols);
        const tileW = Math.min((w - (cols - 1) * gap) / cols, ((h - (rows - 1) * gap) / rows) * aspect);
        const area = tileW * (tileW / aspect) * (aspect < 1 ? 0.9 : 1); // prefer landscape on a tie
        if (area > best.area) best = { area, cols, tileW, aspect };
      }
    }
    stage.style.setProperty("--cols", best.cols);
    stage.style.setProperty("--tile-w", `${Math.floor(best.tileW)}px`);
    stage.style.setProperty("--tile-h", `${Math.floor(best.tileW / best.aspect)}px`);
    stage.dataset.count = String(n);
  }

  // ---- periodic: stats, quality, speaker ---------------------------------------------------------
  async _pollStats() {
    if (!this.signaling.welcomed && !this.mesh.links.size) return;
    this.stats = await this.mesh.sample();
    let loudest = null;
    let level = SPEAKING_LEVEL;
    for (const [peerId, s] of Object.entries(this.stats)) {
      const key = this._key(peerId);
      const tile = this.tiles.get(key);
      if (tile && !tile.classList.contains("away")) {
        const q = $(".quality", tile);
        q.dataset.quality = s.quality;
        q.title = t(`room.quality.${s.quality}`);
        q.textContent = t(`room.quality.${s.quality}`);
        this._videoShown(tile, s.frameWidth);
      }
      if (s.audioLevel > level) {
        level = s.audioLevel;
        loudest = key;
      }
    }
    if (this.meter.level > 0.35 && this.mesh.tracks.audio && this.mesh.tracks.audio.enabled && this.meter.level > level * 10) {
      loudest = loudest ?? "self";
    }
    this._setSpeaker(loudest);
    // Villagers will not look for a setting: on a network that stays poor, switch to low-data ourselves.
    if (!this.mesh.lowData && this.poorWatch.feed(Object.values(this.stats).map((s) => s.quality))) {
      this.setLowData(true);
      this.toast(t("room.lowdata_auto"), {
        kind: "error", action: t("room.lowdata_undo"), onAction: () => this.setLowData(false) });
    }
  }

  setLowData(on) {
    this.mesh.setLowData(on);
    saveLowData(this.mesh.lowData);
    this._refresh();
  }

  _key(peerId) {
    // Peer ids may be numbers in JSON and strings in the DOM: look the tile up by its real key.
    for (const k of this.tiles.keys()) if (String(k) === String(peerId)) return k;
    return peerId;
  }

  _localLevel() {
    const level = this.meter.read();
    const bar = $("#btn-mic .level", this.root);
    if (bar) bar.style.setProperty("--level", String(level));
  }

  _setSpeaker(id) {
    const now = Date.now();
    if (id === null) {
      if (this.speaker !== null && now - this._speakerSince > 1500) {
        this.tiles.get(this.speaker)?.classList.remove("speaking");
        this.speaker = null;
      }
      return;
    }
    if (id === this.speaker) {
      this._speakerSince = now;
      return;
    }
    if (this.speaker !== null) this.tiles.get(this.speaker)?.classList.remove("speaking");
    this.speaker = id;
    this._speakerSince = now;
    this.tiles.get(id)?.classList.add("speaking");
  }

  // ---- controls -----------------------------------------------------------------------------------
  _bindControls() {
    const r = this.root;
    $("#btn-mic", r).addEventListener("click", () => this.toggle("audio"));
    $("#btn-cam", r).addEventListener("click", () => this.toggle("video"));
    $("#lowdata-toggle", r).addEventListener("click", () => {
      this.setLowData(!this.mesh.lowData);
      this.toast(t(this.mesh.lowData ? "room.lowdata_on" : "room.lowdata_off"));
    });
    const share = $("#btn-share", r);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) share.hidden = true;
    share.addEventListener("click", () => this.toggleShare());
    $("#btn-flip", r).addEventListener("click", () => this.flipCamera());
    $("#btn-hand", r).addEventListener("click", () => this.raiseHand(!this.handRaised));
    $("#btn-leave", r).addEventListener("click", async () => {
      if (await confirmDialog(t("room.leave_confirm"), t("room.leave"))) this.signaling.leave();
    });
    $("#btn-rejoin", r).addEventListener("click", () => location.reload());
    $("#consent-yes", r).addEventListener("click", (e) => { e.preventDefault(); this.setConsent(true); });
    $("#consent-no", r).addEventListener("click", (e) => { e.preventDefault(); this.setConsent(false); });
    $("#consent-dialog", r).addEventListener("cancel", (e) => e.preventDefault()); // an answer is required
    $("#rec-change", r).addEventListener("click", () => this._askConsent());
    $("#side-close", r).addEventListener("click", () => this.openPanel(null));
    $("#btn-more", r).addEventListener("click", () => {
      if (this.openPanelId !== null) return this.openPanel(null);
      // Where attention is needed first: someone waiting, then the last panel, then people.
      const first = this.isModerator() && this.lobby.size ? "moderate" : this._lastPanel || "people";
      this.openPanel(first === "chat" ? "people" : first);
    });
    for (const btn of r.querySelectorAll("[data-open-panel]")) {
      btn.addEventListener("click", () => {
        const id = btn.dataset.openPanel;
        this.openPanel(this.openPanelId === id ? null : id);
      });
    }
    listDevices().then(({ cameras }) => { $("#btn-flip", r).hidden = cameras.length < 2; }).catch(() => {});
  }

  async toggle(kind) {
    let track = this.mesh.tracks[kind];
    if (kind === "video" && this.sharing) return;
    if (kind === "video" && track && track.enabled) {
      this._releaseCamera();
    } else if (!track) {
      // Camera turned off (released), or no device at join (denied or absent): get it now.
      let got = await acquire({ wantAudio: kind === "audio", wantVideo: kind === "video", videoId: kind === "video" ? this._cameraId : null });
      if (kind === "video" && this._cameraId && !got.video) got = await acquire({ wantAudio: false }); // that camera is gone
      track = got.stream && (kind === "audio" ? got.stream.getAudioTracks()[0] : got.stream.getVideoTracks()[0]);
      if (!track) {
        this.toast(t(got.problems[0] || "prejoin.notfound"), { kind: "error" });
        return;
      }
      this.localStream.addTrack(track);
      this.mesh.setTrack(kind, track);
      if (kind === "audio") {
        this.meter.stop();
        this.meter = new LevelMeter(this.localStream);
      }
      this._attach(this.tiles.get("self"), this.localStream);
    } else {
      if (kind === "audio" && !track.enabled && !this.mayTalk) {
        this.toast(lang === "en" ? "Wait for the host to give you the floor." : "请等待主持人给予发言权。");
        return;
      }
      track.enabled = !track.enabled;
    }
    this._publishMedia();
    this._refresh();
  }

  async toggleShare() {
    if (this.sharing) {
      this._stopShare();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 10 }, audio: false });
    } catch (e) {
      if (e && e.name !== "NotAllowedError" && e.name !== "AbortError") this.toast(t("room.share_unsupported"), { kind: "error" });
      return;
    }
    const track = stream.getVideoTracks()[0];
    this.sharing = track;
    this._cameraBeforeShare = this.mesh.tracks.video;
    track.addEventListener("ended", () => this._stopShare());
    this.mesh.screen = true;
    this.mesh.setTrack("video", track);
    this._attach(this.tiles.get("self"), stream);
    this.tiles.get("self").classList.add("screen");
    this._publishMedia();
    this._refresh();
  }

  _stopShare() {
    if (!this.sharing) return;
    const track = this.sharing;
    this.sharing = null;
    track.stop();
    this.mesh.screen = false;
    this.mesh.setTrack("video", this._cameraBeforeShare || null);
    this.tiles.get("self").classList.remove("screen");
    this._attach(this.tiles.get("self"), this.localStream);
    this._publishMedia();
    this._refresh();
  }

  /** Camera off stops the device (its light goes out, a phone saves power), not just the picture. */
  _releaseCamera() {
    const track = this.mesh.tracks.video;
    if (!track || this.sharing) return;
    this._cameraId = track.getSettings ? track.getSettings().deviceId || null : null;
    track.stop();
    this.localStream.removeTrack(track);
    this.mesh.setTrack("video", null);
  }

  async flipCamera() {
    const { cameras } = await listDevices();
    if (cameras.length < 2 || this.sharing) return;
    const current = this.mesh.tracks.video;
    const currentId = current && current.getSettings ? current.getSettings().deviceId : null;
    const idx = cameras.findIndex((c) => c.deviceId === currentId);
    const next = cameras[(idx + 1) % cameras.length];
    if (current) current.stop();
    const got = await acquire({ wantAudio: false, videoId: next.deviceId });
    const track = got.stream && got.stream.getVideoTracks()[0];
    if (!track) {
      this.toast(t(got.problems[0] || "prejoin.notfound"), { kind: "error" });
      return;
    }
    if (current) this.localStream.removeTrack(current);
    this.localStream.addTrack(track);
    this.mesh.setTrack("video", track);
    this._attach(this.tiles.get("self"), this.localStream);
  }

  raiseHand(raised) {
    if (this.send({ type: "hand", raised: !!raised })) {
      this.handRaised = !!raised;
      this._refresh();
    }
  }

  sendChat(text) {
    text = String(text || "").trim();
    if (!text) return false;
    return this.send({ type: "chat", text });
  }

  // ---- panels -------------------------------------------------------------------------------------
  _mountPanels() {
    const tabs = $("#side-tabs", this.root);
    const body = $("#side-body", this.root);
    for (const spec of panels()) {
      if (this.mountedPanels.has(spec.id)) continue;
      const tab = el("button", { type: "button", role: "tab", class: "tab", dataset: { panel: spec.id } }, panelTitle(spec, lang));
      tab.addEventListener("click", () => this.openPanel(spec.id));
      const section = el("section", { class: "panel", id: `panel-${spec.id}`, role: "tabpanel", hidden: true });
      tabs.append(tab);
      body.append(section);
      let handle = null;
      try {
        handle = spec.mount(section, this) || null;
      } catch (e) {
        console.error(`panel ${spec.id} failed to mount`, e);
      }
      this.mountedPanels.set(spec.id, { spec, tab, section, handle });
    }
    // Keep tab order equal to registration order by `order`.
    for (const spec of panels()) {
      const m = this.mountedPanels.get(spec.id);
      tabs.append(m.tab);
    }
    this._refresh();
  }

  openPanel(id) {
    this.openPanelId = id;
    if (id !== null) this._lastPanel = id;
    const side = $("#side", this.root);
    side.hidden = id === null;
    this.root.classList.toggle("panel-open", id !== null);
    for (const [pid, m] of this.mountedPanels) {
      const on = pid === id;
      m.section.hidden = !on;
      m.tab.setAttribute("aria-selected", on ? "true" : "false");
    }
    for (const btn of this.root.querySelectorAll("[data-open-panel]")) {
      btn.setAttribute("aria-pressed", btn.dataset.openPanel === id ? "true" : "false");
    }
    $("#btn-more", this.root).setAttribute("aria-pressed", id !== null && id !== "chat" ? "true" : "false");
    if (id === "chat") {
      this.unread = 0;
      $("#chat-input", this.root)?.focus({ preventScroll: true });
    }
    this._layout();
    this._refresh();
  }

  setBadge(id, text) {
    const btn = this.root.querySelector(`[data-open-panel="${id}"] .badge`);
    if (btn) {
      btn.textContent = text ? String(text) : "";
      btn.hidden = !text;
    }
    // The phone "more" button sums the badges of the panel buttons it stands for.
    let sum = 0;
    for (const b of this.root.querySelectorAll(".panel-btn .badge")) sum += Number(b.textContent) || 0;
    const more = $("#btn-more .badge", this.root);
    if (more) {
      more.textContent = sum ? String(sum) : "";
      more.hidden = !sum;
    }
  }

  // ---- rendering ----------------------------------------------------------------------------------
  _refresh() {
    const r = this.root;
    const audio = this.mesh.tracks.audio;
    const video = this.mesh.tracks.video;
    const micOn = !!(audio && audio.enabled);
    const camOn = !!(video && video.enabled) || !!this.sharing;
    const mic = $("#btn-mic", r);
    mic.setAttribute("aria-pressed", micOn ? "false" : "true");
    $(".label", mic).textContent = micOn ? t("room.mute") : t("room.unmute");
    mic.classList.toggle("off", !micOn);
    mic.classList.toggle("no-floor", !this.mayTalk);
    $("#lowdata-toggle", r).setAttribute("aria-pressed", this.mesh.lowData ? "true" : "false");
    const cam = $("#btn-cam", r);
    cam.setAttribute("aria-pressed", camOn ? "false" : "true");
    $(".label", cam).textContent = camOn ? t("room.camera_off") : t("room.camera_on");
    cam.classList.toggle("off", !camOn);
    const share = $("#btn-share", r);
    $(".label", share).textContent = this.sharing ? t("room.stop_share") : t("room.share");
    share.setAttribute("aria-pressed", this.sharing ? "true" : "false");
    const hand = $("#btn-hand", r);
    $(".label", hand).textContent = this.handRaised ? t("room.lower_hand") : t("room.hand");
    hand.setAttribute("aria-pressed", this.handRaised ? "true" : "false");
    const modBtn = $("#btn-mod", r);
    modBtn.hidden = !this.isModerator();
    this.setBadge("moderate", this.lobby.size || "");
    this.setBadge("chat", this.unread || "");

    // Header: sub-room, lock, recording.
    $("#room-subroom", r).textContent = this.me.subroom === null ? t("room.main") : `${t("room.subroom")} · ${this.me.subroom}`;
    r.classList.toggle("in-subroom", this.me.subroom !== null);
    $("#lock-indicator", r).hidden = !this.room.locked;
    const rec = $("#rec-indicator", r);
    rec.hidden = !this.room.recording;
    const declined = [...this.peers.values(), this.me].filter(
      (p) => !peerInfo.isRecorder(p) && peerInfo.consent(p) === false).map((p) => (p === this.me ? t("room.you") : p.name));
    if (this.consent === false && !declined.includes(t("room.you"))) declined.unshift(t("room.you"));
    $("#rec-declined", r).textContent = declined.length ? `${t("rec.declined_by")}${declined.join("、")}` : "";
    $("#rec-change", r).hidden = this.consent === null;

    // Tiles: names, roles, hands, floor.
    const floor = this.room.floor ?? null;
    for (const [id, tile] of this.tiles) {
      const p = id === "self" ? this.me : this.peers.get(id);
      if (!p) continue;
      $(".name", tile).textContent = id === "self" ? `${p.name || ""}（${t("room.you")}）` : p.name;
      $(".role", tile).textContent = roleName(p.role);
      $(".avatar", tile).textContent = (p.name || "?").slice(0, 1);
      const flags = [];
      const pid = id === "self" ? this.me.id : id;
      if (floor !== null && String(floor) === String(pid)) flags.push(t("room.floor"));
      if (id === "self" ? this.handRaised : peerInfo.hand(p)) flags.push(t("room.hand_raised"));
      if (id === "self" ? !micOn : p.audio === false) flags.push(t("room.muted"));
      $(".flags", tile).textContent = flags.join(" · ");
      tile.classList.toggle("floor", floor !== null && String(floor) === String(pid));
      tile.classList.toggle("hand", id === "self" ? this.handRaised : peerInfo.hand(p));
      if (id === "self") tile.classList.toggle("no-video", !camOn);
      else {
        const away = peerInfo.away(p);
        tile.classList.toggle("away", away);
        const note = $(".reconnecting", tile);
        note.hidden = !away;
        note.textContent = away ? reconnectingText() : "";
        if (away) $(".quality", tile).textContent = "";
        this._videoShown(tile);
      }
    }
    $("#stage-empty", r).hidden = this.roommates().length > 0;

    for (const m of this.mountedPanels.values()) {
      const visible = m.spec.visible ? !!m.spec.visible(this) : true;
      m.tab.hidden = !visible;
      // A panel this participant may not see has no control-bar button either (e.g. minutes for a party
      // without access).
      if (m.spec.visible) for (const b of r.querySelectorAll(`.ctl[data-open-panel="${m.spec.id}"]`)) b.hidden = !visible;
      if (!visible && this.openPanelId === m.spec.id) this.openPanel(null);
      if (m.handle && typeof m.handle.update === "function") {
        try { m.handle.update(this); } catch (e) { console.error(`panel ${m.spec.id}`, e); }
      }
    }
    this._emit("change", {});
  }

  _chatItem(entry) {
    const mine = entry.from === this.me.id;
    return el("li", { class: mine ? "mine" : "" },
      el("span", { class: "who" }, mine ? t("room.you") : entry.name),
      el("time", {}, timeText(entry.at)),
      el("p", {}, entry.text));
  }

  _showScreen(name) {
    for (const id of ["lobby", "room", "ended"]) {
      const s = $(`#screen-${id}`, this.root);
      if (s) s.hidden = id !== name;
    }
    document.body.classList.toggle("in-room", name === "room");
    if (name === "room") this._layout();
  }

  _setConn(state) {
    const node = $("#conn-status", this.root);
    if (!node) return;
    const key = { connecting: "conn.connecting", reconnecting: "conn.reconnecting", open: "conn.connected", lobby: "conn.lobby" }[state];
    node.textContent = key ? t(key) : "";
    node.dataset.state = state;
    this.root.dataset.conn = state;
  }

  toast(text, { kind = "info", action = null, onAction = null } = {}) {
    const box = $("#toasts", this.root) || document.body;
    while (box.children.length >= 3) box.firstElementChild.remove(); // never a wall over the video
    const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", {}, text));
    if (action && onAction) {
      item.append(el("button", { type: "button", onclick: () => { onAction(); item.remove(); } }, action));
    }
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

// ---- built-in panels: people and chat ---------------------------------------------------------------
registerPanel({
  id: "people",
  order: 10,
  title: ["参会人员", "People"],
  mount(section, ctx) {
    const list = el("ul", { class: "people" });
    section.append(list);
    return {
      update() {
        const rows = [];
        const groups = new Map();
        for (const p of [ctx.me, ...ctx.peers.values()]) {
          if (peerInfo.isRecorder(p)) continue;
          const key = peerInfo.subroom(p);
          if (!groups.has(key)) groups.set(key, []);
          groups.get(key).push(p);
        }
        const keys = [...groups.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : String(a).localeCompare(String(b))));
        for (const key of keys) {
          if (groups.size > 1 || key !== null) {
            rows.push(el("li", { class: "group" }, key === null ? ctx.t("room.main") : `${ctx.t("room.subroom")} · ${key}`));
          }
          for (const p of groups.get(key)) {
            const me = p === ctx.me;
            rows.push(el("li", { dataset: { peer: String(p.id) } },
              el("span", { class: "name" }, me ? `${p.name}（${ctx.t("room.you")}）` : p.name),
              el("span", { class: "role" }, roleName(p.role)),
              !me && peerInfo.away(p) ? el("span", { class: "reconnecting" }, reconnectingText()) : null,
              (me ? ctx.handRaised : peerInfo.hand(p)) ? el("span", { class: "hand" }, ctx.t("room.hand_raised")) : null));
          }
        }
        list.replaceChildren(...rows);
      },
    };
  },
});

registerPanel({
  id: "chat",
  order: 20,
  title: ["文字交流", "Chat"],
  mount(section, ctx) {
    const log = el("ol", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
    const input = el("input", { id: "chat-input", type: "text", maxlength: "2000", autocomplete: "off",
      placeholder: ctx.t("room.chat_placeholder"), "aria-label": ctx.t("room.chat") });
    const form = el("form", { class: "chat-form" }, input, el("button", { type: "submit" }, ctx.t("room.send")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (ctx.sendChat(input.value)) input.value = "";
    });
    section.append(log, form);
    for (const entry of ctx.chatLog) log.append(ctx._chatItem(entry));
  },
});
