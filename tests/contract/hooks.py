"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.contract.hooks``) for the contract run."""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

_fresh = itertools.count()


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    """A valid request gets an ``Idempotency-Key`` of its own, as the contract asks of clients.

    The schema cannot say "one key per distinct request"; reusing a key with another body is 422
    ``idempotency_key_reused`` by design (tests/api/test_idempotency.py). Invalid keys are left as
    generated, so their refusal is still checked.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or case.headers is None:
        return
    for name, value in case.headers.items():
        if name.lower() == "idempotency-key" and isinstance(value, str):
            case.headers[name] = f"{value[:200]}-{next(_fresh)}"
