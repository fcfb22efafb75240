"""Small HTTP helpers shared by routers: JSON responses and creation once per idempotency key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import orjson
from fastapi import Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.background import BackgroundTask

from app.dependencies import Db
from app.models.common import AwareTimestamp
from app.security.credentials import Caller
from app.services import idempotency, views
from app.services.idempotency import Reservation

JSON = "application/json"
RECONCILE = (
    "Only what changed at or after this instant, oldest change first, for gap-free reconciling: "
    "keep the last `updated_at` you saw and pass it next time. A change is listed once it is "
    "5 s old (`RECONCILE_LAG_SECONDS`), when no older change can still commit. An instant in the "
    "future is refused."
)


class ListQuery(BaseModel):
    """What every seller-or-platform list takes besides its own filters, validated as one model."""

    model_config = ConfigDict(extra="forbid")

    updated_since: AwareTimestamp | None = Field(
        default=None, description=RECONCILE, examples=["2026-11-20T08:15:00Z"]
    )
    seller_id: str | None = Field(
        default=None,
        max_length=40,
        description="Only this seller's. The platform key may name any seller; a seller's credential "
        "reads its own under its own id, and an empty page under another's.",
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


UpdatedSince = Annotated[
    AwareTimestamp | None, Query(description=RECONCILE, examples=["2026-11-20T08:15:00Z"])
]
# A page's size and position, for the lists that take them one by one rather than as a ``ListQuery``.
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]
NO_STORE = {"Cache-Control": "no-store"}


def sends(status: int, *headers: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` documenting the headers a route's ``status`` answer carries beyond those every
    answer has (app/openapi/tables.py names them under ``components/headers``), merged into ``extra``."""
    refs = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return {**(extra or {}), "responses": {str(status): {"headers": refs}}}


def operation_id(route: APIRoute) -> str:
    """OpenAPI operationIds are the handler names (``get_chargeback``): what generated clients call."""
    return route.name


def json_body(data: Any) -> bytes:
    if isinstance(data, BaseModel):
        return data.model_dump_json().encode()
    return views.to_json(data)


def json_response(
    data: Any,
    status: int = 200,
    version: int | None = None,
    headers: Mapping[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    all_headers = dict(headers or {})
    if version is not None:
        all_headers["ETag"] = f'"{version}"'
    return Response(
        json_body(data), status_code=status, media_type=JSON, headers=all_headers, background=background
    )


UseCase = Callable[[Session, Reservation | None], Any]


def create_once(
    request: Request,
    db: Db,
    caller: Caller,
    key: str | None,
    body: BaseModel,
    use_case: UseCase,
    location: str | None,
    status: int = 201,
    secret: bool = False,
) -> Response:
    """Run a creating use case once per ``Idempotency-Key``; a repeat gets the first response back.

    ``location`` is the new resource's path with ``{id}`` for its id; ``secret`` responses are not
    to be cached. A replay carries the original's ``Location`` and ``ETag``.
    """
    with db.session() as session:
        reservation = take_key(session, request, caller, key, body, idempotency.reserve)
        if isinstance(reservation, idempotency.Replay):
            return replay(reservation, location, secret)
        created = use_case(session, reservation)
    data = created.model_dump(mode="json") if isinstance(created, BaseModel) else created
    headers = _created_headers(data, location, secret)
    return Response(json_body(created), status_code=status, media_type=JSON, headers=headers)


Reserve = Callable[[Session, str, str, str], Reservation | idempotency.Replay]


def take_key(
    session: Session, request: Request, caller: Caller, key: str | None, body: BaseModel, reserve: Reserve
) -> Reservation | idempotency.Replay | None:
    """The request's ``Idempotency-Key`` reserved for it, the stored answer to replay, or None."""
    if key is None:
        return None
    fields = body.model_dump(mode="json", exclude_unset=True)
    return reserve(
        session, caller.principal_id, key, idempotency.fingerprint(request.method, request.url.path, fields)
    )


def replay(stored: idempotency.Replay, location: str | None = None, secret: bool = False) -> Response:
    """The first response again, with its ``Location`` and ``ETag``."""
    headers = _created_headers(orjson.loads(stored.body), location, secret)
    headers["Idempotent-Replayed"] = "true"
    return Response(stored.body, status_code=stored.status, media_type=JSON, headers=headers)


def _created_headers(data: Any, location: str | None, secret: bool) -> dict[str, str]:
    headers = dict(NO_STORE) if secret else {}
    if isinstance(data, dict):
        if location is not None and isinstance(data.get("id"), str):
            headers["Location"] = location.format(id=data["id"])
        if isinstance(data.get("version"), int):
            headers["ETag"] = f'"{data["version"]}"'
    return headers
