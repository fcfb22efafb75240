"""What a buyer account writes of its own (payment accounts, favourites) and the platform's coupons.

Every statement names the caller's account id, so another account's payment account or favourite
is simply not found. A payment account is bound at most once at a time: the partial unique index on
(provider, ref_digest) among active bindings decides races, and every refusal to bind reads the
same, so the endpoint cannot tell anyone whether, or to whom, an Alipay account is bound.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.core.clock import utcnow
from app.core.db import begin_write
from app.core.ids import has_prefix, new_id
from app.domain.errors import (
    CouponCodeTaken,
    CouponNotRedeemable,
    FavouriteExists,
    FieldProblem,
    InvalidInput,
    NotFound,
    PaymentAccountTaken,
    RateLimited,
)
from app.domain.payment_refs import mask_ref, normalise_ref
from app.models.account import Account
from app.models.buyer import (
    Coupon,
    CouponCreate,
    Favourite,
    FavouriteCreate,
    PaymentAccount,
    PaymentAccountCreate,
)
from app.security import rate_limits
from app.security.accounts import Auth
from app.security.tokens import token_digest
from app.services import views
from app.services.idempotency import Reservation


def _created(session: Session, public: dict[str, Any], reservation: Reservation | None) -> dict[str, Any]:
    if reservation is not None:
        reservation.complete(session, 201, views.json_text(public))
    session.commit()
    return public


# Payment accounts ----------------------------------------------------------------------------------


def _taken() -> PaymentAccountTaken:
    # One text for every holder (this account, another, one since rebound): nothing to compare.
    return PaymentAccountTaken("This payment account cannot be bound: it is already bound to an account.")


def ref_digest(auth: Auth, account_ref: str) -> str:
    """What is stored of a reference to compare it: a keyed digest of its normal form (422 if invalid)."""
    return token_digest(auth.keys.payment, normalise_ref(account_ref))


def bind_payment_account(
    session: Session, auth: Auth, account_id: str, data: PaymentAccountCreate, reservation: Reservation | None
) -> dict[str, Any]:
    """Bind a payment account to the caller's account, unless it is bound already (to anyone)."""
    ref = normalise_ref(data.account_ref)
    wait = auth.limiter.hit("bind", account_id, rate_limits.BIND_PER_ACCOUNT)
    if wait:
        raise RateLimited(
            "Too many payment accounts bound lately; wait before trying again.", retry_after=wait
        )
    digest = ref_digest(auth, ref)
    begin_write(session)
    now = utcnow()
    # A holder that is no longer active (deactivated) keeps nothing bound: release it for this bind.
    gone = select(col(Account.id)).where(col(Account.status) != "active")
    session.execute(
        update(PaymentAccount)
        .where(
            col(PaymentAccount.provider) == data.provider,
            col(PaymentAccount.ref_digest) == digest,
            col(PaymentAccount.unbound_at).is_(None),
            col(PaymentAccount.account_id).in_(gone),
        )
        .values(unbound_at=now, updated_at=now)
    )
    row = PaymentAccount(
        id=new_id("pay"),
        account_id=account_id,
        provider=data.provider,
        ref_digest=digest,
        ref_masked=mask_ref(ref),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()  # PostgreSQL: a concurrent bind of the same reference waits here, then fails
    except IntegrityError:
        session.rollback()
        raise _taken() from None
    return _created(session, views.payment_account(row), reservation)


def _change_one(session: Session, statement: Executable | None, missing: str) -> None:
    """Run ``statement`` (None for an id of the wrong shape); it must touch exactly one row, else 404."""
    begin_write(session)
    result = session.execute(statement) if statement is not None else None
    if result is None or result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(missing)
    session.commit()


def unbind_payment_account(session: Session, account_id: str, payment_account_id: str) -> None:
    """Unbind one of the caller's payment accounts; the reference is free to bind again."""
    now = utcnow()
    unbind = (
        update(PaymentAccount)
        .where(
            col(PaymentAccount.id) == payment_account_id,
            col(PaymentAccount.account_id) == account_id,
            col(PaymentAccount.unbound_at).is_(None),
        )
        .values(unbound_at=now, updated_at=now)
    )
    missing = f"Payment account {payment_account_id} does not exist."
    _change_one(session, unbind if has_prefix(payment_account_id, "pay") else None, missing)


# Favourites ----------------------------------------------------------------------------------------


def add_favourite(
    session: Session, account_id: str, data: FavouriteCreate, reservation: Reservation | None
) -> dict[str, Any]:
    begin_write(session)
    now = utcnow()
    fields = data.model_dump()
    row = Favourite(id=new_id("fav"), account_id=account_id, **fields, created_at=now, updated_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise FavouriteExists(
            f"Product {data.product_ref} is already among your favourites.",
            errors=[FieldProblem("product_ref", "already a favourite")],
        ) from None
    return _created(session, views.favourite(row), reservation)


def remove_favourite(session: Session, account_id: str, favourite_id: str) -> None:
    begin_write(session)
    done = 0
    if has_prefix(favourite_id, "fav"):
        result = session.execute(
            delete(Favourite).where(
                col(Favourite.id) == favourite_id, col(Favourite.account_id) == account_id
            )
        )
        done = result.rowcount  # type: ignore[attr-defined]
    if done != 1:
        raise NotFound(f"Favourite {favourite_id} does not exist.")
    session.commit()


# Coupons (the platform issues and redeems them) ------------------------------------------------------


def _check_discount(data: CouponCreate) -> None:
    problems = []
    if (data.amount_minor is None) == (data.percent_off is None):
        message = "give exactly one of amount_minor and percent_off"
        problems += [FieldProblem("amount_minor", message), FieldProblem("percent_off", message)]
    elif data.amount_minor is not None and data.currency is None:
        problems.append(FieldProblem("currency", "required with amount_minor"))
    elif data.percent_off is not None and data.currency is not None:
        problems.append(FieldProblem("currency", "not allowed with percent_off"))
    if data.expires_at <= utcnow():
        problems.append(FieldProblem("expires_at", "must be in the future"))
    if problems:
        raise InvalidInput("The coupon is not valid; see `errors`.", errors=problems)


def issue_coupon(session: Session, data: CouponCreate, reservation: Reservation | None) -> dict[str, Any]:
    """Give an account a coupon: a fixed amount or a percentage off, until it expires."""
    _check_discount(data)
    begin_write(session)
    if not has_prefix(data.account_id, "acct") or session.get(Account, data.account_id) is None:
        raise NotFound(f"Account {data.account_id} does not exist.")
    now = utcnow()
    row = Coupon(
        id=new_id("cpn"),
        account_id=data.account_id,
        code=data.code.upper(),
        amount_minor=data.amount_minor,
        percent_off=data.percent_off,
        currency=data.currency,
        expires_at=data.expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise CouponCodeTaken(
            f"Account {data.account_id} already has coupon {row.code}.",
            errors=[FieldProblem("code", "already used for this account")],
        ) from None
    return _created(session, views.coupon(row), reservation)


def redeem_coupon(session: Session, coupon_id: str) -> dict[str, Any]:
    """Mark a coupon used: once, and only before it expires."""
    begin_write(session)
    coupon = session.get(Coupon, coupon_id, with_for_update=True) if has_prefix(coupon_id, "cpn") else None
    if coupon is None:
        raise NotFound(f"Coupon {coupon_id} does not exist.")
    now = utcnow()
    if coupon.used_at is not None or now >= coupon.expires_at:
        raise CouponNotRedeemable(f"Coupon {coupon_id} has been used or has expired.")
    coupon.used_at = coupon.updated_at = now
    public = views.coupon(coupon)
    session.commit()
    return public
