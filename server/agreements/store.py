"""Persisting agreements: each change commits together with its ledger event in the case chain.

The domain (content, workflow, signing) decides; this module loads, applies and saves. Errors are
``StoreError`` with an HTTP status, which the web layer turns into the JSON error shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import access, checkpoints, ledger, ledger_store
from server.agreements import ledger_proof, performance, workflow
from server.agreements.commitments import new_salts, openings, redact
from server.agreements.content import AgreementContent, clause_keys, parse_content, ready_to_freeze
from server.agreements.document import committed_hash, short_hash
from server.agreements.keys import Keyring
from server.agreements.models import (
    Agreement,
    AgreementComment,
    AgreementPerformance,
    AgreementSignature,
    AgreementVersion,
)
from server.agreements.ports import CaseLink
from server.agreements.signing import Evidence, SignedRecord, SigningError, SigningState
from server.agreements.text import obligation_sentence, render_text
from server.agreements.versions import changes
from server.db import dialect_name
from server.directory.models import Unit
from server.failures import DomainError, Kind
from server.policy import Actor

if TYPE_CHECKING:  # the PDF stack (fpdf, fontTools) loads on the first export, not at start-up
    from server.agreements.export import Sealer
    from server.agreements.pdf import PdfInput


class StoreError(DomainError):
    """A refused operation on an agreement: a kind (server.failures), a code and a message."""


def iso(dt: datetime | None) -> str | None:
    return ledger.format_time(dt) if dt else None


def chain_of(a: Agreement) -> str:
    """Agreement events belong in the case chain; an agreement made outside a case keeps its own chain."""
    return ledger.case_chain(a.case_id) if a.case_id else f"agreement:{a.id}"


async def log(s: AsyncSession, a: Agreement, type: str, data: dict[str, Any]) -> None:
    await ledger_store.append(s, chain_of(a), f"agreement.{type}", {"agreement": a.id, "number": a.number, **data})


def _who(actor: Actor | None) -> dict[str, Any]:
    return {"staff": actor.id, "name": actor.name} if actor else {"system": True}


@dataclass
class Loaded:
    agreement: Agreement
    unit: Unit
    version: AgreementVersion

    @property
    def content(self) -> AgreementContent:
        return parse_content(self.version.content)


async def load(s: AsyncSession, agreement_id: int, *, lock: bool = False) -> Loaded:
    q = select(Agreement, Unit).join(Unit, Agreement.unit_id == Unit.id).where(Agreement.id == agreement_id)
    if lock and dialect_name(s) == "postgresql":
        q = q.with_for_update(of=Agreement)
    row = (await s.execute(q)).first()
    if row is None:
        raise StoreError(Kind.NOT_FOUND, "not_found", "no such agreement")
    a, unit = row
    v = await version_row(s, a.id, a.current_version)
    return Loaded(a, unit, v)


async def version_row(s: AsyncSession, agreement_id: int, number: int) -> AgreementVersion:
    v = (await s.execute(select(AgreementVersion).where(AgreementVersion.agreement_id == agreement_id,
                                                        AgreementVersion.number == number))).scalar_one_or_none()
    if v is None:
        raise StoreError(Kind.NOT_FOUND, "not_found", f"no version {number}")
    return v


def _parse(raw: Any) -> AgreementContent:
    return parse_content(raw)  # a ContentError reaches the web layer, which words it in the viewer's language


async def next_number(s: AsyncSession, unit: Unit, now: datetime) -> str:
    year = now.year
    prefix = f"{unit.name}调字〔{year}〕第"
    n = (await s.execute(select(func.count()).select_from(Agreement).where(
        Agreement.unit_id == unit.id, Agreement.number.startswith(prefix, autoescape=True)))).scalar_one()
    return f"{prefix}{n + 1}号"


def _bump(a: Agreement, now: datetime) -> None:
    a.updated_at = now
    a.row_version += 1


async def create(s: AsyncSession, actor: Actor, unit: Unit, raw: dict[str, Any], *, case_id: int | None,
                 session_id: int | None, amends: Agreement | None = None, now: datetime) -> Loaded:
    """A new draft, version 1. The number, unit and mediator default from the context when not given."""
    raw = dict(raw)
    raw.setdefault("unit_code", unit.code)
    raw.setdefault("unit_name", unit.name)
    if raw.get("unit_code") != unit.code:
        raise StoreError(Kind.INVALID, "invalid_content", "content.unit_code must be the agreement's unit", field="unit_code")
    if not raw.get("number"):
        raw["number"] = await next_number(s, unit, now)
        if amends is not None:
            raw["number"] = f"{amends.number}-变更{await _amend_count(s, amends) + 1}"
    content = _parse(raw)
    text = render_text(content)
    salts = new_salts(content.to_dict())
    a = Agreement(number=content.number, case_id=case_id, session_id=session_id, unit_id=unit.id,
                  dispute_type=content.dispute_type, state=workflow.DRAFT, current_version=1,
                  amends_id=amends.id if amends else None, created_by=actor.id, created_at=now, updated_at=now,
                  row_version=1)
    s.add(a)
    try:
        await s.flush()
    except IntegrityError as e:
        raise StoreError(Kind.CONFLICT, "number_taken", f"agreement number {content.number} is already used") from e
    v = AgreementVersion(agreement_id=a.id, number=1, content=content.to_dict(), text=text,
                         document_hash=committed_hash(content.to_dict(), text, salts), salts=salts, note="",
                         created_by=actor.id, created_at=now)
    s.add(v)
    await s.flush()
    await log(s, a, "created", {"version": 1, "document_hash": v.document_hash, "dispute_type": a.dispute_type,
                                "amends": amends.id if amends else None, "by": _who(actor)})
    return Loaded(a, unit, v)


async def _amend_count(s: AsyncSession, a: Agreement) -> int:
    return (await s.execute(select(func.count()).select_from(Agreement).where(Agreement.amends_id == a.id))
            ).scalar_one()


async def save_version(s: AsyncSession, actor: Actor, ld: Loaded, base_version: int, raw: dict[str, Any],
                       note: str = "", *, now: datetime) -> Loaded:
    """A new draft version. Refused when frozen or signed (409), or when based on a stale version (409)."""
    a = ld.agreement
    try:
        workflow.transition(a.state, "edit")
    except workflow.WorkflowError as e:
        raise StoreError(Kind.CONFLICT, e.code, e.message) from e
    if base_version != a.current_version:
        raise StoreError(Kind.CONFLICT, "stale_version", f"the draft changed meanwhile: version {a.current_version} is "
                                               f"current, you edited version {base_version}",
                         current_version=a.current_version)
    old = ld.content
    raw = {**raw, "number": old.number, "unit_code": old.unit_code, "unit_name": old.unit_name}
    if a.case_id is not None or "case_ref" not in raw:
        raw["case_ref"] = old.case_ref  # the case code is the case's, not the editor's: never dropped
    raw["parties"] = [_keep_id(p, old) for p in raw.get("parties") or []] if isinstance(raw.get("parties"), list) \
        else raw.get("parties")
    content = _parse(raw)
    text = render_text(content)
    if content.to_dict() == ld.version.content and text == ld.version.text and ld.version.salts is not None:
        return ld  # nothing changed: no new version
    salts = new_salts(content.to_dict())  # fresh per version: a commitment says nothing across versions
    h = committed_hash(content.to_dict(), text, salts)
    a.current_version += 1
    a.dispute_type = content.dispute_type
    _bump(a, now)
    v = AgreementVersion(agreement_id=a.id, number=a.current_version, content=content.to_dict(), text=text,
                         document_hash=h, salts=salts, note=note[:500], created_by=actor.id, created_at=now)
    s.add(v)
    await s.flush()

    await log(s, a, "version_saved", {"version": v.number, "document_hash": h, "note": v.note, "by": _who(actor),
                                      "changes": [str(c) for c in changes(old, content)][:50]})
    return Loaded(a, ld.unit, v)


def _keep_id(p: Any, old: AgreementContent) -> Any:
    """Views only ever show masked IDs, so an editor sends ``keep_id`` to keep the stored full number. A
    confidential address and phone withheld from the editor (``withheld``) are kept as stored when the
    editor sends them empty, so editing by someone who may not see them never erases them."""
    if not isinstance(p, dict):
        return p
    p = dict(p)
    keep_id, withheld = p.pop("keep_id", False), p.pop("withheld", False)
    try:
        before = old.party(str(p.get("key")))
    except KeyError:
        return p
    if keep_id and not p.get("id_number"):
        p["id_number"] = before.id_number
    if withheld and before.confidential:
        for name in ("address", "phone"):
            if not p.get(name):
                p[name] = getattr(before, name)
    return p


async def freeze(s: AsyncSession, actor: Actor, ld: Loaded, version: int, *, now: datetime) -> Loaded:
    a = ld.agreement
    if version != a.current_version:
        raise StoreError(Kind.CONFLICT, "stale_version", f"version {a.current_version} is current, not {version}",
                         current_version=a.current_version)
    problems = ready_to_freeze(ld.content)
    if problems:
        raise StoreError(Kind.INVALID, "not_ready", "the draft is not ready to sign: " + "; ".join(problems))
    _apply(a, "freeze")
    a.frozen_at = now
    ld.version.frozen_at = now
    _bump(a, now)
    await log(s, a, "frozen", {"version": version, "document_hash": ld.version.document_hash, "by": _who(actor)})
    return ld


def _apply(a: Agreement, action: str, **kw: Any) -> None:
    try:
        a.state = workflow.transition(a.state, action, **kw)
    except workflow.WorkflowError as e:
        raise StoreError(Kind.CONFLICT if e.code != "reason_required" else Kind.INVALID, e.code, e.message) from e


async def reopen(s: AsyncSession, actor: Actor, ld: Loaded, *, now: datetime) -> Loaded:
    a = ld.agreement
    n = await signature_count(s, a.id, a.current_version)
    _apply(a, "reopen", signatures=n)
    a.frozen_at = None
    ld.version.frozen_at = None
    _bump(a, now)
    await log(s, a, "reopened", {"version": a.current_version, "by": _who(actor)})
    return ld


async def close(s: AsyncSession, actor: Actor, ld: Loaded, action: str, reason: str, *, now: datetime) -> Loaded:
    """Withdraw (before effect) or void (after), with a reason."""
    a = ld.agreement
    _apply(a, action, reason=reason)
    a.closed_reason = reason.strip()[:2000]
    _bump(a, now)
    await log(s, a, "withdrawn" if action == "withdraw" else "voided",
              {"version": a.current_version, "reason": a.closed_reason, "by": _who(actor)})
    return ld


async def amend(s: AsyncSession, actor: Actor, ld: Loaded, *, now: datetime) -> Loaded:
    """An amendment: a new agreement whose first version copies the effective one and references it."""
    a = ld.agreement
    _apply(a, "amend")
    raw = dict(ld.version.content)
    raw["number"] = ""
    new = await create(s, actor, ld.unit, raw, case_id=a.case_id, session_id=a.session_id, amends=a, now=now)
    await log(s, a, "amendment_started", {"amendment": new.agreement.id, "amendment_number": new.agreement.number,
                                          "by": _who(actor)})
    return new


async def signature_count(s: AsyncSession, agreement_id: int, version: int) -> int:
    return (await s.execute(select(func.count()).select_from(AgreementSignature).where(
        AgreementSignature.agreement_id == agreement_id, AgreementSignature.version == version))).scalar_one()


async def signature_rows(s: AsyncSession, agreement_id: int, version: int) -> list[AgreementSignature]:
    return list((await s.execute(select(AgreementSignature).where(
        AgreementSignature.agreement_id == agreement_id, AgreementSignature.version == version)
        .order_by(AgreementSignature.seq))).scalars())


async def signing_state(s: AsyncSession, ld: Loaded) -> SigningState:
    rows = await signature_rows(s, ld.agreement.id, ld.agreement.current_version)
    return SigningState(ld.content, ld.version.number, ld.version.document_hash,
                        [SignedRecord(r.record, r.signature, r.evidence) for r in rows])


async def sign(s: AsyncSession, keyring: Keyring, ld: Loaded, kind: str, key: str, version: int, doc_hash: str,
               evidence: Evidence, image: bytes | None, *, now: datetime) -> tuple[SignedRecord, bool]:
    """Add one signature; returns it and whether the agreement just took effect."""
    a = ld.agreement
    if a.state != workflow.SIGNING:
        if a.state == workflow.DRAFT:
            raise StoreError(Kind.CONFLICT, "not_frozen", "this agreement is still a draft; it is not open for signing")
        raise StoreError(Kind.CONFLICT, "not_signing", f"this agreement is {a.state}; it cannot be signed")
    st = await signing_state(s, ld)
    key_id, private = keyring.signing_key(ld.unit.code)
    try:
        rec = st.sign(kind, key, version, doc_hash, evidence, ld.unit.code, key_id, private)
    except SigningError as e:
        raise StoreError(e.kind, e.code, e.message) from e
    s.add(AgreementSignature(agreement_id=a.id, version=version, seq=rec.payload["seq"], slot=rec.slot,
                             record=rec.payload, signature=rec.signature, image=image, evidence=rec.evidence,
                             created_at=now))
    try:
        await s.flush()
    except IntegrityError as e:  # two devices at once: the database keeps one
        raise StoreError(Kind.CONFLICT, "already_signed", "this signature was just recorded by another request") from e
    await log(s, a, "signed", {"version": version, "document_hash": doc_hash, "seq": rec.payload["seq"],
                               "signer": rec.payload["signer"], "check": rec.payload["check"],
                               "at": rec.payload["at"], "ip": evidence.ip,  # in full: the ledger keeps it
                               "image_sha256": rec.payload["image_sha256"], "key_id": key_id,
                               "signature_hash": rec.hash})
    took_effect = False
    if st.complete:
        _apply(a, "complete")
        a.effective_at = now
        took_effect = True
        await log(s, a, "effective", {"version": version, "document_hash": doc_hash, "signatures": len(st.records)})
        if a.amends_id:
            old = (await s.execute(select(Agreement).where(Agreement.id == a.amends_id))).scalar_one_or_none()
            if old is not None and old.state == workflow.EFFECTIVE:
                old.state = workflow.transition(old.state, "supersede")
                _bump(old, now)
                await log(s, old, "superseded", {"by_agreement": a.id, "by_number": a.number})
    _bump(a, now)
    return rec, took_effect


async def add_comment(s: AsyncSession, ld: Loaded, version: int, clause: str, text: str, author_name: str,
                      author_role: str, staff_id: int | None, invitation_id: int | None, *, now: datetime) -> AgreementComment:

    if version != ld.agreement.current_version:
        raise StoreError(Kind.CONFLICT, "stale_version", f"version {ld.agreement.current_version} is current, not {version}")
    if clause not in clause_keys(ld.content):
        raise StoreError(Kind.INVALID, "invalid_field", f"no clause {clause!r} in this agreement", field="clause")
    c = AgreementComment(agreement_id=ld.agreement.id, version=version, clause=clause, author_name=author_name,
                         author_role=author_role, staff_id=staff_id, invitation_id=invitation_id, text=text,
                         created_at=now)
    s.add(c)
    await s.flush()
    await log(s, ld.agreement, "comment", {"version": version, "clause": clause, "text": text, "comment": c.id,
                                           "author": author_name, "role": author_role,
                                           "document_hash": ld.version.document_hash})
    return c


async def comments(s: AsyncSession, agreement_id: int) -> list[AgreementComment]:
    return list((await s.execute(select(AgreementComment).where(AgreementComment.agreement_id == agreement_id)
                                 .order_by(AgreementComment.id))).scalars())


async def record_performance(s: AsyncSession, actor: Actor, ld: Loaded, key: str, status: str, note: str,
                             proof_sha256: str | None, cases: CaseLink, *, now: datetime) -> AgreementPerformance:
    """One update on an obligation, with its proof: an evidence upload of the case, named by SHA-256."""

    a = ld.agreement
    if a.state != workflow.EFFECTIVE:
        raise StoreError(Kind.CONFLICT, "not_effective", "performance is recorded once the agreement is in effect")
    try:
        performance.check_update(ld.content, key, status, note)
    except performance.PerformanceError as e:
        raise StoreError(Kind.INVALID, "invalid_field", str(e)) from e
    proof = None
    if proof_sha256:
        proof = await cases.proof_document(s, a.case_id, proof_sha256)
        if proof is None:
            raise StoreError(Kind.INVALID, "invalid_field", "proof_sha256 names no evidence uploaded to the case",
                             field="proof_sha256")
    row = AgreementPerformance(agreement_id=a.id, obligation=key, status=status, note=note,
                               proof_sha256=proof_sha256, proof_name=proof[0] if proof else None,
                               proof_type=proof[1] if proof else None, staff_id=actor.id, at=now)
    s.add(row)
    await s.flush()
    synced = await cases.performance(s, a.id, a.case_id, obligation_sentence(ld.content.obligation(key),
                                                                                  ld.content), status)
    await log(s, a, "performance", {"obligation": key, "status": status, "note": note,
                                    "proof_sha256": row.proof_sha256, "proof_name": row.proof_name,
                                    "case_obligation_updated": synced, "by": _who(actor)})
    return row


async def progress(s: AsyncSession, ld: Loaded, today: date) -> list[performance.ObligationProgress]:
    rows = (await s.execute(select(AgreementPerformance).where(AgreementPerformance.agreement_id == ld.agreement.id)
                            .order_by(AgreementPerformance.id))).scalars()
    latest = {r.obligation: {"status": r.status, "note": r.note, "proof_sha256": r.proof_sha256, "at": iso(r.at)}
              for r in rows}
    return performance.progress(ld.content, latest, today)


STAFF, PARTY_COPY = "staff", "party"  # the audiences an agreement PDF is built for


async def pdf_input(s: AsyncSession, ld: Loaded, verify_base: str | None, audience: str = PARTY_COPY, *,
                    now: datetime) -> PdfInput:
    """What an export draws and embeds. Every copy carries the content as it travels (format 2: a
    confidential party's address and phone blanked and committed to); only the staff copy carries the
    signature evidence in full (the IP addresses and user agents, with their salts)."""
    from server.agreements.pdf import PdfInput

    a, v = ld.agreement, ld.version
    rows = await signature_rows(s, a.id, v.number)
    amends = None
    if a.amends_id:
        amends = (await s.execute(select(Agreement.number).where(Agreement.id == a.amends_id))).scalar_one_or_none()
    content, commitments = v.content, None
    if v.salts is not None:
        content, commitments = redact(v.content, v.salts)
    staff = audience == STAFF
    return PdfInput(
        content=parse_content(content), text=v.text, version=v.number, document_hash=v.document_hash,
        state=a.state, records=[SignedRecord(r.record, r.signature, r.evidence if staff else None) for r in rows],
        images={r.slot: r.image for r in rows if r.image},
        verify_url=f"{verify_base}?h={v.document_hash}" if verify_base else "",
        exported_at=iso(now.replace(microsecond=0)) or "", effective_at=iso(a.effective_at),
        amends=amends, draft=a.state == workflow.DRAFT, commitments=commitments, audience=audience,
    )


def proofs(v: AgreementVersion) -> dict[str, dict[str, str]]:
    """The archive's proof of each committed field: value, salt and the commitment they open."""
    return openings(v.content, v.salts or {})


def sealer(keyring: Keyring, unit: Unit) -> Sealer:
    from server.agreements.export import Sealer

    kid, key = keyring.signing_key(unit.code)
    created = next((k.created_at for k in keyring.public_keys(unit.code) if k.key_id == kid), "")
    return Sealer(unit.code, kid, key, unit.name, created, keyring.city_ca().unit_seal(unit.code, unit.name))


def summary(ld: Loaded) -> dict[str, Any]:
    a, v = ld.agreement, ld.version
    return {"id": a.id, "number": a.number, "case_id": a.case_id, "session_id": a.session_id,
            "unit": ld.unit.code, "unit_name": ld.unit.name, "dispute_type": a.dispute_type, "state": a.state,
            "version": v.number, "document_hash": v.document_hash, "short_hash": short_hash(v.document_hash),
            "amends_id": a.amends_id, "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
            "frozen_at": iso(a.frozen_at), "effective_at": iso(a.effective_at), "closed_reason": a.closed_reason,
            "row_version": a.row_version}


async def find_by_hash(s: AsyncSession, h: str) -> tuple[Agreement, AgreementVersion, Unit] | None:
    row = (await s.execute(select(Agreement, AgreementVersion, Unit)
                           .join(AgreementVersion, AgreementVersion.agreement_id == Agreement.id)
                           .join(Unit, Unit.id == Agreement.unit_id)
                           .where(AgreementVersion.document_hash == h).limit(1))).first()
    return (row[0], row[1], row[2]) if row else None


async def visible_agreements(s: AsyncSession, actor: Actor, now: datetime, limit: int = 200) -> list[Any]:
    """(agreement, unit) rows the actor may see, newest first: the agreements list page."""
    return list((await s.execute(
        select(Agreement, Unit).join(Unit, Unit.id == Agreement.unit_id)
        .where(access.scope_agreements(actor, now, Unit.path, Agreement.case_id))
        .order_by(Agreement.id.desc()).limit(limit))).all())


async def ledger_proof_for_export(s: AsyncSession, agreement: Any, version: int, keyring: Any) -> dict[str, Any] | None:
    """The ``ledger`` member for an export of ``agreement`` (version ``version``): None unless that version
    took effect. Its proof is against the first checkpoint covering the effective event, which is the one
    signed in the transaction that made it effective; an agreement that took effect before checkpoints
    existed gets one signed now (in the caller's transaction, with ``keyring``: the city's ledger keyring)."""
    if agreement.effective_at is None:
        return None
    chain = chain_of(agreement)
    rows = (await s.execute(select(ledger_store.LedgerEvent).where(
        ledger_store.LedgerEvent.chain == chain, ledger_store.LedgerEvent.type == ledger_proof.EFFECTIVE)
        .order_by(ledger_store.LedgerEvent.seq.desc()))).scalars()
    ev = next((r.to_event() for r in rows if isinstance(r.data, dict) and r.data.get("agreement") == agreement.id
               and r.data.get("version") == version), None)
    if ev is None:
        return None  # this version never took effect (an earlier one did)
    proof = await checkpoints.inclusion(s, chain, ev.seq)
    if proof is None:
        await checkpoints.sign_checkpoint(s, keyring, f"export of agreement {agreement.number}")
        proof = await checkpoints.inclusion(s, chain, ev.seq)
    if proof is None or proof.event_hash != ev.hash:
        return None
    return ledger_proof.entry(ev, proof.index, proof.path, proof.checkpoint)
