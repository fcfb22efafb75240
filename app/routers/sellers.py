"""Sellers and their API keys (platform key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.errors import error_responses
from app.dependencies import Auth, DbDep, IdempotencyKey
from app.domain import errors as e
from app.models.seller import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, SellerCreate, SellerPublic
from app.routers.support import json_response, operation_id, platform_create
from app.services import sellers

router = APIRouter(prefix="/v1/sellers", tags=["sellers"], generate_unique_id_function=operation_id)
_AUTH = (e.InvalidCredential, e.Forbidden)


@router.post(
    "",
    status_code=201,
    response_model=SellerPublic,
    responses=error_responses(*_AUTH, e.IdempotencyKeyReused, e.IdempotencyInProgress),
)
def create_seller(
    request: Request, body: SellerCreate, db: DbDep, auth: Auth, idempotency_key: IdempotencyKey = None
) -> Response:
    """Create a seller."""
    return platform_create(
        request,
        db,
        auth,
        idempotency_key,
        body,
        lambda session, _caller, r: sellers.create_seller(session, db.settings, body, r),
    )


@router.get("/{seller_id}", response_model=SellerPublic, responses=error_responses(*_AUTH, e.NotFound))
def get_seller(seller_id: str, db: DbDep, auth: Auth) -> Response:
    """Get a seller."""
    with db.reader() as session:
        auth.platform(session)
        seller = sellers.get_seller(session, seller_id)
        return json_response(SellerPublic.model_validate(seller, from_attributes=True))


@router.post(
    "/{seller_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=error_responses(*_AUTH, e.NotFound, e.IdempotencyKeyReused, e.IdempotencyInProgress),
)
def create_api_key(
    request: Request,
    seller_id: str,
    body: ApiKeyCreate,
    db: DbDep,
    auth: Auth,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an API key for a seller (the key is shown once)."""
    return platform_create(
        request,
        db,
        auth,
        idempotency_key,
        body,
        lambda session, _caller, r: sellers.create_api_key(session, seller_id, body, r),
    )


@router.get(
    "/{seller_id}/api-keys",
    response_model=list[ApiKeyPublic],
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def list_api_keys(seller_id: str, db: DbDep, auth: Auth) -> list[ApiKeyPublic]:
    """List a seller's API keys (without their secrets)."""
    with db.reader() as session:
        auth.platform(session)
        return sellers.list_api_keys(session, seller_id)


@router.delete(
    "/{seller_id}/api-keys/{key_id}",
    status_code=204,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def revoke_api_key(seller_id: str, key_id: str, db: DbDep, auth: Auth) -> Response:
    """Revoke an API key at once."""
    with db.session() as session:
        auth.platform(session)
        sellers.revoke_api_key(session, seller_id, key_id)
    return Response(status_code=204)
