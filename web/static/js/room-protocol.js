// The server's messages (docs/protocol.md, protocol v1) and what each does: the store's reducer first
// (room-state.js), then the effects on the mesh (who we connect to and hang up on) and a toast, then one
// refresh() so the views render the new state. bindProtocol(app) wires them to the RoomApp's signaling.
import { errorText, t } from "./i18n.js";
import { peerInfo } from "./room-state.js";

const FINISHED = { left: "conn.left", removed: "conn.removed", denied: "conn.denied", ended: "conn.ended", replaced: "conn.replaced" };

export function bindProtocol(app) {
  const on = (type, fn) => app.signaling.addEventListener(type, (e) => fn(e.detail));
  on("state", (d) => app.controls.setConn(d.state));
  on("lobby", () => app.showScreen("lobby"));
  on("welcome", (d) => onWelcome(app, d));
  on("peer-joined", (d) => onPeerJoined(app, d.peer));
  on("peer-updated", (d) => onPeerUpdated(app, d.peer));
  on("peer-left", (d) => onPeerLeft(app, d.peer_id, d.reason));
  on("knock", (d) => onKnock(app, d.peer));
  on("room", (d) => onRoom(app, d.room));
  on("moved", (d) => onMoved(app, d.subroom ?? null, d.peers));
  on("muted", (d) => onMuted(app, d.kind));
  on("signal", (d) => { if (!app.sfu.active) app.mesh.handleSignal(d.from, d.data); });
  on("topology", (d) => onTopology(app, d));
  on("sfu", (d) => app.sfu.handle(d));
  on("chat", (d) => onChat(app, d));
  on("error", (d) => { if (app.signaling.welcomed) app.toast(`${t("room.error")}${errorText(d)}`, { kind: "error" }); });
  // The contract: after a reconnect every connection is new; drop the old ones now so the grid shows who
  // is really reachable.
  on("disconnected", () => { app.mesh.closeAll(); app.sfu.stop(); });
  on("finished", (d) => onFinished(app, d.reason, d.error));
}

function onWelcome(app, msg) {
  app.store.welcome(msg);
  if (!app.store.mayTalk) app.media.allowSpeaking(false);
  app.mesh.closeAll(); // fresh connections after every (re)join
  app.mesh.setSelf(msg.peer_id, msg.ice_servers || []);
  app.showScreen("room");
  if (msg.room && msg.room.topology === "sfu") {
    app.sfu.start(msg.ice_servers || []); // two connections to the server, no mesh
  } else {
    app.sfu.stop();
    // We are the newcomer: we offer to everyone already in our sub-room.
    for (const p of app.store.wanted()) app.mesh.connect(p.id);
  }
  app.grid.sync(app.links());
  onRoom(app, app.store.room);
  app.media.publish();
  app.refresh();
  app.emit("welcome", msg);
}

function onPeerJoined(app, peer) {
  const kind = app.store.peerJoined(peer);
  if (kind === null) return;
  // The recorder never offers: each consenting participant offers to it.
  if (kind === "recorder") syncRecorder(app);
  if (kind === "roommate") app.toast(t("room.joined", { name: peer.name }));
  if (kind !== "lobby") app.grid.sync(app.links());
  app.refresh();
}

function onPeerUpdated(app, peer) {
  if (!peer) return;
  const change = app.store.peerUpdated(peer);
  if (change.self) {
    if (change.before !== app.store.me.subroom) onMoved(app, app.store.me.subroom);
  } else if (!change.lobby) {
    const { old, now } = change;
    const together = peerInfo.subroom(now) === app.store.me.subroom;
    if (!together && app.mesh.has(peer.id) && !peerInfo.isRecorder(now)) app.mesh.close(peer.id);
    // A new epoch means the peer reconnected with a fresh RTCPeerConnection and will offer again.
    if (old && old.epoch !== undefined && now.epoch !== old.epoch) app.mesh.close(peer.id);
    // A peer that moved in to us offers; we only wait. The recorder is ours to call.
    if (peerInfo.isRecorder(now)) syncRecorder(app);
    app.grid.sync(app.links());
  }
  app.refresh();
}

