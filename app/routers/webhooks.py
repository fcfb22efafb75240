"""A seller's webhook endpoints, their delivery logs and replays (Standard Webhooks)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Header, Query, Request, Response
from pydantic import BaseModel

from app.core.errors import error_responses
from app.dependencies import ApiRouter, IdempotencyKey, SellerOrPlatform, db_of
from app.domain import errors as e
from app.models.common import AwareTimestamp
from app.models.webhook import (
    WebhookDeliveryPage,
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPage,
    WebhookEndpointPublic,
    WebhookEvent,
)
from app.routers.support import create_once, json_response, sends
from app.services import webhook_reads, webhooks

router = ApiRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
_AUTH = (e.InvalidCredential, e.Forbidden)
_KEYS = (e.IdempotencyKeyReused, e.IdempotencyInProgress)
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]


class _NoBody(BaseModel):
    """A bodyless POST's idempotency fingerprint: its method and path only."""


_NO_BODY = _NoBody()
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")]


# What Chargeback Desk sends to an endpoint: the OpenAPI ``webhooks`` section, never served.
events = ApiRouter(tags=["webhooks"])


@events.post(
    "chargeback-event",
    operation_id="chargeback_event",
    response_class=Response,
    responses={
        200: {"description": "Any 2xx within 10 s acknowledges the delivery."},
        410: {"description": "Gone: the endpoint is disabled at once."},
        429: {"description": "Not now: retried later, after `Retry-After` if given (up to 24 h)."},
    },
)
def chargeback_event(
    body: WebhookEvent,
    webhook_id: Annotated[
        str,
        Header(
            alias="webhook-id",
            description="The event's id: the same on every retry and replay; deduplicate on it.",
            examples=["evt_01jd2x3y4z5a6b7c8d9e0f1g2h"],
        ),
    ],
    webhook_timestamp: Annotated[
        str,
        Header(
            alias="webhook-timestamp",
            description="Unix seconds of this attempt; refuse one more than five minutes away.",
            examples=["1764468000"],
        ),
    ],
    webhook_signature: Annotated[
        str,
        Header(
            alias="webhook-signature",
            description='`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` keyed '
            "with the base64-decoded part of the secret after `whsec_`; two, space-separated, while "
            "a rotated-out secret still signs.",
            examples=["v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
        ),
    ],
) -> None:
    """A case changed (sent to your endpoint).

    Sent for each event type the endpoint subscribed to, signed the Standard Webhooks way: verify
    the signature over the raw body before you parse it (any Standard Webhooks library does).
    Answer 2xx quickly; anything else is retried at once, then after 5 s, 5 min, 30 min, 2 h, 5 h,
    10 h and 10 h. The body is thin: fetch the case for the rest.
    """


@router.post(
    "",
    status_code=201,
    response_model=WebhookEndpointCreated,
    responses=error_responses(
        *_AUTH,
        e.NotFound,
        e.WebhookUrlNotAllowed,
        e.WebhookUrlUnresolvable,
        e.UnknownEventType,
        e.WebhookEndpointLimit,
        *_KEYS,
    ),
    openapi_extra=sends(201, "Location", "Cache-Control"),
)
def create_webhook_endpoint(
    request: Request,
    caller: SellerOrPlatform,
    body: WebhookEndpointCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a webhook endpoint (its signing secret is shown once).

    A seller credential creates an endpoint of its own seller; the platform key names the seller
    with `seller_id`. The URL is refused (`webhook_url_not_allowed`) when it is not `https` (plain
    `http` only where `WEBHOOK_ALLOW_PRIVATE_URLS` is on), carries credentials, or when its host
    resolves to a loopback, private, link-local or otherwise non-public address; a host that does
    not resolve is `webhook_url_unresolvable`. Unknown event types are `unknown_event_type`, each
    named. A seller has at most 20 endpoints (409 `webhook_endpoint_limit`). The `secret`
    (`whsec_…`) verifies every delivery's `webhook-signature`; it is in this response only (an
    idempotent replay shows `null`).
    """
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        body,
        lambda session, r: webhooks.create_endpoint(session, db.settings, caller, body, r),
        location="/v1/webhook-endpoints/{id}",
        secret=True,
    )


@router.get("", response_model=WebhookEndpointPage, responses=error_responses(*_AUTH))
async def list_webhook_endpoints(
    caller: SellerOrPlatform,
    request: Request,
    seller_id: Annotated[
        str | None,
        Query(max_length=40, description="With the platform key: only this seller's endpoints."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """List webhook endpoints, newest first.

    A seller sees its own endpoints; the platform sees every seller's, or one seller's with
    `seller_id`. Secrets are never listed.
    """
    db = db_of(request)
    page = await webhook_reads.endpoints(db.loop_reader, db.settings, caller, seller_id, limit, cursor)
    return json_response(page)


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_webhook_endpoint(endpoint_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Get a webhook endpoint.

    Shows whether it is enabled (and why it was disabled) and until when a rotated-out secret still
    signs. Another seller's endpoint is 404.
    """
    db = db_of(request)
    return json_response(await webhook_reads.endpoint(db.loop_reader, caller, endpoint_id))


@router.delete(
    "/{endpoint_id}",
    status_code=204,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def delete_webhook_endpoint(endpoint_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Delete a webhook endpoint.

    Nothing more is sent to it, deliveries still pending included; its delivery log goes with it.
    """
    db = db_of(request)
    with db.session() as session:
        webhooks.delete_endpoint(session, caller, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointCreated,
    responses=error_responses(*_AUTH, e.NotFound, *_KEYS, validation=False),
    openapi_extra=sends(200, "Cache-Control"),
)
def rotate_webhook_secret(
    request: Request,
    endpoint_id: str,
    caller: SellerOrPlatform,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Rotate the endpoint's signing secret (the new one is shown once).

    For 24 hours (`previous_secret_expires_at`) every delivery carries two signatures in
    `webhook-signature`, one per secret, so the receiver can switch to the new secret at any time in
    that window. Rotating again within the window retires the older secret at once. Send an
    `Idempotency-Key` so a retried rotation does not rotate twice; its replay repeats the answer with
    `secret: null`, since secrets cannot be read back (a client that lost the first answer rotates
    again).
    """
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        _NO_BODY,
        lambda session, r: webhooks.rotate_secret(session, db.settings, caller, endpoint_id, r),
        location=None,
        status=200,
        secret=True,
    )


@router.post(
    "/{endpoint_id}/enable",
    response_model=WebhookEndpointPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.WebhookUrlNotAllowed, e.WebhookUrlUnresolvable),
)
def enable_webhook_endpoint(endpoint_id: str, caller: SellerOrPlatform, request: Request) -> Response:
    """Enable a disabled webhook endpoint again.

    Its URL is checked again as at creation. Events from now on are delivered; replay what it missed
    from its delivery log. Enabling an enabled endpoint changes nothing.
    """
    db = db_of(request)
    with db.session() as session:
        return json_response(webhooks.enable(session, db.settings, caller, endpoint_id))


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryPage,
    responses=error_responses(*_AUTH, e.NotFound),
)
async def list_webhook_deliveries(
    endpoint_id: str,
    caller: SellerOrPlatform,
    request: Request,
    status: Annotated[
        Literal["pending", "succeeded", "failed"] | None,
        Query(description="Only deliveries in this state (`failed`: to replay)."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: Annotated[
        AwareTimestamp | None,
        Query(
            description="Only deliveries created or attempted at or after this instant, oldest change "
            "first (a change is listed once it is RECONCILE_LAG_SECONDS old)."
        ),
    ] = None,
) -> Response:
    """List an endpoint's deliveries (its delivery log), newest first.

    Each delivery is one event for this endpoint: its body, state, attempts, the receiver's last
    status and error, and when the next attempt is due.
    """
    db = db_of(request)
    page = await webhook_reads.deliveries(
        db.loop_reader, db.settings, caller, endpoint_id, status, limit, cursor, updated_since
    )
    return json_response(page)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    response_model=WebhookDeliveryPublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
async def get_webhook_delivery(
    endpoint_id: str, delivery_id: str, caller: SellerOrPlatform, request: Request
) -> Response:
    """Get one delivery of an endpoint.

    The same shape as an item of the delivery log.
    """
    db = db_of(request)
    return json_response(await webhook_reads.delivery(db.loop_reader, caller, endpoint_id, delivery_id))


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=WebhookDeliveryPublic,
    responses=error_responses(*_AUTH, e.NotFound, e.WebhookEndpointDisabled, *_KEYS, validation=False),
    openapi_extra=sends(202, "Location"),
)
def replay_webhook_delivery(
    request: Request,
    endpoint_id: str,
    delivery_id: str,
    caller: SellerOrPlatform,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Replay a delivery: send its event to the endpoint again.

    Queues a new delivery (`replay_of` names the original) with the same body and the same
    `webhook-id` (the event's id), freshly timestamped and signed, retried on the usual schedule.
    A receiver that deduplicates by `webhook-id` drops a replay of an event it already processed.
    A disabled endpoint is 409 `webhook_endpoint_disabled`: enable it first.
    """
    db = db_of(request)
    return create_once(
        request,
        db,
        caller,
        idempotency_key,
        _NO_BODY,
        lambda session, r: webhooks.replay(session, caller, endpoint_id, delivery_id, r),
        location=f"/v1/webhook-endpoints/{endpoint_id}/deliveries/{{id}}",
        status=202,
    )
