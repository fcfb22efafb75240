"""Evidence of a case, its report, and the case's one appeal (seller, or the platform for it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.core.clock import utcnow
from app.core.errors import error_responses
from app.core.ids import new_id
from app.core.uploads import MalformedMultipart, UploadLimits, read_form
from app.dependencies import ApiRouter, IdempotencyKey, IfMatch, SellerOrPlatform, db_of
from app.domain import errors as e
from app.domain.evidence_rules import EvidenceType
from app.models.evidence import FORM_FIELDS, AppealCreate, AppealPublic, EvidencePublic
from app.routers.support import (
    Cursor,
    Limit,
    UpdatedSince,
    create_once,
    json_response,
    replay,
    sends,
    take_key,
)
from app.services import appeals, evidence, idempotency, reads, views
from app.storage import files

router = ApiRouter(prefix="/v1/chargebacks", tags=["evidence"])
_AUTH = (e.InvalidCredential, e.Forbidden)
_IDEM = (e.IdempotencyKeyReused, e.IdempotencyInProgress)
_CHUNK = 256 * 1024


class EvidencePage(BaseModel):
    data: list[EvidencePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ReportPath(BaseModel):
    name: str = Field(examples=["delivered"])
    title: str = Field(examples=["The buyer received the goods"])
    satisfied: bool
    missing_required: list[EvidenceType]
    missing_one_of: list[list[EvidenceType]] = Field(
        description="Groups of which at least one item is needed.",
        examples=[[["item_description", "purchase_agreement"]]],
    )
    missing_recommended: list[EvidenceType]


class ReportItem(BaseModel):
    evidence_type: EvidenceType
    requirement: str = Field(examples=["required"], description="required, one_of, recommended or optional")
    group: str | None = Field(default=None, description="The one-of group it belongs to.", examples=["G1"])
    provided: bool
    count: int = Field(examples=[1])
    advice: str


class ReportWarning(BaseModel):
    code: str = Field(examples=["refund_less_than_disputed"])
    message: str
    evidence_id: str | None = None


class PackageBudget(BaseModel):
    size_bytes: int = Field(description="Bytes of evidence files so far.")
    pages: int = Field(description="Pages the package would have now (before the statement).")
    max_size_bytes: int
    max_pages: int = Field(
        description="MAX_PACKAGE_PAGES; over it the report warns, the package is still built."
    )


class EvidenceReport(BaseModel):
    reason_category: str = Field(examples=["not_received"])
    paths: list[ReportPath]
    nearest_path: str = Field(examples=["delivered"])
    items: list[ReportItem] = Field(description="The nearest path's evidence, and any other type provided.")
    missing_required: list[EvidenceType]
    missing_recommended: list[EvidenceType]
    warnings: list[ReportWarning]
    completeness: float = Field(ge=0, le=1, examples=[0.7])
    ready_to_submit: bool
    respond_by: str = Field(examples=["2026-12-09T15:59:59.999999Z"])
    package: PackageBudget


UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["evidence_type"],
                    "properties": {
                        "evidence_type": {"type": "string", "enum": [t.value for t in EvidenceType]},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, JPEG or PNG, judged by its bytes; "
                            "at most MAX_EVIDENCE_FILE_BYTES.",
                        },
                        "text": {
                            "type": "string",
                            "maxLength": FORM_FIELDS["text"],
                            "description": "Text evidence (e.g. a tracking number), "
                            "beside or instead of a file.",
                            "examples": ["DHL tracking JD014600006281234567, delivered 24 Nov 2026"],
                        },
                        "description": {"type": "string", "maxLength": FORM_FIELDS["description"]},
                        "facts": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": "#/components/schemas/EvidenceFacts"},
                            "description": "A JSON object of `EvidenceFacts` (carrier, tracking_number, "
                            "delivered_at, delivery_address, signed, refund_amount_minor, refunded_at, …).",
                            "example": '{"carrier": "DHL", "tracking_number": "JD014600006281234567", '
                            '"delivered_at": "2026-11-24T14:02:00Z", "signed": true}',
                        },
                    },
                },
                "encoding": {"file": {"contentType": "application/pdf, image/jpeg, image/png"}},
            }
        },
    }
}


@router.post(
    "/{chargeback_id}/evidence",
    status_code=201,
    response_model=EvidencePublic,
    responses=error_responses(
        *_AUTH,
        e.NotFound,
        e.CaseClosed,
        e.AppealSubmitted,
        e.FileTooLarge,
        e.CaseStorageFull,
        e.UnsupportedFileType,
        e.UnsupportedMediaType,
        MalformedMultipart,
        e.PreconditionFailed,
        *_IDEM,
    ),
    openapi_extra=sends(201, "Location", extra=UPLOAD_BODY),
)
async def upload_evidence(
    chargeback_id: str,
    request: Request,
    caller: SellerOrPlatform,
    if_match: IfMatch,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add an evidence item: a file (streamed, judged by its bytes), a text, or both.

    Sent as `multipart/form-data`. The file's type is judged from its content, not its name (PDF,
    JPEG or PNG); size limits apply per file and per case. Evidence can be added while the case is
    open and until its appeal is submitted.
    """
    db = db_of(request)
    settings = db.settings
    case, used = await reads.case_for_upload(db.loop_reader, caller, chargeback_id)
    # Before a byte is read; both checked again on commit.
    e.check_version("case", case.version, if_match)
    evidence.refuse_unless_open(case, utcnow())
    limits = UploadLimits(
        file_bytes=settings.max_evidence_file_bytes,
        room_bytes=max(settings.max_evidence_case_bytes - used, 0),
        field_chars=FORM_FIELDS,
    )
    form = await read_form(request.stream(), request.headers.get("content-type"), limits)
    stored: evidence.StoredFile | None = None
    ran = False
    try:
        fields = evidence.parse_form(form.fields)
        received = form.file if form.file is not None and (form.file.size or form.file.filename) else None
        if received is None and fields.text is None:
            raise e.InvalidInput(
                "Send a `file`, a `text`, or both.",
                errors=[e.FieldProblem("file", "a file or a text is required")],
            )
        evidence_id = new_id("ev")
        if received is not None:
            key = evidence.storage_key(case.id, evidence_id)
            stored = await run_in_threadpool(evidence.judge_and_store, db.storage, received, key)
        facts = fields.facts.model_dump(mode="json", exclude_none=True) if fields.facts else {}
        new = evidence.NewEvidence(
            evidence_id, fields.evidence_type.value, fields.text, fields.description, facts, stored
        )
        # What a retry must repeat to replay: the fields, the file's bytes (by hash) and its name.
        fingerprint = _Fingerprint(
            fields=fields.model_dump(mode="json", exclude_none=True),
            file_sha256=stored.sha256 if stored else None,
            filename=stored.filename if stored else None,
        )

        def use_case(session: Any, reservation: idempotency.Reservation | None) -> dict[str, Any]:
            nonlocal ran
            ran = True
            return evidence.add(session, settings, db.storage, caller, case.id, new, reservation, if_match)

        location = f"/v1/chargebacks/{case.id}/evidence/{{id}}"
        return await run_in_threadpool(
            create_once, request, db, caller, idempotency_key, fingerprint, use_case, location
        )
    finally:
        form.close()
        if stored is not None and not ran:  # refused or replayed before the use case took the file
            await run_in_threadpool(db.storage.delete, stored.key)


