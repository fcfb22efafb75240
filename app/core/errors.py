"""The one place that turns errors into HTTP: RFC 9457 ``application/problem+json`` with a stable ``code``."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.reads import ReadUnavailable
from app.domain import errors as e

log = logging.getLogger("chargeback_desk.errors")

PROBLEM_JSON = "application/problem+json"

# Family → HTTP status. Order matters: the first matching class wins (most specific first).
_STATUS: list[tuple[type[e.DomainError], int]] = [
    (e.NotFound, 404),
    (e.PreconditionFailed, 412),
    (e.Conflict, 409),
    (e.InvalidInput, 422),
    (e.Unauthenticated, 401),
    (e.Forbidden, 403),
    (e.TooLarge, 413),
    (e.UnsupportedMediaType, 415),
    (e.Gone, 410),
    (e.RateLimited, 429),
    (e.BadRequest, 400),
    (e.ServiceUnavailable, 503),
]

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Resource not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Content too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


class FieldError(BaseModel):
    field: str = Field(examples=["amount_minor"])
    message: str = Field(examples=["Input should be greater than 0"])


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:chargeback-desk:problem:amount_exceeds_order"])
    title: str = Field(examples=["Amount exceeds the order's unfrozen amount"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["The order has 1000 EUR minor units left to freeze; 5000 were asked."])
    code: str = Field(description="Stable machine-readable error code.", examples=["amount_exceeds_order"])
    instance: str | None = Field(default=None, description="The request path.", examples=["/v1/chargebacks"])
    request_id: str | None = Field(default=None, examples=["3f2c0b8e9a8d4c1e"])
    errors: list[FieldError] | None = Field(default=None, description="Per-field problems, for validation.")


def status_for(exc: e.DomainError) -> int:
    for family, status in _STATUS:
        if isinstance(exc, family):
            return status
    return 400


def problem_body(
    status: int, code: str, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:chargeback-desk:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    request: Request | None,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(status, code, title, detail, errors)
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_problems(exc: e.DomainError) -> list[dict[str, str]] | None:
    return [{"field": p.field, "message": p.message} for p in exc.errors] or None


def domain_problem_body(exc: e.DomainError) -> dict[str, Any]:
    """The problem document of a business error, without HTTP (bulk items carry these)."""
    return problem_body(status_for(exc), exc.code, exc.title, exc.detail, _field_problems(exc))


def domain_problem(request: Request | None, exc: e.DomainError) -> JSONResponse:
    headers = None
    if isinstance(exc, e.RateLimited | e.ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, e.Unauthenticated):
        headers = {
            "WWW-Authenticate": 'Bearer realm="chargeback-desk"'
        }  # RFC 9110 §11.6.1: a 401 names its scheme
    return problem_response(
        request, status_for(exc), exc.code, exc.title, exc.detail, _field_problems(exc), headers
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_errors(raw: list[Any]) -> list[dict[str, str]]:
    """Pydantic errors → ``[{field, message}]`` (no input echoed back: it may hold secrets)."""
    return [
        {"field": _field_path(err.get("loc", ())), "message": str(err.get("msg", "invalid"))} for err in raw
    ]


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    return domain_problem(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in raw):
        return problem_response(
            request, 400, "malformed_json", "Malformed JSON", "The request body is not valid JSON."
        )
    return problem_response(
        request,
        422,
        "validation_error",
        "The request is not valid",
        "One or more fields are invalid; see `errors`.",
        validation_errors(raw),
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "Request failed"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else title
    if exc.status_code == 404:
        detail = "No such resource or route."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(request, exc.status_code, code, title, detail, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method served at this path (Starlette names only the first route's).

    As OpenAPI matches paths, a concrete path wins over a templated one: ``/v1/chargebacks/bulk``
    allows ``POST`` only, though ``GET /v1/chargebacks/{chargeback_id}`` would also match it.
    """
    matches = [r for r in request.app.state.api_routes if r.methods and r.path_regex.match(request.url.path)]
    fewest = min((r.path.count("{") for r in matches), default=0)
    return sorted({m for r in matches if r.path.count("{") == fewest for m in r.methods})


def internal_error(request: Request) -> JSONResponse:
    """The answer to an unexpected exception; the caller logs it (with the request id)."""
    return problem_response(
        request,
        500,
        "internal_error",
        "Internal error",
        "Something went wrong on our side; it has been logged.",
    )


# What a lost or unreachable database raises: on a session, on the loop reader, or waiting for either.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ReadUnavailable,
    sqlite3.OperationalError,
    TimeoutError,
)
RETRY_AFTER_SECONDS = 5


def unavailable(request: Request, exc: BaseException) -> JSONResponse:
    """503 for a database that cannot be reached: one log line, no traceback, and a time to retry."""
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
    return problem_response(
        request,
        503,
        "service_unavailable",
        "Service unavailable",
        "The database cannot be reached right now; retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    lost = not isinstance(exc, sa.DBAPIError) or exc.connection_invalidated
    if not lost and not isinstance(exc, sa.OperationalError | sa.InterfaceError):
        return await _on_unexpected(request, exc)
    return unavailable(request, exc)


async def _on_unexpected(request: Request, _exc: Exception) -> JSONResponse:
    # A fallback: the Edge middleware answers unexpected exceptions itself, with the request id.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return internal_error(request)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(e.DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    for kind in (*UNAVAILABLE, sa.DBAPIError):
        app.add_exception_handler(kind, _on_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)


def error_responses(*errors: type[e.DomainError], validation: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route: each status with its problem schema and the codes it may carry."""
    by_status: dict[int, list[str]] = {}
    for err in errors:
        by_status.setdefault(status_for(err()), []).append(err.code)
    if validation:
        by_status.setdefault(422, []).append("validation_error")
    out: dict[int | str, dict[str, Any]] = {}
    for status, codes in sorted(by_status.items()):
        out[status] = {
            "model": Problem,
            "description": "Problem codes: " + ", ".join(f"`{c}`" for c in dict.fromkeys(codes)),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
