"""How every route establishes its caller, and the ``Annotated`` dependency aliases of the routers.

One way to establish the caller: ``current_caller`` (the ``CurrentCaller`` dependency), through a
gate built on it (``PlatformCaller``, ``SellerCaller``, ``SellerOrPlatform``, ``AccountCaller``).
``ApiRoute``, the route class of every router (``ApiRouter``), runs it before FastAPI reads the body
or validates anything, so a request without a valid credential is a 401 whatever else is wrong; it also
refuses unknown query parameters and unparseable JSON bodies. ``dependency_overrides`` of
``current_caller`` or of a gate replace them on every route, the early check included.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.routing import Match
from starlette.types import Scope

from app.core.config import Settings
from app.core.reads import LoopReader, make_loop_reader
from app.domain.errors import FieldProblem, InvalidInput, MalformedJson, UnsupportedMediaType
from app.security.accounts import Auth
from app.security.credentials import Caller, TokenCheck, identify, verify
from app.storage import Storage, storage_from_url

MAX_JSON_DEPTH = 32  # our bodies nest three levels; deeper is an attack on the parser, not data


class Db:
    """The app's stores: ``session()`` for use cases that write, ``loop_reader`` for reads, the
    evidence ``storage``, and ``auth`` (password hasher, keys, rate limiter) for the account use cases."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.loop_reader: LoopReader = make_loop_reader(engine)
        self.storage: Storage = storage_from_url(settings.evidence_storage_url, settings.s3_endpoint_url)
        self.auth = Auth(settings)
        self.token_check = TokenCheck(self.auth.keys.jwt, self.auth.issuer, self.auth.audience)

    def close(self) -> None:
        self.loop_reader.close()
        self.engine.dispose()

    def session(self) -> Session:
        """A session for one use case; the service begins, writes and commits once."""
        return Session(self.engine, expire_on_commit=False)


def db_of(request: Request) -> Db:
    """The app's stores, for a handler that takes the ``Request``.

    Not a dependency: FastAPI solves each one anew on every request, about a tenth of a cheap read,
    and a route's one dependency is its gate.
    """
    db: Db = request.app.state.db
    return db


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


# A read may check a seller key inside its own statement (``readable``); anything else looks it up first.
DEFERRED_KEY_METHODS = frozenset({"GET"})


async def current_caller(request: Request) -> Caller:
    """Who sent the request (platform key or seller API key); 401 otherwise. Once per request.

    On a GET a seller key may stay ``pending``: the read's statement checks it, and any answer other
    than rows found looks it up first (``verified_caller``), so an unknown key is always a 401.
    """
    state = request.scope.setdefault("state", {})
    caller: Caller | None = state.get("caller")
    if caller is None:
        settings: Settings = request.app.state.settings
        platform_key = settings.platform_api_key.get_secret_value() if settings.platform_api_key else None
        caller = identify(bearer_token(request), platform_key, request.app.state.db.token_check)
        # An access token's session is looked up at once: whether it acts as a seller depends on it.
        if caller.pending and (request.method not in DEFERRED_KEY_METHODS or not caller.session_checked):
            caller = await verify(request.app.state.db.loop_reader, caller)
        state["caller"] = caller
    return caller


async def verified_caller(request: Request, caller: Caller) -> Caller:
    """The request's ``caller`` with its key looked up (a 401 for an unknown key), kept for the request."""
    if caller.pending:
        caller = request.scope["state"]["caller"] = await verify(request.app.state.db.loop_reader, caller)
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def caller_of(request: Request) -> Caller:
    """``current_caller``, or what the app's ``dependency_overrides`` put in its place.

    The gates call this rather than depend on ``CurrentCaller``: FastAPI solves each nested
    dependency anew on every request, and one level less is a sizeable share of a cheap read. An
    override of ``current_caller`` still reaches every route through it; it may take the request or
    nothing (one with dependencies of its own belongs on a gate instead).
    """
    override = request.app.dependency_overrides.get(current_caller)
    if override is None:
        return await current_caller(request)
    found = override(request) if inspect.signature(override).parameters else override()
    caller: Caller = await found if inspect.isawaitable(found) else found
    return caller


