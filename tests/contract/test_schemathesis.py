"""Schemathesis over every operation, every check and every phase (stateful included).

On both databases with the platform key and with a seller key, and on SQLite with an account's
access token (the seller's owner account: the buyer endpoints and the seller ones), against the
real server on loopback: no server error, no schema violation, no undocumented status. The run is
seeded and derandomised; ``CONTRACT_EXAMPLES`` (``make contract-deep``) widens it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import Live

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = os.environ.get("CONTRACT_EXAMPLES", "3")
SEED = os.environ.get("CONTRACT_SEED", "20261206")
PHASES = "examples,coverage,fuzzing,stateful"


@pytest.mark.parametrize("credential", ["platform", "seller"])
def test_schemathesis_finds_no_failure(live: Live, credential: str, tmp_path: Path) -> None:
    _run(live, live.platform_key if credential == "platform" else live.seller_key, tmp_path, [])


def test_schemathesis_with_an_account_token_finds_no_failure(live_sqlite: Live, tmp_path: Path) -> None:
    # On SQLite only: the two passes above cover the databases; this one the account's endpoints.
    # Logging out ends the session the rest of the run needs: every later answer would be 401.
    _run(live_sqlite, live_sqlite.account_token, tmp_path, ["--exclude-operation-id", "logout"])


def _run(live: Live, key: str, tmp_path: Path, extra: list[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{live.url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {key}",
        "--output-truncate",
        "false",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    command += extra
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # Every phase ran; the stateful one followed links from creating operations.
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", output), output
    assert re.search(r"API Links:\s+\d+ covered / [1-9]\d* selected", output), output
