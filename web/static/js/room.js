// The live room: wires the state store, the views and the media together.
//
//   signaling.js (server messages) ─┐
//   mesh.js (media events) ─────────┼─> RoomApp handlers ─> RoomStore reducers (room-state.js) ─> changed()
//   views (user actions) ───────────┘          │ side effects: mesh connects/closes, toasts  │
//                                              v                                             v
//                              LocalMedia (room-media.js)       GridView, ControlsView, PanelsView render
//                                                               StatsView (room-stats.js) polls getStats
//
// The mesh follows the store: we hold a connection to every admitted peer in our own sub-room, and, while
// recording is on and we consented, to the `recorder` peer. The RoomApp is also the `ctx` of every panel
// (panels.js, docs/client.md) and window.concord, a handle for tests and support staff.
import { $, toast } from "./dom.js";
import { errorText, lang, t } from "./i18n.js";
import { Mesh } from "./mesh.js";
import { onRegister } from "./panels.js";
import { ControlsView } from "./room-controls.js";
import { GridView } from "./room-grid.js";
import { LocalMedia } from "./room-media.js";
import { PanelsView } from "./room-panels.js";
import { RoomStore, peerInfo } from "./room-state.js";
import { StatsView } from "./room-stats.js";
import { Signaling } from "./signaling.js";

const FINISHED = { left: "conn.left", removed: "conn.removed", denied: "conn.denied", ended: "conn.ended", replaced: "conn.replaced" };

export class RoomApp extends EventTarget {
  /** @param {{root: HTMLElement, config: object, stream: MediaStream|null, token: string}} opts */
  constructor({ root, config, stream, token }) {
    super();
    Object.assign(this, { root, config, token, lang, t });
    this.store = new RoomStore(config);
    this.localStream = stream || new MediaStream();
    this.signaling = new Signaling({
      token, check: config.check_answer || null,
      storageKey: config.session_id ? `${config.session_id}.${token.slice(-16)}` : null,
    });
    this.mesh = new Mesh({ signaling: this.signaling, localStream: this.localStream });
    this.grid = new GridView(root, this.store);
    this.controls = new ControlsView(root, this.store, this);
    this.panels = new PanelsView(root, this.store, this);
    this.media = new LocalMedia({ stream: this.localStream, mesh: this.mesh, store: this.store, signaling: this.signaling,
      grid: this.grid, toast: (text, opts) => this.toast(text, opts) });
    this.stats = new StatsView({ root, mesh: this.mesh, grid: this.grid, media: this.media,
      welcomed: () => this.signaling.welcomed, onPoorNetwork: () => this._poorNetwork() });
  }

  // ---- the panel context: the store's state, read-only --------------------------------------------
  get me() { return this.store.me; }
  get peers() { return this.store.peers; }
  get lobby() { return this.store.lobby; }
  get room() { return this.store.room; }
  get chatLog() { return this.store.chatLog; }
  get handRaised() { return this.store.handRaised; }
  get consent() { return this.store.consent; }
  isModerator() { return this.store.isModerator(); }
  peerName(id) { return this.store.peerName(id); }
  roommates() { return this.store.roommates(); }

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

  toast(text, opts) {
    toast(this.root, text, opts);
  }

  setBadge(id, text) {
    this.controls.setBadge(id, text);
  }

  /** Re-render every view from the store (panels call this when their own state changed). */
  refresh() {
    this.media.sync();
    this.store.changed();
  }

  // ---- start --------------------------------------------------------------------------------------
  start() {
    this.store.addEventListener("change", () => this._render());
    this.controls.bind();
    this._bindSignaling();
    this._bindMesh();
    this.grid.addSelf(this.localStream);
    this._mountPanels();
    this._unregister = onRegister(() => this._mountPanels());
    this.stats.start();
    this._resizeObserver = new ResizeObserver(() => this.grid.layout());
    this._resizeObserver.observe($("#stage", this.root));
    // No `leave` on pagehide: a reload (or a phone dropping the tab) should resume our place with the
    // resume token kept in sessionStorage, not send a party back to the lobby.
    this.signaling.connect();
    this.controls.setConn("connecting");
    window.concord = this;
  }

  _render() {
    this.controls.render();
    this.grid.render();
    this.panels.render();
    this._emit("change", {});
  }

  _mountPanels() {
    this.panels.mount();
    this.refresh();
  }

