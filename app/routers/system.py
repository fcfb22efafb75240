"""Health and readiness probes (no auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.routers.support import operation_id

router = APIRouter(tags=["system"], generate_unique_id_function=operation_id)


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """Process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable"}},
)
def readyz(request: Request) -> JSONResponse:
    """Database is reachable."""
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "database unreachable"}, status_code=503)
    return JSONResponse({"status": "ok"})
