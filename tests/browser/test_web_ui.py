"""The web UI in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium
against the real `sluice serve`, with a fake conda upstream served from the fixtures on 127.0.0.1.

The walk: sign in, create the two feeds (unapproved proxy + approved hosted) over the fake upstream, browse to a
package, promote it with a comment, create an API key and read it once, remove anonymous access, sign out. Every page
is checked for its expected text and saved as a screenshot under test-output/screenshots/ (also at phone width).

Run: `.venv/bin/python -m pytest tests/browser -q` after `swift build --product sluice` (or set SLUICE_BIN).
"""

from __future__ import annotations

import functools
import http.server
import os
import secrets
import shutil
import sys
import threading
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from sluice_e2e import REPO_ROOT, SluiceServer, fixtures_directory, sluice_binary  # noqa: E402

# Selenium must not look for drivers or browsers on the internet, nor report anything.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SLUICE_CHROMEDRIVER", "/usr/bin/chromedriver")
UNAPPROVED = "unapproved-conda"
APPROVED = "approved-conda"
CONNECTOR = "fake-upstream"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def upstream():
    """The fixture channel `channels/conda-format-repo` (zlib in linux-64, osx-64, win-*) as a static conda channel
    on 127.0.0.1."""
    root = fixtures_directory() / "channels" / "conda-format-repo"
    if not (root / "linux-64" / "repodata.json").is_file():
        pytest.fail(f"fixture channel not found at {root} (set SLUICE_FIXTURES)")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def sluice(tmp_path_factory: pytest.TempPathFactory):
    binary = sluice_binary()
    if not binary.is_file():
        pytest.fail(f"sluice binary not found at {binary}: run `swift build --product sluice` or set SLUICE_BIN")
    instance = SluiceServer(binary, tmp_path_factory.mktemp("sluice-ui"), admin_password=secrets.token_urlsafe(16))
    instance.start()
    yield instance
    assert instance.stop(timeout=10) == 0, instance.log_text()[-3000:]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).is_file():
            pytest.fail(f"{path} is missing: install Debian's chromium and chromium-driver")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        "--disable-sync", "--disable-component-update", "--disable-default-apps", "--disable-domain-reliability",
        "--metrics-recording-only", "--password-store=basic",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


