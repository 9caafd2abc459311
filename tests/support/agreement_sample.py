"""A fictional, fully signed agreement (张三, 李四 ...) for tests and the benchmarks (not in the wheel).

The signatures are real: real Ed25519 keys from a real Keyring, drawn PNG strokes, the real signing order.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw

from server.agreements.commitments import new_salts, redact
from server.agreements.content import AgreementContent, parse_content
from server.agreements.document import freeze
from server.agreements.export import Sealer
from server.agreements.images import clean_signature
from server.agreements.keys import Keyring
from server.agreements.pdf import PdfInput
from server.agreements.signing import MEDIATOR, PARTY, SEAL, Evidence, SigningState

# Valid check digits (GB 11643), obviously fictional people.
SAMPLE_IDS = ["110101199003077774", "340321198512120018", "340321197001010031", "340321199507070014"]
NAMES = ["张三", "李四", "王五", "赵六"]
UA_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36")


def sample_content(parties: int = 2, obligations: int = 3, padding: int = 0, number: str = "龙亢调字〔2026〕第12号",
                   dispute_type: str = "labour_wages", judicial_confirmation: bool = True) -> AgreementContent:
    """``padding`` adds paragraphs of facts to make the document longer (for the 5-page benchmark)."""
    ps = [{"key": f"p{i + 1}", "name": NAMES[i], "id_number": SAMPLE_IDS[i], "phone": f"1380000{i:04d}",
           "address": f"安徽省蚌埠市怀远县龙亢镇示例村{i + 1}组", "confidential": i == 1 and parties > 2}
          for i in range(parties)]
    facts = ("申请人张三自2025年3月起在被申请人李四承包的工地务工，双方口头约定日工资300元。"
             "截至2025年12月，李四尚欠张三工资共计18600元未付，张三多次催要未果，遂向龙亢镇人民调解委员会申请调解。")
    facts += "".join(f"\n补充事实{i + 1}：经调解员走访核实，双方对出工天数、已付金额及结算方式的陈述基本一致，"
                     "工地考勤记录、微信转账记录及证人证言可以相互印证，双方均同意以考勤记录为准进行结算。"
                     "调解过程中，双方当事人情绪平稳，表示愿意在互谅互让的基础上解决纠纷。" for i in range(padding))
    obs = [{"key": f"t{i + 1}", "obligor": "p2", "obligee": "p1",
            "action": "支付拖欠工资" if i == 0 else f"支付第{i + 1}期工资款", "amount": f"{6000 + 200 * i}",
            "method": "银行转账", "place": "", "deadline": f"2026-0{min(9, 2 + i)}-28"}
           for i in range(obligations)]
    return parse_content({
        "number": number, "dispute_type": dispute_type, "unit_code": "340321001", "unit_name": "龙亢镇",
        "case_ref": "340321-2026-000123", "parties": ps, "facts": facts,
        "issues": ["拖欠工资的数额", "支付期限与方式"], "obligations": obs,
        "other_terms": ["双方就本纠纷再无其他争议。"], "judicial_confirmation": judicial_confirmation,
        "mediator_name": "王调解", "place": "龙亢镇人民调解委员会", "default_clause": "",
    })


def stroke_png(seed: int = 0, width: int = 600, height: int = 200) -> bytes:
    """A handwriting-like stroke, as a canvas would export it."""
    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    d = ImageDraw.Draw(img)
    pts = [(40 + x * 5, height / 2 + 50 * math.sin((x + seed * 7) / 9) * math.cos(x / 23)) for x in range(100)]
    d.line(pts, fill=(20, 20, 20, 255), width=6, joint="curve")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def signed_sample(keyring: Keyring, content: AgreementContent | None = None, *, version: int = 1,
                  start: datetime | None = None, verify_url: str = "http://127.0.0.1:8080/verify",
                  audience: str = "staff") -> tuple[PdfInput, Sealer]:
    content = content or sample_content()
    salts = new_salts(content.to_dict())
    text, doc_hash = freeze(content, salts)
    key_id, key = keyring.signing_key(content.unit_code)
    state = SigningState(content, version, doc_hash)
    t = start or datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    images: dict[str, bytes] = {}

    def iso(dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    step = 0
    for kind, k, name in ([(PARTY, p.key, p.name) for p in content.parties]
                          + [(MEDIATOR, MEDIATOR, content.mediator_name), (SEAL, SEAL, "")]):
        step += 1
        png, digest = (clean_signature(stroke_png(step)) if kind != SEAL else (b"", None))
        ev = Evidence(check_method="id_last4" if kind == PARTY else "password", check_result="passed",
                      consent=True, read_at=iso(t + timedelta(minutes=step, seconds=-30)),
                      at=iso(t + timedelta(minutes=step)), ip=f"192.0.2.{10 + step}", user_agent=UA_PHONE,
                      typed_name=name, image_sha256=digest, staff="mediator" if kind != PARTY else None)
        rec = state.sign(kind, k, version, doc_hash, ev, content.unit_code, key_id, key)
        if png:
            images[rec.slot] = png
    seal_at = state.records[-1].payload["at"]
    redacted, commitments = redact(content.to_dict(), salts)
    d = PdfInput(content=parse_content(redacted), text=text, version=version, document_hash=doc_hash,
                 state="effective", records=state.records, images=images, verify_url=verify_url,
                 exported_at=seal_at, effective_at=seal_at, commitments=commitments, audience=audience)
    created = next(k.created_at for k in keyring.public_keys(content.unit_code) if k.key_id == key_id)
    return d, Sealer(content.unit_code, key_id, key, content.unit_name, created,
                     keyring.city_ca().unit_seal(content.unit_code, content.unit_name))
