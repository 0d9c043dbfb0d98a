"""Fixtures for the web panel's browser tests: the panel server as a subprocess on a free 127.0.0.1
port (web_panel_server.py), and Debian's chromium driven by Playwright for Python
(``executable_path``; ``playwright install`` cannot download here).

Without chromium, Playwright or trame-slicer the tests skip with the reason; under CI=true they fail.
"""

from __future__ import annotations

import pytest
from web_panel_server import CHROMIUM, CHROMIUM_ARGS, require_web_tools, start_panel, stop_panel


@pytest.fixture(scope="module")
def demo_panel(tmp_path_factory):
    """``iscm-assist web --demo`` running for the module's tests; always stopped afterwards."""
    require_web_tools()
    server = start_panel(["--demo"], tmp_path_factory.mktemp("web") / "out")
    try:
        yield server
    finally:
        stop_panel(server)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium under Playwright; closed afterwards."""
    require_web_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (for the screenshot on failure)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
