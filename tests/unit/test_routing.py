"""``ApiRouter``: a path outside a router's prefix is refused without trying its routes, and a
router included under a prefix of its own still serves every route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from app.dependencies import ApiRoute, ApiRouter


class CountedRoute(ApiRoute):
    tried: list[str] = []  # noqa: RUF012 (shared on purpose: every route of the test app counts here)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        CountedRoute.tried.append(self.path)
        return super().matches(scope)


def _router(prefix: str) -> ApiRouter:
    router = ApiRouter(prefix=prefix)
    router.route_class = CountedRoute

    @router.get("/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, Any]:
        return {"prefix": prefix, "id": thing_id}

    return router


def _app(outer: str = "") -> FastAPI:
    app = FastAPI()
    app.include_router(_router("/v1/things"), prefix=outer)
    app.include_router(_router("/v1/widgets"), prefix=outer)
    return app


def test_a_path_outside_the_prefix_never_tries_the_routers_routes() -> None:
    CountedRoute.tried.clear()
    r = TestClient(_app()).get("/v1/widgets/w1")
    assert r.json() == {"prefix": "/v1/widgets", "id": "w1"}
    assert "/v1/things/{thing_id}" not in CountedRoute.tried
    assert "/v1/widgets/{thing_id}" in CountedRoute.tried


def test_a_router_included_under_another_prefix_still_serves_its_routes() -> None:
    client = TestClient(_app(outer="/api"))
    assert client.get("/api/v1/things/t1").json() == {"prefix": "/v1/things", "id": "t1"}
    assert client.get("/api/v1/widgets/w1").json() == {"prefix": "/v1/widgets", "id": "w1"}
    assert client.get("/v1/things/t1").status_code == 404
