from __future__ import annotations

import gc

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import PLATFORM, World, make_case


def test_notice_on_order_freezes_funds(client: TestClient, world: World) -> None:
    case = make_case(client, world.order["id"], 4_000)
    assert case["status"] == "needs_response"
    r = client.get(f"/v1/orders/{world.order['id']}", headers=world.seller_headers)
    assert r.status_code == 200
    assert r.json()["frozen_amount_minor"] == 4_000
    assert r.json()["fund_status"] == "frozen"
    assert r.json()["chargeback_ids"] == [case["id"]]
    assert client.get("/v1/orders/" + world.order["id"], headers=PLATFORM).status_code == 200


def test_start_up_objects_are_frozen_while_serving(app: FastAPI) -> None:
    # A full collection would otherwise walk every route, schema and module object each time.
    assert gc.get_freeze_count() == 0
    with TestClient(app) as served:
        assert gc.get_freeze_count() > 0
        assert served.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0  # released on shutdown: a later app's cycles stay collectable
