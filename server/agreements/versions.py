"""A readable diff between two versions of an agreement: changed fields in words, then the text diff."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from server.agreements.content import AgreementContent, mask_id

FIELD_LABELS = {
    "number": "编号", "dispute_type": "纠纷类型", "unit_code": "调解单位代码", "unit_name": "调解单位",
    "case_ref": "案件编号", "facts": "纠纷事实", "issues": "争议事项", "other_terms": "其他条款",
    "default_clause": "违约责任", "judicial_confirmation": "申请司法确认", "mediator_name": "人民调解员",
    "place": "签订地点", "copies": "份数",
}
PARTY_LABELS = {"name": "姓名", "id_number": "身份证号", "phone": "电话", "address": "住址",
                "confidential": "信息保密", "agent": "代理人"}
OBLIGATION_LABELS = {"obligor": "义务人", "obligee": "权利人", "action": "事项", "amount": "金额",
                     "method": "方式", "place": "地点", "deadline": "期限", "kind": "类型"}


@dataclass(frozen=True)
class Change:
    where: str  # e.g. "条款 t1 金额"
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.where}：{_fmt(self.before)} → {_fmt(self.after)}"

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "before": self.before, "after": self.after, "summary": str(self)}


def _fmt(v: Any) -> str:
    if v is None or v == "":
        return "（空）"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, list):
        return "；".join(str(x) for x in v) or "（空）"
    return str(v)


def _keyed(items: list[dict]) -> dict[str, dict]:
    return {i["key"]: i for i in items}


WITHHELD = "（依申请保密）"


def changes(old: AgreementContent, new: AgreementContent, *, mask: bool = True) -> list[Change]:
    """Field-level changes; parties and obligations are matched by key, so reordering is not a change.
    With ``mask`` ID numbers are masked and a confidential party's address and phone are withheld
    (the change is named, its values are not): the list goes into the ledger and the case timeline."""
    a, b = old.to_dict(), new.to_dict()
    out: list[Change] = []
    for k, label in FIELD_LABELS.items():
        if a.get(k) != b.get(k):
            out.append(Change(label, a.get(k), b.get(k)))
    pa, pb = _keyed(a["parties"]), _keyed(b["parties"])
    for key in list(pa) + [k for k in pb if k not in pa]:
        if key not in pb:
            out.append(Change(f"当事人 {pa[key]['name']}", "列入", "删除"))
            continue
        if key not in pa:
            out.append(Change(f"当事人 {pb[key]['name']}", "无", "新增"))
            continue
        for f, label in PARTY_LABELS.items():
            va, vb = pa[key].get(f), pb[key].get(f)
            if va != vb:
                if f == "id_number" and mask:
                    va, vb = mask_id(va), mask_id(vb)
                if f in ("phone", "address") and mask and (pa[key].get("confidential") or pb[key].get("confidential")):
                    va, vb = (WITHHELD if va else va), (WITHHELD if vb else vb)
                out.append(Change(f"当事人 {pb[key]['name']} {label}", va, vb))
    oa, ob = _keyed(a["obligations"]), _keyed(b["obligations"])
    for key in list(oa) + [k for k in ob if k not in oa]:
        if key not in ob:
            out.append(Change(f"条款 {key}", oa[key]["action"], "删除"))
            continue
        if key not in oa:
            out.append(Change(f"条款 {key}", "无", ob[key]["action"]))
            continue
        for f, label in OBLIGATION_LABELS.items():
            if oa[key].get(f) != ob[key].get(f):
                out.append(Change(f"条款 {key} {label}", oa[key].get(f), ob[key].get(f)))
    return out


def text_diff(old_text: str, new_text: str, old_label: str = "old", new_label: str = "new") -> str:
    return "".join(difflib.unified_diff(old_text.splitlines(keepends=True), new_text.splitlines(keepends=True),
                                        fromfile=old_label, tofile=new_label, n=1))
