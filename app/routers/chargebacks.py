"""Chargeback cases: notices (platform), reading and acting on them (seller)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.errors import domain_problem_body, error_responses, problem_body, validation_errors
from app.dependencies import Auth, Db, DbDep, IdempotencyKey, IfMatch, credential_of
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
from app.routers.support import json_response, operation_id, platform_create
from app.security.credentials import Caller
from app.services import chargebacks, idempotency

router = APIRouter(prefix="/v1/chargebacks", tags=["chargebacks"], generate_unique_id_function=operation_id)
_AUTH = (e.InvalidCredential, e.Forbidden)
_IDEM = (e.IdempotencyKeyReused, e.IdempotencyInProgress)


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


@router.post(
    "",
    status_code=201,
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.AmountExceedsOrder, e.DuplicateChargeback, *_IDEM),
)
def create_chargeback(
    request: Request, body: ChargebackCreate, db: DbDep, auth: Auth, idempotency_key: IdempotencyKey = None
) -> Response:
    """Record a chargeback notice and freeze the order's funds."""
    return platform_create(
        request,
        db,
        auth,
        idempotency_key,
        body,
        lambda session, caller, r: chargebacks.create(session, db.settings, caller, body, r),
    )


@router.post(
    "/bulk",
    response_model=BulkResult,
    responses=error_responses(*_AUTH, *_IDEM),
)
def create_chargebacks_bulk(
    request: Request,
    body: BulkChargebackCreate,
    db: DbDep,
    auth: Auth,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record up to 500 notices; each succeeds or fails on its own."""

    def run(session: Session, caller: Caller, reservation: idempotency.Reservation | None) -> BulkResult:
        results = [_bulk_item(session, db.settings, caller, i, raw) for i, raw in enumerate(body.notices)]
        result = BulkResult(results=results)
        if reservation is not None:  # each item committed on its own: store the response after them
            idempotency.finish(session, reservation, 200, result.model_dump_json())
        return result

    return platform_create(request, db, auth, idempotency_key, body, run, status=200)


def _bulk_item(session: Session, settings: Settings, caller: Caller, index: int, raw: Any) -> BulkItemResult:
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
    data = ChargebackCreate.model_validate(notice.model_dump(exclude={"idempotency_key"}, exclude_unset=True))
    try:
        if notice.idempotency_key is None:
            return BulkItemResult(
                index=index, status=201, chargeback=chargebacks.create(session, settings, caller, data)
            )
        fp = idempotency.fingerprint(
            "POST", "/v1/chargebacks", data.model_dump(mode="json", exclude_unset=True)
        )
        outcome = idempotency.reserve(session, caller.principal_id, notice.idempotency_key, fp)
        if isinstance(outcome, idempotency.Replay):
            replayed = ChargebackPublic.model_validate_json(outcome.body)
            return BulkItemResult(index=index, status=200, chargeback=replayed)
        try:
            created = chargebacks.create(session, settings, caller, data, outcome)
        except BaseException:
            idempotency.release(session, outcome)
            raise
        return BulkItemResult(index=index, status=201, chargeback=created)
    except e.DomainError as exc:
        session.rollback()
        body = domain_problem_body(exc)
        return BulkItemResult(index=index, status=body["status"], problem=body)


@router.get("", response_model=ChargebackPage, responses=error_responses(*_AUTH))
def list_chargebacks(
    db: DbDep,
    auth: Auth,
    status: CaseStatus | None = None,
    reason_category: ReasonCategory | None = None,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    respond_by_before: AwareTimestamp | None = None,
    updated_since: Annotated[
        AwareTimestamp | None,
        Query(
            description="Only cases changed at or after this instant, oldest change first, for gap-free "
            "reconciling: keep the last `updated_at` you saw and pass it next time. A change is listed "
            "once it is 5 s old (`RECONCILE_LAG_SECONDS`), when no older change can still commit."
        ),
    ] = None,
    seller_id: Annotated[str | None, Query(max_length=40, description="Platform key only.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """List chargebacks, newest first."""
    with db.reader() as session:
        caller = auth.seller_or_platform(session)
        f = chargebacks.ListFilter(
            seller_id=caller.seller_id or seller_id,
            status=status,
            reason_category=reason_category.value if reason_category else None,
            order_id=order_id,
            respond_by_before=respond_by_before,
            updated_since=updated_since,
        )
        data, next_cursor = chargebacks.list_cases(session, db.settings, f, limit, cursor)
    return json_response(ChargebackPage(data=data, next_cursor=next_cursor))


@router.get(
    "/{chargeback_id}",
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_chargeback(chargeback_id: str, request: Request) -> Response:
    """Get a chargeback."""
    # The hottest read: one statement on the event loop, and no dependencies to solve (each costs
    # about as much as the lookup; bench/). The credential is checked in the same statement.
    db: Db = request.app.state.db
    case = await chargebacks.read_on_loop(db.loop_reader, credential_of(request).claim(), chargeback_id)
    return json_response(chargebacks.to_public(case, db.settings, utcnow()), version=case.version)


@router.post(
    "/{chargeback_id}/ruling",
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.CaseClosed, e.PreconditionFailed),
)
def record_ruling(
    chargeback_id: str,
    body: RulingCreate,
    db: DbDep,
    auth: Auth,
    if_match: IfMatch,
) -> Response:
    """Record the bank's ruling (won releases, lost debits the funds)."""
    with db.session() as session:
        public = chargebacks.rule(session, db.settings, auth.platform(session), chargeback_id, body, if_match)
    return json_response(public, version=public.version)


@router.post(
    "/{chargeback_id}/accept",
    response_model=ChargebackPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.CaseClosed, e.PreconditionFailed, validation=False),
)
def accept_chargeback(chargeback_id: str, db: DbDep, auth: Auth, if_match: IfMatch) -> Response:
    """Accept the chargeback (the seller takes the loss)."""
    with db.session() as session:
        caller = auth.seller_or_platform(session)
        public = chargebacks.accept(session, db.settings, caller, chargeback_id, if_match)
    return json_response(public, version=public.version)


@router.get(
    "/{chargeback_id}/events",
    response_model=EventList,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def list_chargeback_events(chargeback_id: str, db: DbDep, auth: Auth) -> Response:
    """The case's audit trail, oldest first."""
    with db.reader() as session:
        rows = chargebacks.events(session, auth.seller_or_platform(session), chargeback_id)
    return json_response(
        EventList(data=[CaseEventPublic.model_validate(r, from_attributes=True) for r in rows])
    )
