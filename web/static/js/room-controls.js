// The controls view: the control bar (microphone, camera, share, hand, low data, leave, panel buttons
// and their badges), the header (sub-room, lock, recording and who declined it), the connection status,
// the consent dialog and the lobby / room / ended screens. Clicks call the app's actions; render() draws
// the buttons and the header from the store.
import { $, confirmDialog, pressed } from "./dom.js";
import { listDevices } from "./devices.js";
import { t } from "./i18n.js";

const CONN_KEYS = { connecting: "conn.connecting", reconnecting: "conn.reconnecting", open: "conn.connected", lobby: "conn.lobby" };

export class ControlsView {
  /** @param {HTMLElement} root @param {object} store @param {object} actions the RoomApp */
  constructor(root, store, actions) {
    this.root = root;
    this.store = store;
    this.actions = actions;
  }

  bind() {
    const r = this.root;
    const a = this.actions;
    const on = (sel, fn, type = "click") => $(sel, r).addEventListener(type, fn);
    on("#btn-mic", () => a.toggle("audio"));
    on("#btn-cam", () => a.toggle("video"));
    on("#lowdata-toggle", () => {
      a.setLowData(!this.store.media.lowData);
      a.toast(t(this.store.media.lowData ? "room.lowdata_on" : "room.lowdata_off"));
    });
    const share = $("#btn-share", r);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) share.hidden = true;
    on("#btn-share", () => a.toggleShare());
    on("#btn-flip", () => a.flipCamera());
    on("#btn-hand", () => a.raiseHand(!this.store.handRaised));
    on("#btn-leave", async () => {
      if (await confirmDialog(t("room.leave_confirm"), t("room.leave"))) a.leave();
    });
    on("#btn-rejoin", () => location.reload());
    on("#consent-yes", (e) => { e.preventDefault(); a.setConsent(true); });
    on("#consent-no", (e) => { e.preventDefault(); a.setConsent(false); });
    on("#consent-dialog", (e) => e.preventDefault(), "cancel"); // an answer is required
    on("#rec-change", () => this.askConsent());
    on("#side-close", () => a.openPanel(null));
    on("#btn-more", () => a.openPanel(this.store.openPanelId !== null ? null : this.store.morePanel()));
    for (const btn of r.querySelectorAll("[data-open-panel]")) {
      btn.addEventListener("click", () => {
        const id = btn.dataset.openPanel;
        a.openPanel(this.store.openPanelId === id ? null : id);
      });
    }
    listDevices().then(({ cameras }) => { $("#btn-flip", r).hidden = cameras.length < 2; }).catch(() => {});
  }

  render() {
    const r = this.root;
    const s = this.store;
    const { audio: micOn, video: camOn, sharing, lowData } = s.media;
    const button = (sel, label, isPressed) => {
      const node = $(sel, r);
      $(".label", node).textContent = label;
      pressed(node, isPressed);
      return node;
    };
    const mic = button("#btn-mic", micOn ? t("room.mute") : t("room.unmute"), !micOn);
    mic.classList.toggle("off", !micOn);
    mic.classList.toggle("no-floor", !s.mayTalk);
    pressed($("#lowdata-toggle", r), lowData);
    button("#btn-cam", camOn ? t("room.camera_off") : t("room.camera_on"), !camOn).classList.toggle("off", !camOn);
    button("#btn-share", sharing ? t("room.stop_share") : t("room.share"), sharing);
    button("#btn-hand", s.handRaised ? t("room.lower_hand") : t("room.hand"), s.handRaised);
    $("#btn-mod", r).hidden = !s.isModerator();
    this.setBadge("moderate", s.lobby.size || "");
    this.setBadge("chat", s.unread || "");

    // Header: sub-room, lock, recording.
    $("#room-subroom", r).textContent = s.me.subroom === null ? t("room.main") : `${t("room.subroom")} · ${s.me.subroom}`;
    r.classList.toggle("in-subroom", s.me.subroom !== null);
    $("#lock-indicator", r).hidden = !s.room.locked;
    $("#rec-indicator", r).hidden = !s.room.recording;
    const declined = s.declinedNames();
    $("#rec-declined", r).textContent = declined.length ? `${t("rec.declined_by")}${declined.join("、")}` : "";
    $("#rec-change", r).hidden = s.consent === null;
  }

  /** The open panel's buttons are pressed; the phone's "more" button stands for every panel but chat. */
  renderOpenPanel(id) {
    for (const btn of this.root.querySelectorAll("[data-open-panel]")) pressed(btn, btn.dataset.openPanel === id);
    pressed($("#btn-more", this.root), id !== null && id !== "chat");
  }

  setBadge(id, text) {
    const btn = this.root.querySelector(`[data-open-panel="${id}"] .badge`);
    if (btn) {
      btn.textContent = text ? String(text) : "";
      btn.hidden = !text;
    }
    // The phone "more" button sums the badges of the panel buttons it stands for.
    let sum = 0;
    for (const b of this.root.querySelectorAll(".panel-btn .badge")) sum += Number(b.textContent) || 0;
    const more = $("#btn-more .badge", this.root);
    if (more) {
      more.textContent = sum ? String(sum) : "";
      more.hidden = !sum;
    }
  }

  showScreen(name) {
    for (const id of ["lobby", "room", "ended"]) {
      const node = $(`#screen-${id}`, this.root);
      if (node) node.hidden = id !== name;
    }
    document.body.classList.toggle("in-room", name === "room");
  }

  setConn(state) {
    const node = $("#conn-status", this.root);
    if (!node) return;
    const key = CONN_KEYS[state];
    node.textContent = key ? t(key) : "";
    node.dataset.state = state;
    this.root.dataset.conn = state;
  }

  ended(text, mayRejoin) {
    $("#ended-text", this.root).textContent = text;
    $("#btn-rejoin", this.root).hidden = !mayRejoin;
    this.showScreen("ended");
  }

  askConsent() {
    const dlg = $("#consent-dialog", this.root);
    if (!dlg || dlg.open) return;
    dlg.showModal();
  }

  closeConsent() {
    const dlg = $("#consent-dialog", this.root);
    if (dlg && dlg.open) dlg.close();
  }
}
