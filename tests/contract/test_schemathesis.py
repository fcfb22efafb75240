"""Schemathesis over every operation, every check and every phase (stateful included).

On both databases, with the platform key and with a seller key, against the real server on
loopback: no server error, no schema violation, no undocumented status. The run is seeded and
derandomised; ``CONTRACT_EXAMPLES`` (``make contract-deep``) widens it.
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
    key = live.platform_key if credential == "platform" else live.seller_key
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
