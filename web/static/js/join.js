// Entry point of the join page (/join/{token}): identity check, pre-join device check, then the room.
// The page embeds its configuration as JSON in <script id="room-config">.

import { LevelMeter, acquire, fillSelect, listDevices, mediaSupported, stopStream } from "./devices.js";
import { t } from "./i18n.js";
import "./moderator.js";
import { RoomApp } from "./room.js";

const $ = (sel) => document.querySelector(sel);
const PREF = "concord.devices";
const CHECK_FAILED = "concord.check_failed";

function prefs() {
  try {
    return JSON.parse(localStorage.getItem(PREF) || "{}");
  } catch {
    return {};
  }
}

function savePrefs(p) {
  try {
    localStorage.setItem(PREF, JSON.stringify(p));
  } catch { /* private mode */ }
}

class PreJoin {
  constructor(config) {
    this.config = config;
    this.token = config.token;
    this.stream = null;
    this.meter = null;
    this.raf = 0;
    this.checked = !config.check || config.check === "none";
    this.answer = null;
    this.heardSound = false;
    this.prefs = prefs();
  }

  async start() {
    this._bindCheck();
    this._showCheckFailure();
    $("#camera-select").addEventListener("change", () => this._restart());
    $("#mic-select").addEventListener("change", () => this._restart());
    $("#join-video").addEventListener("change", () => this._restart());
    $("#join-audio").addEventListener("change", () => this._restart());
    $("#retry-devices").addEventListener("click", () => this._restart());
    $("#join-button").addEventListener("click", () => this.join());
    this._updateJoinButton();
    if (!mediaSupported()) {
      this._status([window.isSecureContext ? "prejoin.unsupported" : "prejoin.insecure"], true);
      return;
    }
    navigator.mediaDevices.addEventListener?.("devicechange", () => this._fillPickers());
    await this._restart();
  }

  // ---- identity check ---------------------------------------------------------------------------
  // The answer travels in the `join` message ("check"); the server compares it with the invitation's
  // hash and refuses the join with `check_failed`. Here we only check its form.
  _bindCheck() {
    const form = $("#identity-check");
    if (!form) return;
    const input = form.querySelector("input[name=answer]");
    const need = this.config.check === "id_last4" ? 4 : 6;
    const allow = new RegExp(`[^${input.dataset.allow || "0-9"}]`, "g");
    const update = () => {
      input.value = input.value.toUpperCase().replace(allow, "");
      this.answer = input.value.length === need ? input.value : null;
      this.checked = !!this.answer;
      $("#check-message").textContent = "";
      this._updateJoinButton();
    };
    input.addEventListener("input", update);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      update();
      if (this.checked) this.join();
      else $("#check-message").textContent = t("prejoin.check_format");
    });
  }

  /** After a refused join (wrong answer) the page reloads and says so here. */
  _showCheckFailure() {
    const code = sessionStorage.getItem(CHECK_FAILED);
    if (!code) return;
    sessionStorage.removeItem(CHECK_FAILED);
    const msg = $("#check-message");
    if (msg) msg.textContent = code === "rate_limited" || code === "check_locked" ? t("prejoin.check_locked") : t("prejoin.check_failed");
  }

  _updateJoinButton() {
    $("#join-button").disabled = !this.checked;
  }

  // ---- devices ------------------------------------------------------------------------------------
  async _restart() {
    cancelAnimationFrame(this.raf);
    if (this.meter) this.meter.stop();
    stopStream(this.stream);
    this.stream = null;
    const wantVideo = $("#join-video").checked;
    const wantAudio = $("#join-audio").checked;
    this._statusText(t("prejoin.checking"));
    const camSel = $("#camera-select");
    const micSel = $("#mic-select");
    const videoId = camSel.value || this.prefs.video || null;
    const audioId = micSel.value || this.prefs.audio || null;
    let got = await acquire({ wantVideo, wantAudio, videoId, audioId });
    if ((videoId || audioId) && got.problems.includes("prejoin.notfound")) {
      // The remembered device is gone (unplugged): fall back to the defaults.
      stopStream(got.stream);
      got = await acquire({ wantVideo, wantAudio });
    }
    this.stream = got.stream;
    const preview = $("#preview");
    preview.srcObject = this.stream;
    preview.play?.().catch(() => {});
    const videoTrack = this.stream && this.stream.getVideoTracks()[0];
    $("#preview-box").classList.toggle("no-video", !videoTrack);
    $("#preview-empty").textContent = wantVideo ? t("prejoin.no_camera") : t("prejoin.camera_off");
    this.meter = new LevelMeter(this.stream);
    this._animateMeter();
    await this._fillPickers();
    const problems = got.problems;
    if (problems.length) this._status(problems, !got.audio && !got.video && (wantAudio || wantVideo));
    else this._statusText(t("prejoin.ready"), "ok");
    $("#retry-devices").hidden = !problems.length;
  }

  async _fillPickers() {
    const { cameras, mics } = await listDevices();
    const v = this.stream && this.stream.getVideoTracks()[0];
    const a = this.stream && this.stream.getAudioTracks()[0];
    fillSelect($("#camera-select"), cameras, v && v.getSettings().deviceId, "prejoin.no_camera");
    fillSelect($("#mic-select"), mics, a && a.getSettings().deviceId, "prejoin.no_mic");
    this.prefs = { video: v ? v.getSettings().deviceId : this.prefs.video, audio: a ? a.getSettings().deviceId : this.prefs.audio };
    savePrefs(this.prefs);
  }

  _animateMeter() {
    const bar = $("#mic-level");
    const started = performance.now();
    const tick = () => {
      const level = this.meter ? this.meter.read() : 0;
      bar.style.width = `${Math.round(level * 100)}%`;
      bar.parentElement.setAttribute("aria-valuenow", String(Math.round(level * 100)));
      if (level > 0.15) this.heardSound = true;
      const hint = $("#mic-hint");
      hint.textContent = !this.heardSound && performance.now() - started > 5000 && this.meter && this.meter.source
        ? t("prejoin.nomic") : "";
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  _status(keys, blocking = false) {
    const node = $("#device-status");
    node.replaceChildren(...keys.map((k) => {
      const p = document.createElement("p");
      p.textContent = t(k);
      return p;
    }));
    node.dataset.kind = blocking ? "error" : "warn";
  }

  _statusText(text, kind = "info") {
    const node = $("#device-status");
    node.textContent = text;
    node.dataset.kind = kind;
  }

  // ---- go in ----------------------------------------------------------------------------------------
  join() {
    if (!this.checked) return;
    cancelAnimationFrame(this.raf);
    if (this.meter) this.meter.stop();
    $("#screen-prejoin").hidden = true;
    const config = { ...this.config, check_answer: this.answer || null };
    const app = new RoomApp({ root: $("#concord-room"), config, stream: this.stream, token: this.token });
    this.stream = null; // the room owns it now
    app.addEventListener("finished", (e) => {
      const err = e.detail.error;
      if (err && typeof err.code === "string" && (err.code.startsWith("check") || (err.code === "rate_limited" && this.answer))) {
        // A fresh page is the simplest clean slate (the room bound its controls already).
        sessionStorage.setItem(CHECK_FAILED, err.code);
        location.reload();
      }
    });
    window.concord = app;
    app.start();
  }
}

function main() {
  const node = document.getElementById("room-config");
  if (!node) return;
  const config = JSON.parse(node.textContent);
  const pre = new PreJoin(config);
  window.concordPreJoin = pre;
  pre.start();
}

main();
