// A party signs on their own device: identity check → open and read the full text → consent, typed name
// and a handwritten signature. Each step unlocks the next; the server checks every step again. The page
// comes from a signing link (?link=, printed as a QR code or sent by text) or the party's invitation.
import { api } from "/static/js/concord.js";
import { t } from "/static/js/i18n.js";
import { SignaturePad } from "/static/js/signature-pad.js";
import { clauseOptions, commentText, errorText } from "/static/js/agreement-labels.js";

const root = document.getElementById("sign");
const id = root.dataset.id;
// Whichever the page was opened with goes along with every call.
const cred = root.dataset.link ? { link: root.dataset.link } : { invitation: root.dataset.invitation };
const credQuery = new URLSearchParams(cred).toString();
const $ = (s) => document.querySelector(s);
const state = { info: null, ticket: null, read: null, scrolled: false };
const pad = new SignaturePad($("#pad"), { onChange: () => update() });

function showError(err) {
  const box = $("#error");
  box.hidden = false;
  box.textContent = errorText(err);
}

function update() {
  const ready = state.ticket && state.read && state.scrolled;
  $("#step-read").classList.toggle("locked", !state.ticket);
  $("#step-read").classList.toggle("done", !!ready);
  $("#step-sign").classList.toggle("locked", !ready);
  $("#open-text").disabled = !state.ticket;
  $("#consent").disabled = !ready;
  $("#typed").disabled = !ready;
  const empty = pad.isEmpty();
  $("#pad-state").textContent = empty ? t("agreement.pad_empty") : t("agreement.pad_signed");
  $("#submit").disabled = !(ready && $("#consent").checked && !empty && $("#typed").value.trim());
}

function checkLabel(method) {
  $("#answer-label").textContent = method === "code"
    ? t("agreement.answer_code")
    : t("agreement.answer_id_last4");
  if (method === "code") $("#answer").inputMode = "numeric";
}

// Nothing of the agreement is shown before the identity check passes (the server refuses it): the page
// asks the check first (the server put its method, or why the link cannot be used, in the page), and the
// agreement comes with the check's ticket.
async function load() {
  if (!state.ticket) {
    if (root.dataset.problem) {
      $("#steps").hidden = true;
      $("#summary").textContent = "";
      throw new Error(root.dataset.problem);
    }
    $("#summary").textContent = t("agreement.check_first_to_see");
    return;
  }
  const q = `${credQuery}&ticket=${encodeURIComponent(state.ticket)}`;
  const info = state.info = await api(`/api/agreements/${id}/party?${q}`);
  $("#summary").textContent = `${info.number} · ${info.name} · ${t("agreement.version", { v: info.version })} · ${t("agreement.check_code")} ${info.short_hash}`;
  $("#v-no").textContent = info.version;
  $("#v-hash").textContent = info.short_hash;
  checkLabel(info.check);
  $("#c-clause").replaceChildren(...clauseOptions(info.content).map(([k, label]) => new Option(label, k)));
  $("#comments").replaceChildren(...info.comments.map((c) => Object.assign(document.createElement("div"),
    { className: "comment", textContent: commentText(c, info.content) })));
  if (info.signed) {
    $("#steps").hidden = true;
    $("#done").hidden = false;
  }
  if (info.state === "effective") {
    $("#pdf").hidden = false;
    $("#pdf-link").href = `/api/agreements/${id}/party/pdf?${q}`;
  } else if (info.state !== "signing" && !info.signed) {
    $("#steps").hidden = true;
    showError(new Error(t("agreement.not_signing")));
  }
}

$("#check-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await api(`/api/agreements/${id}/party/check`, { method: "POST",
      body: { ...cred, answer: $("#answer").value } });
    state.ticket = r.ticket;
    $("#step-check").classList.add("done");
    $("#check-form").hidden = true;
    $("#error").hidden = true;
    await load();
    update();
  } catch (err) { showError(err); }
});

$("#open-text").addEventListener("click", async () => {
  try {
    const r = await api(`/api/agreements/${id}/party/text`, { method: "POST", body: { ...cred, ticket: state.ticket } });
    state.read = r;
    const box = $("#doc-text");
    box.textContent = r.text;
    box.hidden = false;
    $("#read-hint").hidden = false;
    const check = () => {
      if (box.scrollTop + box.clientHeight >= box.scrollHeight - 8) {
        state.scrolled = true;
        $("#read-hint").hidden = true;
        update();
      }
    };
    box.addEventListener("scroll", check);
    check();
    update();
  } catch (err) { showError(err); }
});

$("#consent").addEventListener("change", update);
$("#typed").addEventListener("input", update);
$("#clear").addEventListener("click", () => pad.clear());
window.addEventListener("resize", () => { if (pad.isEmpty()) pad.resize(); });

$("#sign-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (pad.isEmpty()) return showError(new Error(t("agreement.sign_by_hand_first")));
  $("#submit").disabled = true;
  try {
    await api(`/api/agreements/${id}/party/sign`, { method: "POST", body: {
      ...cred, ticket: state.ticket, read_token: state.read.read_token, version: state.read.version,
      document_hash: state.read.document_hash, consent: $("#consent").checked, typed_name: $("#typed").value.trim(),
      image: pad.toDataURL() } });
    $("#steps").hidden = true;
    $("#done").hidden = false;
    $("#error").hidden = true;
  } catch (err) { showError(err); update(); }
});

$("#comment-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  if (!state.info) return showError(new Error(t("agreement.check_first")));
  try {
    await api(`/api/agreements/${id}/party/comments`, { method: "POST",
      body: { ...cred, version: state.info.version, clause: f.clause.value, text: f.text.value } });
    f.text.value = "";
    await load();
  } catch (err) { showError(err); }
});

checkLabel(root.dataset.check);
load().then(update).catch(showError);
