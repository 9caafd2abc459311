// The moderator panel (hosts and mediators): lobby queue, per-person actions, floor, lock, recording.
// Every action is one protocol message; the server checks the role and answers with state updates
// (`room`, `peer-updated`, `peer-left`) that re-render this panel, or with `error` shown as a toast.

import { roleName, t } from "./i18n.js";
import { panels, registerPanel } from "./panels.js";
import { confirmDialog, el } from "./dom.js";
import { peerInfo, reconnectingText } from "./room-state.js";

const SUBROOM_MAX = 40;

function existingSubrooms(ctx) {
  const names = new Set();
  for (const p of [ctx.me, ...ctx.peers.values()]) {
    const s = peerInfo.subroom(p);
    if (s !== null) names.add(String(s));
  }
  for (const s of ctx.room.subrooms || []) {
    if (typeof s === "string") names.add(s);
    else if (s && s.name) names.add(String(s.name));
  }
  return [...names].sort();
}

/** Ask for a sub-room name: pick an existing one or type a new one. Resolves to a name or null. */
export function promptSubroom(ctx, person) {
  const existing = existingSubrooms(ctx);
  const suggestion = existing[0] || t("mod.subroom_default");
  const input = el("input", { type: "text", name: "subroom", maxlength: String(SUBROOM_MAX), required: true,
    value: suggestion, list: "subroom-names", "aria-label": t("mod.subroom_name") });
  const datalist = el("datalist", { id: "subroom-names" }, existing.map((n) => el("option", { value: n })));
  const quick = el("div", { class: "quick" }, existing.map((n) =>
    el("button", { type: "button", class: "secondary", onclick: () => { input.value = n; } }, n)));
  const dlg = el("dialog", { class: "confirm move-dialog" },
    el("form", { method: "dialog" },
      el("p", {}, t("mod.move_who", { name: person.name })),
      el("label", {}, t("mod.subroom_name"), input), datalist, quick,
      el("div", { class: "actions" },
        el("button", { value: "cancel", class: "secondary", formnovalidate: true }, t("common.cancel")),
        el("button", { value: "ok" }, t("mod.move")))));
  document.body.append(dlg);
  dlg.showModal();
  input.select();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      const name = input.value.trim().slice(0, SUBROOM_MAX);
      resolve(dlg.returnValue === "ok" && name ? name : null);
      dlg.remove();
    });
  });
}

function button(label, onclick, cls = "") {
  return el("button", { type: "button", class: `small ${cls}`.trim(), onclick }, label);
}

