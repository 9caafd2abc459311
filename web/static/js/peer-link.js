// One RTCPeerConnection to one remote peer, used by the mesh (mesh.js): perfect negotiation, held
// candidates, a restart when the link stalls, and its own tracks and stream.

export const MAX_PENDING_CANDIDATES = 200;
// A link that is neither connected nor failed by then (a lost offer or candidate leaves it "connecting"
// for good) starts over. Only the impolite end restarts, so the two ends never restart against each other.
const STALL_MS = 30000;

function sdpIdentity(sdp) {
  if (!sdp) return null;
  const o = /^o=\S+ (\d+) /m.exec(sdp);
  const fp = /^a=fingerprint:(\S+ \S+)/m.exec(sdp);
  return `${o ? o[1] : ""}|${fp ? fp[1] : ""}`;
}

export class PeerLink {
  constructor(mesh, peerId, { polite }) {
    this.mesh = mesh;
    this.peerId = peerId;
    this.polite = polite;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.pending = []; // candidates that arrived before the remote description
    this.heldCount = 0; // how many were ever held (diagnostics and tests)
    this.closed = false;
    this.remoteIdentity = null;
    this.stream = new MediaStream();
    this.pc = new RTCPeerConnection({ iceServers: mesh.iceServers, bundlePolicy: "max-bundle" });
    this.createdAt = Date.now();
    this._failTimer = null;
    this._stallTimer = polite ? null : setTimeout(() => {
      if (!this.closed && this.pc.connectionState !== "connected") {
        this.mesh._log("link stalled", this.peerId, this.pc.connectionState);
        this.mesh.restart(this.peerId);
      }
    }, STALL_MS);
    this._wire();
  }

  _wire() {
    const pc = this.pc;
    pc.onnegotiationneeded = async () => {
      if (this.closed) return;
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this._send({ description: pc.localDescription.toJSON() });
      } catch (e) {
        this.mesh._log("offer failed", this.peerId, e);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate) this._send({ candidate: candidate.toJSON() });
    };
    pc.ontrack = ({ track, streams }) => {
      // Keep one stream per peer; the sender's stream id is not needed.
      if (!this.stream.getTracks().includes(track)) {
        for (const old of this.stream.getTracks().filter((t) => t.kind === track.kind)) this.stream.removeTrack(old);
        this.stream.addTrack(track);
      }
      track.addEventListener("ended", () => this.stream.removeTrack(track));
      this.mesh._emit("track", { peerId: this.peerId, stream: this.stream, track, streams });
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      this.mesh._emit("link-state", { peerId: this.peerId, state });
      clearTimeout(this._failTimer);
      if (state === "connected") {
        clearTimeout(this._stallTimer);
        this.mesh.applyBudget(); // encodings exist once negotiated
      }
      if (state === "failed") {
        // Start over with a fresh connection. A short random wait keeps both ends from restarting at
        // once; if they do, perfect negotiation sorts it out.
        this._failTimer = setTimeout(() => {
          if (!this.closed && pc.connectionState === "failed") this.mesh.restart(this.peerId);
        }, 500 + Math.random() * 1500);
      }
    };
  }

  /** Start sending: we are the newcomer/mover, so we make the offer. */
  initiate() {
    const { audio, video } = this.mesh.tracks;
    const stream = this.mesh.localStream;
    for (const [kind, track] of [["audio", audio], ["video", video]]) {
      // addTrack (not addTransceiver) so that, if we lose a glare and roll back, the remote offer's
      // m-lines reuse these senders instead of leaving orphans for a second negotiation.
      if (track) this.pc.addTrack(track, ...(stream ? [stream] : []));
      else this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
    // negotiationneeded fires and sends the offer.
  }

  /** After applying a remote offer: attach our tracks to the offered m-lines so the answer sends too. */
  _attachLocalTracks() {
    const stream = this.mesh.localStream;
    for (const tr of this.pc.getTransceivers()) {
      // Left over from an offer of ours that was rolled back: not part of this negotiation.
      if (tr.mid === null && tr.direction !== "stopped") tr.stop();
    }
    for (const kind of ["audio", "video"]) {
      const track = this.mesh.tracks[kind];
      const tr = this.pc.getTransceivers().find(
        (t) => t.mid !== null && t.receiver.track && t.receiver.track.kind === kind && t.direction !== "stopped",
      );
      if (!tr) continue;
      if (track && tr.sender.track !== track) {
        tr.sender.replaceTrack(track).catch(() => {});
        if (stream && tr.sender.setStreams) tr.sender.setStreams(stream);
      }
      // Sending with no track yet keeps the m-line ready for a camera turned on later.
      if (tr.direction === "recvonly" || tr.direction === "inactive") tr.direction = "sendrecv";
    }
  }

  async handleSignal(data) {
    const pc = this.pc;
    if (data.description) {
      const description = data.description;
      if (description.type === "offer") {
        const previous = pc.currentRemoteDescription || pc.remoteDescription;
        const incoming = sdpIdentity(description.sdp);
        if (previous && incoming && sdpIdentity(previous.sdp) !== incoming) {
          // The remote side started a new RTCPeerConnection: ours is stale.
          return this.mesh._replaceAndHandle(this.peerId, data);
        }
      }
      const offerCollision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && offerCollision;
      if (this.ignoreOffer) return;
      if (description.type === "answer" && pc.signalingState !== "have-local-offer") return; // stale answer
      await pc.setRemoteDescription(description); // rolls back our own offer when polite
      this.remoteIdentity = sdpIdentity(description.sdp);
      if (description.type === "offer") {
        this._attachLocalTracks();
        await pc.setLocalDescription();
        this._send({ description: pc.localDescription.toJSON() });
      }
      await this._flushCandidates();
    } else if (data.candidate) {
      if (!pc.remoteDescription) {
        if (this.pending.length < MAX_PENDING_CANDIDATES) {
          this.pending.push(data.candidate);
          this.heldCount += 1;
        }
        return;
      }
      try {
        await pc.addIceCandidate(data.candidate);
      } catch (e) {
        if (!this.ignoreOffer) this.mesh._log("candidate refused", this.peerId, e);
      }
    }
  }

  async _flushCandidates() {
    const held = this.pending;
    this.pending = [];
    for (const c of held) {
      try {
        await this.pc.addIceCandidate(c);
      } catch (e) {
        this.mesh._log("held candidate refused", this.peerId, e);
      }
    }
  }

  replaceTrack(kind, track) {
    for (const tr of this.pc.getTransceivers()) {
      const k = tr.receiver.track && tr.receiver.track.kind;
      if (k === kind && tr.direction !== "stopped" && tr.direction !== "inactive") {
        tr.sender.replaceTrack(track).catch((e) => this.mesh._log("replaceTrack", e));
      }
    }
  }

  _send(data) {
    this.mesh.signaling.send({ type: "signal", to: this.peerId, data });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this._failTimer);
    clearTimeout(this._stallTimer);
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    try { this.pc.close(); } catch { /* closed already */ }
    for (const t of this.stream.getTracks()) this.stream.removeTrack(t);
  }
}
