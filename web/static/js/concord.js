// Shared browser helpers (ES module, no build step). Import from page scripts:
//   import { api } from "/static/js/concord.js";
//   const data = await api("/api/units");                      // GET
//   await api("/api/sessions", { method: "POST", body: {...} }); // JSON body, CSRF header added
// Calls use the session cookie; a change (POST/PUT/PATCH/DELETE) must carry the CSRF token from
// <meta name="csrf-token">, which api() adds. Errors throw ApiError with the server's code and a message in
// the page's language: api() sends X-Concord-Lang, and the server adds error.display (server/i18n.py).
// Words for people come from i18n.js (t(key)), the one translation system of the client.
import { lang, pick } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function csrfToken() {
  const node = document.querySelector('meta[name="csrf-token"]') || document.querySelector('input[name="csrf_token"]');
  return node ? node.content || node.value || "" : "";
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const opts = {
    method, credentials: "same-origin",
    headers: { Accept: "application/json", "X-Concord-Lang": lang, ...headers },
  };
  if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    if (body instanceof FormData || body instanceof Blob) {
      opts.body = body;
    } else {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
  }
  const resp = await fetch(path, opts);
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("application/json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(resp.status, err.code || "error", err.display || pick(err.message || resp.statusText));
  }
  return data;
}

// Buttons marked data-print print the page (no inline onclick: the Content-Security-Policy forbids it).
// (Guarded: the unit tests import this module in Node with a stub document.)
globalThis.document?.addEventListener?.("click", (e) => {
  if (e.target instanceof Element && e.target.closest("[data-print]")) window.print();
});
