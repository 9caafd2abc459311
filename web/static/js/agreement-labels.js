// Words for the codes that agreement pages would otherwise show: clause keys, and the refusals a party or
// staff member can meet (the API words its messages in English for scripts; people read these instead).
// The words are in the catalogues (i18n/*.js) under agreement.section.*, agreement.err.*, agreement.kind.*
// and agreement.method.*.
import { label, t } from "./i18n.js";

const SECTIONS = ["parties", "facts", "issues", "default_clause", "judicial_confirmation", "other_terms"];

// The visible words for an API error: a known code in the page's language, else the server's message.
export function errorText(err) {
  const fallback = (err && err.message) || String(err);
  return err && err.code ? label("agreement.err.", err.code, fallback) : fallback;
}

// [key, label] for every clause one can comment on: the sections, then each term by number and action.
export function clauseOptions(content) {
  const terms = (content.obligations || []).map((o, i) => [o.key, t("agreement.term", { n: i + 1, action: o.action })]);
  return [...SECTIONS.map((k) => [k, t(`agreement.section.${k}`)]), ...terms];
}

export function clauseLabel(key, content) {
  const hit = clauseOptions(content).find(([k]) => k === key);
  return hit ? hit[1] : key;
}

// "[第2版 · 违约责任] 张三：..." for a comment on a clause of an agreement.
export function commentText(c, content) {
  return t("agreement.comment", { v: c.version, clause: clauseLabel(c.clause, content), author: c.author, text: c.text });
}

// "张三（当事人 · 身份证号后四位）" for a signature of the API's detail view (slot "party:p1", check "id_last4").
export function signerText(sig) {
  const kind = label("agreement.kind.", (sig.slot || "").split(":")[0], sig.role);
  const method = sig.check ? label("agreement.method.", sig.check, "") : "";
  return `${sig.name}（${kind}${method ? " · " + method : ""}）`;
}
