"""The seller's message centre."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel, Field

from app.core.errors import error_responses
from app.dependencies import ApiRouter, SellerCaller, db_of
from app.domain import errors as e
from app.models.message import MessagePublic
from app.routers.support import Cursor, Limit, UpdatedSince, json_response
from app.services import messages, reads

router = ApiRouter(prefix="/v1/messages", tags=["messages"])
_AUTH = (e.InvalidCredential, e.Forbidden)


class MessagePage(BaseModel):
    data: list[MessagePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@router.get("", response_model=MessagePage, responses=error_responses(*_AUTH, e.CursorMismatch))
async def list_messages(
    caller: SellerCaller,
    request: Request,
    unread: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    updated_since: UpdatedSince = None,
) -> Response:
    """List the seller's messages, newest first."""
    db = db_of(request)
    page = await reads.messages(db.loop_reader, db.settings, caller, unread, limit, cursor, updated_since)
    return json_response(page)


@router.post(
    "/{message_id}/read",
    response_model=MessagePublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def mark_message_read(message_id: str, caller: SellerCaller, request: Request) -> Response:
    """Mark a message as read."""
    db = db_of(request)
    with db.session() as session:
        return json_response(messages.mark_read(session, caller.require_seller(), message_id))
