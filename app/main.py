"""The app factory: routers, error handlers, lifespan (engine, dispatcher), offline docs."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app import __version__, openapi
from app.core.config import Settings
from app.core.db import make_engine
from app.core.edge import Edge
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.uploads import UPLOAD_FORM_ALLOWANCE
from app.dependencies import Db
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
    webhooks,
)
from app.routers.support import operation_id
from app.security.request_limits import RequestLimits
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
        # Start-up's objects live as long as the app: a full collection need not walk them on every
        # pass, which would pause the event loop for every request in flight (bench/README.md).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an app built again in this process (tests) leaves its cycles collectable
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
        license_info=openapi.LICENSE,
        contact=openapi.CONTACT,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.db = Db(app.state.engine, settings)
    install_error_handlers(app)
    # Inside ``Edge``: a 429 carries the request id and is logged like any other answer.
    app.add_middleware(RequestLimits, settings=settings)
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
            webhooks,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.webhooks.include_router(webhooks.events)
    app.state.api_routes = [route for router in routers for route in router.routes]
    _install_docs(app)
    openapi.install(app, app.state.api_routes)
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


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    # ``app.main:app`` for uvicorn, built on first access so importing this module has no side effects.
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = create_app()
    return _app