class _Fingerprint(BaseModel):
    fields: dict[str, Any]
    file_sha256: str | None
    filename: str | None


@router.get(
    "/{chargeback_id}/evidence",
    response_model=EvidencePage,
    responses=error_responses(*_AUTH, e.NotFound, e.CursorMismatch),
)
async def list_evidence(
    chargeback_id: str,
    caller: SellerOrPlatform,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """List the case's evidence, newest first."""
    db = db_of(request)
    page = await reads.evidence_list(
        db.loop_reader, db.settings, caller, chargeback_id, limit, cursor, updated_since
    )
    return json_response(page)


@router.get(
    "/{chargeback_id}/evidence/{evidence_id}",
    response_model=EvidencePublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_evidence(
    chargeback_id: str, evidence_id: str, caller: SellerOrPlatform, request: Request
) -> Response:
    """Get an evidence item's details."""
    db = db_of(request)
    row = await reads.evidence_item(db.loop_reader, caller, chargeback_id, evidence_id)
    return json_response(views.evidence(row, db.settings))


_DOWNLOAD = sends(200, "ETag", "Cache-Control", "Content-Disposition")


def _stream(opened: BinaryIO) -> Iterator[bytes]:
    with opened:
        while chunk := opened.read(_CHUNK):
            yield chunk


def _download(
    opened: BinaryIO, content_type: str, size: int, filename: str | None, fallback: str, sha256: str
) -> Response:
    headers = {
        "Content-Disposition": files.content_disposition(filename, fallback),
        "Content-Length": str(size),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
        "ETag": f'"{sha256}"',
        # A stored file is never a page: no script runs even if a browser is asked to render it.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return StreamingResponse(_stream(opened), media_type=content_type, headers=headers)


@router.get(
    "/{chargeback_id}/evidence/{evidence_id}/content",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, with the content type judged at upload.",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in (k.content_type for k in files.FileKind)
            },
        },
        **error_responses(*_AUTH, e.NotFound, validation=False),
    },
    openapi_extra=_DOWNLOAD,
)
async def download_evidence(
    chargeback_id: str, evidence_id: str, caller: SellerOrPlatform, request: Request
) -> Response:
    """Download an evidence item's file."""
    db = db_of(request)
    row = await reads.evidence_item(db.loop_reader, caller, chargeback_id, evidence_id)
    if row.storage_key is None:
        raise e.NotFound(f"Evidence {evidence_id} is text only; it has no file.")
    try:
        opened = await run_in_threadpool(db.storage.open, row.storage_key)
    except FileNotFoundError:
        raise e.NotFound(f"The file of evidence {evidence_id} is missing from storage.") from None
    return _download(opened, row.content_type, row.size_bytes, row.filename, f"{row.id}", row.sha256)


