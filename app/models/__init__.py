"""Table models and their schemas; importing this package registers every table on the metadata."""

from app.models.account import Account, AccountToken, AuthSession, LoginThrottle, RefreshToken, Registration
from app.models.base import metadata
from app.models.buyer import Coupon, Favourite, PaymentAccount
from app.models.chargeback import CaseEvent, Chargeback
from app.models.evidence import Appeal, Evidence
from app.models.idempotency import IdempotencyRecord
from app.models.message import Message
from app.models.order import Order
from app.models.outbox import OutboxMessage
from app.models.seller import ApiKey, Seller
from app.models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "AccountToken",
    "ApiKey",
    "Appeal",
    "AuthSession",
    "CaseEvent",
    "Chargeback",
    "Coupon",
    "Evidence",
    "Favourite",
    "IdempotencyRecord",
    "LoginThrottle",
    "Message",
    "Order",
    "OutboxMessage",
    "PaymentAccount",
    "RefreshToken",
    "Registration",
    "Seller",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
