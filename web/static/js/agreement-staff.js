// The staff workspace for one agreement: text, signatures, versions and diffs, the draft editor,
// freezing, the mediator's signature, the seal, comments and performance.
import { api } from "/static/js/concord.js";
import { dateTimeText, label, t } from "/static/js/i18n.js";
import { SignaturePad } from "/static/js/signature-pad.js";
import { clauseOptions, commentText, errorText, signerText } from "/static/js/agreement-labels.js";
import { renderSignLinks } from "/static/js/agreement-sign-links.js";

const root = document.getElementById("agreement");
const id = root.dataset.id;
const $ = (sel) => document.querySelector(sel);
let current = null;
// Stored in UTC, shown on the Beijing clock.
const when = (iso) => dateTimeText(iso, { hour12: false });

function showError(err) {
  const box = $("#error");
  box.hidden = false;
  box.textContent = errorText(err);
  box.scrollIntoView({ block: "center" });
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k in e) e[k] = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function load() {
  current = await api(`/api/agreements/${id}`);
  $("#doc-text").textContent = current.text;
  $("#short-hash").textContent = current.short_hash;
  $("#version-no").textContent = current.version;
  const sigs = $("#signatures");
  sigs.replaceChildren(...current.signatures.map((s) => el("li", {}, `${signerText(s)} ${when(s.at)}`)));
  $("#missing").textContent = current.missing.length
    ? t("agreement.still_to_sign") + current.missing.map((m) => m.name).join("、") : "";
  renderComments();
  renderSignLinks($("#sign-link-parties"), current, { id, onError: showError });
  fillEditor();
  await loadVersions();
  if ($("#perf-rows")) await loadPerformance();
}

function renderComments() {
  const box = $("#comments");
  box.replaceChildren(...current.comments.map((c) => el("div", { class: "comment" },
    commentText(c, current.content))));
  const sel = $("#c-clause");
  sel.replaceChildren(...clauseOptions(current.content).map(([k, label]) => el("option", { value: k }, label)));
}

async function loadVersions() {
  const { versions } = await api(`/api/agreements/${id}/versions`);
  const list = $("#versions");
  list.replaceChildren(...versions.map((v) => {
    const li = el("li", {}, `v${v.version} · ${v.short_hash} · ${when(v.created_at)}${v.note ? " · " + v.note : ""} `);
    if (v.version > 1) {
      const b = el("button", { class: "btn btn-sm btn-ghost", type: "button" }, t("agreement.diff_with_previous"));
      b.addEventListener("click", () => showDiff(v.version - 1, v.version));
      li.append(b);
    }
    return li;
  }));
}

async function showDiff(a, b) {
  const d = await api(`/api/agreements/${id}/diff?from=${a}&to=${b}`);
  $("#diff").replaceChildren(
    el("h3", {}, `v${a} → v${b}`),
    el("ul", {}, ...d.changes.map((c) => el("li", {}, c.summary))),
    el("pre", { class: "diff" }, d.text_diff));
}

// ---- draft editor ----------------------------------------------------------------------------
function partyRow(p = {}) {
  const tr_ = el("tr");
  tr_.dataset.key = p.key || `p${Date.now() % 100000}`;
  const cell = (name, value, type = "text") => {
    const i = el("input", { name, type });
    if (type === "checkbox") i.checked = !!value; else i.value = value || "";
    return el("td", {}, i);
  };
  // A masked ID from the view is kept as is by leaving the field empty-untouched: the server needs the full number.
  tr_.append(cell("name", p.name), cell("id_number", ""), cell("phone", p.phone), cell("address", p.address),
    cell("confidential", p.confidential, "checkbox"));
  tr_.querySelector("[name=id_number]").placeholder = p.id_number || "";
  const del = el("button", { type: "button", class: "btn btn-sm btn-ghost" }, "✕");
  del.addEventListener("click", () => { tr_.remove(); refreshPartySelects(); });
  tr_.append(el("td", {}, del));
  return tr_;
}

