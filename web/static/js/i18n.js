// Strings for the browser client. zh-CN is the default; English follows <html lang="en">.
// Templates translate their own text with tr(); this covers what the JS builds at run time.
// Other modules may add their own keys with addStrings({key: [zh, en]}).
import { pick } from "./concord.js";

const STRINGS = {
  // pre-join
  "prejoin.checking": ["正在检查摄像头和麦克风…", "Checking camera and microphone…"],
  "prejoin.ready": ["设备正常，可以入会。", "Your devices work. You can join."],
  "prejoin.denied": [
    "浏览器拒绝了摄像头或麦克风权限。请点击地址栏左侧的锁形图标，允许使用摄像头和麦克风，然后刷新页面。",
    "The browser blocked the camera or microphone. Allow them from the padlock icon next to the address bar, then reload.",
  ],
  "prejoin.notfound": [
    "没有找到摄像头或麦克风。请插入设备，或仅以语音/无视频方式入会。",
    "No camera or microphone was found. Plug one in, or join without it.",
  ],
  "prejoin.busy": [
    "摄像头或麦克风正被其他程序占用。请关闭其他视频软件后重试。",
    "The camera or microphone is in use by another program. Close it and try again.",
  ],
  "prejoin.insecure": [
    "当前连接不安全，浏览器不允许使用摄像头。请使用 https 地址打开邀请链接。",
    "This page is not secure, so the browser will not allow the camera. Open the invitation over https.",
  ],
  "prejoin.unsupported": ["此浏览器不支持视频通话，请使用最新版 Chrome、Edge、Safari 或微信内置浏览器以外的浏览器。",
    "This browser cannot make video calls. Use a current Chrome, Edge or Safari."],
  "prejoin.nomic": ["未检测到麦克风声音，请对着麦克风说话试试。", "No sound from the microphone yet; try speaking."],
  "prejoin.camera_off": ["摄像头已关闭", "Camera off"],
  "prejoin.no_camera": ["无摄像头", "No camera"],
  "prejoin.no_mic": ["无麦克风", "No microphone"],
  "prejoin.default_device": ["默认设备", "Default device"],
  "prejoin.device": ["设备", "Device"],
  "prejoin.check_failed": ["身份核验未通过，请检查后重试。", "The identity check failed. Please check and try again."],
  "prejoin.check_format": ["请输入完整的核验信息。", "Please enter the full answer."],
  "prejoin.check_locked": ["核验失败次数过多，请稍后再试或联系调解员。", "Too many failed checks. Try later or contact the mediator."],

  // connection
  "conn.connecting": ["正在连接…", "Connecting…"],
  "conn.reconnecting": ["网络中断，正在重新连接…", "Connection lost, reconnecting…"],
  "conn.connected": ["已连接", "Connected"],
  "conn.lobby": ["请稍候，主持人将很快让您进入会议室。", "Please wait: the host will let you in shortly."],
  "conn.denied": ["主持人拒绝了您的入会请求。", "The host declined your request to join."],
  "conn.removed": ["您已被主持人移出会议。", "The host removed you from the meeting."],
  "conn.left": ["您已离开会议。", "You left the meeting."],
  "conn.ended": ["会议已结束。", "The meeting has ended."],
  "conn.failed": ["无法进入会议：", "Could not join: "],
  "conn.replaced": ["您已在其他窗口或设备上进入会议，此窗口已断开。", "You joined from another window or device; this one is disconnected."],
  "conn.rejoin": ["重新入会", "Rejoin"],

  // room
  "room.you": ["我", "You"],
  "room.mute": ["静音", "Mute"],
  "room.unmute": ["取消静音", "Unmute"],
  "room.camera_off": ["关摄像头", "Cam off"],
  "room.camera_on": ["开摄像头", "Cam on"],
  "room.share": ["共享屏幕", "Share"],
  "room.stop_share": ["停止共享", "Stop share"],
  "room.share_unsupported": ["此设备不支持屏幕共享。", "Screen sharing is not supported on this device."],
  "room.hand": ["举手", "Hand"],
  "room.lower_hand": ["放下手", "Lower"],
  "room.chat": ["文字交流", "Chat"],
  "room.leave": ["离开", "Leave"],
  "room.leave_confirm": ["确定离开会议吗？", "Leave the meeting?"],
  "room.people": ["参会人员", "People"],
  "room.more": ["更多", "More"],
  "room.send": ["发送", "Send"],
  "room.chat_placeholder": ["输入消息…", "Type a message…"],
  "room.muted_by_host": ["主持人已将您静音。", "The host muted you."],
  "room.video_off_by_host": ["主持人已关闭您的摄像头。", "The host turned off your camera."],
  "room.moved": ["您已被移至：", "You were moved to: "],
  "room.moved_main": ["您已回到主会议室。", "You are back in the main room."],
  "room.main": ["主会议室", "Main room"],
  "room.subroom": ["分组室", "Private room"],
  "room.locked": ["会议室已锁定", "Room locked"],
  "room.floor": ["发言中", "Has the floor"],
  "room.hand_raised": ["举手", "Hand raised"],
  "room.alone": ["正在等待其他人加入…", "Waiting for others to join…"],
  "room.muted": ["已静音", "Muted"],
  "room.lowdata_on": ["已开启省流量：画面变小，声音优先。", "Low data on: smaller picture, voice first."],
  "room.lowdata_off": ["已关闭省流量。", "Low data off."],
  "room.lowdata_undo": ["恢复清晰画面", "Turn it off"],
  "room.lowdata_auto": ["网络较差，已自动开启省流量（画面变小，声音优先）。可点击上方“省流量”关闭。",
    "The connection is poor, so low data is on (smaller picture, voice first). Tap “Low data” above to turn it off."],
  "room.quality.good": ["网络良好", "Good connection"],
  "room.quality.fair": ["网络一般", "Fair connection"],
  "room.quality.poor": ["网络较差", "Poor connection"],
  "room.quality.connecting": ["连接中", "Connecting"],
  "room.error": ["操作未成功：", "Not done: "],

  // recording and consent
  "rec.on": ["录音录像中", "Recording"],
  "rec.prompt_title": ["本次会议将录音录像", "This meeting is being recorded"],
  "rec.prompt_body": [
    "为保存调解过程，主持人开启了录音录像。录制内容仅用于调解存档，依法保密。您是否同意录制您的音视频？",
    "The host turned recording on to keep a record of the mediation. Recordings are kept confidential for the case file. Do you agree to your audio and video being recorded?",
  ],
  "rec.agree": ["同意录制", "I agree"],
  "rec.decline": ["不同意", "I decline"],
  "rec.declined_short": ["未同意录制", "Not recorded"],
  "rec.declined_by": ["不同意录制：", "Declined recording: "],
  "rec.you_declined": ["您未同意录制，您的音视频不会被录制。", "You declined: your audio and video are not recorded."],
  "rec.change": ["更改", "Change"],

  // moderator
  "mod.title": ["主持", "Moderate"],
  "mod.lobby": ["等候室", "Lobby"],
  "mod.lobby_empty": ["没有人在等候。", "Nobody is waiting."],
  "mod.admit": ["准入", "Admit"],
  "mod.deny": ["拒绝", "Deny"],
  "mod.knock": ["请求入会：", "Asks to join: "],
  "mod.mute": ["静音", "Mute"],
  "mod.stop_video": ["关视频", "Stop video"],
  "mod.remove": ["移出", "Remove"],
  "mod.remove_confirm": ["确定将此人移出会议吗？", "Remove this person from the meeting?"],
  "mod.move": ["移至分组", "Move to room"],
  "mod.enter": ["进入：", "Go to: "],
  "mod.back": ["回主会议室", "Back to main"],
  "mod.subroom_name": ["分组室名称", "Private room name"],
  "mod.subroom_default": ["背靠背一", "Private 1"],
  "mod.floor": ["给予发言权", "Give floor"],
  "mod.floor_clear": ["收回发言权", "Clear floor"],
  "mod.lock": ["锁定会议室", "Lock room"],
  "mod.unlock": ["解锁会议室", "Unlock room"],
  "mod.rec_start": ["开始录制", "Start recording"],
  "mod.rec_stop": ["停止录制", "Stop recording"],
  "mod.end": ["结束会议", "End meeting"],
  "mod.end_confirm": ["确定为所有人结束本次会议吗？", "End the meeting for everyone?"],
  "mod.rec_subrooms": ["分组室录制：", "Record private rooms: "],
  "mod.rec_sub_on": ["录制中", "recorded"],
  "mod.rec_sub_off": ["不录制", "not recorded"],
  "mod.subrooms": ["分组情况", "Rooms"],

  // roles
  "role.host": ["主持人", "Host"],
  "role.mediator": ["调解员", "Mediator"],
  "role.expert": ["专家", "Expert"],
  "role.party": ["当事人", "Party"],
  "role.agent": ["代理人", "Agent"],
  "role.interpreter": ["翻译", "Interpreter"],
  "role.observer": ["列席", "Observer"],
  "role.recorder": ["录制", "Recorder"],

  // errors sent by the server, by code (fallback: the server's own message)
  "err.token_expired": ["邀请链接已过期，请联系调解员重新发送。", "The invitation has expired. Ask the mediator for a new one."],
  "err.token_invalid": ["邀请链接无效。", "The invitation link is not valid."],
  "err.token_malformed": ["邀请链接无效。", "The invitation link is not valid."],
  "err.locked": ["会议室已锁定，暂时无法进入。", "The room is locked."],
  "err.forbidden": ["您没有权限执行此操作。", "You may not do that."],
  "err.rate_limited": ["操作过于频繁，请稍后再试。", "Too many requests; slow down."],
  "err.check_failed": ["身份核验未通过，请检查后重试。", "The identity check failed. Please try again."],
  "err.check_required": ["请先完成身份核验。", "Please complete the identity check first."],
  "err.room_full": ["会议室人数已满。", "The room is full."],
  "err.removed": ["您已被移出本次会议，无法再次进入。", "You were removed from this meeting."],
  "err.other_subroom": ["对方在另一个分组室。", "That person is in another room."],
  "err.not_admitted": ["请等待主持人准入。", "Wait for the host to admit you."],
  "err.session_ended": ["会议已结束。", "The meeting has ended."],
  "err.generic": ["操作未能完成，请稍后重试。", "That did not work; please try again."],

  // the playback file of a session (record.js, playback.js); server/recording/views.py PLAYBACK_LABELS
  "playback.none": ["尚未合成", "not composed"],
  "playback.queued": ["排队中", "queued"],
  "playback.running": ["合成中", "composing"],
  "playback.done": ["已完成", "done"],
  "playback.failed": ["失败", "failed"],
};

export const lang = (document.documentElement.lang || "zh-CN").startsWith("en") ? "en" : "zh-CN";

export function addStrings(more) {
  Object.assign(STRINGS, more);
}

/** The text for a key in the page language; unknown keys come back as the key (visible, not blank). */
export function t(key) {
  const pair = STRINGS[key];
  if (!pair) return key;
  return lang === "en" ? pair[1] : pair[0];
}

export function has(key) {
  return key in STRINGS;
}

export function roleName(role) {
  return has(`role.${role}`) ? t(`role.${role}`) : role;
}

/** A server error as a sentence for people: known codes are translated, others keep the server's text
 *  (its display text for this page, else the page's side of a bilingual message). */
export function errorText(err) {
  if (!err) return "";
  if (err.code && has(`err.${err.code}`)) return t(`err.${err.code}`);
  if (err.display) return err.display;
  const text = pick(err.message || "");
  // A Chinese page shows no English: an untranslated server message becomes the generic sentence.
  if (!text || (lang !== "en" && !/[\u3400-\u9fff]/.test(text))) return t("err.generic");
  return text;
}

export function timeText(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(lang === "en" ? "en-GB" : "zh-CN", {
    hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai",
  });
}
