// The stats view: once a second the getStats sample of the mesh (or of the SFU's receiving connection) gives each tile its quality badge and picks the
// active speaker; five times a second our microphone level moves the bar on the microphone button. A
// network that stays poor switches low-data mode on by itself (villagers will not look for a setting).
import { $ } from "./dom.js";
import { PoorNetworkWatch } from "./bandwidth.js";

const STATS_EVERY_MS = 1000;
const LEVEL_EVERY_MS = 200;
const SPEAKING_LEVEL = 0.02; // getStats audioLevel is linear 0..1; speech sits well above this

export class StatsView {
  /**
   * @param {{root: HTMLElement, mesh: object, sfu?: object, grid: object, media: object,
   *          welcomed: () => boolean, onPoorNetwork: () => void}} opts
   */
  constructor({ root, mesh, sfu = null, grid, media, welcomed, onPoorNetwork }) {
    Object.assign(this, { root, mesh, sfu, grid, media, welcomed, onPoorNetwork });
    this.stats = {};
    this.poorWatch = new PoorNetworkWatch();
    this.timers = [];
  }

  start() {
    this.timers.push(setInterval(() => this.poll(), STATS_EVERY_MS));
    this.timers.push(setInterval(() => this.localLevel(), LEVEL_EVERY_MS));
  }

  stop() {
    for (const id of this.timers) clearInterval(id);
    this.timers = [];
  }

  async poll() {
    if (!this.welcomed() && !this.mesh.links.size) return;
    this.stats = await (this.sfu && this.sfu.active ? this.sfu : this.mesh).sample();
    let loudest = null;
    let level = SPEAKING_LEVEL;
    for (const [peerId, s] of Object.entries(this.stats)) {
      const key = this.grid.key(peerId);
      this.grid.quality(key, s.quality, s.frameWidth);
      if (s.audioLevel > level) {
        level = s.audioLevel;
        loudest = key;
      }
    }
    const meter = this.media.meter;
    const audio = this.mesh.tracks.audio;
    if (meter.level > 0.35 && audio && audio.enabled && meter.level > level * 10) loudest = loudest ?? "self";
    this.grid.setSpeaker(loudest);
    if (!this.mesh.lowData && this.poorWatch.feed(Object.values(this.stats).map((s) => s.quality))) this.onPoorNetwork();
  }

  localLevel() {
    const level = this.media.meter.read();
    const bar = $("#btn-mic .level", this.root);
    if (bar) bar.style.setProperty("--level", String(level));
  }
}
