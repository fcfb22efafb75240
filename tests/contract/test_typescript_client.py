"""The TypeScript client: types generated from the served spec, ``tsc --strict``, and a script run on them.

Node and the pinned packages (``clients/typescript``, installed by ``make test`` with ``npm ci``) are
needed; without them the test is skipped, unless ``CBD_REQUIRE_NODE=1`` (set by CI) makes it a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.contract.conftest import Live

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "typescript"
BIN = CLIENT / "node_modules" / ".bin"
REQUIRE_NODE = os.environ.get("CBD_REQUIRE_NODE", "") in ("1", "true", "yes")


def _step(*command: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(command, cwd=CLIENT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{' '.join(command)}:\n{run.stdout}{run.stderr}"
    return run.stdout


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    missing = (
        "node" if found is None else None if (BIN / "tsc").exists() else "clients/typescript/node_modules"
    )
    if missing is not None:
        message = f"{missing} is missing: `make test` installs the client's packages with npm ci"
        if REQUIRE_NODE:
            pytest.fail(f"the TypeScript client check is required (CBD_REQUIRE_NODE=1): {message}")
        pytest.skip(f"{message}; set CBD_REQUIRE_NODE=1 to make this a failure")
    assert found is not None
    return found


def test_generated_typescript_client_compiles_strict_and_works(node: str, live_sqlite: Live) -> None:
    _step(
        str(BIN / "openapi-typescript"),
        f"{live_sqlite.url}/openapi.json",
        "--output",
        "src/generated/api.d.ts",
    )
    _step(str(BIN / "tsc"), "--strict", "--project", "tsconfig.json")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CBD_URL": live_sqlite.url,
        "CBD_PLATFORM_KEY": live_sqlite.platform_key,
    }
    result = json.loads(_step(node, "dist/walkthrough.js", env=env).strip().splitlines()[-1])
    assert result["chargeback"].startswith("cb_")
    assert result["status"] == "needs_response"
    assert result["listed"] == 1
