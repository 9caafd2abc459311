// The council panel of the room page (议事, rooms of kind "council"): the agenda item under discussion,
// attendance and quorum live, the speaking queue (raised hands in order, the floor with its time limit),
// the vote open now with 同意 / 反对 / 弃权 buttons (a `vote` message; the receipt of a secret ballot is shown
// to the voter only), and the tally once a vote is closed. The convenor gives the floor to the next speaker.
// State comes from /councils/live (the room's own join token) and is refreshed on the server's
// council_vote / council_attendance / council_item messages. Load it as a room module (server/councils).
import { has, setRoleContext, t } from "./i18n.js";
import { registerPanel } from "./panels.js";

const POLL_MS = 15000;

registerPanel({
  id: "council",
  order: 30,
  title: "council.title",
  visible: (ctx) => ctx.config.kind === "council",
  mount(el, ctx) {
    const msg = (k, vars) => t(`council.${k}`, vars);
    el.innerHTML = `<div class="council-panel stack">
      <section><h3 class="small muted cp-h-item"></h3><p class="cp-item"></p></section>
      <section><h3 class="small muted cp-h-att"></h3><p class="cp-att"></p></section>
      <section><h3 class="small muted cp-h-queue"></h3>
        <p class="cp-speaker"></p><ol class="small cp-queue"></ol>
        <button class="btn btn-sm cp-next" type="button" hidden></button></section>
      <section class="cp-vote" hidden><h3 class="small muted cp-h-vote"></h3><p class="cp-question"></p>
        <p class="small muted cp-mode"></p>
        <div class="cp-choices"></div><p class="cp-voted" role="status"></p></section>
      <section class="cp-results" hidden><h3 class="small muted cp-h-results"></h3><ul class="small cp-tallies"></ul></section>
      <p class="small cp-error" role="alert"></p>
    </div>`;
    const q = (s) => el.querySelector(s);
    q(".cp-h-item").textContent = msg("item");
    q(".cp-h-att").textContent = msg("attendance");
    q(".cp-h-queue").textContent = msg("queue");
    q(".cp-h-vote").textContent = msg("vote");
    q(".cp-h-results").textContent = msg("results");
    q(".cp-next").textContent = msg("next");
    let state = null;
    let timer = null;
    const voted = new Map(); // vote id -> receipt ("" for an open vote)
    const hands = []; // peer ids in the order their hands went up
    let floorSince = null;
    let floorPeer = null;
    let knownRoles = "";

    async function load() {
      let r;
      try {
        r = await fetch(`/councils/live?token=${encodeURIComponent(ctx.token)}`, { credentials: "same-origin",
          headers: { Accept: "application/json" } });
      } catch {
        return;
      }
      if (!r.ok) return;
      state = await r.json();
      const roles = JSON.stringify(state.member_roles || {});
      if (state.member_roles && roles !== knownRoles) { // members' own council roles label their tiles
        knownRoles = roles;
        setRoleContext("council", state.member_roles);
        ctx.refresh();
      }
      render();
    }

    function choiceButtons(v) {
      const box = q(".cp-choices");
      box.replaceChildren();
      for (const choice of ["agree", "against", "abstain"]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = `btn ${choice === "agree" ? "btn-primary" : choice === "against" ? "btn-danger" : ""} cp-${choice}`;
        b.textContent = msg(`choice.${choice}`);
        b.dataset.choice = choice;
        b.addEventListener("click", () => {
          q(".cp-error").textContent = "";
          for (const x of box.querySelectorAll("button")) x.disabled = true;
          ctx.send({ type: "vote", vote: v.id, choice });
        });
        box.append(b);
      }
    }

    function renderQueue() {
      const room = ctx.room || {};
      const floor = room.floor ?? null;
      if (String(floor) !== String(floorPeer)) { floorPeer = floor; floorSince = floor === null ? null : Date.now(); }
      for (const p of ctx.peers.values()) {
        const up = !!p.hand;
        const at = hands.indexOf(p.id);
        if (up && at < 0) hands.push(p.id);
        if (!up && at >= 0) hands.splice(at, 1);
      }
      for (let i = hands.length - 1; i >= 0; i--) if (!ctx.peers.has(hands[i])) hands.splice(i, 1);
      const limit = (state && state.speaking_limit_s) || 180;
      if (floor !== null) {
        const left = Math.round(limit - (Date.now() - floorSince) / 1000);
        const name = ctx.peers.get(floor)?.name || "";
        q(".cp-speaker").textContent = msg("speaking", { name, left: left >= 0 ? left : 0 });
        q(".cp-speaker").classList.toggle("cp-overrun", left < 0);
      } else {
        q(".cp-speaker").textContent = msg("nobody_speaking", { limit });
      }
      const list = q(".cp-queue");
      list.replaceChildren(...hands.filter((id) => String(id) !== String(floor)).map((id) => {
        const li = document.createElement("li");
        li.textContent = ctx.peers.get(id)?.name || "";
        return li;
      }));
      const next = q(".cp-next");
      next.hidden = !ctx.isModerator() || !hands.some((id) => String(id) !== String(floor));
    }

    function render() {
      if (!state) return;
      q(".cp-item").textContent = state.current_item || msg("no_item");
      const a = state.attendance || {};
      q(".cp-att").textContent = msg(a.quorate ? "quorum_met" : "quorum_missing",
        { present: a.present ?? 0, members: a.members ?? 0, needed: a.quorum_needed ?? 0,
          in_person: a.in_person ?? 0, online: a.online ?? 0 });
      const open = (state.votes || []).find((v) => v.state === "open");
      q(".cp-vote").hidden = !open;
      if (open) {
        q(".cp-question").textContent = open.question;
        q(".cp-mode").textContent = msg(open.secret ? "secret" : "open", { cast: open.voted ?? 0 });
        if (voted.has(open.id)) {
          q(".cp-choices").replaceChildren();
          const receipt = voted.get(open.id);
          q(".cp-voted").textContent = receipt ? msg("receipt", { receipt }) : msg("counted");
        } else if (state.may_vote) {
          if (q(".cp-choices").dataset.vote !== String(open.id)) {
            choiceButtons(open);
            q(".cp-choices").dataset.vote = String(open.id);
          }
          q(".cp-voted").textContent = "";
        } else {
          q(".cp-choices").replaceChildren();
          q(".cp-voted").textContent = msg("watching");
        }
      }
      const closed = (state.votes || []).filter((v) => v.state === "closed" && v.result);
      q(".cp-results").hidden = !closed.length;
      q(".cp-tallies").replaceChildren(...closed.map((v) => {
        const li = document.createElement("li");
        const tl = v.result.tally || {};
        li.className = "cp-tally";
        li.dataset.vote = String(v.id);
        li.textContent = msg("tally", { question: v.question, agree: tl.agree ?? 0, against: tl.against ?? 0,
          abstain: tl.abstain ?? 0, outcome: msg(`outcome.${v.result.outcome}`),
          mode: msg(v.secret ? "secret_short" : "open_short") });
        return li;
      }));
      renderQueue();
    }

    q(".cp-next").addEventListener("click", () => {
      const floor = (ctx.room || {}).floor ?? null;
      const next = hands.find((id) => String(id) !== String(floor));
      if (next !== undefined) ctx.send({ type: "floor", peer: next });
    });
    ctx.on("ballot", (m) => {
      voted.set(m.vote, m.receipt || "");
      if (m.receipt) ctx.toast(msg("receipt", { receipt: m.receipt }));
      load();
    });
    ctx.on("error", (m) => {
      if (!m || m.ref !== "vote") return;
      const box = q(".cp-choices");
      q(".cp-error").textContent = has(`council.error.${m.code}`) ? msg(`error.${m.code}`) : (m.message || "");
      if (m.code === "already_voted" && box.dataset.vote) voted.set(Number(box.dataset.vote), "");
      box.dataset.vote = "";
      load();
    });
    for (const type of ["council_vote", "council_attendance", "council_item"]) ctx.on(type, load);
    function begin() {
      load();
      if (timer === null) timer = setInterval(() => { load(); }, POLL_MS);
    }
    const tick = setInterval(renderQueue, 1000);
    ctx.on("welcome", begin);
    if (ctx.me.id) begin();
    return {
      update() { renderQueue(); },
      unmount() { if (timer !== null) clearInterval(timer); clearInterval(tick); },
    };
  },
});
