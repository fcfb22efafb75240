"""Chargeback cases: notices (platform), reading and acting on them (seller)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field, ValidationError

from app.core.errors import domain_problem_body, error_responses, problem_body, validation_errors
from app.dependencies import (
    ApiRouter,
    IdempotencyKey,
    IfMatch,
    PlatformCaller,
    QueryModel,
    SellerOrPlatform,
    db_of,
)
from app.domain import errors as e
from app.domain.case_states import CaseStatus
from app.domain.reasons import ReasonCategory
from app.models.chargeback import (
    BulkChargebackCreate,
    BulkNotice,
    CaseEventPublic,
    ChargebackCreate,
    ChargebackPublic,
    RulingCreate,
)
from app.models.common import AwareTimestamp
from app.routers.support import (
    Cursor,
    Limit,
    ListQuery,
    create_once,
    json_body,
    json_response,
    replay,
    sends,
    take_key,
)
from app.services import chargebacks, idempotency, ingestion, reads

# FastAPI tries routes in the order declared, and each one tried costs the request: reads first,
# the case by id first of all.
router = ApiRouter(prefix="/v1/chargebacks", tags=["chargebacks"])
_AUTH = (e.InvalidCredential, e.Forbidden)
_IDEM = (e.IdempotencyKeyReused, e.IdempotencyInProgress)
LOCATION = "/v1/chargebacks/{id}"


class ChargebackPage(BaseModel):
    data: list[ChargebackPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class BulkItemResult(BaseModel):
    index: int = Field(description="Position of the notice in the request.", examples=[0])
    status: int = Field(description="201 created, 200 replayed, or the error status.", examples=[201])
    chargeback: ChargebackPublic | None = None
    problem: dict[str, Any] | None = Field(default=None, description="A problem document when it failed.")


class BulkResult(BaseModel):
    results: list[BulkItemResult]


class EventList(BaseModel):
    data: list[CaseEventPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CaseSort(StrEnum):
    CREATED_AT = "created_at"
    RESPOND_BY = "respond_by"


class CaseQuery(ListQuery):
    """The list's filters, validated as one model."""

    status: CaseStatus | None = None
    reason_category: ReasonCategory | None = None
    order_id: str | None = Field(default=None, max_length=40)
    respond_by_before: AwareTimestamp | None = None
    received_since: AwareTimestamp | None = Field(
        default=None, description="Only cases whose notice arrived at or after this instant."
    )
    received_before: AwareTimestamp | None = Field(
        default=None, description="Only cases whose notice arrived before this instant."
    )
    sort: CaseSort = Field(
        default=CaseSort.CREATED_AT,
        description="`created_at`: newest first (the default). `respond_by`: soonest deadline first, "
        "ties by id; with `respond_by_before`, the cases due soonest. Not with `updated_since`.",
    )


Filters = Annotated[CaseQuery, Depends(QueryModel(CaseQuery))]


