"""Logging with the request id on every line; secrets are never logged (no headers, no bodies)."""

from __future__ import annotations

import logging
import random
import re
import time
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("chargeback_desk.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger("chargeback_desk")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class RequestIdMiddleware:
    """Echo a client's ``X-Request-ID`` (or make one) on the response, in logs and in problem bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        # Not a secret, only a correlation id: the fast non-cryptographic generator is enough.
        request_id = given if _VALID_ID.match(given) else f"{random.getrandbits(64):016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        raw = request_id.encode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                # Method, path, status: never the query, headers or body (they may hold secrets).
                elapsed = (time.perf_counter() - started) * 1000
                access_log.info("%s %s %s %.1fms", scope["method"], scope["path"], status, elapsed)
            request_id_var.reset(token)
