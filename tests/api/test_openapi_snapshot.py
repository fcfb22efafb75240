"""The committed openapi.json: the served document exactly, and clean by tools nobody on the team wrote.

Redocly CLI comes from npm (`make node-tools`); without it its test is skipped with a message, unless
``CBD_REQUIRE_NODE=1`` (set by CI), which makes that a failure, as for PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from app.cli import openapi_document

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "openapi.json"
LINTER = ROOT / "tools" / "openapi-lint"
REQUIRE_NODE = os.environ.get("CBD_REQUIRE_NODE", "") in ("1", "true", "yes")


@pytest.fixture(scope="module")
def document() -> str:
    return openapi_document()


def test_committed_snapshot_matches_the_served_document(client: TestClient, document: str) -> None:
    assert json.loads(document) == client.get("/openapi.json").json()
    assert SNAPSHOT.read_text() == document, (
        "openapi.json is stale: refresh it with `make openapi` (chargeback-desk openapi > openapi.json)"
    )


def test_snapshot_passes_openapi_spec_validator() -> None:
    validate(json.loads(SNAPSHOT.read_text()))  # raises with the first violation


def test_snapshot_passes_redocly_recommended_with_no_problem() -> None:
    redocly = LINTER / "node_modules" / ".bin" / "redocly"
    if not redocly.exists() or shutil.which("node") is None:
        message = f"Redocly CLI is not installed in {LINTER} (`make node-tools` installs it with npm)"
        if REQUIRE_NODE:
            pytest.fail(f"{message}, and CBD_REQUIRE_NODE=1 requires it")
        pytest.skip(message)
    env = {
        **os.environ,
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        "NO_COLOR": "1",
    }
    run = subprocess.run(
        [str(redocly), "lint", "--config", "redocly.yaml", "--format=json", str(SNAPSHOT)],
        cwd=LINTER,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(run.stdout)
    problems = [f"{p['severity']} {p['ruleId']}: {p['message']}" for p in report["problems"]]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, problems
    assert run.returncode == 0, run.stderr
