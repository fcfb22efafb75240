"""``/docs`` and ``/redoc`` in headless Chromium (Debian's ``chromium``) with the outside network blocked.

Every tag and operation renders, every request the pages make stays on the server, and Swagger UI's
"Try it out" on ``/healthz`` answers 200. Without a browser the tests are skipped, unless
``CBD_REQUIRE_BROWSER=1`` (set by CI) makes that a failure. Playwright only drives the installed
browser (with a fresh temporary profile); it never downloads one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from tests.contract.conftest import Live

REQUIRE_BROWSER = os.environ.get("CBD_REQUIRE_BROWSER", "") in ("1", "true", "yes")
# The server is reached by a name that is not loopback, so the pages behave as on a real host (Swagger
# UI, for one, skips its online validator on localhost); every other name fails to resolve.
HOST = "chargeback-desk.test"
FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP * ~NOTFOUND",
]


def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    message = "no chromium found (Debian: apt-get install chromium; .ci/run installs it)"
    if REQUIRE_BROWSER:
        pytest.fail(f"the browser check is required (CBD_REQUIRE_BROWSER=1): {message}")
    pytest.skip(f"{message}; set CBD_REQUIRE_BROWSER=1 to make this a failure")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def spec(live_sqlite: Live) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{live_sqlite.url}/openapi.json").json()
    return body


def _operations(spec: dict[str, object]) -> list[tuple[str, str]]:
    """(tag, operationId) of every operation."""
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return [(op["tags"][0], op["operationId"]) for item in paths.values() for op in item.values()]


class Visit:
    """A page of its own, with every request it made and how each ended."""

    def __init__(self, browser: Browser, live: Live) -> None:
        self.origin = f"http://{HOST}:{urlsplit(live.url).port}"
        self.context = browser.new_context()
        self.requests: list[Request] = []
        self.failed: list[tuple[str, str | None]] = []
        self.context.on("request", lambda r: self.requests.append(r))
        self.context.on("requestfailed", lambda r: self.failed.append((r.url, r.failure)))
        self.page: Page = self.context.new_page()

    def open(self, path: str) -> Page:
        self.page.goto(f"{self.origin}{path}")
        return self.page

    def assert_stayed_on_the_server(self) -> None:
        own = (self.origin + "/", f"blob:{self.origin}/")
        outside = [r.url for r in self.requests if not r.url.startswith(own)]
        # Nothing went out: any other request was refused inside the browser by the page's policy.
        assert [(url, "csp") for url in outside] == [f for f in self.failed if f[0] in outside], self.failed
        assert [f for f in self.failed if f[0] not in outside] == []


@pytest.fixture
def visit(browser: Browser, live_sqlite: Live) -> Iterator[Visit]:
    v = Visit(browser, live_sqlite)
    yield v
    v.context.close()


def test_swagger_ui_renders_every_tag_and_tries_healthz(visit: Visit, spec: dict[str, object]) -> None:
    page = visit.open("/docs")
    page.wait_for_selector(".opblock-tag")
    operations = _operations(spec)
    tags = page.eval_on_selector_all(".opblock-tag", "els => els.map(e => e.getAttribute('data-tag'))")
    assert sorted(tags) == sorted({tag for tag, _ in operations})
    for tag, operation_id in operations:
        assert page.locator(f"#operations-{tag.replace(' ', '_')}-{operation_id}").count() == 1

    healthz = page.locator("#operations-system-healthz")
    healthz.locator(".opblock-summary").click()
    healthz.get_by_role("button", name="Try it out").click()
    healthz.get_by_role("button", name="Execute").click()
    status = healthz.locator(".live-responses-table tbody .response-col_status")
    status.wait_for()
    assert status.inner_text().strip() == "200"
    visit.assert_stayed_on_the_server()


def test_redoc_renders_every_tag_and_loads_nothing_from_elsewhere(
    visit: Visit, spec: dict[str, object]
) -> None:
    page = visit.open("/redoc")
    page.wait_for_selector("[data-section-id^='tag/']")
    operations = _operations(spec)
    headings = page.eval_on_selector_all(
        "[data-section-id^='tag/']:not([data-section-id*='/operation/'])",
        "els => els.map(e => e.querySelector('h1, h2').textContent.trim())",
    )
    assert sorted(headings) == sorted({tag for tag, _ in operations})
    for _, operation_id in operations:
        assert page.locator(f"[data-section-id$='/operation/{operation_id}']").count() == 1
    # ReDoc's bundle asks a CDN for its footer logo; the page's Content-Security-Policy refuses it.
    visit.assert_stayed_on_the_server()