function partyOptions() {
  return [...document.querySelectorAll("#parties tbody tr")].map((r) =>
    [r.dataset.key, r.querySelector("[name=name]").value || r.dataset.key]);
}

function refreshPartySelects() {
  for (const sel of document.querySelectorAll("#obligations select[name=obligor], #obligations select[name=obligee]")) {
    const v = sel.value;
    sel.replaceChildren(...partyOptions().map(([k, n]) => el("option", { value: k }, n)));
    sel.value = v;
  }
}

const KINDS = ["payment", "action", "abstention", "restoration"];

function obligationRow(o = {}) {
  const row = el("tr");
  row.dataset.key = o.key || `t${Date.now() % 100000}`;
  const sel = (name, value) => {
    const s = el("select", { name });
    s.replaceChildren(...partyOptions().map(([k, n]) => el("option", { value: k }, n)));
    s.value = value || "";
    return el("td", {}, s);
  };
  const inp = (name, value, type = "text") => { const i = el("input", { name, type }); i.value = value || ""; return el("td", {}, i); };
  // The kind decides how the term is phrased (server/agreements/text.py); older terms have none and read as
  // a payment when they carry an amount.
  const kind = el("select", { name: "kind" });
  kind.replaceChildren(...KINDS.map((k) => el("option", { value: k }, t(`agreement.kind_${k}`))));
  kind.value = o.kind || (o.amount ? "payment" : "action");
  row.append(el("td", {}, kind), sel("obligor", o.obligor), sel("obligee", o.obligee), inp("action", o.action), inp("amount", o.amount),
    inp("method", o.method), inp("place", o.place), inp("deadline", o.deadline, "date"));
  const del = el("button", { type: "button", class: "btn btn-sm btn-ghost" }, "✕");
  del.addEventListener("click", () => row.remove());
  row.append(el("td", {}, del));
  return row;
}

function fillEditor() {
  const f = $("#draft-form");
  if (!f || f.dataset.filled) return;
  f.dataset.filled = "1";
  const c = current.content;
  f.dispute_type.value = c.dispute_type;
  $("#parties tbody").replaceChildren(...c.parties.map(partyRow));
  $("#obligations tbody").replaceChildren(...c.obligations.map(obligationRow));
  f.facts.value = c.facts;
  f.issues.value = c.issues.join("\n");
  f.other_terms.value = c.other_terms.join("\n");
  f.default_clause.value = c.default_clause;
  f.judicial_confirmation.checked = c.judicial_confirmation;
  f.mediator_name.value = c.mediator_name;
  f.place.value = c.place;
  $("#parties").addEventListener("input", refreshPartySelects);
  $("#add-party").addEventListener("click", () => { $("#parties tbody").append(partyRow()); refreshPartySelects(); });
  $("#add-obligation").addEventListener("click", () => $("#obligations tbody").append(obligationRow()));
  f.addEventListener("submit", (e) => { e.preventDefault(); saveDraft().catch(showError); });
  $("#freeze").addEventListener("click", () => freeze().catch(showError));
}

function draftContent() {
  const f = $("#draft-form");
  const lines = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);
  const old = Object.fromEntries(current.content.parties.map((p) => [p.key, p]));
  const parties = [...document.querySelectorAll("#parties tbody tr")].map((r) => {
    const v = (n) => r.querySelector(`[name=${n}]`);
    return { key: r.dataset.key, name: v("name").value, id_number: v("id_number").value || null,
      phone: v("phone").value, address: v("address").value, confidential: v("confidential").checked,
      keep_id: !v("id_number").value && !!(old[r.dataset.key] || {}).id_number };
  });
  const obligations = [...document.querySelectorAll("#obligations tbody tr")].map((r) => {
    const v = (n) => r.querySelector(`[name=${n}]`).value;
    return { key: r.dataset.key, kind: v("kind"), obligor: v("obligor"), obligee: v("obligee"), action: v("action"), amount: v("amount"),
      method: v("method"), place: v("place"), deadline: v("deadline") };
  });
  return { dispute_type: f.dispute_type.value, parties, obligations, facts: f.facts.value, issues: lines(f.issues.value),
    other_terms: lines(f.other_terms.value), default_clause: f.default_clause.value,
    judicial_confirmation: f.judicial_confirmation.checked, mediator_name: f.mediator_name.value, place: f.place.value };
}

