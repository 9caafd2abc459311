// The agreement panel of the room page: when the mediator presents a draft, everyone sees the same
// version and its short hash (a room-state change), reads the text and comments on a clause. Parties use
// their own join token (their invitation); staff use their login. Load it as a room module.
import { api } from "./concord.js";
import { label, t } from "./i18n.js";
import { registerPanel } from "./panels.js";
import { clauseOptions, commentText, errorText } from "./agreement-labels.js";

const PARTY_ROLES = new Set(["party", "agent"]);

// The room page has its own stylesheet; the document styles (pre-wrapped text, the check code) come along.
if (!document.querySelector('link[href^="/static/css/agreements.css"]')) {
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: "/static/css/agreements.css" }));
}

// The API's JSON calls (concord.js adds the CSRF header and the page's language).
const call = (url, method = "GET", body = undefined) => api(url, { method, body });

registerPanel({
  id: "agreement",
  order: 45,
  title: "agreement.room.title",
  mount(el, ctx) {
    const msg = (k, vars) => t(`agreement.room.${k}`, vars);
    const stateName = (state) => label("agreement.state.", state);
    const fail = (err) => { q(".ag-error").textContent = msg("failed") + errorText(err); };
    const isParty = () => PARTY_ROLES.has(ctx.me.role);
    el.innerHTML = `<div class="agreement-panel stack">
      <p class="small muted ag-none"></p>
      <div class="ag-shown" hidden>
        <p><strong class="ag-number"></strong> · <span class="ag-version"></span> · <span class="ag-state"></span> · <span class="ag-signed"></span></p>
        <p class="ag-code-line">${msg("code")} <span class="hash ag-code"></span></p>
        <p class="small muted">${msg("same")}</p>
        <div class="doc-text ag-text" tabindex="0"></div>
        <form class="form ag-comment"><label class="small">${msg("comment")}</label>
          <div class="row"><select name="clause"></select><input name="text" maxlength="2000" required class="ag-grow">
          <button class="btn btn-sm" type="submit">${msg("send")}</button></div></form>
        <ul class="small ag-comments"></ul>
        <p class="ag-sign-line" hidden><a class="btn btn-primary ag-sign" target="_blank" rel="noopener"></a></p>
      </div>
      <div class="ag-mod" hidden><h3 class="small">${msg("mine")}</h3><ul class="small ag-list"></ul></div>
      <p class="small ag-error" role="alert"></p>
    </div>`;
    const q = (s) => el.querySelector(s);
    q(".ag-none").textContent = msg("none");
    q(".ag-sign").textContent = msg("sign");
    let shownKey = "";

    const partyQuery = () => `invitation=${encodeURIComponent(ctx.token)}`;
    async function details(a) {
      if (isParty()) return call(`/api/agreements/${a.id}/party?${partyQuery()}`);
      return call(`/api/agreements/${a.id}`);
    }

    async function show(a) {
      q(".ag-error").textContent = "";
      q(".ag-none").hidden = !!a;
      q(".ag-shown").hidden = !a;
      if (!a) { shownKey = ""; return; }
      q(".ag-number").textContent = a.number;
      q(".ag-version").textContent = t("agreement.version", { v: a.version });
      q(".ag-state").textContent = stateName(a.state);
      q(".ag-signed").textContent = msg("signed", { n: a.signed, m: a.required });
      q(".ag-code").textContent = a.short_hash;
      el.closest("section")?.setAttribute("data-agreement-hash", a.short_hash);
      const key = `${a.id}:${a.version}:${a.signed}:${a.comments}:${a.state}`;
      if (key === shownKey) return;
      shownKey = key;
      try {
        const d = await details(a);
        q(".ag-text").textContent = d.text || "";
        q(".ag-comment select").replaceChildren(...clauseOptions(d.content).map(([k, label]) => new Option(label, k)));
        q(".ag-comments").replaceChildren(...(d.comments || []).map((c) => {
          const li = document.createElement("li");
          li.textContent = commentText(c, d.content);
          return li;
        }));
        const canSign = isParty() && a.state === "signing" && !d.signed;
        q(".ag-sign-line").hidden = !canSign;
        q(".ag-sign").href = `/agreements/${a.id}/sign?${partyQuery()}`;
        if (ctx.setBadge && el.offsetParent === null) ctx.setBadge("agreement", "•");  // news while the panel is closed
      } catch (err) { fail(err); }
    }

    q(".ag-comment").addEventListener("submit", async (e) => {
      e.preventDefault();
      const a = ctx.room.agreement;
      if (!a) return;
      const f = e.target;
      const body = { version: a.version, clause: f.clause.value, text: f.text.value };
      try {
        if (isParty()) await call(`/api/agreements/${a.id}/party/comments`, "POST", { ...body, invitation: ctx.token });
        else await call(`/api/agreements/${a.id}/comments`, "POST", body);
        f.text.value = "";
      } catch (err) { fail(err); }
    });

    async function loadMine() {
      if (!ctx.isModerator()) { q(".ag-mod").hidden = true; return; }
      q(".ag-mod").hidden = false;
      try {
        const { agreements } = await call(`/api/agreements?for_session=${ctx.config.session_id}`);
        q(".ag-list").replaceChildren(...agreements.map((a) => {
          const li = document.createElement("li");
          li.textContent = `${a.number} · ${t("agreement.version", { v: a.version })} · ${a.short_hash} · ${stateName(a.state)} `;
          const b = document.createElement("button");
          b.type = "button";
          b.className = "btn btn-sm ag-present";
          b.textContent = msg("present");
          b.addEventListener("click", () => call(`/api/agreements/${a.id}/present`, "POST",
            { session_id: ctx.config.session_id }).then(loadMine, fail));
          li.append(b);
          return li;
        }));
        const stop = document.createElement("button");
        stop.type = "button";
        stop.className = "btn btn-sm btn-ghost";
        stop.textContent = msg("stop");
        stop.addEventListener("click", () => {
          const a = ctx.room.agreement;
          if (a) call(`/api/agreements/${a.id}/present`, "POST", { session_id: ctx.config.session_id, show: false })
            .catch(fail);
        });
        q(".ag-list").append(stop);
      } catch (err) { fail(err); }
    }

    const off = ctx.on("room", (m) => show((m && m.room && m.room.agreement) || null));
    show(ctx.room.agreement || null);
    loadMine();
    return {
      update(c) { show((c.room && c.room.agreement) || null); },
      unmount() { off(); },
    };
  },
});
