"""Headless Chromium driven over the DevTools protocol, with nothing but the standard library.

The browser is started with ``--remote-debugging-pipe``: it reads protocol messages (JSON, each ended
by a NUL byte) on its file descriptor 3 and writes replies and events on its descriptor 4, so no port,
no websocket and no extra package are needed. Every wait is bounded (``timeout`` seconds), and the
browser's whole process group is killed on ``close()``, whatever happened before.

    with Browser() as browser:
        page = browser.open(Path("report.html"), width=1280, height=900)
        page.evaluate("document.title")
        png = page.screenshot()
        page.requests  # every URL the page asked for, from Network.requestWillBeSent
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

TIMEOUT = 30.0  # seconds, for every single step
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
         "--no-default-browser-check",
         "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         "--disable-dev-shm-usage", "--font-render-hinting=none", "--force-color-profile=srgb",
         # nothing the page asks for can reach a network, even if the test below were wrong
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost")


class BrowserError(RuntimeError):
    """The browser died, timed out or answered a command with an error."""


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None. ``$CHROMIUM`` overrides."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    def __init__(self, executable: str | None = None, timeout: float = TIMEOUT):
        executable = executable or find_chromium()
        if not executable:
            raise BrowserError("chromium not found")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="harness-chromium-")
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def plumb():  # in the child: the protocol pipes become descriptors 3 and 4
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)  # out of the way of 3 and 4 first
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)
            os.close(high_r)
            os.close(high_w)

        self.stderr = open(Path(self.profile) / "stderr.log", "wb")  # noqa: SIM115 - open while the browser runs
        try:
            self.process = subprocess.Popen(
                [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr, close_fds=False,
                preexec_fn=plumb, start_new_session=True)  # noqa: PLW1509 - the child only moves two descriptors
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        try:
            self.version = self.call("Browser.getVersion")["product"]
        except BaseException:
            self.close()
            raise

    # --- the protocol -----------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        deadline = time.monotonic() + self.timeout
        while data:
            if not select.select([], [self.to_browser], [], max(0.0, deadline - time.monotonic()))[1]:
                raise BrowserError(f"{method}: the browser took no input for {self.timeout:g} s")
            data = data[os.write(self.to_browser, data):]
        return self.next_id

    def receive(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser within {self.timeout:g} s{self.log_tail()}")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser closed its protocol pipe (exit status {self.process.poll()})"
                                   f"{self.log_tail()}")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and return its result; events that arrive meanwhile go to ``self.events``."""
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self.receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, session: str | None = None, **params) -> dict:
        """The first event ``method`` of ``session`` whose parameters include ``params``, not yet consumed,
        waiting for it if needed."""
        deadline = time.monotonic() + self.timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if (event["method"] == method and event.get("sessionId") == session and not event.get("_used")
                        and all(event.get("params", {}).get(k) == v for k, v in params.items())):
                    event["_used"] = True
                    return event
            seen = len(self.events)
            try:
                message = self.receive(deadline)
            except BrowserError as exc:
                raise BrowserError(f"waiting for {method} {params or ''}: {exc}") from None
            if "method" in message:
                self.events.append(message)

    def log_tail(self) -> str:
        try:
            text = (Path(self.profile) / "stderr.log").read_text(errors="replace").strip()
        except OSError:
            return ""
        return f"\nchromium said:\n{text[-2000:]}" if text else ""

    # --- pages ------------------------------------------------------------------------------------
    def open(self, path: Path, width: int = 1280, height: int = 900) -> Page:
        """A new tab at ``width`` x ``height`` CSS pixels (scale 1) that loads the file at ``path``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.call("Network.enable")  # before navigating: every request of the page is seen
        page.call("Page.enable")
        page.call("Page.setLifecycleEventsEnabled", {"enabled": True})
        page.call("Runtime.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        url = Path(path).resolve().as_uri()
        navigation = page.call("Page.navigate", {"url": url})
        if navigation.get("errorText"):
            raise BrowserError(f"could not open {url}: {navigation['errorText']}")
        # the load event of this navigation (not of the about:blank the tab started with)
        self.wait_for("Page.lifecycleEvent", session, name="load", loaderId=navigation["loaderId"])
        page.evaluate("document.fonts.ready.then(() => true)")  # layout settled before anything is measured
        page.url = url
        return page

    def close(self) -> None:
        """Kill the browser and everything it started, and remove its profile. Safe to call twice."""
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the group is the browser's processes
            except ProcessLookupError:
                pass
        if process is not None:
            try:
                process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                pass
        for fd in ("to_browser", "from_browser"):
            if getattr(self, fd, None) is not None:
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                setattr(self, fd, None)
        if getattr(self, "stderr", None) and not self.stderr.closed:
            self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    """One tab; a context manager that closes the tab."""

    def __init__(self, browser: Browser, target: str, session: str):
        self.browser, self.target, self.session, self.url = browser, target, session, ""

    def close(self) -> None:
        if self.browser.process.poll() is None:
            self.browser.call("Target.closeTarget", {"targetId": self.target})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, params: dict | None = None) -> dict:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited if it is a promise), as JSON."""
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True, "timeout": self.browser.timeout * 1000})
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise BrowserError(f"JavaScript error: {details.get('exception', {}).get('description') or details}")
        return reply["result"].get("value")

    @property
    def requests(self) -> list[str]:
        """Every URL this page requested so far (the page itself included)."""
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e["method"] == "Network.requestWillBeSent" and e.get("sessionId") == self.session]

    def screenshot(self, full_page: bool = True) -> bytes:
        """A PNG of the whole page (``full_page``) or of the viewport, at one image pixel per CSS pixel."""
        params: dict = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])
