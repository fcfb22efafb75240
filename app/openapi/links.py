"""OpenAPI ``links``: from each answer that carries an id to the operations that take it."""

from __future__ import annotations

import re
from typing import Any

from app.openapi.examples import Schemas, properties, resolve


def add_links(schemas: Schemas, operations: list[tuple[str, str, dict[str, Any]]]) -> None:
    """OpenAPI ``links`` from each answer that carries an id to the operations that take it.

    An operation answering with ``id`` (or ``data[].id``) at ``/things`` or ``/things/{thing_id}``
    links to every operation under ``/things/{…}``; a ``<name>_id`` field beside that id links to the
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
    resolved = resolve(schemas, body)
    if resolved.get("type") == "array":
        return properties(schemas, resolved.get("items", {})), "/0"
    props = properties(schemas, body)
    data = props.get("data", {})
    if "id" not in props and data.get("type") == "array":
        return properties(schemas, data.get("items", {})), "/data/0"
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
