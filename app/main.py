"""The app factory: routers, error handlers, lifespan (engine, dispatcher), offline docs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.core.config import Settings
from app.core.db import make_engine
from app.core.edge import Edge
from app.core.errors import Problem, install_error_handlers
from app.core.logging import configure_logging
from app.core.uploads import UPLOAD_FORM_ALLOWANCE
from app.dependencies import Db
from app.models.evidence import EvidenceFacts
from app.routers import (
    account_settings,
    accounts,
    chargebacks,
    coupons,
    evidence,
    me,
    messages,
    orders,
    sellers,
    system,
)
from app.routers.support import operation_id
from app.worker import Dispatcher

DESCRIPTION = """
Chargeback Desk records card chargebacks against marketplace orders, freezes the disputed funds,
gives the seller a working-day deadline to appeal, and records the bank's ruling.

**Auth**: `Authorization: Bearer <credential>` — the platform key, or a seller API key (`sk_…`).
**Errors** are `application/problem+json` with a stable `code`.
**Retries**: creating `POST`s accept `Idempotency-Key`. **Concurrency**: writes accept `If-Match`.
"""

_STATIC = Path(fastapi_offline.__file__).parent / "static"
# The docs pages load nothing from elsewhere: ReDoc's bundle asks a CDN for its footer logo (the image
# hides itself when refused) and Swagger UI a validator badge; the inline script is Swagger UI's start-up.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    if settings.secret_key is None:
        raise SystemExit(
            "SECRET_KEY is required (it signs tokens and links); `chargeback-desk demo` makes one."
        )
    settings.calendar  # noqa: B018 -- fail at start-up, not on the first notice, if the calendar is misconfigured

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.handler_threads
        dispatcher = None
        if settings.dispatch_in_process:
            dispatcher = Dispatcher(app.state.engine, settings)
            dispatcher.start_background()
        yield
        if dispatcher is not None:
            dispatcher.stop()
        app.state.db.close()

    app = FastAPI(
        title="Chargeback Desk",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.db = Db(app.state.engine, settings)
    install_error_handlers(app)
    app.add_middleware(
        Edge,
        max_body_bytes=settings.max_json_body_bytes,
        # Only a backstop (the route refuses an oversized file itself as it streams), so loose enough
        # that the route's precise code comes first even when a body arrives in one piece.
        max_upload_bytes=2 * settings.max_evidence_file_bytes + UPLOAD_FORM_ALLOWANCE,
    )
    routers = [
        m.router
        for m in (
            chargebacks,
            evidence,
            system,
            sellers,
            orders,
            messages,
            accounts,
            account_settings,
            me,
            coupons,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.state.api_routes = [route for router in routers for route in router.routes]
    _install_docs(app)
    _register_problem_schema(app)
    return app


def _install_docs(app: FastAPI) -> None:
    app.mount("/docs-static", StaticFiles(directory=_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Chargeback Desk API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = _DOCS_POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url="/openapi.json",
            title="Chargeback Desk API",
            redoc_js_url="/docs-static/redoc.standalone.js",
            redoc_favicon_url="/docs-static/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = _DOCS_POLICY
        return page


def _register_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        # Schemas no route names as a body: the problem document, and the upload's JSON `facts` field.
        for model in (Problem, EvidenceFacts):
            generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in generated.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, generated)
        _errors_as_problems(schema)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "Platform key or seller API key"}
        }
        schema["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _errors_as_problems(schema: dict[str, Any]) -> None:
    """Document every error response as what is sent: ``application/problem+json`` with ``Problem``.

    FastAPI adds its own 422 (``HTTPValidationError``) to routes with parameters that declare none,
    and a ``model=`` response also lists ``application/json``; neither is what clients receive.
    """

    def problem() -> dict[str, Any]:
        return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            # What any route can answer: an unknown query parameter (422), an unparseable body (400),
            # the database out of reach (503).
            responses.setdefault(
                "422", {"description": "Problem codes: `validation_error`", "content": problem()}
            )
            if "requestBody" in operation:
                responses.setdefault(
                    "400", {"description": "Problem codes: `malformed_json`", "content": problem()}
                )
            if path != "/healthz":
                responses.setdefault(
                    "503",
                    {
                        "description": "Problem codes: `service_unavailable` (retry after `Retry-After` s)",
                        "headers": {
                            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                        },
                        "content": problem(),
                    },
                )
            for response in responses.values():
                content = response.get("content", {})
                if "application/problem+json" in content:
                    response["content"] = problem()
                elif "#/components/schemas/HTTPValidationError" in json.dumps(content):
                    response["content"] = problem()
                    response["description"] = "Problem codes: `validation_error`"
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components.pop(name, None)


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    # ``app.main:app`` for uvicorn, built on first access so importing this module has no side effects.
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = create_app()
    return _app
