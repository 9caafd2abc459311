// Side panels of the room page. Built-in panels (people, chat, moderation) and feature panels
// (minutes 笔录, agreement review) all register here, so a feature adds a module without editing room.js:
//
//   import { registerPanel } from "/static/js/panels.js";
//   registerPanel({
//     id: "minutes", order: 40, title: "minutes.title",   // a message key of i18n/zh-CN.js and en.js
//     visible: (ctx) => ctx.isModerator(),          // optional; re-checked when roles or room change
//     mount(el, ctx) { ... return { update(ctx) {}, unmount() {} }; },  // return value optional
//   });
//
// `ctx` is the RoomApp from room.js: ctx.me, ctx.peers, ctx.room (read from its store), ctx.send(msg),
// ctx.on(type, fn) for any server message type (including ones your feature adds), ctx.t, ctx.lang,
// ctx.config (the page's JSON config), ctx.toast(text), ctx.openPanel(id), ctx.setBadge(id, text),
// ctx.refresh() (render every view again). Built-in panels: room-panels.js; docs/client.md.

import { t } from "./i18n.js";

const registry = new Map();
const listeners = new Set();

export function registerPanel(spec) {
  if (!spec || !spec.id || typeof spec.mount !== "function") throw new Error("registerPanel needs id and mount()");
  registry.set(spec.id, { order: 50, ...spec });
  for (const fn of listeners) fn(registry.get(spec.id));
}

export function panels() {
  return [...registry.values()].sort((a, b) => a.order - b.order);
}

/** Called by the room when a panel registers after the room started (late-loaded modules). */
export function onRegister(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** A panel's title is a message key of the catalogues (i18n/*.js). */
export function panelTitle(spec) {
  return t(spec.title || spec.id);
}
