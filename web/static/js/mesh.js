// The media mesh: one RTCPeerConnection per remote peer, negotiated with the "perfect negotiation"
// pattern (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example).
//
// Who offers (docs/protocol.md): a newcomer, or a peer that moves into a sub-room, offers to the peers
// already there; everyone else answers. Either side may still renegotiate later; glare is resolved by
// the polite/impolite roles (decided by comparing peer ids, so both ends agree without talking).
//
// Signal payloads are `{"description": {"type","sdp"}}` or `{"candidate": {"candidate","sdpMid",
// "sdpMLineIndex"}}`, the same JSON the browser APIs produce, so aiortc peers (the recorder, hardware
// terminals) read them with `RTCSessionDescription(**d)` and `candidate_from_sdp`.
//
// A remote peer that comes back with a fresh RTCPeerConnection (after a reconnect or a failed ICE
// restart) is recognised by the o= session id and DTLS fingerprint of its offer; the old connection is
// then replaced instead of being renegotiated, which would fail.

import { applyLimits, videoLimits } from "./bandwidth.js";
import { MAX_PENDING_CANDIDATES, PeerLink } from "./peer-link.js";

export { PeerLink };

export class Mesh extends EventTarget {
  /**
   * @param {{signaling: import('./signaling.js').Signaling, localStream: MediaStream|null,
   *          iceServers?: RTCIceServer[]}} opts
   */
  constructor({ signaling, localStream = null, iceServers = [] }) {
    super();
    this.signaling = signaling;
    this.selfId = null;
    this.iceServers = iceServers;
    this.localStream = localStream;
    this.tracks = {
      audio: localStream ? localStream.getAudioTracks()[0] || null : null,
      video: localStream ? localStream.getVideoTracks()[0] || null : null,
    };
    this.links = new Map();
    this.lowData = false; // 省流量: see bandwidth.js
    this.screen = false; // the outgoing video is a shared screen
    this.debug = false;
    this._queues = new Map(); // per-peer promise chain: signals for one peer are handled in order
    this._early = new Map(); // candidates from a peer we have no connection with yet (offer still on its way)
  }

  setSelf(peerId, iceServers) {
    this.selfId = peerId;
    if (iceServers) this.iceServers = iceServers;
  }

  _polite(peerId) {
    return String(this.selfId) > String(peerId);
  }

  has(peerId) {
    return this.links.has(peerId);
  }

  /** Offer to a peer (we are new here). Replaces any existing connection to it. */
  connect(peerId) {
    this.close(peerId);
    const link = new PeerLink(this, peerId, { polite: this._polite(peerId) });
    this.links.set(peerId, link);
    this._emit("link-added", { peerId, link });
    link.initiate();
    return link;
  }

  /** A fresh connection to a peer whose connection failed; we offer. */
  restart(peerId) {
    if (!this.links.has(peerId)) return;
    this._log("restarting link", peerId);
    this.connect(peerId);
  }

  /** Handle a `signal` message; unknown senders get a new answering connection. */
  handleSignal(from, data) {
    if (!data || typeof data !== "object") return;
    const prev = this._queues.get(from) || Promise.resolve();
    const next = prev.then(() => this._handle(from, data)).catch((e) => this._log("signal failed", from, e));
    this._queues.set(from, next);
    return next;
  }

  async _handle(from, data) {
    let link = this.links.get(from);
    if (!link) {
      if (data.candidate) {
        // Keep a few: if an offer follows, they belong to it; otherwise they expire with the next offer.
        const early = this._early.get(from) || [];
        if (early.length < MAX_PENDING_CANDIDATES) early.push(data);
        this._early.set(from, early);
        return;
      }
      if (!data.description || data.description.type !== "offer") return; // an answer for a closed link
      link = new PeerLink(this, from, { polite: this._polite(from) });
      this.links.set(from, link);
      this._emit("link-added", { peerId: from, link });
      await link.handleSignal(data);
      const early = this._early.get(from) || [];
      this._early.delete(from);
      for (const c of early) await link.handleSignal(c);
      return;
    }
    await link.handleSignal(data);
  }