  _bindSignaling() {
    const on = (type, fn) => this.signaling.addEventListener(type, (e) => fn(e.detail));
    on("state", (d) => this.controls.setConn(d.state));
    on("lobby", () => this._showScreen("lobby"));
    on("welcome", (d) => this._onWelcome(d));
    on("peer-joined", (d) => this._onPeerJoined(d.peer));
    on("peer-updated", (d) => this._onPeerUpdated(d.peer));
    on("peer-left", (d) => this._onPeerLeft(d.peer_id, d.reason));
    on("knock", (d) => this._onKnock(d.peer));
    on("room", (d) => this._onRoom(d.room));
    on("moved", (d) => this._onMoved(d.subroom ?? null, d.peers));
    on("muted", (d) => this._onMuted(d.kind));
    on("signal", (d) => this.mesh.handleSignal(d.from, d.data));
    on("chat", (d) => this._onChat(d));
    on("error", (d) => { if (this.signaling.welcomed) this.toast(`${t("room.error")}${errorText(d)}`, { kind: "error" }); });
    // The contract: after a reconnect every connection is new; drop the old ones now so the grid shows who
    // is really reachable.
    on("disconnected", () => this.mesh.closeAll());
    on("finished", (d) => this._onFinished(d.reason, d.error));
  }

  _bindMesh() {
    const on = (type, fn) => this.mesh.addEventListener(type, (e) => fn(e.detail));
    on("track", (d) => this.grid.attach(this.grid.tile(d.peerId), d.stream));
    on("link-state", (d) => this.grid.linkState(d.peerId, d.state));
    on("link-closed", (d) => this.grid.linkClosed(d.peerId));
  }

  _showScreen(name) {
    this.controls.showScreen(name);
    if (name === "room") this.grid.layout();
  }

  _syncTiles() {
    this.grid.sync(this.mesh.links);
  }

  // ---- server messages ----------------------------------------------------------------------------
  _onWelcome(msg) {
    this.store.welcome(msg);
    if (!this.store.mayTalk) this.media.allowSpeaking(false);
    this.mesh.closeAll(); // fresh connections after every (re)join
    this.mesh.setSelf(msg.peer_id, msg.ice_servers || []);
    this._showScreen("room");
    this._syncTiles();
    // We are the newcomer: we offer to everyone already in our sub-room.
    for (const p of this.store.wanted()) this.mesh.connect(p.id);
    this._onRoom(this.store.room);
    this.media.publish();
    this.refresh();
    this._emit("welcome", msg);
  }

  _onPeerJoined(peer) {
    const kind = this.store.peerJoined(peer);
    if (kind === null) return;
    // The recorder never offers: each consenting participant offers to it.
    if (kind === "recorder") this._syncRecorder();
    if (kind === "roommate") this.toast(t("room.joined", { name: peer.name }));
    if (kind !== "lobby") this._syncTiles();
    this.refresh();
  }

  _onPeerUpdated(peer) {
    if (!peer) return;
    const change = this.store.peerUpdated(peer);
    if (change.self) {
      if (change.before !== this.store.me.subroom) this._onMoved(this.store.me.subroom);
    } else if (!change.lobby) {
      const { old, now } = change;
      const together = peerInfo.subroom(now) === this.store.me.subroom;
      if (!together && this.mesh.has(peer.id) && !peerInfo.isRecorder(now)) this.mesh.close(peer.id);
      // A new epoch means the peer reconnected with a fresh RTCPeerConnection and will offer again.
      if (old && old.epoch !== undefined && now.epoch !== old.epoch) this.mesh.close(peer.id);
      // A peer that moved in to us offers; we only wait. The recorder is ours to call.
      if (peerInfo.isRecorder(now)) this._syncRecorder();
      this._syncTiles();
    }
    this.refresh();
  }

  _onPeerLeft(peerId, reason) {
    const p = this.store.peerLeft(peerId);
    this.mesh.close(peerId);
    if (p && !peerInfo.isRecorder(p) && !peerInfo.inLobby(p) && reason !== "denied") this.toast(t("room.left", { name: p.name }));
    this._syncTiles();
    this.refresh();
  }

  _onKnock(peer) {
    if (!peer) return;
    this.store.knock(peer);
    if (this.isModerator() && this.store.openPanelId !== "moderate") {
      this.toast(`${t("mod.knock")}${peer.name}`, { action: t("mod.title"), onAction: () => this.openPanel("moderate") });
    }
    this.refresh();
  }