async def platform_caller(request: Request) -> Caller:
    caller = await verified_caller(request, await caller_of(request))
    caller.require_platform()
    return caller


async def seller_caller(request: Request) -> Caller:
    caller = await verified_caller(request, await caller_of(request))
    caller.require_seller()
    return caller


async def seller_or_platform_caller(request: Request) -> Caller:
    caller = await caller_of(request)
    caller.require_seller_or_platform()  # the kind is known before any key is looked up
    return caller


async def account_caller(request: Request) -> Caller:
    caller = await verified_caller(request, await caller_of(request))
    caller.require_account()
    return caller


PlatformCaller = Annotated[Caller, Depends(platform_caller)]
SellerCaller = Annotated[Caller, Depends(seller_caller)]
SellerOrPlatform = Annotated[Caller, Depends(seller_or_platform_caller)]
AccountCaller = Annotated[Caller, Depends(account_caller)]
_GATES = (platform_caller, seller_caller, seller_or_platform_caller, account_caller)


_ETAG = re.compile(r'^(?:W/)?"([0-9]{1,12})"$|^([0-9]{1,12})$', re.ASCII)


def _header(pattern: str) -> Callable[[dict[str, Any]], None]:
    """A header is a string or absent, never null; the pattern is what the server accepts, so a
    client (or a fuzzer) can tell a valid value from the schema."""

    def document(schema: dict[str, Any]) -> None:
        schema.pop("anyOf", None)
        schema.update(type="string", pattern=pattern)

    return document


