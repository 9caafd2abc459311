// Playback page: clicking a ledger event seeks the composite (and each track) to that moment.
import { label } from "/static/js/i18n.js";

const root = document.getElementById("playback");
const composite = document.getElementById("composite");
const tracks = [...document.querySelectorAll("video.track, audio.track")];
const items = [...document.querySelectorAll("#timeline .ev")];

function seek(offset) {
  if (composite) {
    composite.currentTime = Math.max(0, offset);
    composite.play().catch(() => {});
  }
  for (const t of tracks) {
    const local = offset - Number(t.dataset.offset || 0);
    if (local >= 0) t.currentTime = local;
  }
}

for (const el of items) {
  if (el.dataset.offset === "") continue;
  el.addEventListener("click", () => {
    seek(Number(el.dataset.offset));
    items.forEach((x) => x.classList.toggle("current", x === el));
  });
}

if (composite) {
  composite.addEventListener("timeupdate", () => {
    const now = composite.currentTime;
    let current = null;
    for (const el of items) if (el.dataset.offset !== "" && Number(el.dataset.offset) <= now) current = el;
    items.forEach((x) => x.classList.toggle("current", x === current));
  });
} else if (root) {
  const bar = document.getElementById("playback-progress");
  const state = document.getElementById("playback-state");
  const poll = async () => {
    const r = await fetch(`/api/sessions/${root.dataset.session}/playback`, { credentials: "same-origin" });
    if (!r.ok) return;
    const job = await r.json();
    if (bar) bar.value = job.progress || 0;
    if (state) state.textContent = label("playback.", job.status, "");
    if (job.status === "done") location.reload();
    else if (job.status === "queued" || job.status === "running") setTimeout(poll, 1500);
  };
  poll();
}
