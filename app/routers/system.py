"""Health and readiness probes (no auth)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.dependencies import ApiRouter

router = ApiRouter(tags=["system"])
_PUBLIC: dict[str, Any] = {"security": []}  # probes take no credential; generated clients must not send one


class Health(BaseModel):
    status: str = Field(examples=["ok"])


@router.get("/healthz", response_model=Health, openapi_extra=_PUBLIC)
async def healthz() -> dict[str, str]:
    """Process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Health,
    # A probe's answer, for load balancers: the same small document as when ready, not a problem.
    responses={
        503: {
            "model": Health,
            "description": "Database unreachable",
            "content": {"application/json": {"example": {"status": "database unreachable"}}},
        }
    },
    openapi_extra=_PUBLIC,
)
def readyz(request: Request) -> JSONResponse:
    """Database is reachable."""
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unreachable"}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ok"})