@router.get(
    "/{chargeback_id}",
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_chargeback(chargeback_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Get a chargeback."""
    db = db_of(request)
    case = await reads.chargeback(db.loop_reader, db.settings, caller, chargeback_id)
    return json_response(case, version=case["version"])


@router.get("", response_model=ChargebackPage, responses=error_responses(*_AUTH, e.CursorMismatch))
async def list_chargebacks(caller: SellerOrPlatform, request: Request, q: Filters) -> Response:
    """List chargebacks, newest first or soonest deadline first.

    A seller key sees its own cases; the platform key sees every seller's (narrow with `seller_id`).
    Pages are cursor-based: pass `next_cursor` back as `cursor` with the same filters and sort. To
    work through what is due, use `sort=respond_by` (with `respond_by_before` for a horizon). For
    nightly reconciliation use `updated_since`, which lists oldest change first.
    """
    db = db_of(request)
    f = reads.CaseFilter(
        seller_id=q.seller_id,
        status=q.status,
        reason_category=q.reason_category.value if q.reason_category else None,
        order_id=q.order_id,
        respond_by_before=q.respond_by_before,
        received_since=q.received_since,
        received_before=q.received_before,
        updated_since=q.updated_since,
        sort=q.sort.value,
    )
    return json_response(await reads.chargebacks(db.loop_reader, db.settings, caller, f, q.limit, q.cursor))


@router.get(
    "/{chargeback_id}/events",
    response_model=EventList,
    responses=error_responses(*_AUTH, e.NotFound, e.CursorMismatch),
)
async def list_chargeback_events(
    chargeback_id: str,
    caller: SellerOrPlatform,
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The case's audit trail, oldest first."""
    db = db_of(request)
    page = await reads.chargeback_events(db.loop_reader, db.settings, caller, chargeback_id, limit, cursor)
    return json_response(page)


@router.post(
    "",
    status_code=201,
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.AmountExceedsOrder, e.DuplicateChargeback, *_IDEM),
    openapi_extra=sends(201, "Location"),
)
def create_chargeback(
    request: Request,
    caller: PlatformCaller,
    body: ChargebackCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a chargeback notice and freeze the order's funds.

    The amount is frozen on the order at once (refused beyond what is still unfrozen), the reason
    code is mapped to its category and evidence needs, and `respond_by` is set a number of working
    days ahead in the seller's business calendar. The seller is notified by email and in its message
    centre. The same `bank_reference` on the same order is refused as a duplicate.
    """
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: ingestion.create(session, db.settings, caller, body, r),
        location=LOCATION,
    )


@router.post(
    "/bulk",
    response_model=BulkResult,
    responses=error_responses(*_AUTH, *_IDEM),
)
def create_chargebacks_bulk(
    request: Request,
    caller: PlatformCaller,
    body: BulkChargebackCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record up to 500 notices; each succeeds or fails on its own.

    The answer is 200 with one result per notice, in request order: its status (201, 200 for an
    idempotent replay, or the error's), the case, or a problem document. A notice may carry its own
    `idempotency_key`, which replays exactly as the same notice sent alone would.
    """
    db = db_of(request)
    with db.session() as session:
        reservation = take_key(session, request, caller, idempotency_key, body, idempotency.reserve_committed)
        if isinstance(reservation, idempotency.Replay):
            return replay(reservation)
        try:
            parsed = [_bulk_item(i, raw) for i, raw in enumerate(body.notices)]
            items = [p for p in parsed if isinstance(p, ingestion.BulkItem)]
            outcomes = iter(ingestion.create_many(session, db.settings, caller, items))
            result = BulkResult(
                results=[
                    p if isinstance(p, BulkItemResult) else _bulk_result(i, next(outcomes))
                    for i, p in enumerate(parsed)
                ]
            )
            if reservation is not None:  # the notices committed in their own transactions: store it after
                idempotency.finish(session, reservation, 200, json_body(result).decode())
        except BaseException:
            if reservation is not None:
                idempotency.release(session, reservation)
            raise
    return json_response(result)


def _bulk_item(index: int, raw: Any) -> ingestion.BulkItem | BulkItemResult:
    """A notice of a bulk request, or the result of one that is not valid."""
    try:
        notice = BulkNotice.model_validate(raw)
    except ValidationError as exc:
        problem = problem_body(
            422,
            "validation_error",
            "The request is not valid",
            "This notice is not valid; see `errors`.",
            validation_errors(list(exc.errors())),
        )
        return BulkItemResult(index=index, status=422, problem=problem)
    if notice.idempotency_key is None:
        return ingestion.BulkItem(notice)
    # Fingerprinted as the same notice sent alone, so either replays the other.
    data = notice.model_dump(mode="json", exclude={"idempotency_key"}, exclude_unset=True)
    return ingestion.BulkItem(
        notice, notice.idempotency_key, idempotency.fingerprint("POST", "/v1/chargebacks", data)
    )


def _bulk_result(index: int, outcome: ingestion.Outcome) -> BulkItemResult:
    if isinstance(outcome, ChargebackPublic):
        return BulkItemResult(index=index, status=201, chargeback=outcome)
    if isinstance(outcome, idempotency.Replay):
        replayed = ChargebackPublic.model_validate_json(outcome.body)
        return BulkItemResult(index=index, status=200, chargeback=replayed)
    problem = domain_problem_body(outcome)
    return BulkItemResult(index=index, status=problem["status"], problem=problem)


@router.post(
    "/{chargeback_id}/ruling",
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.CaseClosed, e.PreconditionFailed),
)
def record_ruling(
    chargeback_id: str,
    caller: PlatformCaller,
    body: RulingCreate,
    request: Request,
    if_match: IfMatch,
) -> Response:
    """Record the bank's ruling (won releases, lost debits the funds).

    Closes the case: `won` returns the frozen amount to the order's available funds, `lost` debits
    it. A closed case cannot be ruled again.
    """
    db = db_of(request)
    with db.session() as session:
        public = chargebacks.rule(session, db.settings, caller, chargeback_id, body, if_match)
    return json_response(public, version=public.version)


@router.post(
    "/{chargeback_id}/accept",
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.CaseClosed, e.PreconditionFailed, validation=False),
)
def accept_chargeback(
    chargeback_id: str, caller: SellerOrPlatform, request: Request, if_match: IfMatch
) -> Response:
    """Accept the chargeback (the seller takes the loss).

    Closes the case as accepted and debits the frozen amount; no appeal is possible afterwards.
    """
    db = db_of(request)
    with db.session() as session:
        public = chargebacks.accept(session, db.settings, caller, chargeback_id, if_match)
    return json_response(public, version=public.version)
