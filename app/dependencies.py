"""``Annotated`` dependency aliases shared by the routers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.config import Settings
from app.core.reads import LoopReader, make_loop_reader
from app.domain.errors import FieldProblem, Forbidden, InvalidInput
from app.security.credentials import Caller, KeyClaim, claim, resolve

# Every dependency here is ``async def`` and does no I/O, so FastAPI runs it inline. A handler is a
# plain ``def`` and does all of its database work, credential lookup included, in the one worker
# thread FastAPI gives it: one thread-pool hop per request (measured in bench/: each extra hop costs
# about as much as the query itself).


class Db:
    """The database and settings of this app; ``with db.session() as session:`` in a handler."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        # PostgreSQL: the same pool in autocommit, so a read-only request sends no BEGIN and no
        # ROLLBACK (two round trips fewer). SQLite's BEGIN is an in-process call, and switching
        # its isolation level per checkout cost more than it saved (bench/).
        sqlite = engine.dialect.name == "sqlite"
        self._read_engine = engine if sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
        # One statement awaited on the event loop, for the hottest reads (app/core/reads.py).
        self.loop_reader: LoopReader = make_loop_reader(engine)

    def close(self) -> None:
        self.loop_reader.close()
        self.engine.dispose()

    def session(self) -> Session:
        """For use cases that write (services commit once)."""
        return Session(self.engine, expire_on_commit=False)

    def reader(self) -> Session:
        """For requests that only read; each statement sees the latest committed data."""
        return Session(self._read_engine, expire_on_commit=False)


async def get_db(request: Request) -> Db:
    db: Db = request.app.state.db
    return db


@dataclass(frozen=True, slots=True)
class Credential:
    """The bearer credential as sent; checked against the database inside the handler's session."""

    token: str | None
    platform_key: str | None

    def claim(self) -> Caller | KeyClaim:
        """Who the credential claims to be, for a read that checks the key in its own statement."""
        return claim(self.token, self.platform_key)

    def caller(self, session: Session) -> Caller:
        return resolve(session, self.token, self.platform_key)

    def platform(self, session: Session) -> Caller:
        caller = self.caller(session)
        caller.require_platform()
        return caller

    def seller(self, session: Session) -> Caller:
        caller = self.caller(session)
        caller.require_seller()
        return caller

    def seller_or_platform(self, session: Session) -> Caller:
        caller = self.caller(session)
        if caller.kind not in ("seller", "platform"):
            raise Forbidden("This operation needs a seller credential or the platform key.")
        return caller


def credential_of(request: Request) -> Credential:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    settings: Settings = request.app.state.settings
    platform_key = settings.platform_api_key.get_secret_value() if settings.platform_api_key else None
    return Credential(token.strip() if scheme.lower() == "bearer" else None, platform_key)


async def get_credential(request: Request) -> Credential:
    return credential_of(request)


DbDep = Annotated[Db, Depends(get_db)]
Auth = Annotated[Credential, Depends(get_credential)]


async def get_if_match(
    if_match: Annotated[
        str | None,
        Header(
            description='The `ETag` you last saw (e.g. `"3"`); the write is refused with 412 if the '
            "resource has changed since.",
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 12:
        raise InvalidInput(
            "If-Match must be an ETag returned by this API.", errors=[FieldProblem("If-Match", "invalid")]
        )
    return int(value)


IfMatch = Annotated[int | None, Depends(get_if_match)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes retries safe: a repeat with the same key and body returns the first response.",
        examples=["erp-7f3c2a10-notice-000123"],
    ),
]