registerPanel({
  id: "moderate",
  order: 5,
  title: "mod.title",
  visible: (ctx) => ctx.isModerator(),
  mount(section, ctx) {
    const controls = el("div", { class: "mod-controls" });
    const lobbyTitle = el("h3", {}, t("mod.lobby"));
    const lobby = el("ul", { class: "lobby-queue", id: "lobby-queue" });
    const peopleTitle = el("h3", {}, t("room.people"));
    const people = el("ul", { class: "mod-people", id: "mod-people" });
    section.append(controls, lobbyTitle, lobby, peopleTitle, people);

    return {
      update() {
        if (!ctx.isModerator()) return;
        const room = ctx.room;
        const floor = room.floor ?? null;
        controls.replaceChildren(...[
          button(room.locked ? t("mod.unlock") : t("mod.lock"),
            () => ctx.send({ type: "lock", locked: !room.locked }), room.locked ? "on" : ""),
          button(room.recording ? t("mod.rec_stop") : t("mod.rec_start"),
            () => ctx.send({ type: "recording", on: !room.recording }), room.recording ? "rec on" : "rec"),
          floor !== null ? button(t("mod.floor_clear"), () => ctx.send({ type: "floor", peer: null })) : null,
          button(t("mod.end"), async () => {
            if (await confirmDialog(t("mod.end_confirm"), t("mod.end"))) ctx.send({ type: "end" });
          }, "danger end"),
        ].filter(Boolean));
        // Shuttle mediation: the mediator walks between the private rooms and the main room.
        const mine = peerInfo.subroom(ctx.me);
        const goto = el("div", { class: "mod-goto" },
          existingSubrooms(ctx).filter((n) => n !== mine).map((n) =>
            button(`${t("mod.enter")}${n}`, () => ctx.send({ type: "move", peer: ctx.me.id, subroom: n }), "goto")),
          mine !== null ? button(t("mod.back"), () => ctx.send({ type: "move", peer: ctx.me.id, subroom: null }), "goto back") : null);
        controls.append(goto);
        // Private rooms are not recorded unless the host names them (server: Room.is_recorded).
        if (room.recording) {
          const recorded = new Set(room.recording_subrooms || []);
          const subs = existingSubrooms(ctx);
          if (subs.length) {
            controls.append(el("div", { class: "mod-rec-subrooms" },
              el("span", { class: "hint" }, t("mod.rec_subrooms")),
              subs.map((n) => button(`${n}：${recorded.has(n) ? t("mod.rec_sub_on") : t("mod.rec_sub_off")}`, () => {
                const next = new Set(recorded);
                if (next.has(n)) next.delete(n);
                else next.add(n);
                ctx.send({ type: "recording", on: true, subrooms: [...next] });
              }, recorded.has(n) ? "rec-sub on" : "rec-sub"))));
          }
        }

        const waiting = [...ctx.lobby.values()];
        lobby.replaceChildren(...(waiting.length ? waiting.map((p) => el("li", { dataset: { peer: String(p.id) } },
          el("span", { class: "name" }, p.name),
          el("span", { class: "role" }, roleName(p.role, p.name)),
          el("span", { class: "actions" },
            button(t("mod.admit"), () => ctx.send({ type: "admit", peer: p.id }), "primary admit"),
            button(t("mod.deny"), () => ctx.send({ type: "deny", peer: p.id }), "danger deny")))) :
          [el("li", { class: "empty" }, t("mod.lobby_empty"))]));

        const rows = [];
        for (const p of ctx.peers.values()) {
          if (peerInfo.isRecorder(p) || peerInfo.inLobby(p)) continue;
          const sub = peerInfo.subroom(p);
          const hasFloor = floor !== null && String(floor) === String(p.id);
          rows.push(el("li", { dataset: { peer: String(p.id) } },
            el("div", { class: "who" },
              el("span", { class: "name" }, p.name),
              el("span", { class: "role" }, roleName(p.role, p.name)),
              sub !== null ? el("span", { class: "subroom" }, `${t("room.subroom")} · ${sub}`) : null,
              peerInfo.away(p) ? el("span", { class: "reconnecting" }, reconnectingText()) : null,
              peerInfo.hand(p) ? el("span", { class: "hand" }, t("room.hand_raised")) : null,
              peerInfo.consent(p) === false ? el("span", { class: "declined" }, t("rec.declined_short")) : null),
            el("div", { class: "actions" },
              button(t("mod.mute"), () => ctx.send({ type: "mute", peer: p.id, kind: "audio" }), "mute"),
              button(t("mod.stop_video"), () => ctx.send({ type: "mute", peer: p.id, kind: "video" }), "mute-video"),
              button(hasFloor ? t("mod.floor_clear") : t("mod.floor"),
                () => ctx.send({ type: "floor", peer: hasFloor ? null : p.id }), hasFloor ? "on floor" : "floor"),
              sub === null
                ? button(t("mod.move"), async () => {
                  const name = await promptSubroom(ctx, p);
                  if (name) ctx.send({ type: "move", peer: p.id, subroom: name });
                }, "move")
                : button(t("mod.back"), () => ctx.send({ type: "move", peer: p.id, subroom: null }), "back"),
              button(t("mod.remove"), async () => {
                if (await confirmDialog(`${t("mod.remove_confirm")}（${p.name}）`, t("mod.remove"))) {
                  ctx.send({ type: "remove", peer: p.id });
                }
              }, "danger remove"))));
        }
        people.replaceChildren(...rows);
      },
    };
  },
});

export { panels };
