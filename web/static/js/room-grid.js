// The video grid view: one tile per person in our sub-room plus ourselves, laid out to fill the stage.
// It renders names, roles and flags from the store (room-state.js); media events attach streams and
// the stats poll (room-stats.js) sets quality badges and the active speaker.
import { $, el } from "./dom.js";
import { roleName, t } from "./i18n.js";
import { peerInfo, reconnectingText } from "./room-state.js";

export class GridView {
  constructor(root, store) {
    this.root = root;
    this.store = store;
    this.tiles = new Map(); // "self" or a peer id -> <figure>
    this.speaker = null;
    this.speakerSince = 0;
  }

  get stage() {
    return $("#stage", this.root);
  }

  addSelf(stream) {
    this.attach(this.make("self", true), stream);
  }

  make(id, local = false) {
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
    this.stage.append(tile);
    this.tiles.set(id, tile);
    this.layout();
    return tile;
  }

  /** Each peer tile's video height in device pixels (the SFU picks a simulcast layer that fits). */
  tileHeights() {
    const ratio = window.devicePixelRatio || 1;
    const out = [];
    for (const [id, tile] of this.tiles) {
      if (id === "self") continue;
      const v = $("video", tile);
      out.push({ peer: id, height: Math.max(0, Math.min(8192, Math.round((v ? v.clientHeight : 0) * ratio))) });
    }
    return out;
  }

  /** The tile of a peer, made when the peer is admitted and not the recorder. */
  tile(peerId) {
    if (this.tiles.has(peerId)) return this.tiles.get(peerId);
    const p = this.store.peers.get(peerId);
    if (!p || peerInfo.isRecorder(p)) return null;
    return this.make(peerId);
  }

  attach(tile, stream) {
    if (!tile) return;
    const v = $("video", tile);
    if (!v._watched) {
      // Show the picture (not the initial) as soon as frames arrive, without waiting for the stats poll.
      v._watched = true;
      const update = () => this.videoShown(tile);
      for (const ev of ["loadedmetadata", "resize", "playing", "emptied"]) v.addEventListener(ev, update);
    }
    if (v.srcObject !== stream) v.srcObject = stream;
    const play = v.play();
    if (play && play.catch) play.catch(() => { /* autoplay refused until a tap; controls give one */ });
  }

  /** Our own tile shows the camera, or the shared screen (`screen` true; left as it is when not given). */
  showSelf(stream, screen = undefined) {
    const tile = this.tiles.get("self");
    this.attach(tile, stream);
    if (screen !== undefined) tile.classList.toggle("screen", screen);
  }

  linkState(peerId, state) {
    const tile = this.tiles.get(peerId);
    if (tile) tile.dataset.state = state;
  }

  linkClosed(peerId) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    $("video", tile).srcObject = null;
    tile.dataset.state = "new";
  }

  videoShown(tile, statsWidth = 0) {
    if (tile.classList.contains("local")) return;
    const p = this.store.peers.get(tile.dataset.peer);
    const showing = statsWidth > 0 || $("video", tile).videoWidth > 0;
    tile.classList.toggle("no-video", !showing || (p && p.video === false));
  }

  /** Tiles follow our sub-room: one per roommate plus ourselves. `links` gives the streams we have. */
  sync(links) {
    const want = new Set(this.store.roommates().map((p) => p.id));
    for (const [id, tile] of this.tiles) {
      if (id === "self" || want.has(id)) continue;
      $("video", tile).srcObject = null;
      tile.remove();
      this.tiles.delete(id);
    }
    for (const id of want) {
      const tile = this.tile(id);
      const link = links.get(id);
      if (tile && link && link.stream.getTracks().length) this.attach(tile, link.stream);
    }
    this.layout();
  }

  layout() {
    const stage = this.stage;
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

  /** Names, roles, hands, floor and away notes from the store. */
  render() {
    const s = this.store;
    for (const [id, tile] of this.tiles) {
      const self = id === "self";
      const p = self ? s.me : s.peers.get(id);
      if (!p) continue;
      $(".name", tile).textContent = self ? `${p.name || ""}（${t("room.you")}）` : p.name;
      $(".role", tile).textContent = roleName(p.role);
      $(".avatar", tile).textContent = (p.name || "?").slice(0, 1);
      const floor = s.hasFloor(self ? s.me.id : id);
      const hand = self ? s.handRaised : peerInfo.hand(p);
      const flags = [];
      if (floor) flags.push(t("room.floor"));
      if (hand) flags.push(t("room.hand_raised"));
      if (self ? !s.media.audio : p.audio === false) flags.push(t("room.muted"));
      $(".flags", tile).textContent = flags.join(" · ");
      tile.classList.toggle("floor", floor);
      tile.classList.toggle("hand", hand);
      if (self) {
        tile.classList.toggle("no-video", !s.media.video);
        continue;
      }
      const away = peerInfo.away(p);
      tile.classList.toggle("away", away);
      const note = $(".reconnecting", tile);
      note.hidden = !away;
      note.textContent = away ? reconnectingText() : "";
      if (away) $(".quality", tile).textContent = "";
      this.videoShown(tile);
    }
    $("#stage-empty", this.root).hidden = s.roommates().length > 0;
  }

  /** The tile key for a peer id: ids may be numbers in JSON and strings in the DOM. */
  key(peerId) {
    for (const k of this.tiles.keys()) if (String(k) === String(peerId)) return k;
    return peerId;
  }

  quality(key, quality, frameWidth) {
    const tile = this.tiles.get(key);
    if (!tile || tile.classList.contains("away")) return;
    const q = $(".quality", tile);
    q.dataset.quality = quality;
    q.title = t(`room.quality.${quality}`);
    q.textContent = t(`room.quality.${quality}`);
    this.videoShown(tile, frameWidth);
  }

  /** The active speaker's tile is marked; it stays marked 1.5 s after the voice drops. */
  setSpeaker(id) {
    const now = Date.now();
    if (id === null) {
      if (this.speaker !== null && now - this.speakerSince > 1500) {
        this.tiles.get(this.speaker)?.classList.remove("speaking");
        this.speaker = null;
      }
      return;
    }
    this.speakerSince = now;
    if (id === this.speaker) return;
    if (this.speaker !== null) this.tiles.get(this.speaker)?.classList.remove("speaking");
    this.speaker = id;
    this.tiles.get(id)?.classList.add("speaking");
  }
}