  async _replaceAndHandle(peerId, data) {
    this.close(peerId);
    const link = new PeerLink(this, peerId, { polite: this._polite(peerId) });
    this.links.set(peerId, link);
    this._emit("link-added", { peerId, link });
    await link.handleSignal(data);
  }

  close(peerId) {
    this._early.delete(peerId);
    const link = this.links.get(peerId);
    if (!link) return;
    link.close();
    this.links.delete(peerId);
    this._emit("link-closed", { peerId });
    this.applyBudget(); // fewer links: each may send more
  }

  /** Share the uplink between the links (and put audio first); again whenever links or mode change. */
  applyBudget() {
    const limits = videoLimits(this.links.size, this.lowData);
    return Promise.all([...this.links.values()].map((link) => applyLimits(link.pc, limits, { screen: this.screen })));
  }

  setLowData(on) {
    this.lowData = !!on;
    return this.applyBudget();
  }

  closeAll() {
    for (const id of [...this.links.keys()]) this.close(id);
  }

  /** Switch an outgoing track everywhere (screen share, device change, camera back on). */
  setTrack(kind, track) {
    this.tracks[kind] = track;
    for (const link of this.links.values()) link.replaceTrack(kind, track);
    if (kind === "video") this.applyBudget();
    this._emit("local-track", { kind, track }); // the SFU's publishing connection follows (sfu.js)
  }

  /** One stats sample per link: {peerId: {audioLevel, framesDecoded, lossRate, rtt, bytesReceived, ...}}. */
  async sample() {
    const out = {};
    await Promise.all([...this.links.entries()].map(async ([peerId, link]) => {
      try {
        out[peerId] = summarise(await link.pc.getStats(), link);
      } catch {
        /* closed meanwhile */
      }
    }));
    return out;
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  _log(...args) {
    if (this.debug) console.debug("[mesh]", ...args);
  }
}

/** Reduce an RTCStatsReport to what the UI shows; keeps the previous sample on the link for rates. */
export function summarise(report, link) {
  const s = {
    audioLevel: 0, framesDecoded: 0, frameWidth: 0, packetsReceived: 0, packetsLost: 0,
    rtt: null, bytesReceived: 0, bytesSent: 0, state: link.pc.connectionState,
  };
  let selectedPair = null;
  report.forEach((r) => {
    if (r.type === "inbound-rtp") {
      s.packetsReceived += r.packetsReceived || 0;
      s.packetsLost += Math.max(0, r.packetsLost || 0);
      s.bytesReceived += r.bytesReceived || 0;
      if (r.kind === "audio" && typeof r.audioLevel === "number") s.audioLevel = Math.max(s.audioLevel, r.audioLevel);
      if (r.kind === "video") {
        s.framesDecoded += r.framesDecoded || 0;
        s.frameWidth = r.frameWidth || s.frameWidth;
      }
    } else if (r.type === "outbound-rtp") {
      s.bytesSent += r.bytesSent || 0;
    } else if (r.type === "transport" && r.selectedCandidatePairId) {
      selectedPair = r.selectedCandidatePairId;
    } else if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded" && !selectedPair) {
      if (typeof r.currentRoundTripTime === "number") s.rtt = r.currentRoundTripTime;
    }
  });
  if (selectedPair) {
    const pair = report.get(selectedPair);
    if (pair && typeof pair.currentRoundTripTime === "number") s.rtt = pair.currentRoundTripTime;
  }
  const prev = link._lastSample;
  if (prev) {
    const recv = s.packetsReceived - prev.packetsReceived;
    const lost = s.packetsLost - prev.packetsLost;
    s.lossRate = recv + lost > 0 ? Math.max(0, lost) / (recv + lost) : 0;
    s.fps = (s.framesDecoded - prev.framesDecoded) / Math.max(0.001, (Date.now() - prev.at) / 1000);
  } else {
    s.lossRate = 0;
    s.fps = 0;
  }
  s.at = Date.now();
  link._lastSample = s;
  s.quality = quality(s);
  return s;
}

export function quality(s) {
  if (s.state !== "connected") return "connecting";
  const rtt = s.rtt ?? 0;
  if (s.lossRate > 0.08 || rtt > 0.6) return "poor";
  if (s.lossRate > 0.02 || rtt > 0.25) return "fair";
  return "good";
}
