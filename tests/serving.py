"""``chargeback-desk serve`` as a real uvicorn process on a free loopback port, for tests."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_SECONDS = 60


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output: the process is gone


@contextmanager
def serving(
    env: dict[str, str], cwd: Path, command: tuple[str, ...] = ("serve", "--port", "0")
) -> Iterator[str]:
    """The base URL of ``chargeback-desk serve --port 0`` (or ``command``), once uvicorn says it is
    listening."""
    with subprocess.Popen(
        [sys.executable, "-m", "app.cli", *command, "--host", "127.0.0.1"],
        cwd=cwd,  # no stray .env file
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        lines: queue.Queue[str | None] = queue.Queue()
        # uvicorn logs the port it bound (we asked for 0) once it accepts connections: waiting for
        # that line is the readiness check, with no polling; a thread reads so we can give up.
        # It keeps reading afterwards, so a chatty server never blocks on a full pipe.
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
