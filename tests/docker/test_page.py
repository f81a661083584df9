"""The status page in a real browser: initsup as PID 1 of a container (bookworm), its
[inet_http_server] published on 127.0.0.1, and Debian's chromium driven by selenium
through chromium-driver.  The browser sees every program's state, stops and starts one
with the page's buttons, sees the table follow a change made elsewhere without a reload,
and follows a program's output in the tail panel; no Content-Security-Policy violation
reaches the console.  With credentials set, neither the page nor a POST gets through
without them, and nothing changes.  A screenshot is kept as a test artifact."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker import engine
from tests.docker.engine import Box, poll
from tests.helpers import ROOT, unavailable

SUITE = "bookworm"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
USER, PASSWORD = "admin", "pa55word"

INI = """\
[inet_http_server]
port=*:9001
{credentials}
[program:web]
command=sh -c 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.2; done'
startsecs=0

[program:worker]
command=sleep 1000
startsecs=0

[program:db]
command=sleep 1000
startsecs=0
essential=true

[program:tool]
command=sleep 1000
autostart=false
"""


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (Debian's chromium and chromium-driver)"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless chromium through chromedriver, with a profile of its own; always quit."""
    reason = _missing_browser()
    if reason is not None:
        unavailable("the browser test", reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium'}")
    options.add_argument("--window-size=1200,900")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


class Served:
    """A container whose initsup serves the page on a port published on 127.0.0.1."""

    def __init__(self, box: Box, port: int, auth: dict[str, str]) -> None:
        self.box = box
        self.port = port
        self.auth = auth
        self.url = f"http://127.0.0.1:{port}/"

    def ask(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            client.request(method, path, body=body, headers=headers or {})
            response = client.getresponse()
            return response.status, response.read()
        finally:
            client.close()

    def states(self) -> dict[str, str]:
        status, body = self.ask("GET", "/api/status", headers=self.auth)
        assert status == 200, body
        return {p["name"]: p["statename"] for p in json.loads(body)}


@pytest.fixture
def serve(client: Any, images: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start the page's container (credentials if asked); removed afterwards."""
    started: list[Any] = []

    def start(credentials: bool = False) -> Served:
        more = f"username={USER}\npassword={PASSWORD}\n" if credentials else ""
        config = tmp_path / f"initsup-{len(started)}.ini"
        config.write_text(INI.format(credentials=more))
        container = client.containers.run(
            images[SUITE],
            detach=True,
            labels={engine.LABEL: engine.RUN},
            ports={"9001/tcp": ("127.0.0.1", None)},
            volumes={str(config): {"bind": "/etc/initsup.ini", "mode": "ro"}},
        )
        started.append(container)
        box = Box(container)
        for program in ("web", "worker", "db"):
            box.wait_record("PROCESS_STATE_RUNNING", timeout=60, program=program)
        container.reload()
        port = int(container.ports["9001/tcp"][0]["HostPort"])
        auth = {}
        if credentials:
            pair = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            auth = {"Authorization": f"Basic {pair}"}
        return Served(box, port, auth)

    yield start
    for container in started:
        container.remove(force=True)


def cell(driver: Any, name: str, column: int) -> str:
    """The text of a column of a program's row (0: program, 1: state, 2: description)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        row = driver.find_element("css selector", f'tr[data-name="{name}"]')
        cells = row.find_elements("css selector", "td")
        # A row whose cells are not all there yet: the page after a form's POST is still
        # being parsed.
        return str(cells[column].text) if column < len(cells) else ""
    except (StaleElementReferenceException, NoSuchElementException):
        return ""  # the page was being replaced, or the new one not yet parsed


def wait_state(driver: Any, name: str, state: str, timeout: float = 30) -> None:
    poll(lambda: cell(driver, name, 1) == state, timeout, f"{name} {state} on the page")


def click(driver: Any, name: str, action: str) -> None:
    row = driver.find_element("css selector", f'tr[data-name="{name}"]')
    row.find_element("css selector", f'button[value="{action}"]').click()


def tail_numbers(driver: Any) -> list[int]:
    """The numbers of web's lines in the tail panel (shown or not)."""
    text = driver.find_element("css selector", "#tail pre").get_attribute("textContent")
    return [int(n) for n in re.findall(r"line (\d+)", text or "")]


def screenshot(driver: Any, name: str) -> Path:
    folder = Path(os.environ.get("INITSUP_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def csp_violations(driver: Any) -> list[str]:
    messages = [str(entry.get("message", "")) for entry in driver.get_log("browser")]
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


def test_a_browser_controls_and_tails_programs(serve: Callable[..., Served], browser: Any) -> None:
    served = serve()
    browser.get(served.url)
    for name, state in (("web", "RUNNING"), ("worker", "RUNNING"), ("db", "RUNNING")):
        wait_state(browser, name, state)
    assert cell(browser, "tool", 1) == "STOPPED"
    assert "essential" in cell(browser, "db", 0)
    assert "essential: db" in browser.find_element("css selector", "header").text

    click(browser, "worker", "stop")
    wait_state(browser, "worker", "STOPPED")
    assert "worker: stopped" in browser.find_element("css selector", ".msg").text
    assert served.states()["worker"] == "STOPPED"
    click(browser, "worker", "start")
    wait_state(browser, "worker", "RUNNING")
    assert served.states()["worker"] == "RUNNING"

    # A change made elsewhere shows up in place: the document is not reloaded.
    browser.execute_script("window.sameDocument = true")
    code, out = served.box.exec("initsup", "ctl", "stop", "worker")
    assert code == 0, out
    wait_state(browser, "worker", "STOPPED")
    assert browser.execute_script("return window.sameDocument") is True

    browser.find_element("css selector", 'tr[data-name="web"] a.tail').click()
    panel = browser.find_element("css selector", "#tail")
    poll(panel.is_displayed, 10, "the tail panel open")
    first = poll(lambda: max(tail_numbers(browser), default=0), 20, "web's lines in the tail")
    poll(lambda: max(tail_numbers(browser)) >= first + 3, 20, "new lines arriving in the tail")
    shot = screenshot(browser, "status-page.png")
    assert shot.stat().st_size > 0
    browser.find_element("css selector", "#tail button").click()
    poll(lambda: not panel.is_displayed(), 10, "the tail panel closed")
    # Closed, it reads no more: web goes on printing, the panel's text stays as it was.
    last = max(tail_numbers(browser))
    served.box.wait_logs(f'"line {last + 5}"', timeout=20)
    assert max(tail_numbers(browser)) == last

    # On a phone's width nothing runs off the side: the rows become cards that wrap.
    browser.set_window_size(390, 844)
    poll(lambda: browser.execute_script("return window.innerWidth") <= 400, 10, "a narrow window")
    wide = browser.execute_script("return document.documentElement.scrollWidth")
    assert wide <= browser.execute_script("return window.innerWidth")
    screenshot(browser, "status-page-phone.png")

    assert csp_violations(browser) == []


def test_with_credentials_nothing_gets_through_without_them(
    serve: Callable[..., Served], browser: Any
) -> None:
    served = serve(credentials=True)
    before = served.states()
    assert served.ask("GET", "/")[0] == 401
    status, page = served.ask("GET", "/", headers=served.auth)
    assert status == 200
    token = re.findall(r'name="token" value="([0-9a-f]+)"', page.decode())[0]
    form = urllib.parse.urlencode({"action": "stop", "name": "all", "token": token}).encode()
    kind = {"Content-Type": "application/x-www-form-urlencoded"}
    assert served.ask("POST", "/control", form, kind)[0] == 401
    assert served.ask("GET", "/api/status")[0] == 401

    browser.get(served.url)
    assert not browser.find_elements("css selector", "tr[data-name]")
    assert served.states() == before

    # With the credentials in the address, the page and its buttons work.
    browser.get(f"http://{USER}:{PASSWORD}@127.0.0.1:{served.port}/")
    wait_state(browser, "worker", "RUNNING")
    click(browser, "worker", "stop")
    wait_state(browser, "worker", "STOPPED")
    assert served.states()["worker"] == "STOPPED"
    browser.execute_script("window.sameDocument = true")
    served.box.exec("initsup", "ctl", "start", "worker")
    wait_state(browser, "worker", "RUNNING")  # the refresh gets through with them too
    assert browser.execute_script("return window.sameDocument") is True
    assert csp_violations(browser) == []
