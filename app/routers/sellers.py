"""Sellers and their API keys (platform key)."""

from __future__ import annotations

from fastapi import Request, Response

from app.core.errors import error_responses
from app.dependencies import ApiRouter, IdempotencyKey, PlatformCaller, db_of
from app.domain import errors as e
from app.models.seller import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, SellerCreate, SellerPublic
from app.routers.support import create_once, json_response, sends
from app.security.tokens import token_digest
from app.services import reads, sellers

router = ApiRouter(prefix="/v1/sellers", tags=["sellers"])
_AUTH = (e.InvalidCredential, e.Forbidden)


@router.post(
    "",
    status_code=201,
    response_model=SellerPublic,
    responses=error_responses(
        *_AUTH, e.WeakPassword, e.EmailNotAllowed, e.IdempotencyKeyReused, e.IdempotencyInProgress
    ),
    openapi_extra=sends(201, "Location"),
)
def create_seller(
    request: Request,
    caller: PlatformCaller,
    body: SellerCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a seller (and, with `owner_password`, its owner account).

    The owner account is also a buyer account, so with `owner_password` the email follows the buyer
    rules: an address built on a marketplace brand name is `email_not_allowed`.
    """
    db = db_of(request)
    # The owner's password enters the idempotency record only as a keyed digest.
    fingerprint = body.model_copy(
        update={"owner_password": token_digest(db.auth.keys.tokens, body.owner_password)}
        if body.owner_password is not None
        else {}
    )
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        fingerprint,
        lambda session, r: sellers.create_seller(session, db.settings, body, r, db.auth),
        location="/v1/sellers/{id}",
    )


@router.get(
    "/{seller_id}",
    response_model=SellerPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_seller(seller_id: str, caller: PlatformCaller, request: Request) -> Response:
    """Get a seller."""
    db = db_of(request)
    return json_response(await reads.seller(db.loop_reader, caller, seller_id))


@router.post(
    "/{seller_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=error_responses(*_AUTH, e.NotFound, e.IdempotencyKeyReused, e.IdempotencyInProgress),
    openapi_extra=sends(201, "Location", "Cache-Control"),
)
def create_api_key(
    request: Request,
    seller_id: str,
    caller: PlatformCaller,
    body: ApiKeyCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an API key for a seller (the key is shown once).

    Only a hash of the key is stored: keep the `key` from this answer, which is never shown again
    (the answer is `Cache-Control: no-store`). A seller may hold several keys, to rotate them. An
    idempotent replay repeats the answer with `key: null`, since the key cannot be read back: a
    client that lost the first answer revokes that key (its `id` is in the replay) and creates another.
    """
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: sellers.create_api_key(session, seller_id, body, r),
        location=f"/v1/sellers/{seller_id}/api-keys/{{id}}",
        secret=True,
    )


@router.get(
    "/{seller_id}/api-keys",
    response_model=list[ApiKeyPublic],
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def list_api_keys(seller_id: str, caller: PlatformCaller, request: Request) -> Response:
    """List a seller's API keys (without their secrets)."""
    db = db_of(request)
    return json_response(await reads.api_keys(db.loop_reader, caller, seller_id))


@router.get(
    "/{seller_id}/api-keys/{key_id}",
    response_model=ApiKeyPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_api_key(seller_id: str, key_id: str, caller: PlatformCaller, request: Request) -> Response:
    """Get one of a seller's API keys (without its secret)."""
    db = db_of(request)
    return json_response(await reads.api_key(db.loop_reader, caller, seller_id, key_id))


@router.delete(
    "/{seller_id}/api-keys/{key_id}",
    status_code=204,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def revoke_api_key(seller_id: str, key_id: str, _caller: PlatformCaller, request: Request) -> Response:
    """Revoke an API key at once."""
    db = db_of(request)
    with db.session() as session:
        sellers.revoke_api_key(session, seller_id, key_id)
    return Response(status_code=204)
