// Small DOM helpers of the room page: build elements, find one, ask a yes/no question, show a toast.
import { t } from "./i18n.js";

/** el("button", {class: "x", onclick: fn, dataset: {peer: "1"}}, "text", child, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** A modal question; resolves true for OK. */
export async function confirmDialog(text, okText, cancelText) {
  const dlg = el("dialog", { class: "confirm" },
    el("p", {}, text),
    el("form", { method: "dialog", class: "actions" },
      el("button", { value: "cancel", class: "secondary" }, cancelText || t("common.cancel")),
      el("button", { value: "ok", class: "danger" }, okText || t("common.ok"))));
  document.body.append(dlg);
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "ok");
      dlg.remove();
    });
  });
}

/** A short message in the toast box of `root`; at most three at a time (never a wall over the video). */
export function toast(root, text, { kind = "info", action = null, onAction = null } = {}) {
  const box = $("#toasts", root) || document.body;
  while (box.children.length >= 3) box.firstElementChild.remove();
  const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", {}, text));
  if (action && onAction) {
    item.append(el("button", { type: "button", onclick: () => { onAction(); item.remove(); } }, action));
  }
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Toggle aria-pressed. */
export function pressed(node, on) {
  node.setAttribute("aria-pressed", on ? "true" : "false");
}
