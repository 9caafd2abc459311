// The signing links of the staff agreement page (agreement-staff.js): one per party, with its identity check
// (the last 4 of the ID number, or a one-time code told separately), a QR code, copy, text message and print.
import { api } from "/static/js/concord.js";
import { el } from "/static/js/dom.js";
import { dateTimeText, t } from "/static/js/i18n.js";

export function renderSignLinks(list, current, { id, onError }) {
  if (!list || list.dataset.filled) return;
  list.dataset.filled = "1";
  list.replaceChildren(...current.content.parties.map((p) => {
    const method = el("select", { class: "sl-method", name: "method" },
      el("option", { value: "id_last4", disabled: !p.id_number }, t("agreement.link_method_id_last4")),
      el("option", { value: "code" }, t("agreement.link_method_code")));
    method.value = p.id_number ? "id_last4" : "code";
    const make = el("button", { type: "button", class: "btn btn-sm sl-make" }, t("agreement.link_make"));
    const card = el("div", { class: "sl-result" });
    make.addEventListener("click", () => makeSignLink(id, current, p, method.value, card).catch(onError));
    const li = el("li", { class: "sl-party" }, el("strong", {}, p.name), " ", method, " ", make, card);
    li.dataset.party = p.key;
    return li;
  }));
}

async function makeSignLink(id, current, p, method, box) {
  const link = await api(`/api/agreements/${id}/sign-links`, { method: "POST", body: { party: p.key, method } });
  // Without CONCORD_PUBLIC_URL the link is a path: this browser's own address completes it.
  link.url = new URL(link.url, location.href).href;
  const qr = el("div", { class: "qr" });
  qr.innerHTML = link.qr_svg;  // an SVG the server drew from the URL alone
  const url = el("input", { class: "sl-url", readOnly: true, value: link.url });
  url.setAttribute("aria-label", t("agreement.link"));
  const copy = el("button", { type: "button", class: "btn btn-sm sl-copy no-print" }, t("agreement.link_copy"));
  copy.addEventListener("click", async () => {
    url.select();
    try { await navigator.clipboard.writeText(link.url); } catch { document.execCommand("copy"); }
    copy.textContent = t("common.copied");
  });
  const sms = el("a", { class: "btn btn-sm sl-sms no-print", href: `sms:${link.phone || ""}?body=${encodeURIComponent(link.sms_text)}` },
    t("agreement.link_sms"));
  const print = el("button", { type: "button", class: "btn btn-sm sl-print no-print" }, t("agreement.link_print"));
  const card = el("div", { class: "sign-link-card" },
    el("h4", {}, `${t("agreement.card_title")} ${current.number}`),
    el("p", {}, `${t("role.party")}：${link.name}`),
    qr,
    el("p", { class: "small" }, t("agreement.card_scan")),
    url,
    el("p", { class: "small" }, `${t("agreement.card_check")}：${link.method === "code"
      ? t("agreement.card_check_code")
      : t("agreement.card_check_id_last4")} · ${t("agreement.card_valid_until")} ${dateTimeText(link.expires_at, { hour12: false })}`),
    el("div", { class: "row no-print" }, copy, sms, print));
  if (link.code) {
    card.append(el("p", { class: "no-print" }, t("agreement.card_code_once"),
      el("strong", { class: "sl-code" }, link.code)));
  }
  card.dataset.party = p.key;
  print.addEventListener("click", () => {
    card.classList.add("print-target");
    document.body.classList.add("print-one");
    window.print();
    document.body.classList.remove("print-one");
    card.classList.remove("print-target");
  });
  box.replaceChildren(card);
}
