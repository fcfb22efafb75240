"""The seller's message centre."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from app.core.errors import error_responses
from app.dependencies import Auth, DbDep
from app.domain import errors as e
from app.models.message import MessagePublic
from app.routers.support import json_response, operation_id
from app.services import messages

router = APIRouter(prefix="/v1/messages", tags=["messages"], generate_unique_id_function=operation_id)
_AUTH = (e.InvalidCredential, e.Forbidden)


class MessagePage(BaseModel):
    data: list[MessagePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@router.get("", response_model=MessagePage, responses=error_responses(*_AUTH))
def list_messages(
    db: DbDep,
    auth: Auth,
    unread: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """List the seller's messages, newest first."""
    with db.reader() as session:
        seller_id = auth.seller(session).require_seller()
        data, next_cursor = messages.list_for(session, seller_id, unread, limit, cursor)
        return json_response(MessagePage(data=data, next_cursor=next_cursor))


@router.post(
    "/{message_id}/read",
    response_model=MessagePublic,
    responses=error_responses(*_AUTH, e.NotFound, validation=False),
)
def mark_message_read(message_id: str, db: DbDep, auth: Auth) -> Response:
    """Mark a message as read."""
    with db.session() as session:
        seller_id = auth.seller(session).require_seller()
        return json_response(messages.mark_read(session, seller_id, message_id))