async function saveDraft() {
  const f = $("#draft-form");
  current = await api(`/api/agreements/${id}/draft`, { method: "PUT",
    body: { base_version: current.version, content: draftContent(), note: f.note.value } });
  f.note.value = "";
  $("#error").hidden = true;
  await load();
}

async function freeze() {
  await saveDraft();
  await api(`/api/agreements/${id}/freeze`, { method: "POST", body: { version: current.version } });
  location.reload();
}

// ---- signing -------------------------------------------------------------------------------------
const mform = $("#mediator-form");
if (mform) {
  const pad = new SignaturePad($("#mediator-pad"));
  $("#mediator-clear").addEventListener("click", () => pad.clear());
  mform.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (pad.isEmpty()) return showError(new Error(t("agreement.sign_by_hand_first")));
    try {
      await api(`/api/agreements/${id}/sign/mediator`, { method: "POST", body: {
        version: current.version, document_hash: current.document_hash, consent: mform.consent.checked,
        typed_name: mform.typed_name.value, password: mform.password.value, image: pad.toDataURL() } });
      location.reload();
    } catch (err) { showError(err); }
  });
}
const sform = $("#seal-form");
if (sform) sform.addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api(`/api/agreements/${id}/seal`, { method: "POST", body: {
      version: current.version, document_hash: current.document_hash, consent: sform.consent.checked,
      password: sform.password.value } });
    location.reload();
  } catch (err) { showError(err); }
});
$("#reopen")?.addEventListener("click", () => api(`/api/agreements/${id}/reopen`, { method: "POST" })
  .then(() => location.reload(), showError));
$("#amend")?.addEventListener("click", () => api(`/api/agreements/${id}/amend`, { method: "POST" })
  .then((a) => { location.href = `/agreements/${a.id}`; }, showError));
for (const b of document.querySelectorAll("[data-close]")) {
  b.addEventListener("click", async () => {
    const reason = prompt(t("agreement.give_reason"));
    if (!reason) return;
    api(`/api/agreements/${id}/${b.dataset.close}`, { method: "POST", body: { reason } })
      .then(() => location.reload(), showError);
  });
}
$("#comment-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  try {
    await api(`/api/agreements/${id}/comments`, { method: "POST",
      body: { version: current.version, clause: f.clause.value, text: f.text.value } });
    f.text.value = "";
    await load();
  } catch (err) { showError(err); }
});

// ---- performance ---------------------------------------------------------------------------------
async function loadPerformance() {
  const { obligations } = await api(`/api/agreements/${id}/obligations`);
  $("#perf-rows").replaceChildren(...obligations.map((o) => el("tr", {},
    el("td", {}, `${o.key} ${o.action}${o.amount ? " " + o.amount + "元" : ""}`), el("td", {}, o.deadline || "—"),
    el("td", {}, label("agreement.perf.", o.status) + (o.overdue ? t("agreement.overdue") : "")),
    el("td", {}, o.note || ""))));
  const sel = $("#p-key");
  if (sel) sel.replaceChildren(...obligations.map((o) => el("option", { value: o.key }, `${o.key} ${o.action}`)));
}
$("#perf-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  try {
    await api(`/api/agreements/${id}/obligations/${f.key.value}/performance`, { method: "POST",
      body: { status: f.status.value, note: f.note.value } });
    f.note.value = "";
    await loadPerformance();
  } catch (err) { showError(err); }
});

load().catch(showError);
