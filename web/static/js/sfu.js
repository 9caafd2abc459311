// Media through the server's SFU (docs/protocol.md, "Media on the SFU"): instead of one connection per
// peer, two RTCPeerConnections to Concord's Janus. The publishing one sends our camera as three simulcast
// layers (quarter, half and full resolution) and the microphone; the receiving one is driven by the
// server's offers (`sfu` `offer` -> our `start`), renegotiated whenever the feeds we may see change.
// The server decides who we receive (our sub-room only) and whose audio is forwarded (the floor, mute).
//
// `links` mirrors Mesh.links (peer id -> {stream}) so the grid shows SFU feeds as it shows mesh links.
// Every few seconds we report our tiles' heights, our bandwidth estimate and low-data mode (`layers`);
// the server picks each feed's layer from them.

import { summarise } from "./mesh.js";

const LAYERS = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
const REPORT_MS = 4000;

export class SfuMedia extends EventTarget {
  /**
   * @param {{signaling: import('./signaling.js').Signaling, mesh: import('./mesh.js').Mesh,
   *          tiles: () => Array<{peer: string, height: number}>}} opts
   */
  constructor({ signaling, mesh, tiles }) {
    super();
    Object.assign(this, { signaling, mesh, tiles });
    this.active = false;
    this.pub = null;
    this.sub = null;
    this.feeds = new Map(); // mid -> {peer, kind}
    this.links = new Map(); // peer id -> {stream}
    this._chain = Promise.resolve(); // offers and answers are handled in order
    this._timer = null;
    this._lastReport = "";
    this._statLinks = new Map(); // peer id -> {pc, _lastSample} for summarise's rates
    this.speaker = null; // the active speaker the server announces (Janus talking events)
    mesh.addEventListener("local-track", (e) => this.setTrack(e.detail.kind, e.detail.track));
  }

  /** (Re)open both connections and publish: on welcome, on a move in place, after a failover. */
  start(iceServers = []) {
    this.stop();
    this.active = true;
    this.iceServers = iceServers;
    this.pub = new RTCPeerConnection({ iceServers });
    const audio = this.mesh.tracks.audio;
    const video = this.mesh.tracks.video;
    this.pub.addTransceiver(audio || "audio", { direction: "sendonly" });
    this.videoSender = this.pub.addTransceiver(video || "video", { direction: "sendonly",
      sendEncodings: LAYERS.map((l) => ({ ...l })) }).sender;
    this._run(async () => {
      await this.pub.setLocalDescription(await this.pub.createOffer());
      this.signaling.send({ type: "sfu", op: "publish", sdp: this.pub.localDescription.sdp });
    });
    this._timer = setInterval(() => this.report(), REPORT_MS);
  }

