"""Small HTTP helpers shared by routers: idempotent creation and versioned responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlmodel import Session

from app.dependencies import Credential, Db
from app.security.credentials import Caller
from app.services import idempotency
from app.services.idempotency import Reservation

JSON = "application/json"


def operation_id(route: APIRoute) -> str:
    """OpenAPI operationIds are the handler names (``get_chargeback``): what generated clients call."""
    return route.name


def json_response(model: BaseModel, status: int = 200, version: int | None = None) -> Response:
    headers = {"ETag": f'"{version}"'} if version is not None else None
    return Response(model.model_dump_json(), status_code=status, media_type=JSON, headers=headers)


def idempotent_create(
    request: Request,
    session: Session,
    caller: Caller,
    key: str | None,
    body: Any,
    create: Callable[[Reservation | None], BaseModel],
    status: int = 201,
) -> Response:
    """Run a creating use case once per ``Idempotency-Key``; repeats get the first response back."""
    if key is None:
        return _plain(create(None), status)
    fp = idempotency.fingerprint(request.method, request.url.path, body)
    outcome = idempotency.reserve(session, caller.principal_id, key, fp)
    if isinstance(outcome, idempotency.Replay):
        return Response(
            outcome.body, status_code=outcome.status, media_type=JSON, headers={"Idempotent-Replayed": "true"}
        )
    try:
        model = create(outcome)
    except BaseException:
        idempotency.release(session, outcome)
        raise
    return _plain(model, status)


UseCase = Callable[[Session, Caller, Reservation | None], BaseModel]


def platform_create(
    request: Request,
    db: Db,
    auth: Credential,
    key: str | None,
    body: BaseModel,
    use_case: UseCase,
    status: int = 201,
) -> Response:
    """A creating POST by the platform: check the key, then run the use case once per idempotency key."""
    with db.session() as session:
        caller = auth.platform(session)
        fingerprinted = body.model_dump(mode="json", exclude_unset=True)
        return idempotent_create(
            request, session, caller, key, fingerprinted, lambda r: use_case(session, caller, r), status
        )


def _plain(model: BaseModel, status: int) -> Response:
    version = getattr(model, "version", None)
    return json_response(model, status, version if isinstance(version, int) else None)