function onPeerLeft(app, peerId, reason) {
  const p = app.store.peerLeft(peerId);
  app.mesh.close(peerId);
  if (p && !peerInfo.isRecorder(p) && !peerInfo.inLobby(p) && reason !== "denied") app.toast(t("room.left", { name: p.name }));
  app.grid.sync(app.links());
  app.refresh();
}

function onKnock(app, peer) {
  if (!peer) return;
  app.store.knock(peer);
  if (app.isModerator() && app.store.openPanelId !== "moderate") {
    app.toast(`${t("mod.knock")}${peer.name}`, { action: t("mod.title"), onAction: () => app.openPanel("moderate") });
  }
  app.refresh();
}

function onRoom(app, room) {
  if (!room) return;
  const wasRecording = app.store.roomChanged(room);
  if (app.store.room.state === "ended") {
    app.signaling._finish("ended");
    return;
  }
  const recording = !!app.store.room.recording;
  if (recording && app.store.consent === null && app.store.me.role !== "recorder") app.controls.askConsent();
  if (!recording) app.controls.closeConsent();
  if (recording !== wasRecording || recording) syncRecorder(app);
  // Petition hearings and briefings: who may talk follows the floor. Given the floor: speak at once;
  // floor taken: microphone off.
  if (app.store.speakingRuleChanged()) {
    app.media.allowSpeaking(app.store.mayTalk);
    app.toast(app.store.mayTalk ? t("room.may_speak") : t("room.floor_taken"));
    app.media.publish();
  }
  app.refresh();
}

function onMoved(app, subroom, peers = null) {
  subroom = subroom === undefined || subroom === "" ? null : subroom;
  if (!app.store.moveTo(subroom, peers)) return; // already handled
  // Old connections end; we are the mover, so we offer to everyone already in the new room (the
  // server lists them in `moved.peers`, the recorder included when this room is recorded).
  app.mesh.closeAll();
  app.grid.sync(app.links());
  app.toast(subroom === null ? t("room.moved_main") : `${t("room.moved")}${subroom}`);
  if (app.sfu.active) { // the server changes what we receive; nothing to connect
    app.refresh();
    return;
  }
  const ids = Array.isArray(peers) ? peers : app.store.wanted().map((p) => p.id);
  for (const id of ids) {
    const p = app.store.peers.get(id);
    if (p && peerInfo.isRecorder(p) && !app.store.recorded()) continue;
    app.mesh.connect(id);
  }
  app.refresh();
}

/** The room's media moved in place (mesh -> SFU, or to another SFU instance): renegotiate, keep our place. */
function onTopology(app, msg) {
  app.mesh.closeAll();
  if (msg.topology === "sfu") app.sfu.start(app.mesh.iceServers || []);
  else app.sfu.stop();
  app.grid.sync(app.links());
  if (msg.cause === "size") app.toast(t("room.sfu_moved"));
  else if (msg.cause === "instance failover") app.toast(t("room.sfu_failover"));
  app.refresh();
}

function onMuted(app, kind) {
  if (kind === "video") app.media.releaseCamera();
  else app.media.muteAudio();
  app.toast(kind === "video" ? t("room.video_off_by_host") : t("room.muted_by_host"));
  app.media.publish();
  app.refresh();
}

function onChat(app, msg) {
  const { entry, counted } = app.store.addChat(msg);
  app.panels.chat(entry);
  if (counted) app.refresh();
}

function onFinished(app, reason, error) {
  app.stats.stop();
  app.mesh.closeAll();
  app.sfu.stop();
  app.media.stop();
  app.controls.closeConsent();
  const text = FINISHED[reason] ? t(FINISHED[reason]) : `${t("conn.failed")}${errorText(error) || reason}`;
  app.controls.ended(text, !["removed", "denied", "ended"].includes(reason));
  app.emit("finished", { reason, error });
}

/** Connect to the recorder while our media should be recorded, hang up when not. */
export function syncRecorder(app) {
  const rec = app.store.recorder();
  if (!rec || app.sfu.active) return; // on the SFU the recorder subscribes through the server
  const want = app.store.wanted().some((p) => p.id === rec.id);
  if (want && !app.mesh.has(rec.id)) app.mesh.connect(rec.id);
  if (!want && app.mesh.has(rec.id)) app.mesh.close(rec.id);
}
