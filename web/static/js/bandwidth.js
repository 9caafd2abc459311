// The sending budget of a mesh: every remote peer gets its own copy of our video, so a phone on a weak
// uplink splits what it has between them, and audio always goes first (a mediation survives a frozen
// picture, not a broken voice). Low-data mode (省流量) sends a quarter-size, 15 fps picture.

export const BUDGET_KBPS = { normal: 1500, low: 300 };
export const PER_LINK_KBPS = { min: 100, max: 1200 };
// Low-data mode is suggested when most links have been poor for this many stats samples in a row.
export const POOR_SAMPLES = 5;

/** Video encoding limits for one link, given how many links share the uplink. */
export function videoLimits(links, lowData) {
  const total = lowData ? BUDGET_KBPS.low : BUDGET_KBPS.normal;
  const kbps = Math.max(PER_LINK_KBPS.min, Math.min(PER_LINK_KBPS.max, Math.floor(total / Math.max(1, links))));
  return {
    maxBitrate: kbps * 1000,
    maxFramerate: lowData ? 15 : 30,
    scaleResolutionDownBy: lowData ? 2 : 1,
  };
}

/**
 * Apply limits to a connection's senders. Senders not negotiated yet (no encodings) are skipped; the
 * mesh applies again when the link connects. A shared screen keeps its resolution (text must stay
 * legible) and drops frames instead.
 */
export async function applyLimits(pc, limits, { screen = false } = {}) {
  for (const tr of pc.getTransceivers()) {
    const kind = tr.receiver.track && tr.receiver.track.kind;
    if (!kind || tr.direction === "stopped" || tr.direction === "inactive") continue;
    const params = tr.sender.getParameters();
    if (!params.encodings || !params.encodings.length) continue;
    const enc = params.encodings[0];
    if (kind === "audio") {
      enc.priority = "high";
      enc.networkPriority = "high";
    } else {
      Object.assign(enc, limits, screen ? { scaleResolutionDownBy: 1 } : {});
      enc.priority = "low";
      params.degradationPreference = screen ? "maintain-resolution" : "balanced";
    }
    try {
      await tr.sender.setParameters(params);
    } catch {
      // A browser that refuses the degradation preference still takes the limits; a renegotiation that
      // raced us (stale parameters) is caught up by the next change.
      if (!params.degradationPreference) continue;
      delete params.degradationPreference;
      await tr.sender.setParameters(params).catch(() => {});
    }
  }
}

/** Watches link quality and says once when low-data mode would help. Plain logic, fed by the stats poll. */
export class PoorNetworkWatch {
  constructor(samples = POOR_SAMPLES) {
    this.samples = samples;
    this.streak = 0;
    this.suggested = false;
  }

  /** `qualities`: one of "good" | "fair" | "poor" | "connecting" per link. True the first time it trips. */
  feed(qualities) {
    const rated = qualities.filter((q) => q !== "connecting");
    const poor = rated.filter((q) => q === "poor").length;
    this.streak = rated.length && poor * 2 > rated.length ? this.streak + 1 : 0;
    if (this.streak >= this.samples && !this.suggested) {
      this.suggested = true;
      return true;
    }
    return false;
  }
}
