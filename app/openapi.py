"""The published OpenAPI document: FastAPI's, completed from declarative tables.

Routers declare only their specifics (``responses=error_responses(...)``, ``openapi_extra=sends(...)``,
a docstring); everything every operation has in common is added here, so a new router is held to the
same bar without repeating it: the problem schema on every error, the headers every answer carries,
examples built from the schemas' field examples, a description saying who may call and how to retry,
and ``links`` from each operation that returns an id to the operations that take it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.core.errors import PROBLEM_JSON, Problem
from app.dependencies import account_caller, platform_caller, seller_caller, seller_or_platform_caller
from app.domain import errors as e
from app.models.evidence import EvidenceFacts

PROBLEM_REF = "#/components/schemas/Problem"
METHODS = ("get", "put", "post", "delete", "patch")

LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}  # as pyproject.toml's `license`
CONTACT = {"name": "Chargeback Desk maintainers"}
# Relative, so /docs' "Try it out" and a generated client's default reach the host that served it.
SERVERS = [{"url": "/", "description": "The host serving this document"}]

# Every tag an operation uses is described here (a test holds new routers to it).
TAGS: list[dict[str, Any]] = [
    {
        "name": "chargebacks",
        "description": "Chargeback cases: the platform records a card network's notice (one, or up to "
        "500 in bulk), which freezes the disputed amount of the order; the seller reads its cases, "
        "accepts the loss or appeals before `respond_by`; the platform records the bank's ruling.",
    },
    {
        "name": "evidence",
        "description": "What a seller sends to fight a case: files (PDF, JPEG, PNG, judged by their "
        "bytes) and texts, a report of what the reason code still needs, and the one appeal, which "
        "bundles everything into a PDF package mailed to the appeal mailbox.",
    },
    {
        "name": "orders",
        "description": "Marketplace orders (created by the platform) and their funds: what is "
        "available, frozen by open cases, or debited by lost ones.",
    },
    {
        "name": "sellers",
        "description": "Sellers and their API keys (platform key only). A key's secret is shown once, "
        "at creation; revoking it takes effect at once.",
    },
    {
        "name": "messages",
        "description": "The seller's message centre: every notice sent about its cases "
        "(new chargeback, reminders, rulings), with read state and `updated_since` for syncing.",
    },
    {
        "name": "accounts",
        "description": "Buyer accounts: registration confirmed by an email code and a phone code, "
        "activation by emailed link, login with short-lived access tokens and one-use refresh "
        "tokens, password recovery, and the account's own settings.",
    },
    {
        "name": "personal centre",
        "description": "The logged-in buyer's own things: bound payment accounts, orders with "
        "their chargebacks' status, favourite products and coupons.",
    },
    {
        "name": "coupons",
        "description": "Coupons the platform issues to a buyer account and marks used.",
    },
    {
        "name": "system",
        "description": "Liveness and readiness probes for load balancers and orchestrators; "
        "they take no credential.",
    },
]

_RATE_LIMIT_DRAFT = "IETF draft-ietf-httpapi-ratelimit-headers"
# The headers the API sends; routes point at these by name (``sends``), the rest are added below.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own `X-Request-ID` when it is 1-128 of "
        "`A-Z a-z 0-9 . _ : -`, else one made here. Also in the logs and in problem bodies "
        "(`request_id`): quote it when asking for support.",
        "schema": {"type": "string", "maxLength": 128},
        "example": "3f2c0b8e9a8d4c1e",
    },
    "RateLimit-Policy": {
        "description": f"The rate-limit policies that apply to this request ({_RATE_LIMIT_DRAFT}): "
        "each with its quota `q` and window `w` in seconds.",
        "schema": {"type": "string"},
        "example": '"per-credential";q=600;w=60',
    },
    "RateLimit": {
        "description": f"What is left of the policy closest to its limit ({_RATE_LIMIT_DRAFT}): "
        "remaining requests `r` and seconds `t` until the window resets.",
        "schema": {"type": "string"},
        "example": '"per-credential";r=599;t=60',
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
        "example": 5,
    },
    "ETag": {
        "description": "The resource's version, to send back as `If-Match` with the next write "
        "(412 `precondition_failed` if it has changed since); on a downloaded file, its SHA-256.",
        "schema": {"type": "string"},
        "example": '"3"',
    },
    "Location": {
        "description": "The path of the resource this request created.",
        "schema": {"type": "string", "format": "uri-reference"},
        "example": "/v1/chargebacks/cb_01JD5Q7ZK3M8N2P4R6T8V0W2Y4",
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same "
        "`Idempotency-Key` and body: nothing was done again.",
        "schema": {"type": "string", "enum": ["true"]},
        "example": "true",
    },
    "Cache-Control": {
        "description": "`no-store` on answers that carry a secret (keys, tokens): no cache may keep "
        "them; `private, no-cache` on downloaded files.",
        "schema": {"type": "string"},
        "example": "no-store",
    },
    "Content-Disposition": {
        "description": "`attachment`, with the file's name.",
        "schema": {"type": "string"},
        "example": 'attachment; filename="proof-of-delivery.pdf"',
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with (RFC 9110 §11.6.1).",
        "schema": {"type": "string"},
        "example": 'Bearer realm="chargeback-desk"',
    },
}
_EVERY_RESPONSE = ("X-Request-ID", "RateLimit-Policy", "RateLimit")

# Who may call, by the gate dependency a route declares.
CALLERS: dict[Callable[..., Any], str] = {
    platform_caller: "the platform key",
    seller_caller: "a seller API key (`sk_…`)",
    seller_or_platform_caller: "a seller API key (the seller's own resources only; another seller's "
    "are 404) or the platform key",
    account_caller: "a buyer account's access token (from `login`)",
}


def install(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Serve the completed document from ``app.openapi`` (built once, on first request); ``routes``
    are the routers' own, which tell who may call each operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            complete(schema, [r for r in routes if isinstance(r, APIRoute) and r.include_in_schema])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any], routes: Sequence[APIRoute]) -> None:
    schema["servers"] = copy.deepcopy(SERVERS)
    schema["tags"] = copy.deepcopy(TAGS)
    components = schema.setdefault("components", {})
    _add_schemas(components.setdefault("schemas", {}))
    components["headers"] = copy.deepcopy(HEADERS)
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The platform key, a seller API key (`sk_…`), or an account access token.",
        }
    }
    schema["security"] = [{"bearer": []}]
    schemas = components["schemas"]
    by_key = {(m.lower(), route.path): route for route in routes for m in route.methods or ()}
    operations = list(_operations(schema))
    for path, method, operation in operations:
        _errors_as_problems(path, operation)
        _headers(schemas, operation)
        _describe(operation, by_key.get((method, path)))
        _examples(schemas, components.setdefault("examples", {}), operation)
    _links(schemas, operations)
    _share_responses(components, operations)
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components["schemas"].pop(name, None)


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _add_schemas(schemas: dict[str, Any]) -> None:
    # Schemas no route names as a body: the problem document, and the upload's JSON `facts` field.
    for model in (Problem, EvidenceFacts):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in generated.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas.setdefault(model.__name__, generated)


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}


def _errors_as_problems(path: str, operation: dict[str, Any]) -> None:
    """Every error response as what is sent: ``application/problem+json`` with ``Problem``.

    FastAPI adds its own 422 (``HTTPValidationError``) to routes with parameters that declare none,
    and a ``model=`` response also lists ``application/json``; neither is what clients receive.
    """
    responses = operation.setdefault("responses", {})
    # What any route can answer: an unknown query parameter (422), an unparseable or oversized body
    # (400, 413: the Edge middleware), too many requests (429), the database out of reach (503).
    _add_code(responses, "422", "validation_error")
    if "requestBody" in operation:
        _add_code(responses, "400", "malformed_json")
        _add_code(responses, "413", "payload_too_large")
    _add_code(responses, "429", "rate_limited")
    if path != "/healthz":
        _add_code(responses, "503", "service_unavailable")
    for status, response in responses.items():
        content = json.dumps(response.get("content", {}))
        if "#/components/schemas/HTTPValidationError" in content:
            response["description"] = "Problem codes: `validation_error`"
            response["content"] = _problem_content()
        elif status[0] in "45" and (PROBLEM_JSON in content or "content" not in response):
            response["content"] = _problem_content()
    operation["responses"] = dict(sorted(responses.items()))


def _share_responses(components: dict[str, Any], operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    """An error answer that several operations give alike is one ``components/responses`` entry."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for _, _, operation in operations:
        for status, response in operation["responses"].items():
            if status[0] in "45":
                seen.setdefault(json.dumps([status, response], sort_keys=True), []).append(operation)
    shared = components.setdefault("responses", {})
    for key, users in seen.items():
        if len(users) < 2:
            continue
        status, response = json.loads(key)
        name = base = f"Problem{status}" + "".join(
            c.title().replace("_", "") for c in _codes(response["description"])
        )
        while name in shared:  # the same codes, answered differently (other headers): its own entry
            name = f"{base}_{len(shared)}"
        shared[name] = response
        for operation in users:
            operation["responses"][status] = {"$ref": f"#/components/responses/{name}"}
    components["responses"] = dict(sorted(shared.items()))


