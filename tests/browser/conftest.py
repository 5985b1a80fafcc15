"""Browser fixtures: the app in a real threaded server on a free port, and Debian's Chromium via Playwright.

Never `playwright install`: the browser is /usr/bin/chromium from the Debian package (.ci/run installs it).
Without it the browser tests skip locally and fail under CI=true.
"""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import build_app, dispose

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class OneRequestPerConnection(WSGIRequestHandler):
    """HTTP/1.0: the server closes each connection after its response.

    With keep-alive, Chromium sometimes reused a connection the test server had just closed and reported
    net::ERR_CONNECTION_RESET for a POST under load; a real deployment sits behind gunicorn instead.
    """

    protocol_version = "HTTP/1.0"


@pytest.fixture
def live_server(db_dir):
    """A migrated, empty instance (no staff account yet) served on 127.0.0.1; yields its base URL."""
    app = build_app(db_dir)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=OneRequestPerConnection)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        dispose(app)


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium driven by Playwright."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, tmp_path):
    """A fresh browser tab (pt-BR, clinic time zone) that fails the test on any console error or CSP violation."""
    context = chromium.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors = []
    tab.on(
        "console", lambda msg: errors.append(f"{msg.text} ({msg.location.get('url')})") if msg.type == "error" else None
    )
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    during_test = list(errors)  # closing the tab aborts requests still in flight; those are not the test's
    context.close()
    assert during_test == [], f"browser console errors: {during_test}"


@pytest.fixture
def shots(tmp_path):
    """Save a full-page screenshot of a tab under the test's tmp folder, numbered in order."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    taken = []

    def shoot(tab, name: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return shoot
