"""Headless Debian chromium driven by selenium, for the console's browser tests.

Skips (with the reason) only when the browser or its driver is not installed; `.ci/run` installs both.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "console"
VIEWPORT = {"width": 1280, "height": 800}
WAIT_S = 15.0


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("the console's browser tests need Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    return browser, driver


def start_browser() -> Any:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                "--disable-extensions", "--no-first-run", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    # The page itself gets exactly 1280x800, whatever the headless window's chrome takes.
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False})
    chrome.set_page_load_timeout(WAIT_S)
    return chrome


def wait_until(driver: Any, condition: Callable[[Any], Any], timeout: float = WAIT_S, what: str = "condition") -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def safe(d: Any) -> Any:
        try:
            return condition(d)
        except StaleElementReferenceException:  # the live page redrew under us: look again
            return False

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(safe, message=f"timed out waiting for {what}")


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait_css(driver: Any, selector: str, text: str | None = None, timeout: float = WAIT_S) -> Any:
    """The first element matching `selector` (whose text contains `text`, when given)."""

    def found(d: Any) -> Any:
        for el in css(d, selector):
            if text is None or text in el.text:
                return el
        return False

    return wait_until(driver, found, timeout, what=f"{selector!r}" + (f" containing {text!r}" if text else ""))


def script_errors(driver: Any) -> list[str]:
    """Console messages at SEVERE level, other than the 404s of endpoints a build may not have."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and "404 (Not Found)" not in e["message"]]


def no_script_ran(driver: Any) -> None:
    """The XSS payloads (tests/console_gateway.py) stayed text: none ran, no element came of them."""
    assert driver.execute_script("return window.__xss === undefined")
    assert not css(driver, "img[src='x']")
    assert script_errors(driver) == []


def save_screenshot(driver: Any, name: str, from_top: bool = True) -> Path:
    """docs/console/<name>.png at 1280x800, palette-quantised so the README stays light."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if from_top:
        driver.execute_script("window.scrollTo(0, 0)")
    raw = driver.get_screenshot_as_png()
    path = SCREENSHOTS / f"{name}.png"
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(raw)
        return path
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    image.save(path, optimize=True)
    return path