def _add_code(responses: dict[str, Any], status: str, code: str) -> None:
    response = responses.setdefault(status, {"description": "Problem codes: "})
    described = response["description"]
    if described.startswith("Problem codes:") and f"`{code}`" not in described:  # not a probe's own
        codes = [*_codes(response["description"]), code]
        response["description"] = "Problem codes: " + ", ".join(f"`{c}`" for c in codes)


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _headers(schemas: Schemas, operation: dict[str, Any]) -> None:
    """The headers each answer carries: on all, the request id and rate limits; the rest by status."""
    replayable = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        headers.update(_header_refs(*_EVERY_RESPONSE))
        if status in ("429", "503"):
            headers.update(_header_refs("Retry-After"))
        elif status == "401":
            headers.update(_header_refs("WWW-Authenticate"))
        elif status.startswith("2"):
            body = response.get("content", {}).get("application/json", {}).get("schema", {})
            if "version" in _properties(schemas, body):
                headers.update(_header_refs("ETag"))
            if replayable:
                headers.update(_header_refs("Idempotent-Replayed"))
        response["headers"] = dict(sorted(headers.items()))


Schemas = dict[str, Any]


def _resolve(schemas: Schemas, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _properties(schemas: Schemas, schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = _resolve(schemas, schema).get("properties", {})
    return props


def _callers(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call in CALLERS:
            yield sub.call
        yield from _callers(sub)


def _describe(operation: dict[str, Any], route: APIRoute | None) -> None:
    """The docstring past its first line, then who may call, retries and concurrency, and the errors."""
    paragraphs: list[str] = []
    if route is not None:
        doc = (route.description or "").strip()
        first, _, rest = doc.partition("\n")
        if rest.strip() and first.rstrip(".") == operation.get("summary"):
            paragraphs.append(rest.strip())
        elif doc and doc.rstrip(".") != operation.get("summary"):
            paragraphs.append(doc)
        gates = list(dict.fromkeys(_callers(route.dependant)))
        if gates:
            paragraphs.append("**Caller**: " + " or ".join(CALLERS[g] for g in gates) + ".")
        elif operation.get("security") == []:
            paragraphs.append("**Caller**: anyone; no credential is needed.")
    names = {p.get("name") for p in operation.get("parameters", [])}
    if "Idempotency-Key" in names:
        paragraphs.append(
            "**Retries**: send an `Idempotency-Key`; a repeat with the same key and body gets the first "
            "answer back (`Idempotent-Replayed: true`) and changes nothing."
        )
    if "If-Match" in names:
        paragraphs.append(
            "**Concurrency**: send the `ETag` you last saw as `If-Match`; if the resource changed "
            "since, the write is refused with 412 `precondition_failed`."
        )
    errors = [
        f"{status} " + ", ".join(_codes(response.get("description", "")))
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]
    paragraphs.append("**Errors** (problem `code`s by status): " + "; ".join(errors) + ".")
    operation["description"] = "\n\n".join(paragraphs)


def _codes(description: str) -> list[str]:
    return re.findall(r"`([a-z][a-z0-9_]*)`", description.partition("Problem codes:")[2])


def _error_classes() -> dict[str, type[e.DomainError]]:
    found: dict[str, type[e.DomainError]] = {}
    pending: list[type[e.DomainError]] = [e.DomainError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def _problem_example(code: str, status: int) -> dict[str, Any]:
    cls = _error_classes().get(code)
    title = cls.title if cls is not None else code.replace("_", " ").capitalize()
    value: dict[str, Any] = {
        "type": f"urn:chargeback-desk:problem:{code}",
        "title": title,
        "status": status,
        "detail": title if cls is None else cls().detail,
        "code": code,
        "request_id": HEADERS["X-Request-ID"]["example"],
    }
    if code == "validation_error":
        value["errors"] = [{"field": "amount_minor", "message": "Input should be greater than 0"}]
    return {"summary": title, "value": value}


def _examples(schemas: Schemas, examples: dict[str, Any], operation: dict[str, Any]) -> None:
    """An example on every JSON body sent and answered, unless the route gave its own."""
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        sent_as_fields = media_type.endswith("json") or media_type == "multipart/form-data"
        if "example" not in media and "examples" not in media and sent_as_fields:
            media["example"] = example_of(schemas, media["schema"], request=True)
    for status, response in operation["responses"].items():
        for media_type, media in response.get("content", {}).items():
            if "example" in media or "examples" in media:
                continue
            if media_type == PROBLEM_JSON:
                codes = _codes(response.get("description", ""))
                media["examples"] = {}
                for code in codes:
                    name = f"{code}_{status}"
                    examples.setdefault(name, _problem_example(code, int(status)))
                    media["examples"][code] = {"$ref": f"#/components/examples/{name}"}
            elif media_type.endswith("json"):
                media["example"] = example_of(schemas, media["schema"])


_FORMATS = {
    "date-time": "2026-11-28T14:02:00Z",
    "date": "2026-11-28",
    "email": "seller@demo-shop.example",
    "uri": "https://demo-shop.example/",
    "uri-reference": "/v1/chargebacks",
}


def example_of(schemas: Schemas, schema: dict[str, Any], request: bool = False, depth: int = 0) -> Any:
    """A value valid against ``schema``, from the examples its fields carry.

    A request example leaves out optional fields without an example of their own, as a client would.
    """
    schema = _resolve(schemas, schema)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("default") is not None:
        return copy.deepcopy(schema["default"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            branches = [b for b in schema[combinator] if _resolve(schemas, b).get("type") != "null"]
            nullable = len(branches) < len(schema[combinator])
            if not branches or (nullable and not any(_has_example(schemas, b) for b in branches)):
                return None  # a nullable field with no example of its own: null is the honest one
            return example_of(schemas, branches[0], request, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        out = {}
        for name, sub in schema.get("properties", {}).items():
            if request and name not in required and not _has_example(schemas, sub):
                continue
            if depth < 8:
                out[name] = example_of(schemas, sub, request, depth + 1)
        return out
    if kind == "array":
        return [example_of(schemas, schema.get("items", {}), request, depth + 1)] if depth < 8 else []
    if kind == "string":
        return _FORMATS.get(schema.get("format", ""), "string")
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def _has_example(schemas: Schemas, schema: dict[str, Any]) -> bool:
    resolved = _resolve(schemas, schema)
    if resolved.get("examples") or "example" in resolved or "const" in resolved:
        return True
    return any(
        _has_example(schemas, b)
        for b in schema.get("anyOf", [])
        if _resolve(schemas, b).get("type") != "null"
    )


def _links(schemas: Schemas, operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    """OpenAPI ``links`` from each answer that carries an id to the operations that take it.

    An operation answering with ``id`` (or ``data[].id``) at ``/things`` or ``/things/{thing_id}``
    links to every operation under ``/things/{…}``; a top-level ``<name>_id`` field links to the
    operations whose only path parameter is that name. Other path parameters of the target come
    from the source's own path.
    """
    for path, _, operation in operations:
        own = set(re.findall(r"{(\w+)}", path))
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            body = response.get("content", {}).get("application/json", {}).get("schema")
            if body is None:
                continue
            props, pointer = _id_holder(schemas, body)
            links: dict[str, Any] = {}
            for target_path, _, target in operations:
                if target is operation:
                    continue
                params = _link_params(path, own, props, pointer, target_path)
                if params is not None:
                    links[target["operationId"]] = {
                        "operationId": target["operationId"],
                        "parameters": params,
                        "description": f"`{', '.join(params)}` of this answer, for "
                        f"`{target['operationId']}`.",
                    }
            if links:
                response["links"] = links


def _id_holder(schemas: Schemas, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The properties of the object in this answer that carries ids, and its JSON pointer."""
    resolved = _resolve(schemas, body)
    if resolved.get("type") == "array":
        return _properties(schemas, resolved.get("items", {})), "/0"
    props = _properties(schemas, body)
    data = props.get("data", {})
    if "id" not in props and data.get("type") == "array":
        return _properties(schemas, data.get("items", {})), "/data/0"
    return props, ""


def _link_params(
    path: str, own: set[str], props: dict[str, Any], pointer: str, target_path: str
) -> dict[str, str] | None:
    collection = re.sub(r"/{\w+}$", "", path)
    wanted = re.findall(r"{(\w+)}", target_path)
    if not wanted:
        return None
    params: dict[str, str] = {}
    match = re.match(re.escape(collection) + r"/{(\w+)}", target_path)
    if "id" in props and match is not None:
        params[match.group(1)] = f"$response.body#{pointer}/id"
    elif len(wanted) == 1 and wanted[0] in props and wanted[0] not in own:
        params[wanted[0]] = f"$response.body#{pointer}/{wanted[0]}"
    else:
        return None
    for name in wanted:
        if name not in params:
            if name not in own:
                return None
            params[name] = f"$request.path.{name}"
    if all(v.startswith("$request") for v in params.values()):
        return None
    return params