class Pages:
    """Navigation, checks and screenshots of one browser."""

    def __init__(self, driver: webdriver.Chrome, base: str):
        self.driver = driver
        self.base = base
        self.count = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def body(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def expect(self, *texts: str) -> str:
        body = self.body()
        for text in texts:
            # Compared case-insensitively: CSS may show a label in capitals.
            assert text.lower() in body.lower(), f"{text!r} is not on {self.driver.current_url}:\n{body[:3000]}"
        return body

    def shot(self, name: str, *texts: str, phone: bool = False) -> None:
        """Checks the page for `texts` and saves a full-page screenshot (and one at phone width if asked)."""
        self.expect(*texts)
        self.count += 1
        for width, suffix in [(1280, "")] + ([(390, "-phone")] if phone else []):
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, min(max(900, height + 120), 6000))
            if width < 1280:
                overflow = self.driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 1, f"{name} scrolls sideways at {width}px ({overflow}px)"
            self.driver.save_screenshot(str(SCREENSHOTS / f"{self.count:02d}-{name}{suffix}.png"))
        self.driver.set_window_size(1280, 900)

    def click(self, selector: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def fill(self, selector: str, text: str) -> None:
        element = self.driver.find_element(By.CSS_SELECTOR, selector)
        element.clear()
        element.send_keys(text)

    def accept_confirm(self) -> None:
        WebDriverWait(self.driver, 10).until(expected_conditions.alert_is_present()).accept()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        WebDriverWait(
            self.driver, timeout, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
        ).until(lambda driver: text.lower() in driver.find_element(By.TAG_NAME, "body").text.lower())


def test_web_ui_walkthrough(sluice: SluiceServer, upstream: str, browser: webdriver.Chrome) -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    pages = Pages(browser, sluice.url)

    # Anonymous: the feed list, and sign-in.
    pages.open("/")
    assert browser.current_url.endswith("/ui/feeds")
    pages.shot("feeds-anonymous", "Feeds", "Sign in")
    pages.click("#sign-in-link")
    pages.fill("#username", "Admin")
    pages.fill("#password", sluice.admin_password)
    pages.shot("sign-in", "Sign in", "User name", "Password")
    pages.click("#sign-in")
    pages.wait_for("Sign out")
    pages.shot("feeds-signed-in", "Create New Feed", "Connectors", "Tasks / Permissions")
    cookies = {cookie["name"]: cookie for cookie in browser.get_cookies()}
    assert cookies["sluice_session"]["httpOnly"] is True
    assert cookies["sluice_session"]["path"] == "/ui"
    assert cookies["sluice_session"].get("sameSite") == "Lax"

    # Create the two feeds over the fake upstream.
    pages.click("#create-feed")
    pages.click("#mode-hosted")
    assert browser.find_element(By.CSS_SELECTOR, "#feed-name").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "#unapproved-feed").is_displayed()
    pages.click("#mode-pair")
    assert not browser.find_element(By.CSS_SELECTOR, "#feed-name").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#unapproved-feed").is_displayed()
    pages.fill("#upstream", upstream)
    pages.fill("#connector-name", CONNECTOR)
    pages.fill("#unapproved-feed", UNAPPROVED)
    pages.fill("#approved-feed", APPROVED)
    pages.shot("create-feed", "Create New Feed", "Create two feeds", "Proxy feed", "Hosted feed",
               "Vulnerability scanning", "Licence checks")
    pages.click("#create")
    pages.wait_for(f"Created the proxy feed '{UNAPPROVED}' and the hosted feed '{APPROVED}'.")
    channel = f"{sluice.url}/conda/{UNAPPROVED}/"
    body = pages.expect(channel, f"conda config --add channels {channel}")
    assert "api:KEY@" not in body

    # The proxy feed's linux-64 packages come from the upstream on first request (as for a conda client).
    Select(browser.find_element(By.CSS_SELECTOR, "#subdir")).select_by_visible_text("linux-64")
    pages.click("#package-search button[type=submit]")
    pages.wait_for("zlib")
    copy = browser.find_element(By.CSS_SELECTOR, "button[data-copy=channel-url]")
    copy.click()
    WebDriverWait(browser, 5).until(lambda _: copy.text == "Copied")
    pages.shot("feed-proxy", UNAPPROVED, "zlib", "1.2.11", "remote", "Conda channel URL", phone=True)

    # The package, and its promotion with a comment.
    browser.find_element(By.LINK_TEXT, "zlib").click()
    pages.wait_for("Promotion history")
    pages.shot("package", "zlib", "1.2.11", "h7b6447c_3", "Promote", "Not promoted yet.", phone=True)
    Select(browser.find_element(By.CSS_SELECTOR, "#promote-target")).select_by_visible_text(APPROVED)
    pages.fill("#promote-comment", "Reviewed in the browser test")
    pages.click("#promote-button")
    pages.accept_confirm()
    pages.wait_for("Promoted 2 file(s) of zlib 1.2.11")
    pages.shot("package-promoted", "Reviewed in the browser test", f"promoted {UNAPPROVED} → {APPROVED}")
    approved = requests.get(f"{sluice.url}/conda/{APPROVED}/linux-64/repodata.json", timeout=30).json()
    assert sorted(approved["packages"]) + sorted(approved["packages.conda"]) == [
        "zlib-1.2.11-h7b6447c_3.tar.bz2", "zlib-1.2.11-h7b6447c_3.conda"]

    pages.open(f"/ui/feeds/{APPROVED}")
    pages.shot("feed-hosted", APPROVED, "zlib", "hosted")
    pages.open("/ui/feeds")
    pages.shot("feeds-two", UNAPPROVED, APPROVED, "proxy", "hosted", CONNECTOR)
    pages.open("/ui/connectors")
    pages.shot("connectors", CONNECTOR, upstream, "healthy")
    pages.open(f"/ui/connectors/{CONNECTOR}")
    pages.shot("connector", CONNECTOR, "linux-64", "cached files")

    # An API key for the approved feed, shown once.
    pages.open("/ui/admin/api-keys")
    pages.click("#key-type-personal")
    assert not browser.find_element(By.CSS_SELECTOR, f"input[name=feeds][value='{APPROVED}']").is_displayed()
    pages.click("#key-type-feed")
    pages.fill("#key-name", "browser-ci")
    browser.find_element(By.CSS_SELECTOR, f"input[name=feeds][value='{APPROVED}']").click()
    pages.click("#create-key-button")
    pages.wait_for("Your new API key")
    key = browser.find_element(By.CSS_SELECTOR, "#api-key-text").text.strip()
    assert len(key) >= 32
    pages.shot("api-key-created", "Your new API key", "browser-ci")
    pages.open("/ui/admin/api-keys")
    assert key not in browser.page_source
    pages.shot("api-keys", "browser-ci", "View & Download on " + APPROVED)

    # Users, groups, the event log.
    pages.open("/ui/admin/users")
    pages.shot("users", "Users", "Create user")
    pages.open("/ui/admin/groups")
    pages.shot("groups", "Groups", "Create group")

    # Remove anonymous access: the feeds become private, the key still opens the approved feed.
    assert requests.get(f"{sluice.url}/conda/{APPROVED}/linux-64/repodata.json", timeout=30).status_code == 200
    pages.open("/ui/admin/permissions")
    pages.shot("permissions", "Tasks / Permissions", "Anonymous access", "Add permission", "anonymous")
    pages.click("#disable-anonymous")
    pages.accept_confirm()
    pages.wait_for("Anonymous access removed")
    pages.shot("permissions-private", "Anonymous access is off")
    assert requests.get(f"{sluice.url}/conda/{APPROVED}/linux-64/repodata.json", timeout=30).status_code == 401
    with_key = requests.get(
        f"{sluice.url}/conda/{APPROVED}/linux-64/repodata.json", headers={"X-ApiKey": key}, timeout=30)
    assert with_key.status_code == 200
    pages.open(f"/ui/feeds/{APPROVED}")
    pages.shot("feed-private", f"http://api:KEY@127.0.0.1:{sluice.port}/conda/{APPROVED}/")
    pages.open("/ui/admin/events")
    pages.shot("events", "Event Log", "anonymous-access-changed", "api-key-created")
    pages.open("/ui/admin/vulnerabilities")
    pages.shot("vulnerabilities", "Vulnerability Data", "advisories", "Imports")
    pages.open("/ui/admin/policies")
    pages.shot("policies", "Global policy", "Noncompliant at severity", UNAPPROVED, APPROVED, "Exceptions")

    # Sign out: the session is gone.
    pages.click("#sign-out")
    pages.wait_for("You are signed out.")
    pages.shot("signed-out", "Sign in", "You are signed out.")
    pages.open("/ui/admin/users")
    assert "/ui/signin" in browser.current_url
    assert "sluice_session" not in {cookie["name"] for cookie in browser.get_cookies()}
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 24
