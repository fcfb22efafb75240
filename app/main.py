"""The app factory: routers, error handlers, lifespan (engine, dispatcher), offline docs."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from anyio import to_thread
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, request_response
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.core.config import Settings
from app.core.db import make_engine
from app.core.edge import Edge
from app.core.errors import Problem, install_error_handlers
from app.core.logging import configure_logging
from app.dependencies import Db
from app.routers import chargebacks, messages, orders, sellers, system
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


def _summaries_from_docstrings(app: FastAPI) -> None:
    # Routes are added to the app directly (``_add_routes``); a router included with
    # ``include_router`` would sit behind a wrapper (``original_router``), so descend into those too.
    pending: list[Any] = list(app.routes)
    while pending:
        route = pending.pop()
        nested = getattr(route, "original_router", None)
        if nested is not None:
            pending.extend(nested.routes)
        elif isinstance(route, APIRoute) and not route.summary and route.description:
            route.summary = route.description.strip().splitlines()[0].rstrip(".")


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
    app.add_middleware(Edge, max_body_bytes=settings.max_json_body_bytes)
    for module in (chargebacks, system, sellers, orders, messages):
        _add_routes(app, module.router)
    _summaries_from_docstrings(app)
    _install_docs(app)
    _register_problem_schema(app)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put a router's routes on the app itself.

    ``include_router`` keeps each router behind a wrapper (FastAPI ≥ 0.165) that matches a request
    against its routes twice, for every request (measured in bench/). Our routers carry only their
    routes (prefix and tags are already in each route; no router-level dependencies or limits), so
    a copy of each route is added to the app. The chargeback routes go first: they take most traffic.
    """
    if router.dependencies or router.max_body_size is not None or router.callbacks or router.form_limits:
        raise RuntimeError("router-level settings would be lost; use include_router for this router")
    if router.generate_unique_id_function is not operation_id:
        raise RuntimeError("give the router generate_unique_id_function=operation_id")
    for route in router.routes:
        if isinstance(route, APIRoute):
            # A copy per app, bound to this app's ``dependency_overrides`` as include_router binds
            # it (the module's routers are shared by every app the process builds, tests included).
            route = copy.copy(route)
            route.dependency_overrides_provider = app
            route.app = request_response(route.get_route_handler())
        app.router.routes.append(route)


def _install_docs(app: FastAPI) -> None:
    app.mount("/docs-static", StaticFiles(directory=_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Chargeback Desk API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="Chargeback Desk API",
            redoc_js_url="/docs-static/redoc.standalone.js",
            redoc_favicon_url="/docs-static/favicon.png",
            with_google_fonts=False,
        )


def _register_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        for name, sub in (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items()
        ):
            components.setdefault(name, sub)
        components["Problem"].pop("$defs", None)
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

    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
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