  _onRoom(room) {
    if (!room) return;
    const wasRecording = this.store.roomChanged(room);
    if (this.store.room.state === "ended") {
      this.signaling._finish("ended");
      return;
    }
    const recording = !!this.store.room.recording;
    if (recording && this.store.consent === null && this.store.me.role !== "recorder") this.controls.askConsent();
    if (!recording) this.controls.closeConsent();
    if (recording !== wasRecording || recording) this._syncRecorder();
    // Petition hearings and briefings: who may talk follows the floor. Given the floor: speak at once;
    // floor taken: microphone off.
    if (this.store.speakingRuleChanged()) {
      this.media.allowSpeaking(this.store.mayTalk);
      this.toast(this.store.mayTalk ? t("room.may_speak") : t("room.floor_taken"));
      this.media.publish();
    }
    this.refresh();
  }

  _onMoved(subroom, peers = null) {
    subroom = subroom === undefined || subroom === "" ? null : subroom;
    if (!this.store.moveTo(subroom, peers)) return; // already handled
    // Old connections end; we are the mover, so we offer to everyone already in the new room (the
    // server lists them in `moved.peers`, the recorder included when this room is recorded).
    this.mesh.closeAll();
    this._syncTiles();
    const ids = Array.isArray(peers) ? peers : this.store.wanted().map((p) => p.id);
    for (const id of ids) {
      const p = this.store.peers.get(id);
      if (p && peerInfo.isRecorder(p) && !this.store.recorded()) continue;
      this.mesh.connect(id);
    }
    this.toast(subroom === null ? t("room.moved_main") : `${t("room.moved")}${subroom}`);
    this.refresh();
  }

  _onMuted(kind) {
    if (kind === "video") this.media.releaseCamera();
    else this.media.muteAudio();
    this.toast(kind === "video" ? t("room.video_off_by_host") : t("room.muted_by_host"));
    this.media.publish();
    this.refresh();
  }

  _onChat(msg) {
    const { entry, counted } = this.store.addChat(msg);
    this.panels.chat(entry);
    if (counted) this.refresh();
  }

  _onFinished(reason, error) {
    this.stats.stop();
    this.mesh.closeAll();
    this.media.stop();
    this.controls.closeConsent();
    const text = FINISHED[reason] ? t(FINISHED[reason]) : `${t("conn.failed")}${errorText(error) || reason}`;
    this.controls.ended(text, !["removed", "denied", "ended"].includes(reason));
    this._emit("finished", { reason, error });
  }

  /** Connect to the recorder while our media should be recorded, hang up when not. */
  _syncRecorder() {
    const rec = this.store.recorder();
    if (!rec) return;
    const want = this.store.wanted().some((p) => p.id === rec.id);
    if (want && !this.mesh.has(rec.id)) this.mesh.connect(rec.id);
    if (!want && this.mesh.has(rec.id)) this.mesh.close(rec.id);
  }

  _poorNetwork() {
    this.setLowData(true);
    this.toast(t("room.lowdata_auto"), { kind: "error", action: t("room.lowdata_undo"), onAction: () => this.setLowData(false) });
  }

  // ---- user actions (the controls view and panels call these) ------------------------------------
  async toggle(kind) {
    if (await this.media.toggle(kind)) this.refresh();
  }

  async toggleShare() {
    if (await this.media.toggleShare()) this.refresh();
  }

  flipCamera() {
    return this.media.flipCamera();
  }

  setLowData(on) {
    this.media.setLowData(on);
    this.refresh();
  }

  leave() {
    this.signaling.leave();
  }

  raiseHand(raised) {
    if (this.send({ type: "hand", raised: !!raised })) {
      this.store.handRaised = !!raised;
      this.refresh();
    }
  }

  setConsent(agree) {
    this.store.consent = !!agree;
    this.send({ type: "consent", recording: this.store.consent });
    this.controls.closeConsent();
    this._syncRecorder();
    this.refresh();
  }

  sendChat(text) {
    text = String(text || "").trim();
    if (!text) return false;
    return this.send({ type: "chat", text });
  }

  openPanel(id) {
    this.store.openPanel(id);
    this.panels.renderOpen();
    this.controls.renderOpenPanel(id);
    this.grid.layout();
    this.refresh();
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