async def get_if_match(
    if_match: Annotated[
        str | None,
        Header(
            description='The `ETag` you last saw (e.g. `"3"`); the write is refused with 412 if the '
            "resource has changed since.",
            examples=['"3"'],
            json_schema_extra=_header(r'^\s*(?:\*|(?:W/)?"[0-9]{1,12}"|[0-9]{1,12})\s*$'),
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise InvalidInput(
            "If-Match must be an ETag returned by this API.", errors=[FieldProblem("If-Match", "invalid")]
        )
    return int(found.group(1) or found.group(2))


IfMatch = Annotated[int | None, Depends(get_if_match)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        # str.isprintable over the latin-1 a header decodes to (app/services/idempotency.py).
        json_schema_extra=_header(r"^[\x20-\x7e\xa1-\xac\xae-\xff]{1,255}$"),
        description="Makes retries safe: a repeat with the same key and body returns the first response.",
        examples=["erp-7f3c2a10-notice-000123"],
    ),
]


class QueryModel:
    """A dependency validating the query string as one pydantic model, documented field by field.

    FastAPI's own ``Annotated[Model, Query()]`` re-inspects every field's annotation on each request;
    this validates the whole model in one call, and ``ApiRoute`` documents its fields as FastAPI would.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        # The enums its fields name by $ref are under "$defs" (the OpenAPI document adds them).
        self.schema = model.model_json_schema(ref_template="#/components/schemas/{model}")

    async def __call__(self, request: Request) -> Any:
        try:
            return self.model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError([{**err, "loc": ("query", *err["loc"])} for err in errors]) from None

    def parameters(self) -> list[dict[str, Any]]:
        """The model's fields as OpenAPI query parameters, shaped like FastAPI's."""
        found = []
        for name, field in self.model.model_fields.items():
            alias = field.alias or name
            prop = dict(self.schema["properties"][alias])
            if prop.get("default", ...) is None:
                del prop["default"]
            # Pydantic leaves the title out beside a $ref; FastAPI's parameters always carry one.
            prop.setdefault("title", field.title or alias.replace("_", " ").title())
            param: dict[str, Any] = {
                "name": alias,
                "in": "query",
                "required": field.is_required(),
                "schema": prop,
            }
            if field.description:
                param["description"] = field.description
            found.append(param)
        return found


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def query_models(route: APIRoute) -> list[QueryModel]:
    """The ``QueryModel`` dependencies of ``route``, for its documentation."""
    return [call for call in _calls(route.dependant) if isinstance(call, QueryModel)]


def _query_names(dependant: Dependant) -> Iterator[str]:
    if isinstance(dependant.call, QueryModel):
        yield from (field.alias or name for name, field in dependant.call.model.model_fields.items())
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query parameter model
            yield from (field.alias or name for name, field in model.model_fields.items())
        else:
            yield param.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            pending.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


async def check_json_body(request: Request) -> None:
    """One answer for every body that cannot be parsed: syntax, encoding or nesting."""
    body = await request.body()
    if not body:
        return
    try:
        # Decoded first: given bytes, json.loads would also take UTF-16 and UTF-32 (RFC 8259 §8.1).
        parsed = json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError):  # bad syntax, bytes that are not UTF-8, NaN or Infinity
        raise MalformedJson("The request body is not valid JSON (or not UTF-8).") from None
    if _depth(parsed) > MAX_JSON_DEPTH:
        raise MalformedJson(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")


class ApiRoute(APIRoute):
    """The route class of every router: the caller first, then the query, then the body, then FastAPI.

    A route's summary is the first line of its handler's docstring.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        doc = (endpoint.__doc__ or "").strip()
        if doc and not kwargs.get("summary"):
            kwargs["summary"] = doc.splitlines()[0].rstrip(".")
        super().__init__(path, endpoint, **kwargs)
        models = query_models(self)
        if models:
            extra = dict(self.openapi_extra or {})
            extra["parameters"] = [*extra.get("parameters", []), *(p for m in models for p in m.parameters())]
            self.openapi_extra = extra

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        calls = set(_calls(self.dependant))
        gates = [gate for gate in _GATES if gate in calls]
        needs_caller = current_caller in calls or bool(gates)
        checks = frozenset([current_caller, *gates])
        allowed = frozenset(_query_names(self.dependant))
        json_body = self.body_field is not None and not _is_form(self)
        # A route that takes no body still refuses a JSON one it cannot parse, rather than act as if
        # unsent; one that reads its own body (a multipart upload) judges it itself.
        bodiless = self.body_field is None and bool((self.methods or set()) - _BODYLESS_METHODS)

        async def handle(request: Request) -> Response:
            # With an overridden caller or gate, the route's own dependencies establish the caller.
            early = needs_caller and checks.isdisjoint(request.app.dependency_overrides)
            if early:
                caller = await current_caller(request)
                for gate in gates:
                    caller = await gate(request)
            try:
                if request.query_params:
                    _check_query(request, allowed)
                if json_body and not _declares_json(request, missing=True) and await request.body():
                    raise UnsupportedMediaType(
                        "Send the body as JSON, with Content-Type: application/json.",
                        errors=[FieldProblem("Content-Type", "must be application/json")],
                    )
                if json_body or (bodiless and _declares_json(request)):
                    await check_json_body(request)
                return await handler(request)
            except Exception:
                if early:
                    await verified_caller(request, caller)  # a refusal is never news to an unknown key: 401
                raise

        return handle


class ApiRouter(APIRouter):
    """The router of every module: its routes are ``ApiRoute``s, and a path outside its prefix is
    refused in one step, where FastAPI would try each of its routes in turn."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(route_class=ApiRoute, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Every route's path holds the prefix, whatever prefix the router is included under.
        if self.prefix and self.prefix not in scope["path"]:
            return Match.NONE, {}
        return super().matches(scope)


_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _check_query(request: Request, allowed: frozenset[str]) -> None:
    """Unknown names and names given twice are refused: a typo or a second value in an ERP's filter
    must not read as no filter, or as whichever value came last."""
    names = [name for name, _ in request.query_params.multi_items()]
    unknown = sorted({name for name in names if name not in allowed})
    if unknown:
        raise InvalidInput(
            "Unknown query parameter: " + ", ".join(unknown) + ".",
            errors=[FieldProblem(name, "unknown query parameter") for name in unknown],
        )
    if len(names) != len(set(names)):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInput(
            "Query parameter given more than once: " + ", ".join(repeated) + ".",
            errors=[FieldProblem(name, "given more than once") for name in repeated],
        )


def _declares_json(request: Request, missing: bool = False) -> bool:
    """Whether the body is declared JSON; ``missing`` is the answer when no type is declared."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not media:
        return missing
    return media == "application/json" or media.endswith("+json")


def _is_form(route: APIRoute) -> bool:
    field_info = route.body_field.field_info if route.body_field is not None else None
    return isinstance(field_info, params.Form)
