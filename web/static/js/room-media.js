// Our own media in the room: microphone and camera switches, screen share, camera flip, low-data mode and
// the speaking rule's effect on the microphone. It owns the local stream and its level meter; after each
// change it writes the switches into the store (store.media) for the views, and tells the others (`media`).
import { LevelMeter, acquire, listDevices, stopStream } from "./devices.js";
import { t } from "./i18n.js";

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

export class LocalMedia {
  /**
   * @param {{stream: MediaStream, mesh: object, store: object, signaling: object, grid: object,
   *          toast: (text: string, opts?: object) => void}} opts
   */
  constructor({ stream, mesh, store, signaling, grid, toast }) {
    Object.assign(this, { stream, mesh, store, signaling, grid, toast });
    this.sharing = null; // screen track while sharing
    this.cameraBeforeShare = null;
    this.cameraId = null; // the camera we released, to capture it again
    this.mesh.lowData = loadLowData();
    this.meter = new LevelMeter(this.stream);
  }

  get audio() {
    return this.mesh.tracks.audio;
  }

  /** The switches as the views show them. */
  sync() {
    const a = this.mesh.tracks.audio;
    const v = this.mesh.tracks.video;
    this.store.setMedia({ audio: a && a.enabled, video: (v && v.enabled) || this.sharing, sharing: this.sharing,
      lowData: this.mesh.lowData });
  }

  /** Tell the others whether our microphone and camera are on (the `media` message). */
  publish() {
    this.sync();
    this.signaling.send({ type: "media", audio: this.store.media.audio, video: this.store.media.video });
  }

  /** The microphone follows the speaking rule: on when given the floor, off when it is taken away. */
  allowSpeaking(may) {
    if (this.audio) this.audio.enabled = may;
  }

  muteAudio() {
    if (this.audio) this.audio.enabled = false;
  }

  async toggle(kind) {
    let track = this.mesh.tracks[kind];
    if (kind === "video" && this.sharing) return false;
    if (kind === "video" && track && track.enabled) {
      this.releaseCamera();
    } else if (!track) {
      // Camera turned off (released), or no device at join (denied or absent): get it now.
      const videoId = kind === "video" ? this.cameraId : null;
      let got = await acquire({ wantAudio: kind === "audio", wantVideo: kind === "video", videoId });
      if (kind === "video" && this.cameraId && !got.video) got = await acquire({ wantAudio: false }); // that camera is gone
      track = got.stream && (kind === "audio" ? got.stream.getAudioTracks()[0] : got.stream.getVideoTracks()[0]);
      if (!track) {
        this.toast(t(got.problems[0] || "prejoin.notfound"), { kind: "error" });
        return false;
      }
      this.stream.addTrack(track);
      this.mesh.setTrack(kind, track);
      if (kind === "audio") {
        this.meter.stop();
        this.meter = new LevelMeter(this.stream);
      }
      this.grid.showSelf(this.stream);
    } else {
      if (kind === "audio" && !track.enabled && !this.store.mayTalk) {
        this.toast(t("room.wait_floor"));
        return false;
      }
      track.enabled = !track.enabled;
    }
    this.publish();
    return true;
  }

  async toggleShare() {
    if (this.sharing) return this.stopShare();
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 10 }, audio: false });
    } catch (e) {
      if (e && e.name !== "NotAllowedError" && e.name !== "AbortError") this.toast(t("room.share_unsupported"), { kind: "error" });
      return false;
    }
    const track = stream.getVideoTracks()[0];
    this.sharing = track;
    this.cameraBeforeShare = this.mesh.tracks.video;
    track.addEventListener("ended", () => { if (this.stopShare()) this.store.changed(); });
    this.mesh.screen = true;
    this.mesh.setTrack("video", track);
    this.grid.showSelf(stream, true);
    this.publish();
    return true;
  }

  stopShare() {
    if (!this.sharing) return false;
    const track = this.sharing;
    this.sharing = null;
    track.stop();
    this.mesh.screen = false;
    this.mesh.setTrack("video", this.cameraBeforeShare || null);
    this.grid.showSelf(this.stream, false);
    this.publish();
    return true;
  }

  /** Camera off stops the device (its light goes out, a phone saves power), not just the picture. */
  releaseCamera() {
    const track = this.mesh.tracks.video;
    if (!track || this.sharing) return;
    this.cameraId = track.getSettings ? track.getSettings().deviceId || null : null;
    track.stop();
    this.stream.removeTrack(track);
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
    if (current) this.stream.removeTrack(current);
    this.stream.addTrack(track);
    this.mesh.setTrack("video", track);
    this.grid.showSelf(this.stream);
  }

  setLowData(on) {
    this.mesh.setLowData(on);
    saveLowData(this.mesh.lowData);
    this.sync();
  }

  stop() {
    this.meter.stop();
    stopStream(this.stream);
    if (this.sharing) this.sharing.stop();
  }
}
