"""The OpenAPI document's declarative tables: licence, contact, servers, tags, headers, callers.

Every tag an operation uses is described here, and every header an answer carries is named here
(routers point at them by name with ``sends``); a test holds new routers to both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.dependencies import account_caller, platform_caller, seller_caller, seller_or_platform_caller

LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}  # as pyproject.toml's `license`
CONTACT = {"name": "Chargeback Desk maintainers"}
# Relative, so /docs' "Try it out" and a generated client's default reach the host that served it.
SERVERS = [{"url": "/", "description": "The host serving this document"}]

# Every tag an operation uses is described here (a test holds new routers to it).
TAGS: list[dict[str, Any]] = [
    {
        "name": "chargebacks",
        "description": "Chargeback cases: the platform records a card network's notice (one, or up to "
        "500 in bulk), which freezes the disputed amount of the order; the seller reads its cases, "
        "accepts the loss or appeals before `respond_by`; the platform records the bank's ruling.",
    },
    {
        "name": "evidence",
        "description": "What a seller sends to fight a case: files (PDF, JPEG, PNG, judged by their "
        "bytes) and texts, a report of what the reason code still needs, and the one appeal, which "
        "bundles everything into a PDF package mailed to the appeal mailbox.",
    },
    {
        "name": "orders",
        "description": "Marketplace orders (created by the platform) and their funds: what is "
        "available, frozen by open cases, or debited by lost ones.",
    },
    {
        "name": "sellers",
        "description": "Sellers and their API keys (platform key only). A key's secret is shown once, "
        "at creation; revoking it takes effect at once.",
    },
    {
        "name": "webhooks",
        "description": "Webhook endpoints of a seller's system: every case change is delivered there as "
        "a thin event signed the Standard Webhooks way, retried on failure, logged per endpoint and "
        "replayable; a secret is shown once and can be rotated with a 24 h overlap.",
    },
    {
        "name": "messages",
        "description": "The seller's message centre: every notice sent about its cases "
        "(new chargeback, reminders, rulings), with read state and `updated_since` for syncing.",
    },
    {
        "name": "accounts",
        "description": "Buyer accounts: registration confirmed by an email code and a phone code, "
        "activation by emailed link, login with short-lived access tokens and one-use refresh "
        "tokens, password recovery, and the account's own settings.",
    },
    {
        "name": "personal centre",
        "description": "The logged-in buyer's own things: bound payment accounts, orders with "
        "their chargebacks' status, favourite products and coupons.",
    },
    {
        "name": "coupons",
        "description": "Coupons the platform issues to a buyer account and marks used.",
    },
    {
        "name": "system",
        "description": "Liveness and readiness probes for load balancers and orchestrators; "
        "they take no credential.",
    },
]

_RATE_LIMIT_DRAFT = "IETF draft-ietf-httpapi-ratelimit-headers"
# The headers the API sends; routes point at these by name (``sends``), the rest are added below.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own `X-Request-ID` when it is 1-128 of "
        "`A-Z a-z 0-9 . _ : -`, else one made here. Also in the logs and in problem bodies "
        "(`request_id`): quote it when asking for support.",
        "schema": {"type": "string", "maxLength": 128},
        "example": "3f2c0b8e9a8d4c1e",
    },
    "RateLimit-Policy": {
        "description": f"The rate-limit policies that apply to this request ({_RATE_LIMIT_DRAFT}): "
        "each with its quota `q` and window `w` in seconds.",
        "schema": {"type": "string"},
        "example": '"per-credential";q=600;w=60',
    },
    "RateLimit": {
        "description": f"What is left of the policy closest to its limit ({_RATE_LIMIT_DRAFT}): "
        "remaining requests `r` and seconds `t` until the window resets.",
        "schema": {"type": "string"},
        "example": '"per-credential";r=599;t=60',
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
        "example": 5,
    },
    "ETag": {
        "description": "The resource's version, to send back as `If-Match` with the next write "
        "(412 `precondition_failed` if it has changed since); on a downloaded file, its SHA-256.",
        "schema": {"type": "string"},
        "example": '"3"',
    },
    "Location": {
        "description": "The path of the resource this request created.",
        "schema": {"type": "string", "format": "uri-reference"},
        "example": "/v1/chargebacks/cb_01JD5Q7ZK3M8N2P4R6T8V0W2Y4",
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same "
        "`Idempotency-Key` and body: nothing was done again.",
        "schema": {"type": "string", "enum": ["true"]},
        "example": "true",
    },
    "Cache-Control": {
        "description": "`no-store` on answers that carry a secret (keys, tokens): no cache may keep "
        "them; `private, no-cache` on downloaded files.",
        "schema": {"type": "string"},
        "example": "no-store",
    },
    "Content-Disposition": {
        "description": "`attachment`, with the file's name.",
        "schema": {"type": "string"},
        "example": 'attachment; filename="proof-of-delivery.pdf"',
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with (RFC 9110 §11.6.1).",
        "schema": {"type": "string"},
        "example": 'Bearer realm="chargeback-desk"',
    },
}
EVERY_RESPONSE = ("X-Request-ID", "RateLimit-Policy", "RateLimit")

# Who may call, by the gate dependency a route declares.
CALLERS: dict[Callable[..., Any], str] = {
    platform_caller: "the platform key",
    seller_caller: "a seller API key (`sk_…`)",
    seller_or_platform_caller: "a seller API key (the seller's own resources only; another seller's "
    "are 404) or the platform key",
    account_caller: "a buyer account's access token (from `login`)",
}
