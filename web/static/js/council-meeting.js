// The council meeting page (/councils/{c}/meetings/{m}): attendance and quorum refresh live. Polls the room's
// live state (/councils/live, with the viewer's own staff join token from data-live-token) every few seconds;
// on failure the wait doubles up to a minute, and is back to a few seconds after the next answer. Labels come
// from the page (data-*), so the page's language is kept. No inline script (strict CSP).
const BASE_MS = 4000;
const MAX_MS = 60000;

const box = document.getElementById("attendance");
if (box && box.dataset.liveToken) {
  const token = box.dataset.liveToken;
  let wait = BASE_MS;

  function show(att, attendees) {
    const count = document.getElementById("attendance-count");
    if (count) count.textContent = String(att.present);
    const badge = document.getElementById("quorum");
    if (badge) {
      badge.textContent = att.quorate ? box.dataset.met : box.dataset.missing;
      badge.className = `badge ${att.quorate ? "grade-green" : "grade-red"}`;
    }
    const list = document.getElementById("present-list");
    if (list && Array.isArray(attendees)) {
      list.replaceChildren(...attendees.map((a) => {
        const li = document.createElement("li");
        const where = document.createElement("span");
        where.className = "small muted";
        where.textContent = a.mode === "in_person" ? box.dataset.inPerson : box.dataset.online;
        li.append(`${a.name} `, where);
        return li;
      }));
    }
  }

  async function poll() {
    let again = true;
    try {
      const r = await fetch(`/councils/live?token=${encodeURIComponent(token)}`, {
        credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) {
        const state = await r.json();
        show(state.attendance, state.attendees);
        wait = BASE_MS;
        again = state.state !== "closed";
      } else {
        // 401/403/410: the token expired or the room is over; stop. Other failures back off.
        if ([401, 403, 404, 410].includes(r.status)) again = false;
        wait = Math.min(wait * 2, MAX_MS);
      }
    } catch {
      wait = Math.min(wait * 2, MAX_MS);
    }
    if (again) setTimeout(poll, document.hidden ? Math.max(wait, 15000) : wait);
  }
  setTimeout(poll, wait);
}
