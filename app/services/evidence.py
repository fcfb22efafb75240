"""Evidence use cases: add an item (file, text or both), remove one before the appeal, sweep orphans.

The file is judged and stored before the transaction starts (a write lock is never held while bytes
move); the row commits after. A failed commit deletes the stored file, and a crash in between leaves
an object without a row, which ``sweep_orphans`` removes once it is older than a grace period.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.core.clock import rfc3339, utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.errors import validation_errors
from app.core.ids import has_prefix
from app.core.uploads import ReceivedFile
from app.domain import case_states as cs
from app.domain.errors import (
    AppealSubmitted,
    CaseClosed,
    CaseStorageFull,
    FieldProblem,
    InvalidInput,
    NotFound,
    check_version,
)
from app.models.chargeback import Chargeback
from app.models.evidence import Appeal, Evidence, EvidenceForm
from app.security.credentials import Caller
from app.services import audit, views
from app.services.idempotency import Reservation
from app.storage import Storage, files

log = logging.getLogger("chargeback_desk.evidence")

ORPHAN_GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A judged file already in storage under ``key``."""

    key: str
    filename: str | None
    content_type: str
    size_bytes: int
    sha256: str
    pages: int


@dataclass(frozen=True, slots=True)
class NewEvidence:
    id: str
    evidence_type: str
    text: str | None
    description: str | None
    facts: dict[str, Any]
    file: StoredFile | None


def parse_form(fields: dict[str, str]) -> EvidenceForm:
    """The upload's text fields as one validated model; ``facts`` arrives as JSON text."""
    raw: dict[str, Any] = {k: v for k, v in fields.items() if v.strip() or k == "evidence_type"}
    if "facts" in raw:
        try:
            raw["facts"] = json.loads(raw["facts"])
        except (ValueError, RecursionError):  # bad syntax, or nesting deep enough to exhaust the parser
            raw["facts"] = None
        if not isinstance(raw["facts"], dict):
            raise InvalidInput(
                "Form field `facts` must be a JSON object.",
                errors=[FieldProblem("facts", "must be a JSON object")],
            )
    try:
        return EvidenceForm.model_validate(raw)
    except ValidationError as exc:
        problems = [FieldProblem(p["field"], p["message"]) for p in validation_errors(list(exc.errors()))]
        raise InvalidInput("One or more form fields are invalid; see `errors`.", errors=problems) from None


def judge_and_store(storage: Storage, received: ReceivedFile, key: str) -> StoredFile:
    """Judge the file by its bytes (type, and that it parses), then store it under ``key``."""
    kind = files.sniff(received.head)
    inspection = files.inspect(received.path, kind)
    with received.path.open("rb") as data:
        storage.put(key, data)
    return StoredFile(
        key=key,
        filename=files.safe_filename(received.filename),
        content_type=kind.content_type,
        size_bytes=received.size,
        sha256=received.sha256,
        pages=inspection.pages,
    )


def storage_key(case_id: str, evidence_id: str) -> str:
    return f"{case_id}/{evidence_id}"


def refuse_unless_open(case: Any, now: datetime) -> None:
    """Evidence may change only while the case waits for its appeal (``case`` is a row or an object)."""
    if case.appeal_id is not None:
        raise AppealSubmitted(
            f"Chargeback {case.id} has been appealed; its evidence is frozen with the appeal package."
        )
    status = cs.effective_status(cs.CaseStatus(case.status), case.respond_by, now)
    if status is cs.CaseStatus.EXPIRED:
        raise CaseClosed(f"Chargeback {case.id}'s appeal window closed at {rfc3339(case.respond_by)}.")
    if status is not cs.CaseStatus.NEEDS_RESPONSE:
        raise CaseClosed(f"Chargeback {case.id} is {status.value}; its evidence can no longer change.")


def _case_for_update(session: Session, caller: Caller, case_id: str) -> Chargeback:
    case = session.get(Chargeback, case_id, with_for_update=True) if has_prefix(case_id, "cb") else None
    if case is None or not caller.may_see(case.seller_id):
        raise NotFound(f"Chargeback {case_id} does not exist.")
    return case


