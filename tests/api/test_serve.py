"""``chargeback-desk serve``: the real uvicorn server the CLI starts, on a free loopback port."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_SECONDS = 60


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output: the process is gone


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The base URL of ``chargeback-desk serve --port 0``, once uvicorn says it is listening."""
    env = {
        "PATH": os.environ.get("PATH", ""),  # nothing else from ours: settings come from here alone
        "DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
        "DISPATCH_IN_PROCESS": "false",
        "PLATFORM_API_KEY": "pk_test_serve",
        "SECRET_KEY": "test-secret-key-0123456789",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,  # no stray .env file
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        lines: queue.Queue[str | None] = queue.Queue()
        # uvicorn logs the port it bound (we asked for 0) once it accepts connections: waiting for
        # that line is the readiness check, with no polling; a thread reads so we can give up.
        reader = threading.Thread(target=_read_lines, args=(proc.stderr, lines), daemon=True)
        reader.start()
        seen: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        try:
            while True:
                try:
                    line = lines.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    pytest.fail("the server did not start in time:\n" + "".join(seen))
                if line is None:
                    pytest.fail(f"the server exited with {proc.wait()}:\n" + "".join(seen))
                seen.append(line)
                if match := STARTED.search(line):
                    break
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            reader.join(timeout=30)


def test_served_response_has_no_server_header(served: str) -> None:
    r = httpx.get(f"{served}/healthz")
    assert r.status_code == 200
    assert "server" not in r.headers, r.headers
    assert r.headers["x-request-id"]
