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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from app.core.errors import PROBLEM_JSON, Problem
from app.dependencies import query_models
from app.models.evidence import EvidenceFacts
from app.openapi.examples import Schemas, codes, example_of, problem_example, properties
from app.openapi.links import add_links
from app.openapi.tables import CALLERS, CONTACT, EVERY_RESPONSE, HEADERS, LICENSE, SERVERS, TAGS
from app.security.request_limits import EXEMPT_PATHS

__all__ = ["CONTACT", "LICENSE", "complete", "install"]

PROBLEM_REF = "#/components/schemas/Problem"
METHODS = ("get", "put", "post", "delete", "patch")


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
    """Complete FastAPI's ``schema`` in place; ``routes`` are the operations' routes, by path and method."""
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
    for route in routes:
        for model in query_models(route):  # its parameters name the enums they use by $ref
            _add_defs(schemas, model.schema.get("$defs", {}))
    by_key = {(m.lower(), route.path): route for route in routes for m in route.methods or ()}
    operations = list(_operations(schema))
    for path, method, operation in operations:
        _errors_as_problems(path, operation)
        _headers(schemas, path, operation)
        _describe(operation, by_key.get((method, path)))
        _examples(schemas, components.setdefault("examples", {}), operation)
    add_links(schemas, operations)
    _share_responses(components, operations)
    for item in schema.get("webhooks", {}).values():
        for operation in item.values():
            # What we send, not what we serve: FastAPI's own 422 is no answer of a receiver's.
            operation.get("responses", {}).pop("422", None)
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
        _add_defs(schemas, generated.pop("$defs", {}))
        schemas.setdefault(model.__name__, generated)


def _add_defs(schemas: dict[str, Any], defs: dict[str, Any]) -> None:
    for name, sub in defs.items():
        schemas.setdefault(name, sub)


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}


def _errors_as_problems(path: str, operation: dict[str, Any]) -> None:
    """Every error response as what is sent: ``application/problem+json`` with ``Problem``.

    FastAPI adds its own 422 (``HTTPValidationError``) to routes with parameters that declare none,
    and a ``model=`` response also lists ``application/json``; neither is what clients receive.
    """
    responses = operation.setdefault("responses", {})
    # What any route can answer: an unknown or repeated query parameter (422), an unparseable or
    # oversized body (400, 413: the Edge middleware), too many requests (429), the database out of
    # reach (503).
    _add_code(responses, "422", "validation_error")
    if "requestBody" in operation:
        _add_code(responses, "400", "malformed_json")
        _add_code(responses, "413", "payload_too_large")
        if "application/json" in operation["requestBody"].get("content", {}):
            _add_code(responses, "415", "unsupported_media_type")  # a JSON body sent as another type
    if path not in EXEMPT_PATHS:
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
            c.title().replace("_", "") for c in codes(response["description"])
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
        listed = [*codes(response["description"]), code]
        response["description"] = "Problem codes: " + ", ".join(f"`{c}`" for c in listed)


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _headers(schemas: Schemas, path: str, operation: dict[str, Any]) -> None:
    """The headers each answer carries: on all, the request id and rate limits; the rest by status."""
    every = EVERY_RESPONSE if path not in EXEMPT_PATHS else ("X-Request-ID",)
    replayable = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        headers.update(_header_refs(*every))
        if status in ("429", "503"):
            headers.update(_header_refs("Retry-After"))
        elif status == "401":
            headers.update(_header_refs("WWW-Authenticate"))
        elif status.startswith("2"):
            body = response.get("content", {}).get("application/json", {}).get("schema", {})
            if "version" in properties(schemas, body):
                headers.update(_header_refs("ETag"))
            if replayable:
                headers.update(_header_refs("Idempotent-Replayed"))
        response["headers"] = dict(sorted(headers.items()))


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
        f"{status} " + (", ".join(codes(response["description"])) or response["description"].lower())
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]
    paragraphs.append("**Errors** (problem `code`s by status): " + "; ".join(errors) + ".")
    operation["description"] = "\n\n".join(paragraphs)


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
                media["examples"] = {}
                for code in codes(response.get("description", "")):
                    name = f"{code}_{status}"
                    examples.setdefault(name, problem_example(code, int(status)))
                    media["examples"][code] = {"$ref": f"#/components/examples/{name}"}
            elif media_type.endswith("json"):
                media["example"] = example_of(schemas, media["schema"])
