"""Examples for the OpenAPI document, built from the examples its schemas' fields carry."""

from __future__ import annotations

import copy
import re
from typing import Any

from app.domain import errors as e
from app.openapi.tables import HEADERS

Schemas = dict[str, Any]


def resolve(schemas: Schemas, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def properties(schemas: Schemas, schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = resolve(schemas, schema).get("properties", {})
    return props


def codes(description: str) -> list[str]:
    """The problem codes a response's description lists (``Problem codes: `a`, `b```)."""
    return re.findall(r"`([a-z][a-z0-9_]*)`", description.partition("Problem codes:")[2])


def _error_classes() -> dict[str, type[e.DomainError]]:
    found: dict[str, type[e.DomainError]] = {}
    pending: list[type[e.DomainError]] = [e.DomainError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def problem_example(code: str, status: int) -> dict[str, Any]:
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
    schema = resolve(schemas, schema)
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
            branches = [b for b in schema[combinator] if resolve(schemas, b).get("type") != "null"]
            nullable = len(branches) < len(schema[combinator])
            if not branches or (nullable and not any(has_example(schemas, b) for b in branches)):
                return None  # a nullable field with no example of its own: null is the honest one
            return example_of(schemas, branches[0], request, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        out = {}
        for name, sub in schema.get("properties", {}).items():
            if request and name not in required and not has_example(schemas, sub):
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


def has_example(schemas: Schemas, schema: dict[str, Any]) -> bool:
    resolved = resolve(schemas, schema)
    if resolved.get("examples") or "example" in resolved or "const" in resolved:
        return True
    return any(
        has_example(schemas, b) for b in schema.get("anyOf", []) if resolve(schemas, b).get("type") != "null"
    )
