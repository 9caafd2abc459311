// Cameras and microphones: acquiring them with clear errors, listing them, and measuring mic level.

import { t } from "./i18n.js";

export const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 24 } };
export const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Why media failed, as a key of i18n.js ("prejoin.denied", ...). */
export function mediaErrorKey(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "prejoin.denied";
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "prejoin.notfound";
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return "prejoin.busy";
  if (name === "TypeError" && !window.isSecureContext) return "prejoin.insecure";
  return "prejoin.unsupported";
}

export function mediaSupported() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.RTCPeerConnection);
}

/**
 * Get a camera and microphone, falling back to whatever exists: a laptop without a camera, or a
 * person who only allows the microphone, can still join by voice.
 * Returns {stream, problems: [i18n keys], audio: bool, video: bool}.
 */
export async function acquire({ audioId = null, videoId = null, wantVideo = true, wantAudio = true } = {}) {
  if (!mediaSupported()) {
    return { stream: null, problems: [window.isSecureContext ? "prejoin.unsupported" : "prejoin.insecure"], audio: false, video: false };
  }
  const audio = wantAudio ? { ...AUDIO_CONSTRAINTS, ...(audioId ? { deviceId: { exact: audioId } } : {}) } : false;
  const video = wantVideo ? { ...VIDEO_CONSTRAINTS, ...(videoId ? { deviceId: { exact: videoId } } : {}) } : false;
  const problems = [];
  if (!audio && !video) return { stream: new MediaStream(), problems, audio: false, video: false };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio, video });
    return { stream, problems, audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 };
  } catch (err) {
    problems.push(mediaErrorKey(err));
  }
  // One kind alone may still work (no camera, or the camera is busy).
  const stream = new MediaStream();
  for (const [kind, c] of [["audio", audio], ["video", video]]) {
    if (!c) continue;
    try {
      const s = await navigator.mediaDevices.getUserMedia({ [kind]: c });
      for (const tr of s.getTracks()) stream.addTrack(tr);
    } catch (err) {
      const key = mediaErrorKey(err);
      if (!problems.includes(key)) problems.push(key);
    }
  }
  const hasAudio = stream.getAudioTracks().length > 0;
  const hasVideo = stream.getVideoTracks().length > 0;
  // Partial success: the first error was about the pair; keep only what still applies.
  return { stream, problems: hasAudio && hasVideo ? [] : problems, audio: hasAudio, video: hasVideo };
}

/** Cameras and microphones, after permission (labels are empty before it). */
export async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { cameras: [], mics: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === "videoinput"),
    mics: all.filter((d) => d.kind === "audioinput"),
  };
}

export function fillSelect(select, devices, currentId, noneKey) {
  select.replaceChildren();
  if (!devices.length) {
    const o = new Option(t(noneKey), "");
    select.add(o);
    select.disabled = true;
    return;
  }
  select.disabled = false;
  devices.forEach((d, i) => {
    const o = new Option(d.label || `${t("prejoin.device")} ${i + 1}`, d.deviceId);
    if (d.deviceId === currentId) o.selected = true;
    select.add(o);
  });
}

let sharedContext = null;

function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!sharedContext || sharedContext.state === "closed") sharedContext = new Ctx();
  if (sharedContext.state === "suspended") sharedContext.resume().catch(() => {});
  return sharedContext;
}

/** Live level (0..1) of the audio in a stream, from WebAudio; call stop() when done. */
export class LevelMeter {
  constructor(stream) {
    this.level = 0;
    this.ctx = audioContext();
    this.source = null;
    if (!this.ctx || !stream || !stream.getAudioTracks().length) return;
    this.source = this.ctx.createMediaStreamSource(stream);
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 512;
    this.buf = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  read() {
    if (!this.source) return 0;
    this.analyser.getFloatTimeDomainData(this.buf);
    let sum = 0;
    for (const v of this.buf) sum += v * v;
    const rms = Math.sqrt(sum / this.buf.length);
    // Map roughly -60..0 dBFS onto 0..1 and smooth so the bar does not flicker.
    const db = 20 * Math.log10(rms || 1e-8);
    const instant = Math.min(1, Math.max(0, (db + 60) / 60));
    this.level = Math.max(instant, this.level * 0.85);
    return this.level;
  }

  stop() {
    if (this.source) {
      try { this.source.disconnect(); } catch { /* gone */ }
    }
    this.source = null;
  }
}

export function stopStream(stream) {
  if (stream) for (const tr of stream.getTracks()) tr.stop();
}
