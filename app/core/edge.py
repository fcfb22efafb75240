"""The outermost layer of every HTTP request, in one pass: request id, access log, NUL guard, body
limit, and the answer to an unexpected error.

One plain ASGI middleware instead of several, and the body limit here instead of FastAPI's
``max_body_size``: each layer wraps ``send`` and costs every request, bodiless GETs included.
Answers given here are problems like any other, with the request id.
"""

from __future__ import annotations

import logging
import random
import re
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import internal_error, problem_response
from app.core.logging import access_log, request_id_var

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger("chargeback_desk.errors")


class Edge:
    """Echo a client's ``X-Request-ID`` (or make one) on the response, in logs and in problem bodies;
    log each request (method, path, status, time: never the query, headers or body, which may hold
    secrets); answer a NUL in the path (404) or query (422), which PostgreSQL text cannot hold; and
    refuse a body over ``max_body_bytes`` with 413, from its ``Content-Length`` before reading, or
    while it is read when it has none (a multipart upload is only counted, against its own
    ceiling: the upload route refuses an oversized file with its precise code as it streams in);
    answer an unexpected exception with a 500 problem, logged with its traceback and the request id.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Evidence arrives as multipart: its own, larger ceiling here; the exact limits are checked
        # while the file streams in.
        self.max_upload_bytes = max(max_upload_bytes or max_body_bytes, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given, length, limit, upload = "", None, self.max_body_bytes, False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"content-length":
                length = value
            elif name == b"content-type" and value[:19].lower() == b"multipart/form-data":
                limit, upload = self.max_upload_bytes, True
        if upload:
            # An upload is measured as it streams (its route refuses an oversized file with its own
            # code): not refused here by its declared length, only counted.
            length = None
        # Not a secret, only a correlation id: the fast non-cryptographic generator is enough.
        request_id = given if _VALID_ID.match(given) else f"{random.getrandbits(64):016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        raw_id = request_id.encode()
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw_id)]
            await send(message)

        try:
            refusal = self._refusal(scope, length, limit)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            elif length is None and scope["method"] not in _BODYLESS:
                await self.app(scope, self._counting(receive, limit), send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            if status:  # the response has begun: nothing to answer with; the server closes it
                raise
            # Answered here rather than by Starlette's outermost handler, so the 500 carries the
            # request id like every other answer, and the log line has it too.
            log.exception("unhandled error on %s %s", scope["method"], _loggable_path(scope))
            await internal_error(Request(scope))(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                elapsed = (time.perf_counter() - started) * 1000
                path = _loggable_path(scope)
                access_log.info("%s %s %s %.1fms", scope["method"], path, status or 500, elapsed)
            request_id_var.reset(token)

    def _refusal(self, scope: Scope, length: bytes | None, limit: int) -> ASGIApp | None:
        if "\x00" in scope["path"]:
            return problem_response(
                Request(scope), 404, "not_found", "Resource not found", "No such resource or route."
            )
        query = scope["query_string"]
        if b"%00" in query or b"\x00" in query:
            return problem_response(
                Request(scope),
                422,
                "validation_error",
                "The request is not valid",
                "Query parameters may not contain NUL characters.",
                [{"field": "query", "message": "must not contain NUL characters"}],
            )
        if length is not None and length.isdigit() and int(length) > limit:
            return problem_response(
                Request(scope), 413, "payload_too_large", "Content too large", self._detail(limit)
            )
        return None

    def _counting(self, receive: Receive, limit: int) -> Receive:
        """A body without ``Content-Length`` (chunked): counted as it is read."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the body read: FastAPI lets HTTPException through, and the
                    # app's handler answers it as a problem.
                    raise HTTPException(413, self._detail(limit))
            return message

        return counted

    def _detail(self, limit: int) -> str:
        return f"The request body is larger than {limit} bytes."


def _loggable_path(scope: Scope) -> str:
    """The path as sent, still percent-encoded: a decoded ``%0A`` could forge a log line."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else repr(scope["path"])[1:-1]
