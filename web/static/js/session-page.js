// The session page: copy invitation links, show the ID field only for the ID check, confirm cancel.

import { t } from "/static/js/i18n.js";

async function copy(input, button) {
  const text = input.value;
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Plain http or an old browser: fall back to selecting the text.
    input.classList.remove("sr-only");
    input.select();
    try { ok = document.execCommand("copy"); } catch { ok = false; }
  }
  const before = button.textContent;
  button.textContent = ok ? t("common.copied") : t("common.copy_by_hand");
  setTimeout(() => { button.textContent = before; }, 2000);
}

// Without CONCORD_PUBLIC_URL the server writes the join link as a path: this browser's own address
// completes it (never a header the server received).
for (const input of document.querySelectorAll("input[data-path]")) {
  input.value = new URL(input.value, location.href).href;
}

for (const btn of document.querySelectorAll("[data-copy]")) {
  btn.addEventListener("click", () => {
    const input = document.querySelector(btn.dataset.copy);
    if (input) copy(input, btn);
  });
}

const form = document.getElementById("invite-form");
if (form) {
  const last4 = form.querySelector(".id-last4");
  const sync = () => {
    const method = form.querySelector("input[name=check]:checked")?.value;
    last4.hidden = method !== "id_last4";
    last4.querySelector("input").required = method === "id_last4";
  };
  for (const r of form.querySelectorAll("input[name=check]")) r.addEventListener("change", sync);
  sync();
}

for (const f of document.querySelectorAll("form[data-confirm]")) {
  f.addEventListener("submit", (e) => {
    if (!window.confirm(f.dataset.confirm)) e.preventDefault();
  });
}
