"""A real `provreg serve` on loopback over a seeded SQLite database, and headless Chromium.

Chromium and chromedriver come from Debian's packages (`apt-get install chromium
chromium-driver`); Selenium is pointed at both, so it never downloads a browser or a driver.
Without them the browser tests are skipped, except under ``CI=true``, where that fails the run.
Screenshots go to ``$PROVREG_SCREENSHOT_DIR`` (default ``.test-output/screenshots``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry.config import Settings
from tests.browser.family import seed_family
from tests.servers import running_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the browser tests", pytrace=False)
    pytest.skip(f"{reason} (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    where = Path(os.environ.get("PROVREG_SCREENSHOT_DIR") or ROOT / ".test-output" / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="session")
def explorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real server on a seeded database."""
    home = tmp_path_factory.mktemp("explorer-home")
    seed_family(Settings(home=home, database_url=None), tmp_path_factory.mktemp("models"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env["PROVREG_HOME"] = str(home)
    with running_server(env) as url:
        yield url


@pytest.fixture(scope="session")
def downloads_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-downloads")


# Chromium's own traffic (updates, safe browsing, sync, metrics...) stays off, so the only
# requests a page makes are the ones it asks for
QUIET = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
)
# no name resolves but loopback's, and nothing goes through a proxy: the network is unreachable
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-proxy-server")


def start_chromium(
    downloads_dir: Path, extra: tuple[str, ...] = (), *, network_log: bool = False
) -> Any:
    """Headless Chromium at a laptop's 1366x768, driven by Selenium, logging the console and,
    with ``network_log``, every request it makes (``driver.get_log("performance")``)."""
    binary = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _missing("Chromium or chromedriver is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1366,768",
        "--force-device-scale-factor=1",
        *QUIET,
        *extra,
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads_dir), "download.prompt_for_download": False},
    )
    logs = {"browser": "ALL", **({"performance": "ALL"} if network_log else {})}
    options.set_capability("goog:loggingPrefs", logs)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(driver_path)))
    driver.set_window_size(1366, 768)
    return driver


@pytest.fixture(scope="session")
def browser(downloads_dir: Path) -> Iterator[Any]:
    """Headless Chromium at a laptop's 1366x768, driven by Selenium."""
    driver = start_chromium(downloads_dir)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def offline_browser(downloads_dir: Path) -> Iterator[Any]:
    """Chromium that can reach loopback only, as on a machine without internet access."""
    driver = start_chromium(downloads_dir, OFFLINE, network_log=True)
    try:
        yield driver
    finally:
        driver.quit()
