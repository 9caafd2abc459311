// Minutes (笔录) panel for the room page. Mediators write; every save is a new, ledgered version.
// Parties and others read the current version. Load it as a room module: it registers itself.
import { registerPanel } from "./panels.js";

const TXT = {
  save: ["保存", "Save"], saved: ["已保存 v", "Saved v"], saving: ["保存中…", "Saving…"],
  stale: ["笔录已被他人更新，已载入最新版本，请合并后再保存。", "Someone else saved a newer version; it is loaded — merge and save again."],
  empty: ["尚无笔录", "No minutes yet"], failed: ["保存失败：", "Save failed: "], refresh: ["刷新", "Refresh"],
  unsaved: ["有未保存的修改", "Unsaved changes"], none: ["笔录在会后提供", "The minutes are available after the session"],
};

function csrfToken(ctx) {
  if (ctx.config && ctx.config.csrf_token) return ctx.config.csrf_token;
  const m = document.querySelector('input[name="csrf_token"]');
  return m ? m.value : "";
}

registerPanel({
  id: "minutes",
  order: 40,
  title: ["笔录", "Minutes"],
  mount(el, ctx) {
    const tr = (k) => (ctx.lang === "en" ? TXT[k][1] : TXT[k][0]);
    const sid = ctx.config.session_id;
    const url = `/api/sessions/${sid}/minutes`;
    let version = 0;
    let dirty = false;
    el.innerHTML = `<div class="minutes-panel stack">
      <textarea class="minutes-edit" rows="14" aria-label="minutes"></textarea>
      <div class="row"><button type="button" class="btn btn-primary btn-sm minutes-save"></button>
        <button type="button" class="btn btn-sm minutes-refresh"></button><span class="small muted minutes-status"></span></div>
    </div>`;
    const area = el.querySelector(".minutes-edit");
    const saveBtn = el.querySelector(".minutes-save");
    const refreshBtn = el.querySelector(".minutes-refresh");
    const status = el.querySelector(".minutes-status");
    saveBtn.textContent = tr("save");
    refreshBtn.textContent = tr("refresh");

    const headers = () => {
      const h = { "Content-Type": "application/json" };
      if (ctx.token) h["X-Join-Token"] = ctx.token;
      const c = csrfToken(ctx);
      if (c) h["X-CSRF-Token"] = c;
      return h;
    };
    const editable = () => ctx.isModerator();

    async function load() {
      const r = await fetch(url, { credentials: "same-origin", headers: headers() });
      if (!r.ok) { status.textContent = tr("none"); area.value = ""; return; }
      const m = await r.json();
      version = m.version;
      if (!dirty) area.value = m.text;
      status.textContent = m.version ? `v${m.version} · ${m.author || ""}` : tr("empty");
    }

    async function save() {
      saveBtn.disabled = true;
      status.textContent = tr("saving");
      try {
        const r = await fetch(url, { method: "PUT", credentials: "same-origin", headers: headers(),
          body: JSON.stringify({ text: area.value, base_version: version }) });
        const body = await r.json();
        if (r.status === 409) { dirty = false; await load(); status.textContent = tr("stale"); return; }
        if (!r.ok) { status.textContent = tr("failed") + (body.error?.message || r.statusText); return; }
        version = body.version;
        dirty = false;
        status.textContent = tr("saved") + body.version;
      } finally {
        saveBtn.disabled = false;
      }
    }

    function applyRole() {
      area.readOnly = !editable();
      saveBtn.hidden = !editable();
    }
    area.addEventListener("input", () => { dirty = true; status.textContent = tr("unsaved"); });
    saveBtn.addEventListener("click", save);
    refreshBtn.addEventListener("click", () => { dirty = false; load(); });
    applyRole();
    load();
    const timer = setInterval(() => { if (!editable() || !dirty) load(); }, 15000);
    return { update: applyRole, unmount: () => clearInterval(timer) };
  },
});
