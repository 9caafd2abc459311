// The signaling socket: protocol v1 of docs/protocol.md ("GET /ws", JSON text frames).
//
// It joins with the invitation token, keeps the resume token the server hands out in `welcome`,
// and after a drop reconnects with backoff, sending {"type":"join","token","resume"} so the server
// keeps our place (for room.grace_s, 60 s by default). Every server message is re-dispatched as a DOM event named
// after its type (`welcome`, `signal`, `peer-joined`, ...) plus a catch-all `message` event, so other
// modules (minutes, agreements) can listen without touching this file.

import { pick } from "./i18n.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const PING_EVERY_MS = 15000;
const DEAD_AFTER_MS = 40000; // no frame at all for this long: the socket is dead even if not closed
// Errors before `welcome` that retrying cannot fix; anything else (e.g. a server restart) is retried.
const FATAL_CODES = new Set([
  "token_expired", "token_invalid", "token_malformed", "token_revoked", "wrong_session", "denied", "removed",
  "session_ended", "ended", "cancelled", "forbidden", "room_full", "check_required", "check_failed", "check_locked",
]);

export function wsUrl(path = "/ws") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export class Signaling extends EventTarget {
  /**
   * @param {{token: string, url?: string, storageKey?: string}} opts
   */
  constructor({ token, url = wsUrl(), storageKey = null, check = null }) {
    super();
    this.token = token;
    this.check = check; // identity-check answer (last 4 of ID, or the 6-digit code), sent with join
    this.url = url;
    this.storageKey = storageKey ? `concord.resume.${storageKey}` : null;
    this.resume = this.storageKey ? sessionStorage.getItem(this.storageKey) : null;
    this.ws = null;
    this.state = "idle"; // idle | connecting | lobby | open | reconnecting | closed
    this.peerId = null;
    this.attempt = 0;
    this.welcomed = false; // got a welcome on the current socket
    this.everWelcomed = false;
    this.finished = false; // left, removed, denied or fatal: never reconnect
    this.lastFrameAt = 0;
    this._timers = { ping: null, retry: null, watchdog: null };
    this._onOnline = () => { if (this.state === "reconnecting") this._reconnectNow(); };
    window.addEventListener("online", this._onOnline);
  }

  connect() {
    if (this.finished) return;
    this._setState(this.everWelcomed ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this._scheduleRetry();
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    this._joinRefused = null;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      const join = { type: "join", token: this.token };
      if (this.resume) join.resume = this.resume;
      if (this.check) join.check = this.check;
      this._sendRaw(join);
      this._startTimers();
    };
    ws.onmessage = (ev) => {
      this.lastFrameAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return; // the server only sends JSON; ignore anything else rather than crash the page
      }
      if (!msg || typeof msg.type !== "string") return;
      this._handle(ws, localNames(msg));
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return; // an old socket we already replaced
      this._stopTimers();
      this.ws = null;
      if (this.finished) {
        this._setState("closed");
        return;
      }
      // Close codes of docs/protocol.md that mean "do not come back".
      const final = { 4403: "removed", 4409: "replaced", 4410: "ended" }[ev.code];
      if (final) {
        this._finish(this.state === "lobby" && final === "removed" ? "denied" : final);
        return;
      }
      if (this._joinRefused) {
        this._finish("failed", this._joinRefused);
        return;
      }
      this._emit("disconnected", { code: ev.code, reason: ev.reason, welcomed: this.welcomed });
      this._scheduleRetry();
    };
    ws.onerror = () => { /* onclose follows and handles it */ };
  }

  _handle(ws, msg) {
    switch (msg.type) {
      case "welcome":
        this.welcomed = true;
        this.everWelcomed = true;
        this.attempt = 0;
        this.peerId = msg.peer_id;
        if (msg.resume) {
          this.resume = msg.resume;
          if (this.storageKey) sessionStorage.setItem(this.storageKey, msg.resume);
        }
        this._setState("open");
        break;
      case "lobby":
        this.attempt = 0;
        this._setState("lobby");
        break;
      case "removed":
        this._finish("removed");
        break;
      case "error":
        if (!this.welcomed) {
          const code = msg.code || "";
          if (this.resume && /resume/.test(code)) {
            // Our held place expired: join afresh with the invitation token alone.
            this._forgetResume();
            this._emit("message", msg);
            this._emit("error", msg);
            this._reconnectNow();
            return;
          }
          if (msg.ref === "join" && !FATAL_CODES.has(code) && code !== "rate_limited") {
            // A refusal of the join itself: the server closes next; retrying the same join is pointless
            // unless the socket closes for another reason first (then onclose sees _joinRefused).
            this._joinRefused = msg;
          }
          if (FATAL_CODES.has(code) || this.state === "lobby") {
            this._emit("message", msg);
            this._emit("error", msg);
            this._finish(code === "denied" || this.state === "lobby" ? "denied" : "failed", msg);
            return;
          }
        }
        break;
      default:
        break;
    }
    this._emit("message", msg);
    this._emit(msg.type, msg);
  }

  /** Send a protocol message; returns false when the socket is not open (the caller may retry later). */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.welcomed) return false;
    return this._sendRaw(msg);
  }

  _sendRaw(msg) {
    try {
      this.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  leave() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this._sendRaw({ type: "leave" });
    this._forgetResume();
    this._finish("left");
  }

  /** Drop the socket as if the network failed (used by tests and by the dead-socket watchdog). */
  dropForTest() {
    if (this.ws) this.ws.close(4000, "client drop");
  }

  _finish(reason, detail = null) {
    if (this.finished) return;
    this.finished = true;
    this._stopTimers();
    clearTimeout(this._timers.retry);
    window.removeEventListener("online", this._onOnline);
    if (reason !== "left") this._forgetResume();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, reason);
    this._setState("closed");
    this._emit("finished", { reason, error: detail });
  }

  _forgetResume() {
    this.resume = null;
    if (this.storageKey) sessionStorage.removeItem(this.storageKey);
  }

  _scheduleRetry() {
    if (this.finished) return;
    this._setState(this.everWelcomed ? "reconnecting" : "connecting");
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const delay = base / 2 + Math.random() * base / 2; // jitter so a node restart is not a thundering herd
    clearTimeout(this._timers.retry);
    this._timers.retry = setTimeout(() => this.connect(), delay);
  }

  _reconnectNow() {
    clearTimeout(this._timers.retry);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    this._stopTimers();
    this.connect();
  }

  _startTimers() {
    this._stopTimers();
    this._timers.ping = setInterval(() => {
      // Also while waiting in the lobby (the server allows it there): the wait may be long and quiet.
      if (this.welcomed || this.state === "lobby") this._sendRaw({ type: "ping" });
    }, PING_EVERY_MS);
    this._timers.watchdog = setInterval(() => {
      if (this.ws && Date.now() - this.lastFrameAt > DEAD_AFTER_MS) {
        // Half-open TCP (phone changed network): nothing will ever close it for us.
        const ws = this.ws;
        this.ws = null;
        ws.onclose = null;
        try { ws.close(); } catch { /* already gone */ }
        this._stopTimers();
        this._emit("disconnected", { code: 0, reason: "timeout", welcomed: this.welcomed });
        this._scheduleRetry();
      }
    }, 5000);
  }

  _stopTimers() {
    clearInterval(this._timers.ping);
    clearInterval(this._timers.watchdog);
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this._emit("state", { state });
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

/** A server message with every name in the page's language: names the server writes itself come as
 *  "中文 / English" (the recorder's "录像 / Recorder"), and a page shows one side only. */
export function localNames(msg) {
  const fix = (p) => (p && typeof p.name === "string" ? { ...p, name: pick(p.name) } : p);
  const out = fix(msg);
  if (out.peer && typeof out.peer === "object") out.peer = fix(out.peer);
  if (Array.isArray(out.peers)) out.peers = out.peers.map(fix);
  if (Array.isArray(out.lobby)) out.lobby = out.lobby.map(fix);
  if (out.room && Array.isArray(out.room.lobby)) out.room = { ...out.room, lobby: out.room.lobby.map(fix) };
  return out;
}
