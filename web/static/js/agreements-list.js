// The agreements list page: the "new agreement" form (web/templates/agreements/list.html).
import { api, tr } from "/static/js/concord.js";
const f = document.getElementById("new-agreement");
if (f) f.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = f.dispute_type.value ? { dispute_type: f.dispute_type.value } : {};
  if (f.case_code.value.trim()) body.case_code = f.case_code.value.trim();
  if (f.session_id.value) body.session_id = Number(f.session_id.value);
  try { const a = await api("/api/agreements", { method: "POST", body }); location.href = `/agreements/${a.id}`; }
  catch (err) {
    document.getElementById("na-error").textContent = err.code === "not_found" && body.case_code
      ? tr(`没有编号为 ${body.case_code} 的案件，或您无权查看。`, `No case ${body.case_code} that you may see.`) : err.message;
  }
});
