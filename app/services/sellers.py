"""Sellers and their API keys (platform operations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.config import Settings
from app.core.db import begin_write
from app.core.ids import new_id
from app.domain.errors import NotFound
from app.domain.passwords import check_password, context_words, normalise_password
from app.models.account import Account
from app.models.seller import ApiKey, ApiKeyCreate, Seller, SellerCreate
from app.security.accounts import Auth
from app.security.api_keys import generate_api_key
from app.services import contacts, views
from app.services.idempotency import Reservation
from app.services.registrations import member_id


def create_seller(
    session: Session,
    settings: Settings,
    data: SellerCreate,
    reservation: Reservation | None = None,
    auth: Auth | None = None,
) -> dict[str, Any]:
    """A seller; with ``owner_password`` also its owner account (active: the platform vouches for it)."""
    hashed = None
    if data.owner_password is not None:
        assert auth is not None, "an owner account needs the account security context"
        # The owner account is a buyer account too: its address follows the buyer's rules (the brands).
        owner_email, owner_key = contacts.parse_email(data.email)
        password = normalise_password(data.owner_password)
        check_password(
            password,
            min_length=settings.password_min_length,
            blocklist=auth.blocklist,
            context=context_words(data.email, data.name),
            field="owner_password",
        )
        hashed = auth.hasher.hash(password)
    begin_write(session)
    now = utcnow()
    seller = Seller(
        id=new_id("sel"),
        name=data.name,
        email=data.email,
        country=data.country,
        timezone=data.timezone or settings.business_timezone,
        created_at=now,
    )
    session.add(seller)
    if hashed is not None:
        owner = Account(
            id=new_id("acct"),
            member_id=member_id(session),
            email=owner_email,
            email_key=owner_key,
            country=data.country,
            password_hash=hashed,
            status="active",
            seller_id=seller.id,
            activated_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(owner)
        seller.account_id = owner.id
    public = views.seller(seller)
    if reservation is not None:
        reservation.complete(session, 201, views.json_text(public))
    session.commit()
    return public


def get_seller(session: Session, seller_id: str) -> Seller:
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise NotFound(f"Seller {seller_id} does not exist.")
    return seller


def create_api_key(
    session: Session, seller_id: str, data: ApiKeyCreate, reservation: Reservation | None = None
) -> dict[str, Any]:
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
    public = views.api_key(row)
    if reservation is not None:
        # A replay must not hand out the secret again from our storage: store it without the key.
        reservation.complete(session, 201, views.json_text(public | {"key": None}))
    session.commit()
    return public | {"key": key}


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
