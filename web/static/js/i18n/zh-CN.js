// 中文 (zh-CN) messages of the browser client: key → text, the page default. Every key here must also be
// in en.js (tests/unit/test_client_i18n.py checks both catalogues hold the same keys and placeholders).
// {name} marks a placeholder filled by t(key, {name: ...}). How to add a message: docs/client.md.

export default {
  "prejoin.checking": "正在检查摄像头和麦克风…",
  "prejoin.ready": "设备正常，可以入会。",
  "prejoin.denied": "浏览器拒绝了摄像头或麦克风权限。请点击地址栏左侧的锁形图标，允许使用摄像头和麦克风，然后刷新页面。",
  "prejoin.notfound": "没有找到摄像头或麦克风。请插入设备，或仅以语音/无视频方式入会。",
  "prejoin.busy": "摄像头或麦克风正被其他程序占用。请关闭其他视频软件后重试。",
  "prejoin.insecure": "当前连接不安全，浏览器不允许使用摄像头。请使用 https 地址打开邀请链接。",
  "prejoin.unsupported": "此浏览器不支持视频通话，请使用最新版 Chrome、Edge、Safari 或微信内置浏览器以外的浏览器。",
  "prejoin.nomic": "未检测到麦克风声音，请对着麦克风说话试试。",
  "prejoin.camera_off": "摄像头已关闭",
  "prejoin.no_camera": "无摄像头",
  "prejoin.no_mic": "无麦克风",
  "prejoin.default_device": "默认设备",
  "prejoin.device": "设备",
  "prejoin.check_failed": "身份核验未通过，请检查后重试。",
  "prejoin.check_format": "请输入完整的核验信息。",
  "prejoin.check_locked": "核验失败次数过多，请稍后再试或联系调解员。",

  "conn.connecting": "正在连接…",
  "conn.reconnecting": "网络中断，正在重新连接…",
  "conn.connected": "已连接",
  "conn.lobby": "请稍候，主持人将很快让您进入会议室。",
  "conn.denied": "主持人拒绝了您的入会请求。",
  "conn.removed": "您已被主持人移出会议。",
  "conn.left": "您已离开会议。",
  "conn.ended": "会议已结束。",
  "conn.failed": "无法进入会议：",
  "conn.replaced": "您已在其他窗口或设备上进入会议，此窗口已断开。",
  "conn.rejoin": "重新入会",

  "room.you": "我",
  "room.mute": "静音",
  "room.unmute": "取消静音",
  "room.camera_off": "关摄像头",
  "room.camera_on": "开摄像头",
  "room.share": "共享屏幕",
  "room.stop_share": "停止共享",
  "room.share_unsupported": "此设备不支持屏幕共享。",
  "room.hand": "举手",
  "room.lower_hand": "放下手",
  "room.chat": "文字交流",
  "room.leave": "离开",
  "room.leave_confirm": "确定离开会议吗？",
  "room.people": "参会人员",
  "room.more": "更多",
  "room.send": "发送",
  "room.chat_placeholder": "输入消息…",
  "room.muted_by_host": "主持人已将您静音。",
  "room.video_off_by_host": "主持人已关闭您的摄像头。",
  "room.moved": "您已被移至：",
  "room.moved_main": "您已回到主会议室。",
  "room.main": "主会议室",
  "room.subroom": "分组室",
  "room.locked": "会议室已锁定",
  "room.floor": "发言中",
  "room.hand_raised": "举手",
  "room.alone": "正在等待其他人加入…",
  "room.muted": "已静音",
  "room.lowdata_on": "已开启省流量：画面变小，声音优先。",
  "room.lowdata_off": "已关闭省流量。",
  "room.lowdata_undo": "恢复清晰画面",
  "room.lowdata_auto": "网络较差，已自动开启省流量（画面变小，声音优先）。可点击上方“省流量”关闭。",
  "room.quality.good": "网络良好",
  "room.quality.fair": "网络一般",
  "room.quality.poor": "网络较差",
  "room.quality.connecting": "连接中",
  "room.error": "操作未成功：",

  "rec.on": "录音录像中",
  "rec.prompt_title": "本次会议将录音录像",
  "rec.prompt_body": "为保存调解过程，主持人开启了录音录像。录制内容仅用于调解存档，依法保密。您是否同意录制您的音视频？",
  "rec.agree": "同意录制",
  "rec.decline": "不同意",
  "rec.declined_short": "未同意录制",
  "rec.declined_by": "不同意录制：",
  "rec.you_declined": "您未同意录制，您的音视频不会被录制。",
  "rec.change": "更改",

  "mod.title": "主持",
  "mod.lobby": "等候室",
  "mod.lobby_empty": "没有人在等候。",
  "mod.admit": "准入",
  "mod.deny": "拒绝",
  "mod.knock": "请求入会：",
  "mod.mute": "静音",
  "mod.stop_video": "关视频",
  "mod.remove": "移出",
  "mod.remove_confirm": "确定将此人移出会议吗？",
  "mod.move": "移至分组",
  "mod.enter": "进入：",
  "mod.back": "回主会议室",
  "mod.subroom_name": "分组室名称",
  "mod.subroom_default": "背靠背一",
  "mod.floor": "给予发言权",
  "mod.floor_clear": "收回发言权",
  "mod.lock": "锁定会议室",
  "mod.unlock": "解锁会议室",
  "mod.rec_start": "开始录制",
  "mod.rec_stop": "停止录制",
  "mod.end": "结束会议",
  "mod.end_confirm": "确定为所有人结束本次会议吗？",
  "mod.rec_subrooms": "分组室录制：",
  "mod.rec_sub_on": "录制中",
  "mod.rec_sub_off": "不录制",
  "mod.subrooms": "分组情况",

  "role.host": "主持人",
  "role.mediator": "调解员",
  "role.expert": "专家",
  "role.party": "当事人",
  "role.agent": "代理人",
  "role.interpreter": "翻译",
  "role.observer": "列席",
  "role.recorder": "录制",

  "err.token_expired": "邀请链接已过期，请联系调解员重新发送。",
  "err.token_invalid": "邀请链接无效。",
  "err.token_malformed": "邀请链接无效。",
  "err.locked": "会议室已锁定，暂时无法进入。",
  "err.forbidden": "您没有权限执行此操作。",
  "err.rate_limited": "操作过于频繁，请稍后再试。",
  "err.check_failed": "身份核验未通过，请检查后重试。",
  "err.check_required": "请先完成身份核验。",
  "err.room_full": "会议室人数已满。",
  "err.removed": "您已被移出本次会议，无法再次进入。",
  "err.other_subroom": "对方在另一个分组室。",
  "err.not_admitted": "请等待主持人准入。",
  "err.session_ended": "会议已结束。",
  "err.generic": "操作未能完成，请稍后重试。",

  "playback.none": "尚未合成",
  "playback.queued": "排队中",
  "playback.running": "合成中",
  "playback.done": "已完成",
  "playback.failed": "失败",

  "agreement.sign_inside_the_box": "请在框内手写签名",

  "agreement.signed": "已签名",

  "agreement.the_6_digit_code_the": "调解员告知的 6 位验证码",

  "agreement.last_4_characters_of_your": "身份证号码后四位",

  "agreement.check_your_identity_to_see": "请先核验身份，再查看协议。",

  "agreement.check_code": "核对码",

  "agreement.this_agreement_is_not_open": "该协议当前不在签署阶段。",

  "agreement.please_sign_by_hand_first": "请先手写签名",

  "agreement.check_your_identity_first": "请先核验身份。",

  "agreement.still_to_sign": "待签署：",

  "agreement.diff_with_previous": "与上一版比较",

  "agreement.check_the_last_4_of": "核验身份证号后四位",

  "agreement.check_a_code_you_tell": "核验验证码（由您另行告知）",

  "agreement.make_the_signing_link_and": "生成签署链接和二维码",

  "agreement.signing_link": "签署链接",

  "agreement.copy_link": "复制链接",

  "agreement.send_by_text_message": "用短信发送",

  "agreement.print": "打印",

  "agreement.sign_the_mediation_agreement": "调解协议书签署",

  "agreement.scan_the_qr_code_or": "请用手机扫描二维码或打开以下链接，核验身份后阅读并签署。",

  "agreement.identity_check": "身份核验",

  "agreement.the_6_digit_code_the_2": "调解员另行告知的 6 位验证码",

  "agreement.the_last_4_of_your": "本人身份证号后四位",

  "agreement.valid_until": "有效期至",

  "agreement.code_shown_only_now_tell": "验证码（只显示这一次，请当面或电话告知本人，不要与链接放在一起）：",

  "agreement.give_the_reason": "请填写原因",

  "agreement.overdue": "（逾期）",

  "agreement.room.none": "调解员尚未展示协议。",
  "agreement.room.version": "第 {v} 版",
  "agreement.room.code": "核对码",
  "agreement.room.same": "请核对：每个人屏幕上的核对码应完全一致。",
  "agreement.room.signed": "已签署 {n}/{m}",
  "agreement.room.comment": "对条款提意见",
  "agreement.room.send": "提交",
  "agreement.room.sign": "去签署（本人手机）",
  "agreement.room.present": "展示",
  "agreement.room.stop": "停止展示",
  "agreement.room.refresh": "刷新",
  "agreement.room.mine": "本会议及其案件的协议",
  "agreement.room.failed": "操作失败：",

  "agreement.state.draft": "草稿",
  "agreement.state.signing": "签署中",
  "agreement.state.effective": "已生效",
  "agreement.state.withdrawn": "已撤回",
  "agreement.state.voided": "已作废",
  "agreement.state.superseded": "已变更",

  "minutes.save": "保存",
  "minutes.saved": "已保存 v",
  "minutes.saving": "保存中…",
  "minutes.stale": "笔录已被他人更新，已载入最新版本，请合并后再保存。",
  "minutes.empty": "尚无笔录",
  "minutes.failed": "保存失败：",
  "minutes.refresh": "刷新",
  "minutes.unsaved": "有未保存的修改",
  "minutes.label": "会议笔录",
  "minutes.hint_write": "由调解员记录，每次保存都会留痕。",
  "minutes.hint_read": "调解员记录的笔录（只读）。",
  "minutes.by": "记录人：",

  "agreement.section.parties": "当事人",
  "agreement.section.facts": "纠纷事实",
  "agreement.section.issues": "争议事项",
  "agreement.section.default_clause": "违约责任",
  "agreement.section.judicial_confirmation": "司法确认",
  "agreement.section.other_terms": "其他条款",

  "agreement.err.identity_check_failed": "核验未通过：输入的内容不正确。",
  "agreement.err.rate_limited": "错误次数过多，请稍后再试。",
  "agreement.err.invalid_link": "签署链接无效或已过期，请向调解员索取新的链接。",
  "agreement.err.invalid_invitation": "邀请链接无效、已过期或已撤销。",
  "agreement.err.not_a_signer": "此链接不属于本协议的当事人。",
  "agreement.err.identity_not_checked": "请先核验身份（核验 30 分钟内有效）。",
  "agreement.err.identity_check_required": "此邀请没有设置身份核验，请向调解员索取签署链接。",
  "agreement.err.text_not_read": "请先打开并阅读协议全文。",
  "agreement.err.stale_version": "协议已有新版本，请刷新页面、重新阅读后再操作。",
  "agreement.err.typed_name_mismatch": "输入的姓名与协议中的姓名不一致。",
  "agreement.err.signature_empty": "请先手写签名。",
  "agreement.err.signature_too_large": "签名图片过大，请重写。",
  "agreement.err.already_signed": "您已签署过本版本。",
  "agreement.err.not_signing": "该协议当前不在签署阶段。",
  "agreement.err.no_consent": "请勾选同意电子签署。",
  "agreement.err.out_of_order": "签署顺序：全部当事人签署后调解员签名，最后加盖印章。",
  "agreement.err.not_ready": "草稿尚不完整，不能定稿：需要至少两位当事人、纠纷事实、协议条款，并写明人民调解员。",
  "agreement.err.reason_required": "请填写原因。",
  "agreement.err.frozen": "协议已定稿或已签署，不能再修改。",
  "agreement.err.no_id_number": "协议中没有该当事人的身份证号，请改用验证码。",

  "agreement.perf.pending": "待履行",
  "agreement.perf.performed": "已履行",
  "agreement.perf.partial": "部分履行",
  "agreement.perf.not_performed": "未履行",

  "agreement.kind.party": "当事人",
  "agreement.kind.mediator": "人民调解员",
  "agreement.kind.seal": "调解委员会印章",

  "agreement.method.id_last4": "身份证号后四位",
  "agreement.method.code": "一次性验证码",
  "agreement.method.password": "登录密码",

  "page.copied": "已复制",

  "agreement.version_of": "第 {v} 版",

  "agreement.comment": "[第{v}版 · {clause}] {author}：{text}",

  "agreement.term": "条款 {n}：{action}",

  "agreement.new_no_case": "没有编号为 {code} 的案件，或您无权查看。",

  "page.copy_by_hand": "请手动复制",

  "common.cancel": "取消",
  "common.ok": "确定",

  "room.reconnecting": "重新连接中…",
  "room.joined": "{name} 加入了会议",
  "room.left": "{name} 离开了会议",
  "room.wait_floor": "请等待主持人给予发言权。",
  "room.may_speak": "您现在可以发言。",
  "room.floor_taken": "主持人给予发言权后才能开启麦克风。",

  "mod.move_who": "移至分组：{name}",

  "agreement.room.title": "协议",

  "minutes.title": "笔录",
};
