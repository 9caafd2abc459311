// Minutes (笔录) panel for the room page. Mediators write; every save is a new, ledgered version.
// Others read the current version while admitted. Load it as a room module: it registers itself.
//
// Nothing is fetched before the room welcomes us (a party in the lobby may not read). The first answer
// decides: refused (401/403/404) means this participant has no access, so the tab goes and no poll runs.
import { csrfToken } from "./concord.js";
import { errorText, t } from "./i18n.js";
import { registerPanel } from "./panels.js";

const POLL_MS = 15000;
// Answers that mean "not for you": stop asking.
const NO_ACCESS = new Set([401, 403, 404]);

const csrf = (ctx) => (ctx.config && ctx.config.csrf_token) || csrfToken();

// Per room page: null (not asked yet), true (readable) or false (refused: no tab).
const state = { access: null };

registerPanel({
  id: "minutes",
  order: 40,
  title: "minutes.title",
  visible: (ctx) => !!ctx.me.id && state.access === true,
  mount(el, ctx) {
    const msg = (k) => t(`minutes.${k}`);
    const url = `/api/sessions/${ctx.config.session_id}/minutes`;
    let version = 0;
    let dirty = false;
    let timer = null;
    el.innerHTML = `<div class="minutes-panel">
      <p class="minutes-hint"></p>
      <textarea id="minutes-edit" class="minutes-edit" rows="14"></textarea>
      <div id="minutes-view" class="minutes-view" tabindex="0"></div>
      <div class="minutes-actions"><button type="button" class="small primary minutes-save"></button>
        <button type="button" class="small minutes-refresh"></button><span class="minutes-status" role="status"></span></div>
    </div>`;
    const hint = el.querySelector(".minutes-hint");
    const area = el.querySelector(".minutes-edit");
    const view = el.querySelector(".minutes-view");
    const saveBtn = el.querySelector(".minutes-save");
    const refreshBtn = el.querySelector(".minutes-refresh");
    const status = el.querySelector(".minutes-status");
    area.setAttribute("aria-label", msg("label"));
    view.setAttribute("aria-label", msg("label"));
    saveBtn.textContent = msg("save");
    refreshBtn.textContent = msg("refresh");

    const headers = () => {
      const h = { "Content-Type": "application/json" };
      if (ctx.token) h["X-Join-Token"] = ctx.token;
      const c = csrf(ctx);
      if (c) h["X-CSRF-Token"] = c;
      return h;
    };
    const editable = () => ctx.isModerator();

    function stop() {
      clearInterval(timer);
      timer = null;
    }

    async function load() {
      let r;
      try {
        r = await fetch(url, { credentials: "same-origin", headers: headers() });
      } catch {
        return; // offline for a moment: the next poll tries again
      }
      if (NO_ACCESS.has(r.status)) {
        state.access = false;
        stop();
        ctx.refresh();
        return;
      }
      if (!r.ok) return;
      const m = await r.json();
      const first = state.access !== true;
      state.access = true;
      version = m.version;
      if (!dirty) area.value = m.text;
      view.textContent = m.text || msg("empty");
      view.classList.toggle("empty", !m.text);
      status.textContent = m.version ? `v${m.version} · ${msg("by")}${m.author || ""}` : msg("empty");
      if (first) ctx.refresh();
    }

    async function save() {
      saveBtn.disabled = true;
      status.textContent = msg("saving");
      try {
        const r = await fetch(url, { method: "PUT", credentials: "same-origin", headers: headers(),
          body: JSON.stringify({ text: area.value, base_version: version }) });
        const body = await r.json();
        if (r.status === 409) { dirty = false; await load(); status.textContent = msg("stale"); return; }
        if (!r.ok) { status.textContent = msg("failed") + (errorText(body.error) || r.statusText); return; }
        version = body.version;
        dirty = false;
        status.textContent = msg("saved") + body.version;
      } finally {
        saveBtn.disabled = false;
      }
    }

    function applyRole() {
      const write = editable();
      area.hidden = !write;
      view.hidden = write;
      saveBtn.hidden = !write;
      hint.textContent = write ? msg("hint_write") : msg("hint_read");
    }

    // Welcomed (again, after a reconnect or an admission): ask once, and poll only if we may read.
    function begin() {
      if (state.access === false) return;
      load();
      if (timer === null) timer = setInterval(() => { if (!editable() || !dirty) load(); }, POLL_MS);
    }
    ctx.on("welcome", begin);
    ctx.on("finished", stop);
    area.addEventListener("input", () => { dirty = true; status.textContent = msg("unsaved"); });
    saveBtn.addEventListener("click", save);
    refreshBtn.addEventListener("click", () => { dirty = false; load(); });
    applyRole();
    if (ctx.me.id) begin(); // mounted after the welcome
    return { update: applyRole, unmount: stop };
  },
});