  /** An `sfu` message from the server. */
  handle(msg) {
    if (!this.active) return;
    if (msg.op === "answer" && this.pub) {
      const pc = this.pub;
      this._run(() => pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }));
    } else if (msg.op === "offer") {
      this._run(() => this._offer(msg));
    } else if (msg.op === "feeds") {
      this._setFeeds(msg.feeds);
    } else if (msg.op === "speaker") {
      this.speaker = msg.peer;
      this._emit("speaker", { peerId: msg.peer });
    }
  }

  async _offer(msg) {
    if (!this.sub) {
      this.sub = new RTCPeerConnection({ iceServers: this.iceServers || [] });
      this.sub.addEventListener("track", () => this._rebuild());
      this.sub.addEventListener("connectionstatechange", () =>
        this._emit("state", { state: this.sub ? this.sub.connectionState : "closed" }));
    }
    const pc = this.sub;
    this._setFeeds(msg.feeds, false);
    await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.signaling.send({ type: "sfu", op: "start", sdp: pc.localDescription.sdp });
    this._rebuild();
    this._lastReport = ""; // new streams: the server needs our layer wishes again
    this.report();
  }

  _setFeeds(feeds, rebuild = true) {
    this.feeds = new Map((feeds || []).map((f) => [String(f.mid), { peer: f.peer, kind: f.kind }]));
    if (rebuild) this._rebuild();
  }

  /** Group the receiving tracks by peer (a mid may carry another peer after a renegotiation). */
  _rebuild() {
    if (!this.sub) return;
    const byPeer = new Map();
    for (const tr of this.sub.getTransceivers()) {
      const f = tr.mid !== null ? this.feeds.get(String(tr.mid)) : null;
      if (!f || !tr.receiver.track) continue;
      if (!byPeer.has(f.peer)) byPeer.set(f.peer, []);
      byPeer.get(f.peer).push(tr.receiver.track);
    }
    for (const [peer, link] of this.links) {
      if (!byPeer.has(peer)) {
        this.links.delete(peer);
        this._emit("link-closed", { peerId: peer });
      } else if (!sameTracks(link.stream, byPeer.get(peer))) {
        this.links.delete(peer);
      }
    }
    for (const [peer, tracks] of byPeer) {
      if (this.links.has(peer)) continue;
      const link = { stream: new MediaStream(tracks) };
      this.links.set(peer, link);
      this._emit("track", { peerId: peer, stream: link.stream });
    }
  }

  /** Switch an outgoing track (screen share, camera off and on, another camera). */
  setTrack(kind, track) {
    if (!this.pub) return;
    const tr = this.pub.getTransceivers().find((x) => x.sender.track ? x.sender.track.kind === kind
      : (x.receiver.track && x.receiver.track.kind === kind));
    if (tr) tr.sender.replaceTrack(track).catch(() => {});
  }

  /** Tell the server what we show and what we can take (only when it changed). */
  async report() {
    if (!this.active || !this.signaling.welcomed) return;
    const tiles = this.tiles().filter((x) => this.links.has(x.peer)).slice(0, 200);
    const layers = { tiles, bandwidth: await this._bandwidth(), low_data: !!this.mesh.lowData };
    const key = JSON.stringify(layers);
    if (key === this._lastReport) return;
    this._lastReport = key;
    this.signaling.send({ type: "sfu", op: "layers", layers });
  }

  async _bandwidth() {
    if (!this.sub) return null;
    try {
      const stats = await this.sub.getStats();
      let best = null;
      stats.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.availableIncomingBitrate) best = s.availableIncomingBitrate;
      });
      return best === null ? null : Math.max(0, Math.min(100_000_000, Math.round(best)));
    } catch {
      return null;
    }
  }

  /**
   * One stats sample per peer, in the shape Mesh.sample() gives (quality badges, the loudest speaker):
   * the receiving connection's inbound streams grouped by the feed their mid carries, with the shared
   * transport's round trip; rates come from the previous sample kept per peer.
   */
  async sample() {
    const pc = this.sub;
    if (!pc) return {};
    let report;
    try {
      report = await pc.getStats();
    } catch {
      return {}; // closed meanwhile
    }
    const midOfTrack = new Map(pc.getTransceivers().filter((t) => t.receiver.track)
      .map((t) => [t.receiver.track.id, t.mid]));
    const shared = new Map();
    const own = new Map(); // peer id -> Map of its inbound-rtp stats
    report.forEach((r) => {
      if (r.type === "transport" || r.type === "candidate-pair") {
        shared.set(r.id, r);
      } else if (r.type === "inbound-rtp") {
        const f = this.feeds.get(String(r.mid ?? midOfTrack.get(r.trackIdentifier) ?? ""));
        if (!f) return;
        if (!own.has(f.peer)) own.set(f.peer, new Map());
        own.get(f.peer).set(r.id, r);
      }
    });
    const out = {};
    for (const [peer, stats] of own) {
      const link = this._statLinks.get(peer) || {};
      link.pc = pc;
      this._statLinks.set(peer, link);
      out[peer] = summarise(new Map([...shared, ...stats]), link);
    }
    return out;
  }

  stop() {
    if (this._timer) clearInterval(this._timer);
    this._timer = null;
    for (const pc of [this.pub, this.sub]) if (pc) pc.close();
    this.pub = this.sub = null;
    for (const peer of [...this.links.keys()]) this._emit("link-closed", { peerId: peer });
    this.links.clear();
    this.feeds.clear();
    this._statLinks.clear();
    this.speaker = null;
    this.active = false;
    this._lastReport = "";
  }

  _run(fn) {
    this._chain = this._chain.then(fn).catch((e) => this._emit("error", { error: String(e) }));
    return this._chain;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function sameTracks(stream, tracks) {
  const have = stream.getTracks();
  return have.length === tracks.length && tracks.every((t) => have.includes(t));
}
