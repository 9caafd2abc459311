// The live room: wires the state store, the views and the media together.
//
//   signaling.js (server messages) -> room-protocol.js ─┐
//   mesh.js (media events) ─────────────────────────────┼─> RoomStore reducers (room-state.js) -> refresh()
//   room-controls.js, panels (user actions) -> RoomApp ─┘     side effects: mesh connects/closes, toasts
//   refresh(): LocalMedia (room-media.js) writes our switches into the store, then the views render from
//   it: GridView (room-grid.js), ControlsView (room-controls.js), PanelsView (room-panels.js).
//   StatsView (room-stats.js) polls getStats for quality badges, the speaker and low-data mode.
//
// The mesh follows the store: we hold a connection to every admitted peer in our own sub-room, and, while
// recording is on and we consented, to the `recorder` peer. The RoomApp is also the `ctx` of every panel
// (panels.js, docs/client.md) and window.concord, a handle for tests and support staff.
import { $, toast } from "./dom.js";
import { lang, t } from "./i18n.js";
import { Mesh } from "./mesh.js";
import { onRegister } from "./panels.js";
import { ControlsView } from "./room-controls.js";
import { GridView } from "./room-grid.js";
import { LocalMedia } from "./room-media.js";
import { PanelsView } from "./room-panels.js";
import { RoomStore } from "./room-state.js";
import { bindProtocol, syncRecorder } from "./room-protocol.js";
import { StatsView } from "./room-stats.js";
import { SfuMedia } from "./sfu.js";
import { Signaling } from "./signaling.js";

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
    // On the SFU (room.topology "sfu") media goes through the server instead of the mesh (sfu.js).
    this.sfu = new SfuMedia({ signaling: this.signaling, mesh: this.mesh, tiles: () => this.grid.tileHeights() });
    this.controls = new ControlsView(root, this.store, this);
    this.panels = new PanelsView(root, this.store, this);
    this.media = new LocalMedia({ stream: this.localStream, mesh: this.mesh, store: this.store, signaling: this.signaling,
      grid: this.grid, toast: (text, opts) => this.toast(text, opts) });
    this.stats = new StatsView({ root, mesh: this.mesh, sfu: this.sfu, grid: this.grid, media: this.media,
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
  /** The remote streams by peer id, from the mesh or from the SFU. */
  links() { return this.sfu.active ? this.sfu.links : this.mesh.links; }
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
    bindProtocol(this);
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
    this.emit("change", {});
  }

  _mountPanels() {
    this.panels.mount();
    this.refresh();
  }

  _bindMesh() {
    const on = (type, fn) => this.mesh.addEventListener(type, (e) => fn(e.detail));
    on("track", (d) => this.grid.attach(this.grid.tile(d.peerId), d.stream));
    on("link-state", (d) => this.grid.linkState(d.peerId, d.state));
    on("link-closed", (d) => this.grid.linkClosed(d.peerId));
    const onSfu = (type, fn) => this.sfu.addEventListener(type, (e) => fn(e.detail));
    onSfu("track", (d) => this.grid.attach(this.grid.tile(d.peerId), d.stream));
    onSfu("link-closed", (d) => this.grid.linkClosed(d.peerId));
    onSfu("state", (d) => { for (const id of this.sfu.links.keys()) this.grid.linkState(id, d.state); });
  }

  showScreen(name) {
    this.controls.showScreen(name);
    if (name === "room") this.grid.layout();
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
      this.store.setHand(raised);
      this.refresh();
    }
  }

  setConsent(agree) {
    this.store.setConsent(agree);
    this.send({ type: "consent", recording: this.store.consent });
    this.controls.closeConsent();
    syncRecorder(this);
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

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
