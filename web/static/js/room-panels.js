// The panels view: the side sheet with one tab and section per registered panel (panels.js), which panel is
// open, and the two built-in panels (people, chat). Panels read the room through ctx (the RoomApp) and
// re-render on every change of the store.
import { $, el } from "./dom.js";
import { roleName, t, timeText } from "./i18n.js";
import { panelTitle, panels, registerPanel } from "./panels.js";
import { peerInfo, reconnectingText } from "./room-state.js";

export class PanelsView {
  constructor(root, store, ctx) {
    this.root = root;
    this.store = store;
    this.ctx = ctx;
    this.mounted = new Map(); // panel id -> {spec, tab, section, handle}
  }

  /** Mount every registered panel not mounted yet (late-loaded modules register after the start). */
  mount() {
    const tabs = $("#side-tabs", this.root);
    const body = $("#side-body", this.root);
    for (const spec of panels()) {
      if (this.mounted.has(spec.id)) continue;
      const tab = el("button", { type: "button", role: "tab", class: "tab", dataset: { panel: spec.id } }, panelTitle(spec));
      tab.addEventListener("click", () => this.ctx.openPanel(spec.id));
      const section = el("section", { class: "panel", id: `panel-${spec.id}`, role: "tabpanel", hidden: true });
      tabs.append(tab);
      body.append(section);
      let handle = null;
      try {
        handle = spec.mount(section, this.ctx) || null;
      } catch (e) {
        console.error(`panel ${spec.id} failed to mount`, e);
      }
      this.mounted.set(spec.id, { spec, tab, section, handle });
    }
    // Keep tab order equal to registration order by `order`.
    for (const spec of panels()) tabs.append(this.mounted.get(spec.id).tab);
  }

  /** Show the open panel (store.openPanelId) or close the sheet. */
  renderOpen() {
    const id = this.store.openPanelId;
    $("#side", this.root).hidden = id === null;
    this.root.classList.toggle("panel-open", id !== null);
    for (const [pid, m] of this.mounted) {
      m.section.hidden = pid !== id;
      m.tab.setAttribute("aria-selected", pid === id ? "true" : "false");
    }
    if (id === "chat") $("#chat-input", this.root)?.focus({ preventScroll: true });
  }

  render() {
    for (const m of this.mounted.values()) {
      const visible = m.spec.visible ? !!m.spec.visible(this.ctx) : true;
      m.tab.hidden = !visible;
      // A panel this participant may not see has no control-bar button either (e.g. minutes for a party
      // without access).
      if (m.spec.visible) for (const b of this.root.querySelectorAll(`.ctl[data-open-panel="${m.spec.id}"]`)) b.hidden = !visible;
      if (!visible && this.store.openPanelId === m.spec.id) this.ctx.openPanel(null);
      if (m.handle && typeof m.handle.update === "function") {
        try { m.handle.update(this.ctx); } catch (e) { console.error(`panel ${m.spec.id}`, e); }
      }
    }
  }

  /** A chat message arrived: add it to the log when the chat panel is mounted. */
  chat(entry) {
    const list = $("#chat-log", this.root);
    if (!list) return;
    list.append(chatItem(entry, this.store.me.id));
    list.scrollTop = list.scrollHeight;
  }
}

function chatItem(entry, myId) {
  const mine = entry.from === myId;
  return el("li", { class: mine ? "mine" : "" },
    el("span", { class: "who" }, mine ? t("room.you") : entry.name),
    el("time", {}, timeText(entry.at)),
    el("p", {}, entry.text));
}

const subroomName = (key) => (key === null ? t("room.main") : `${t("room.subroom")} · ${key}`);

// ---- built-in panels: people and chat ---------------------------------------------------------------
registerPanel({
  id: "people",
  order: 10,
  title: "room.people",
  mount(section, ctx) {
    const list = el("ul", { class: "people" });
    section.append(list);
    return {
      update() {
        const rows = [];
        const groups = new Map();
        for (const p of [ctx.me, ...ctx.peers.values()]) {
          if (peerInfo.isRecorder(p)) continue;
          const key = peerInfo.subroom(p);
          if (!groups.has(key)) groups.set(key, []);
          groups.get(key).push(p);
        }
        const keys = [...groups.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : String(a).localeCompare(String(b))));
        for (const key of keys) {
          if (groups.size > 1 || key !== null) rows.push(el("li", { class: "group" }, subroomName(key)));
          for (const p of groups.get(key)) {
            const me = p === ctx.me;
            rows.push(el("li", { dataset: { peer: String(p.id) } },
              el("span", { class: "name" }, me ? `${p.name}（${t("room.you")}）` : p.name),
              el("span", { class: "role" }, roleName(p.role, p.name)),
              !me && peerInfo.away(p) ? el("span", { class: "reconnecting" }, reconnectingText()) : null,
              (me ? ctx.handRaised : peerInfo.hand(p)) ? el("span", { class: "hand" }, t("room.hand_raised")) : null));
          }
        }
        list.replaceChildren(...rows);
      },
    };
  },
});

registerPanel({
  id: "chat",
  order: 20,
  title: "room.chat",
  mount(section, ctx) {
    const log = el("ol", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
    const input = el("input", { id: "chat-input", type: "text", maxlength: "2000", autocomplete: "off",
      placeholder: t("room.chat_placeholder"), "aria-label": t("room.chat") });
    const form = el("form", { class: "chat-form" }, input, el("button", { type: "submit" }, t("room.send")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (ctx.sendChat(input.value)) input.value = "";
    });
    section.append(log, form);
    for (const entry of ctx.chatLog) log.append(chatItem(entry, ctx.me.id));
  },
});
