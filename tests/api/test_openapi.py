"""The published OpenAPI document: ids, summaries, descriptions, problems, headers, examples, links, lists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from pydantic import SecretStr

from app.core.config import Settings
from app.main import create_app
from app.security.request_limits import EXEMPT_PATHS
from app.worker import Dispatcher
from tests.api.conftest import PLATFORM, Mailbox, SmsGateway, World, make_case, notice
from tests.api.test_accounts import bearer, login, make_account

PROBLEM_REF = "#/components/schemas/Problem"
METHODS = {"get", "post", "put", "patch", "delete"}
LIST_ENDPOINT_PARAMS = {
    "/v1/chargebacks": {
        "status",
        "reason_category",
        "order_id",
        "respond_by_before",
        "received_since",
        "received_before",
        "updated_since",
        "limit",
        "cursor",
    },
    "/v1/messages": {"unread", "updated_since", "limit", "cursor"},
    "/v1/me/payment-accounts": {"limit", "cursor"},
    "/v1/me/orders": {"limit", "cursor"},
    "/v1/me/favourites": {"limit", "cursor"},
    "/v1/me/coupons": {"limit", "cursor"},
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The document as served; building it needs no database."""
    tmp: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp}/never-migrated.db",
        platform_api_key=SecretStr("pk_openapi"),
        secret_key=SecretStr("openapi-secret-0123456789"),
        dispatch_in_process=False,
    )
    application = create_app(settings)
    r = TestClient(application).get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    yield r.json()
    application.state.db.close()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _responses(spec: dict[str, Any], operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """An operation's responses, shared ones (``components/responses``) resolved."""
    for status, response in operation["responses"].items():
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        yield status, response


def _is_typed(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return _is_typed(spec, _resolve(spec, schema))
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return all(_is_typed(spec, branch) for branch in schema[combinator])
    if "enum" in schema or "const" in schema:
        return True
    if schema.get("type") == "array":
        return _is_typed(spec, schema.get("items", {}))
    return "type" in schema


def test_every_operation_has_a_unique_operation_id(spec: dict[str, Any]) -> None:
    ids = [str(operation.get("operationId", "")) for _, _, operation in _operations(spec)]
    assert len(ids) >= 15
    assert all(ids), ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    # Generated clients name their methods after these: a plain snake_case verb phrase, never
    # FastAPI's default of name + path + method.
    for path, method, operation in _operations(spec):
        op_id = operation["operationId"]
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", op_id), f"{method.upper()} {path}: {op_id}"
        assert not op_id.endswith(f"_{method}"), f"{method.upper()} {path}: {op_id}"
    known = {
        ("get", "/v1/chargebacks/{chargeback_id}"): "get_chargeback",
        ("post", "/v1/chargebacks"): "create_chargeback",
    }
    for (method, path), op_id in known.items():
        assert spec["paths"][path][method]["operationId"] == op_id


def test_every_operation_has_a_summary_from_its_docstring(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        summary = operation.get("summary", "")
        assert summary.strip(), f"{method.upper()} {path}"
        # FastAPI's fallback is the function name in title case; ours come from the one-line docstring.
        fallback = operation["operationId"].replace("_", " ").title()
        assert summary != fallback, f"{method.upper()} {path}: summary is the function name"
        assert "\n" not in summary


def test_operations_with_input_document_a_problem_4xx(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        has_path_params = any(p["in"] == "path" for p in operation.get("parameters", []))
        if "requestBody" not in operation and not has_path_params:
            continue
        problems = [
            status
            for status, response in _responses(spec, operation)
            if status.startswith("4")
            and response.get("content", {}).get("application/problem+json", {}).get("schema", {}).get("$ref")
            == PROBLEM_REF
        ]
        assert problems, f"{method.upper()} {path} documents no 4xx problem"
        if has_path_params and path.startswith("/v1/"):
            assert "404" in problems, f"{method.upper()} {path}"


def test_every_error_response_is_documented_as_a_problem(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        for status, response in _responses(spec, operation):
            if not status.startswith(("4", "5")) or (path, status) == READY_PROBE:
                continue
            content = response.get("content", {})
            assert set(content) == {"application/problem+json"}, f"{method.upper()} {path} {status}"
            assert content["application/problem+json"]["schema"] == {"$ref": PROBLEM_REF}
            assert response["description"], f"{method.upper()} {path} {status}"
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas


def test_authenticated_operations_document_401(spec: dict[str, Any]) -> None:
    protected = ("/v1/sellers", "/v1/orders", "/v1/chargebacks", "/v1/messages", "/v1/me", "/v1/coupons")
    for path, method, operation in _operations(spec):
        if path.startswith(protected):
            responses = dict(_responses(spec, operation))
            assert "401" in responses, f"{method.upper()} {path}"
            assert "invalid_credential" in responses["401"]["description"]


def test_problem_schema_is_in_components(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["type"] == "object"
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "code"}
    assert set(problem["properties"]) >= {"type", "title", "status", "detail", "code", "instance", "errors"}
    errors = _resolve(spec, problem["properties"]["errors"]["anyOf"][0]["items"])
    assert set(errors["properties"]) == {"field", "message"}
    assert "$defs" not in problem


def test_every_schema_property_has_a_type(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    untyped = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, sub in schema.get("properties", {}).items()
        if not _is_typed(spec, sub)
    ]
    assert untyped == []


def test_operation_parameters_have_types(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            assert _is_typed(spec, parameter["schema"]), f"{method.upper()} {path} {parameter['name']}"


@pytest.mark.parametrize(
    "name",
    [
        "ChargebackCreate",
        "OrderCreate",
        "SellerCreate",
        "AppealCreate",
        "EvidenceFacts",
        "PaymentAccountCreate",
        "FavouriteCreate",
        "CouponCreate",
    ],
)
def test_create_schema_carries_examples_for_every_field(spec: dict[str, Any], name: str) -> None:
    schema = spec["components"]["schemas"][name]
    assert schema["properties"]
    missing = [prop for prop, sub in schema["properties"].items() if not sub.get("examples")]
    assert missing == []
    assert schema.get("additionalProperties") is False  # unknown fields are refused, and documented so


def test_idempotency_key_is_documented_on_creating_posts(spec: dict[str, Any]) -> None:
    for path in (
        "/v1/sellers",
        "/v1/orders",
        "/v1/chargebacks",
        "/v1/chargebacks/bulk",
        "/v1/me/payment-accounts",
        "/v1/me/favourites",
        "/v1/coupons",
    ):
        names = {p["name"] for p in spec["paths"][path]["post"].get("parameters", [])}
        assert "Idempotency-Key" in names, path


def test_contract_list_endpoints_document_their_query_params(spec: dict[str, Any]) -> None:
    for path, expected in LIST_ENDPOINT_PARAMS.items():
        documented = {p["name"] for p in spec["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert documented >= expected, path
        limit = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "limit")
        assert limit["schema"]["minimum"] == 1
        assert limit["schema"]["maximum"] == 200
        assert limit["schema"]["default"] == 50


def _list_endpoints(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for path, item in spec["paths"].items():
        operation = item.get("get")
        if operation is None or "{" in path:
            continue
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        if "next_cursor" in _resolve(spec, schema).get("properties", {}):
            out.append((path, [p for p in operation.get("parameters", []) if p["in"] == "query"]))
    return out


def _sample(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    """A valid query value for a documented parameter schema."""
    for branch in schema.get("anyOf", [schema]):
        branch = _resolve(spec, branch)
        if branch.get("type") == "null":
            continue
        if "enum" in branch:
            return str(branch["enum"][0])
        if branch.get("type") == "integer":
            return str(branch.get("minimum", 1))
        if branch.get("type") == "boolean":
            return "true"
        if branch.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        if branch.get("type") == "string":
            return "x"
    raise AssertionError(f"no sample for {schema}")


@pytest.fixture
def settings(settings: Settings, sms_gateway: SmsGateway) -> Settings:
    return settings.model_copy(update={"sms_gateway_url": sms_gateway.url})


@pytest.fixture
def account_headers(
    client: TestClient, dispatcher: Dispatcher, mailbox: Mailbox, sms_gateway: SmsGateway
) -> dict[str, str]:
    """A logged-in buyer account's header, for the personal centre's lists."""
    make_account(client, dispatcher, mailbox, sms_gateway)
    return bearer(login(client).json()["access_token"])


def test_every_documented_list_query_param_is_accepted(
    client: TestClient, world: World, account_headers: dict[str, str]
) -> None:
    """Property check: each documented query parameter of each list endpoint exists on the server."""
    make_case(client, world.order["id"])
    spec = client.get("/openapi.json").json()
    endpoints = _list_endpoints(spec)
    assert {path for path, _ in endpoints} >= set(LIST_ENDPOINT_PARAMS)
    for path, parameters in endpoints:
        assert parameters, path
        headers = account_headers if path.startswith("/v1/me/") else world.seller_headers
        for parameter in parameters:
            if parameter["name"] == "cursor":
                continue  # only cursors this API returned are valid
            value = _sample(spec, parameter["schema"])
            r = client.get(path, params={parameter["name"]: value}, headers=headers)
            assert r.status_code == 200, f"{path}?{parameter['name']}={value}: {r.text}"
            assert set(r.json()) == {"data", "next_cursor"}
        limit = next(p for p in parameters if p["name"] == "limit")["schema"]
        for outside in (limit["minimum"] - 1, limit["maximum"] + 1):
            r = client.get(path, params={"limit": outside}, headers=headers)
            assert r.status_code == 422, f"{path}?limit={outside}"
            assert r.json()["code"] == "validation_error"


def test_cursor_from_a_list_page_is_accepted(client: TestClient, world: World) -> None:
    for _ in range(3):
        make_case(client, world.order["id"], 100)
    r = client.get("/v1/chargebacks", params={"limit": 2}, headers=world.seller_headers)
    assert r.status_code == 200
    first = r.json()
    assert len(first["data"]) == 2
    assert first["next_cursor"]
    r = client.get("/v1/chargebacks", params={"limit": 2, "cursor": first["next_cursor"]}, headers=PLATFORM)
    assert r.status_code == 200
    rest = r.json()
    assert len(rest["data"]) == 1
    assert rest["next_cursor"] is None
    assert {c["id"] for c in first["data"]}.isdisjoint(c["id"] for c in rest["data"])


# The contract's bar, held on every operation: later routers meet it or this fails -----------------

EVERY_ANSWER = {"X-Request-ID", "RateLimit-Policy", "RateLimit"}
READY_PROBE = ("/readyz", "503")  # a probe's own small document for load balancers, not a problem


def _header_names(response: dict[str, Any]) -> set[str]:
    return set(response.get("headers", {}))


def _valid(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """Why ``value`` does not match ``schema`` (formats checked), with the document's components."""
    validator = OAS31Validator(
        {**schema, "components": spec["components"]}, format_checker=oas31_format_checker
    )
    return [f"{'/'.join(map(str, err.absolute_path))}: {err.message}" for err in validator.iter_errors(value)]


def test_info_names_licence_contact_and_servers(spec: dict[str, Any]) -> None:
    info = spec["info"]
    assert info["license"] == {"name": "Apache-2.0", "identifier": "Apache-2.0"}  # pyproject's licence
    assert info["contact"]["name"]
    assert spec["servers"] == [{"url": "/", "description": "The host serving this document"}]


def test_every_operation_is_described_beyond_its_summary(spec: dict[str, Any]) -> None:
    described = {tag["name"] for tag in spec["tags"] if tag.get("description", "").strip()}
    used: set[str] = set()
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        summary, description = operation["summary"], operation.get("description", "")
        assert description.strip(), where
        assert description != summary, where
        assert len(description) > len(summary), where
        assert "**Errors**" in description, where
        assert operation.get("tags"), where
        used.update(operation["tags"])
    assert used <= described, f"tags without a description: {used - described}"


def test_every_json_body_and_success_has_a_valid_example(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        bodies = [("request", m) for m in operation.get("requestBody", {}).get("content", {}).values()]
        bodies += [
            (status, m)
            for status, response in _responses(spec, operation)
            if status.startswith("2")
            for t, m in response.get("content", {}).items()
            if t.endswith("json")
        ]
        for what, media in bodies:
            if media["schema"].get("format") == "binary":
                continue  # a file's bytes
            assert "example" in media or "examples" in media, f"{where} {what}"
            if "example" in media:
                assert _valid(spec, media["schema"], media["example"]) == [], f"{where} {what}"


def test_every_error_lists_its_codes_with_an_example_each(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        for status, response in _responses(spec, operation):
            if not status.startswith(("4", "5")) or (path, status) == READY_PROBE:
                continue
            where = f"{method.upper()} {path} {status}"
            codes = re.findall(r"`([a-z_]+)`", response["description"].partition("Problem codes:")[2])
            assert codes, where
            media = response["content"]["application/problem+json"]
            assert list(media["examples"]) == codes, where
            for code, ref in media["examples"].items():
                example = spec["components"]["examples"][ref["$ref"].rsplit("/", 1)[-1]]["value"]
                assert (example["code"], example["status"]) == (code, int(status)), where
                assert _valid(spec, {"$ref": PROBLEM_REF}, example) == [], where


def test_every_answer_documents_the_headers_it_sends(spec: dict[str, Any]) -> None:
    headers = spec["components"]["headers"]
    for path, method, operation in _operations(spec):
        names = {p["name"] for p in operation.get("parameters", [])}
        for status, response in _responses(spec, operation):
            where = f"{method.upper()} {path} {status}"
            documented = _header_names(response)
            limited = EVERY_ANSWER if path not in EXEMPT_PATHS else {"X-Request-ID"}
            assert documented >= limited, where
            if path in EXEMPT_PATHS:  # the limiter does not count these, so they carry no RateLimit
                assert not documented & {"RateLimit", "RateLimit-Policy"}, where
            assert {r["$ref"].rsplit("/", 1)[-1] for r in response["headers"].values()} <= set(headers)
            if status in ("429", "503"):
                assert "Retry-After" in documented, where
            if status == "401":
                assert "WWW-Authenticate" in documented, where
            if status.startswith("2") and "Idempotency-Key" in names:
                assert "Idempotent-Replayed" in documented, where
            if status == "201":
                assert "Location" in documented, where
    secret = [("post", "/v1/sellers/{seller_id}/api-keys", "201"), ("post", "/v1/auth/login", "200")]
    for method, path, status in secret:
        assert "Cache-Control" in _header_names(spec["paths"][path][method]["responses"][status])
    for path in ("/v1/chargebacks/{chargeback_id}", "/v1/orders/{order_id}"):
        assert "ETag" in _header_names(spec["paths"][path]["get"]["responses"]["200"])


def test_every_limited_operation_answers_rate_limited_and_all_unavailable(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        assert ("429" in operation["responses"]) is (path not in EXEMPT_PATHS), f"{method.upper()} {path}"
        if path != "/healthz":
            assert "503" in operation["responses"], f"{method.upper()} {path}"


def _links(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation = spec["paths"][path][method]
    return {
        name: link
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for name, link in response.get("links", {}).items()
    }


def test_creating_operations_link_to_the_operations_taking_their_id(spec: dict[str, Any]) -> None:
    expected = {
        ("post", "/v1/chargebacks"): {
            "get_chargeback",
            "upload_evidence",
            "submit_appeal",
            "accept_chargeback",
        },
        ("post", "/v1/sellers"): {"get_seller", "create_api_key", "list_api_keys"},
        ("post", "/v1/registrations"): {
            "get_registration",
            "verify_registration",
            "resend_registration_code",
            "complete_registration",
        },
        ("post", "/v1/orders"): {"get_order"},
        ("post", "/v1/chargebacks/{chargeback_id}/evidence"): {"get_evidence", "delete_evidence"},
        ("get", "/v1/chargebacks"): {"get_chargeback", "get_order"},
        ("post", "/v1/sellers/{seller_id}/api-keys"): {"revoke_api_key"},
    }
    for (method, path), targets in expected.items():
        assert set(_links(spec, path, method)) >= targets, f"{method.upper()} {path}"
    chargeback = _links(spec, "/v1/chargebacks", "post")["upload_evidence"]
    assert chargeback["parameters"] == {"chargeback_id": "$response.body#/id"}
    key = _links(spec, "/v1/sellers/{seller_id}/api-keys", "post")["revoke_api_key"]
    assert key["parameters"] == {"seller_id": "$request.path.seller_id", "key_id": "$response.body#/id"}
    listed = _links(spec, "/v1/chargebacks", "get")["get_chargeback"]
    assert listed["parameters"] == {"chargeback_id": "$response.body#/data/0/id"}


def test_every_link_names_an_operation_and_its_path_parameters(spec: dict[str, Any]) -> None:
    by_id = {op["operationId"]: (path, op) for path, _, op in _operations(spec)}
    count = 0
    for path, method, _ in _operations(spec):
        for name, link in _links(spec, path, method).items():
            target_path, _target = by_id[link["operationId"]]
            wanted = set(re.findall(r"{(\w+)}", target_path))
            assert set(link["parameters"]) == wanted, f"{method.upper()} {path} → {name}"
            own = set(re.findall(r"{(\w+)}", path))
            for expression in link["parameters"].values():
                source = expression.removeprefix("$request.path.")
                assert expression.startswith("$response.body#/") or source in own, expression
            count += 1
    assert count >= 40


# What the transport adds, and what Starlette sends on every file: not part of the contract.
TRANSPORT = {"content-type", "content-length", "date", "server", "transfer-encoding", "connection"}


def _operation_for(spec: dict[str, Any], method: str, url: str) -> tuple[str, dict[str, Any]]:
    for path, item in spec["paths"].items():
        pattern = re.sub(r"{\w+}", "[^/]+", path)
        if re.fullmatch(pattern, url.split("?")[0]) and method in item:
            return path, item[method]
    raise AssertionError(f"{method.upper()} {url} is not in the document")


def test_every_header_sent_is_documented_for_its_answer(client: TestClient, world: World) -> None:
    """Property check over real answers: each header a response carries is in the document."""
    spec = client.get("/openapi.json").json()
    seller_id, order_id = world.seller["id"], world.order["id"]
    sent: list[tuple[str, str, Any]] = []

    def call(method: str, url: str, **kwargs: Any) -> Any:
        r = client.request(method, url, **kwargs)
        sent.append((method, url, r))
        return r

    key = call("post", f"/v1/sellers/{seller_id}/api-keys", json={"name": "erp"}, headers=PLATFORM).json()
    notice_body = notice(order_id)
    once = {**PLATFORM, "Idempotency-Key": "openapi-headers-1"}
    case = call("post", "/v1/chargebacks", json=notice_body, headers=once).json()
    call("post", "/v1/chargebacks", json=notice_body, headers=once)  # the replay
    call("get", f"/v1/chargebacks/{case['id']}", headers=world.seller_headers)
    call("get", f"/v1/orders/{order_id}", headers=world.seller_headers)
    call("get", "/v1/chargebacks", headers=world.seller_headers)
    call("get", "/v1/chargebacks/nope", headers=world.seller_headers)
    call("get", "/v1/chargebacks", headers={"Authorization": "Bearer sk_wrong"})
    call("post", "/v1/chargebacks", content=b"{", headers={**PLATFORM, "Content-Type": "application/json"})
    call("get", "/v1/chargebacks", params={"limit": 0}, headers=world.seller_headers)
    call("delete", f"/v1/sellers/{seller_id}/api-keys/{key['id']}", headers=PLATFORM)
    call("get", "/healthz")
    for method, url, r in sent:
        path, operation = _operation_for(spec, method, url)
        responses = dict(_responses(spec, operation))
        where = f"{method.upper()} {path} {r.status_code}"
        assert str(r.status_code) in responses, where
        documented = {h.lower() for h in responses[str(r.status_code)].get("headers", {})}
        undocumented = {h.lower() for h in r.headers} - documented - TRANSPORT
        assert undocumented == set(), where
    assert {r.status_code for _, _, r in sent} >= {200, 201, 204, 400, 401, 404, 422}
