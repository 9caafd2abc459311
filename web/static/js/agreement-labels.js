// Words for the codes that agreement pages would otherwise show: clause keys, and the refusals a party or
// staff member can meet (the API words its messages in English for scripts; people read these instead).
const SECTIONS = {
  parties: ["当事人", "Parties"], facts: ["纠纷事实", "Facts"], issues: ["争议事项", "Disputed issues"],
  default_clause: ["违约责任", "Default clause"], judicial_confirmation: ["司法确认", "Judicial confirmation"],
  other_terms: ["其他条款", "Other terms"],
};

const ERRORS = {
  identity_check_failed: ["核验未通过：输入的内容不正确。", "The identity check failed: the answer does not match."],
  rate_limited: ["错误次数过多，请稍后再试。", "Too many wrong answers; try again later."],
  invalid_link: ["签署链接无效或已过期，请向调解员索取新的链接。", "This signing link is invalid or expired; ask the mediator for a new one."],
  invalid_invitation: ["邀请链接无效、已过期或已撤销。", "This invitation is invalid, expired or revoked."],
  not_a_signer: ["此链接不属于本协议的当事人。", "This link is not for a party to this agreement."],
  identity_not_checked: ["请先核验身份（核验 30 分钟内有效）。", "Check your identity first (a check lasts 30 minutes)."],
  identity_check_required: ["此邀请没有设置身份核验，请向调解员索取签署链接。", "This invitation has no identity check; ask the mediator for a signing link."],
  text_not_read: ["请先打开并阅读协议全文。", "Open and read the full text first."],
  stale_version: ["协议已有新版本，请刷新页面、重新阅读后再操作。", "The agreement has a newer version; reload and read it again."],
  typed_name_mismatch: ["输入的姓名与协议中的姓名不一致。", "The typed name differs from the name in the agreement."],
  signature_empty: ["请先手写签名。", "Please sign by hand first."],
  signature_too_large: ["签名图片过大，请重写。", "The signature image is too large; sign again."],
  already_signed: ["您已签署过本版本。", "You have already signed this version."],
  not_signing: ["该协议当前不在签署阶段。", "This agreement is not open for signing."],
  no_consent: ["请勾选同意电子签署。", "Tick the box to agree to sign electronically."],
  out_of_order: ["签署顺序：全部当事人签署后调解员签名，最后加盖印章。", "Order: every party, then the mediator, then the seal."],
  not_ready: ["草稿尚不完整，不能定稿：需要至少两位当事人、纠纷事实、协议条款，并写明人民调解员。", "The draft is not ready to sign: it needs two parties, the facts, terms and the mediator's name."],
  reason_required: ["请填写原因。", "Give the reason."],
  frozen: ["协议已定稿或已签署，不能再修改。", "A frozen or signed agreement cannot be edited."],
  no_id_number: ["协议中没有该当事人的身份证号，请改用验证码。", "The agreement holds no ID number for this party: use a code."],
};

// The visible words for an API error: a known code in the page's language, else the server's message.
export function errorText(err, tr) {
  const pair = err && ERRORS[err.code];
  return pair ? tr(...pair) : (err && err.message) || String(err);
}

// [key, label] for every clause one can comment on: the sections, then each term by number and action.
export function clauseOptions(content, tr) {
  const terms = (content.obligations || []).map((o, i) => [o.key, `${tr("条款", "Term")} ${i + 1}：${o.action}`]);
  return [...Object.entries(SECTIONS).map(([k, pair]) => [k, tr(...pair)]), ...terms];
}

export function clauseLabel(key, content, tr) {
  const hit = clauseOptions(content, tr).find(([k]) => k === key);
  return hit ? hit[1] : key;
}

const KINDS = { party: ["当事人", "party"], mediator: ["人民调解员", "mediator"], seal: ["调解委员会印章", "committee seal"] };
const METHODS = { id_last4: ["身份证号后四位", "last 4 of the ID number"], code: ["一次性验证码", "one-time code"],
  password: ["登录密码", "login password"] };

// "张三（当事人 · 身份证号后四位）" for a signature of the API's detail view (slot "party:p1", check "id_last4").
export function signerText(sig, tr) {
  const kind = KINDS[(sig.slot || "").split(":")[0]];
  const method = METHODS[sig.check];
  return `${sig.name}（${kind ? tr(...kind) : sig.role}${method ? " · " + tr(...method) : ""}）`;
}