@router.delete(
    "/{chargeback_id}/evidence/{evidence_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(*_AUTH, e.NotFound, e.CaseClosed, e.AppealSubmitted, validation=False),
)
def delete_evidence(
    chargeback_id: str, evidence_id: str, caller: SellerOrPlatform, request: Request
) -> Response:
    """Delete an evidence item (only before the appeal)."""
    db = db_of(request)
    with db.session() as session:
        evidence.remove(session, db.storage, caller, chargeback_id, evidence_id)
    return Response(status_code=204)


@router.get(
    "/{chargeback_id}/evidence-report",
    response_model=EvidenceReport,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_evidence_report(chargeback_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """What evidence the case has, what it still lacks, and whether it can be submitted."""
    db = db_of(request)
    return json_response(await reads.evidence_report(db.loop_reader, db.settings, caller, chargeback_id))


@router.post(
    "/{chargeback_id}/appeal",
    status_code=201,
    response_model=AppealPublic,
    responses=error_responses(
        *_AUTH,
        e.NotFound,
        e.AppealExists,
        e.DeadlinePassed,
        e.CaseClosed,
        e.EvidenceChanged,
        e.MissingRequiredEvidence,
        e.PreconditionFailed,
        *_IDEM,
    ),
    openapi_extra=sends(201, "Location"),
)
def submit_appeal(
    chargeback_id: str,
    request: Request,
    caller: SellerOrPlatform,
    body: AppealCreate,
    if_match: IfMatch,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Submit the case's one appeal: builds the package and mails it to the appeal mailbox.

    The evidence must satisfy one defence path of the reason code (see `get_evidence_report`) and
    the deadline must not have passed. The package is one PDF: a cover page with the statement,
    then every evidence item. A case has at most one appeal.
    """
    db = db_of(request)
    location = f"/v1/chargebacks/{chargeback_id}/appeal"
    with db.session() as session:
        # Held in a committed reservation: the package is built before the appeal's transaction.
        reservation = take_key(session, request, caller, idempotency_key, body, idempotency.reserve_committed)
        if isinstance(reservation, idempotency.Replay):
            return replay(reservation, location)
        try:
            public = appeals.submit(
                session, db.settings, db.storage, caller, chargeback_id, body, reservation, if_match
            )
        except BaseException:
            if reservation is not None:
                idempotency.release(session, reservation)
            raise
    return json_response(public, status=201, headers={"Location": location})


@router.get(
    "/{chargeback_id}/appeal",
    response_model=AppealPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_appeal(chargeback_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Get the case's appeal."""
    db = db_of(request)
    row = await reads.appeal(db.loop_reader, caller, chargeback_id)
    return json_response(views.appeal(row, db.settings))


@router.get(
    "/{chargeback_id}/appeal/package",
    response_class=Response,
    responses={
        200: {
            "description": "The appeal package: one PDF, the cover page then every evidence item.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(*_AUTH, e.NotFound, validation=False),
    },
    openapi_extra=_DOWNLOAD,
)
async def download_appeal_package(chargeback_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Download the appeal package (PDF)."""
    db = db_of(request)
    row = await reads.appeal(db.loop_reader, caller, chargeback_id)
    try:
        opened = await run_in_threadpool(db.storage.open, row.package_key)
    except FileNotFoundError:
        raise e.NotFound(f"The package of appeal {row.id} is missing from storage.") from None
    name = f"appeal-{row.chargeback_id}.pdf"
    return _download(opened, "application/pdf", row.package_size_bytes, name, name, row.package_sha256)
