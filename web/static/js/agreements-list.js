// The agreements list page: the "new agreement" form (web/templates/agreements/list.html).
import { api } from "/static/js/concord.js";
import { t } from "/static/js/i18n.js";
const f = document.getElementById("new-agreement");
if (f) f.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = f.dispute_type.value ? { dispute_type: f.dispute_type.value } : {};
  if (f.case_code.value.trim()) body.case_code = f.case_code.value.trim();
  if (f.session_id.value) body.session_id = Number(f.session_id.value);
  try { const a = await api("/api/agreements", { method: "POST", body }); location.href = `/agreements/${a.id}`; }
  catch (err) {
    document.getElementById("na-error").textContent = err.code === "not_found" && body.case_code
      ? t("agreement.new_no_case", { code: body.case_code }) : err.message;
  }
});