def used_bytes(session: Session, case_id: str) -> int:
    q = select(func.coalesce(func.sum(col(Evidence.size_bytes)), 0)).where(
        col(Evidence.chargeback_id) == case_id
    )
    return int(session.execute(q).scalar_one())


def add(
    session: Session,
    settings: Settings,
    storage: Storage,
    caller: Caller,
    case_id: str,
    new: NewEvidence,
    reservation: Reservation | None,
    if_match: int | None = None,
) -> dict[str, Any]:
    """Record an evidence item whose file (if any) is already stored; on failure the file is removed."""
    try:
        begin_write(session)
        case = _case_for_update(session, caller, case_id)  # concurrent uploads queue on the case
        now = utcnow()
        check_version("case", case.version, if_match)
        refuse_unless_open(case, now)
        size = new.file.size_bytes if new.file else 0
        used = used_bytes(session, case.id)
        if used + size > settings.max_evidence_case_bytes:
            raise CaseStorageFull(
                f"The case holds {used} bytes of evidence; this {size}-byte file would pass its "
                f"{settings.max_evidence_case_bytes}-byte limit (MAX_EVIDENCE_CASE_BYTES)."
            )
        item = Evidence(
            id=new.id,
            chargeback_id=case.id,
            seller_id=case.seller_id,
            evidence_type=new.evidence_type,
            filename=new.file.filename if new.file else None,
            content_type=new.file.content_type if new.file else None,
            size_bytes=size,
            sha256=new.file.sha256 if new.file else hashlib.sha256((new.text or "").encode()).hexdigest(),
            pages=new.file.pages if new.file else 0,
            storage_key=new.file.key if new.file else None,
            text=new.text,
            description=new.description,
            facts=new.facts,
            created_by=caller.actor,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
        changes = {"evidence_id": item.id, "evidence_type": item.evidence_type, "sha256": item.sha256}
        audit.record(session, case, "chargeback.evidence_added", caller.actor, now, changes)
        public = views.evidence(item, settings)
        if reservation is not None:
            reservation.complete(session, 201, views.json_text(public))
        session.commit()
    except BaseException:
        session.rollback()
        if new.file is not None:
            storage.delete(new.file.key)
        raise
    return public


def remove(session: Session, storage: Storage, caller: Caller, case_id: str, evidence_id: str) -> None:
    """Delete an item before the appeal; its file goes after the commit (a failed delete is swept)."""
    begin_write(session)
    case = _case_for_update(session, caller, case_id)
    item = session.get(Evidence, evidence_id) if has_prefix(evidence_id, "ev") else None
    if item is None or item.chargeback_id != case.id:
        raise NotFound(f"Evidence {evidence_id} does not exist on chargeback {case_id}.")
    now = utcnow()
    refuse_unless_open(case, now)
    key = item.storage_key
    changes = {"evidence_id": item.id, "evidence_type": item.evidence_type, "sha256": item.sha256}
    session.delete(item)
    audit.record(session, case, "chargeback.evidence_removed", caller.actor, now, changes)
    session.commit()
    if key is not None:
        try:
            storage.delete(key)
        except OSError:
            log.warning("evidence file %s not deleted; the orphan sweep will remove it", key)


def sweep_orphans(session: Session, storage: Storage, now: datetime | None = None) -> int:
    """Remove stored objects that no row names (a crash between storing and committing), once they
    are older than ``ORPHAN_GRACE`` (an upload still in flight has not committed yet)."""
    cutoff = (now or utcnow()) - ORPHAN_GRACE
    removed = 0
    for obj in storage.list(""):
        if obj.modified_at > cutoff:
            continue
        name = obj.key.rsplit("/", 1)[-1]
        if name.startswith("ev_"):
            known = session.execute(
                select(col(Evidence.id)).where(col(Evidence.storage_key) == obj.key)
            ).first()
        elif name.startswith("apl_"):
            known = session.execute(select(col(Appeal.id)).where(col(Appeal.package_key) == obj.key)).first()
        elif name.startswith(".upload-"):
            known = None  # a temporary file a crashed upload left behind
        else:
            continue  # not ours: never delete what this service did not write
        session.rollback()
        if known is None:
            storage.delete(obj.key)
            removed += 1
    return removed
