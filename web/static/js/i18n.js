// The one translation system of the browser client, for every page and module.
//
// The language is the server's choice: server/i18n.py language_of() picks it (?lang=, the concord_lang
// cookie, zh-CN by default) and web/templates/base.html writes it on <html lang>. Scripts read it from there
// and never guess on their own. Messages live in one catalogue per language (i18n/zh-CN.js, i18n/en.js);
// t(key, vars) looks one up. Adding a message: docs/client.md.
import en from "./i18n/en.js";
import zhCN from "./i18n/zh-CN.js";

const CATALOGUES = { "zh-CN": zhCN, en };

// (Guarded: the unit tests import these modules in Node with a stub document, or none.)
export const lang = String(globalThis.document?.documentElement?.lang || "zh-CN").startsWith("en") ? "en" : "zh-CN";

/** The locale for dates and times on this page. */
export const locale = lang === "en" ? "en-GB" : "zh-CN";

/** The text for a key in the page language, its {placeholders} filled from vars. An unknown key comes back
 *  as the key itself (visible, not blank). */
export function t(key, vars = null) {
  let text = CATALOGUES[lang][key] ?? zhCN[key];
  if (text === undefined) return key;
  if (vars) for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export function has(key) {
  return key in CATALOGUES[lang] || key in zhCN;
}

/** t(prefix + code) when the catalogue knows the code, else the fallback (the code itself by default). */
export function label(prefix, code, fallback = code) {
  return has(`${prefix}${code}`) ? t(`${prefix}${code}`) : fallback;
}

// A kind's own names for the room roles (role.<kind>.<role>: a council's 召集人, 议事会成员, ...), and, where the
// room knows it, a person's own role by their name (a council member's 党员代表, 居民代表, 物业).
let roleKind = null;
const roleByName = new Map();
export function setRoleContext(kind, byName = null) {
  roleKind = kind || null;
  if (byName) {
    roleByName.clear();
    for (const [name, code] of Object.entries(byName)) roleByName.set(name, code);
  }
}

export function roleName(role, name = null) {
  if (roleKind) {
    const own = role === "party" && name !== null ? roleByName.get(name) : undefined;
    if (own && has(`role.${roleKind}.${own}`)) return t(`role.${roleKind}.${own}`);
    if (has(`role.${roleKind}.${role}`)) return t(`role.${roleKind}.${role}`);
  }
  return label("role.", role);
}

// One side of a bilingual "中文 / English" message (as server/i18n.py pick); other text unchanged.
const BILINGUAL = /^(.*[\u3400-\u9fff（）。].*?)\s+\/\s+([^\u3400-\u9fff]+)$/s;
export function pick(text) {
  const m = BILINGUAL.exec(text || "");
  if (!m) return text || "";
  return lang === "en" ? m[2].trim() : m[1].trim();
}

/** A server error as a sentence for people: known codes are translated, others keep the server's text
 *  (its display text for this page, else the page's side of a bilingual message). */
export function errorText(err) {
  if (!err) return "";
  if (err.code && has(`err.${err.code}`)) return t(`err.${err.code}`);
  if (err.display) return err.display;
  const text = pick(err.message || "");
  // A Chinese page shows no English: an untranslated server message becomes the generic sentence.
  if (!text || (lang !== "en" && !/[\u3400-\u9fff]/.test(text))) return t("err.generic");
  return text;
}

/** A time of day on the Beijing clock (times are stored in UTC). */
export function timeText(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai" });
}

/** A date and time on the Beijing clock, or "" for none. */
export function dateTimeText(iso, options = {}) {
  return iso ? new Date(iso).toLocaleString(locale, { timeZone: "Asia/Shanghai", ...options }) : "";
}
