// Session record page: shows the playback job's progress and lets a host compose again.
import { csrfToken } from "/static/js/concord.js";
import { errorText, label, t } from "/static/js/i18n.js";

const box = document.getElementById("playback-status");
const bar = document.getElementById("playback-progress");
const state = document.getElementById("playback-state");
const btn = document.getElementById("playback-compose");


async function poll() {
  if (!box) return;
  const sid = box.dataset.session;
  try {
    const r = await fetch(`/api/sessions/${sid}/playback`, { credentials: "same-origin" });
    if (!r.ok) return;
    const job = await r.json();
    bar.value = job.status === "done" ? 1 : job.progress || 0;
    state.textContent = `${label("playback.", job.status, "")}${job.status === "running" ? " " + Math.round((job.progress || 0) * 100) + "%" : ""}${job.error ? " — " + errorText({ message: job.error }) : ""}`;
    if (job.status === "queued" || job.status === "running") setTimeout(poll, 1500);
  } catch (e) {
    setTimeout(poll, 5000);
  }
}

if (btn) {
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    const r = await fetch(`/api/sessions/${box.dataset.session}/playback`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() },
    });
    btn.disabled = false;
    if (!r.ok) { state.textContent = t("err.generic"); return; }
    poll();
  });
}
poll();
