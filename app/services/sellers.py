"""Sellers and their API keys (platform operations)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import new_id
from app.domain.errors import NotFound
from app.models.seller import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Seller,
    SellerCreate,
    SellerPublic,
)
from app.security.api_keys import generate_api_key
from app.services.idempotency import Reservation


def create_seller(
    session: Session, settings: Settings, data: SellerCreate, reservation: Reservation | None = None
) -> SellerPublic:
    begin_write(session)
    seller = Seller(
        id=new_id("sel"),
        name=data.name,
        email=data.email,
        country=data.country,
        timezone=data.timezone or settings.business_timezone,
        created_at=utcnow(),
    )
    session.add(seller)
    public = SellerPublic.model_validate(seller, from_attributes=True)
    if reservation is not None:
        reservation.complete(session, 201, public.model_dump_json())
    session.commit()
    return public


def get_seller(session: Session, seller_id: str) -> Seller:
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise NotFound(f"Seller {seller_id} does not exist.")
    return seller


def create_api_key(
    session: Session, seller_id: str, data: ApiKeyCreate, reservation: Reservation | None = None
) -> ApiKeyCreated:
    """A new key for the seller; the secret is in this response only and stored as a digest."""
    begin_write(session)
    get_seller(session, seller_id)
    key, prefix, key_hash = generate_api_key()
    row = ApiKey(
        id=new_id("key"),
        seller_id=seller_id,
        name=data.name,
        prefix=prefix,
        key_hash=key_hash,
        created_at=utcnow(),
    )
    session.add(row)
    created = ApiKeyCreated(**ApiKeyPublic.model_validate(row, from_attributes=True).model_dump(), key=key)
    if reservation is not None:
        # A replay must not hand out the secret again from our storage: store it without the key.
        reservation.complete(session, 201, created.model_copy(update={"key": None}).model_dump_json())
    session.commit()
    return created


def revoke_api_key(session: Session, seller_id: str, key_id: str) -> None:
    """Revoke at once: the next request with the key is refused (keys are checked on every request)."""
    begin_write(session)
    key = session.get(ApiKey, key_id)
    if key is None or key.seller_id != seller_id:
        raise NotFound(f"API key {key_id} does not exist.")
    session.execute(
        update(ApiKey)
        .where(col(ApiKey.id) == key_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()
