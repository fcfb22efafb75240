"""The yardstick: a bare FastAPI ``async def`` endpoint, served with the same uvicorn settings."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/async")
async def ceiling() -> dict[str, object]:
    return {"status": "ok", "service": "ceiling", "version": 1}
