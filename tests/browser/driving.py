"""Driving the explorer in Chromium: open a hash route and wait until it has rendered, find
elements, save screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WAIT = 15


def wait(driver: Any, condition: Any, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition, message=f"waiting for {what}")


def open_route(driver: Any, base: str, route: str) -> None:
    """Load ``route`` (a hash route) and wait until the page says it has rendered it."""
    driver.get(f"{base}/{route}")
    expected = route.removeprefix("#") or "/"
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == expected,
          f"route {route}")  # fmt: skip


def shot(driver: Any, where: Path, name: str, *, full: bool = False) -> Path:
    path = where / f"{name}.png"
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1366, max(768, min(int(height) + 100, 4000)))
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(1366, 768)
    print(f"screenshot: {path}")
    return path


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def node(driver: Any, key: str) -> Any:
    found = css(driver, f'g.node[data-key="{key}"]')
    return found[0] if found else None
