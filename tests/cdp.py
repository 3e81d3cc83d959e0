"""A very small Chrome DevTools Protocol client for the browser tests: start headless Chromium, navigate, read
the page, click like a mouse, press keys, take screenshots. (No tests here.)"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

HEADLESS_FLAGS = (  # a headless Chromium in a container: no sandbox, GPU, background traffic or first-run page
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
DEVTOOLS_FLAGS = ("--remote-debugging-port=0", "--remote-allow-origins=*")
KEY_CODES = {"a": 65, "b": 66, "l": 76, "n": 78, "s": 83, "t": 84, "x": 88}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """One headless Chromium with one page, driven over CDP; events (console, errors, dialogs) are collected."""

    def __init__(self, executable: str, profile: Path, size: tuple[int, int] = (1280, 900)) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a previous browser's
        self.process = subprocess.Popen(
            [
                executable,
                *HEADLESS_FLAGS,
                *DEVTOOLS_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        try:
            port = int(port_file.read_text().splitlines()[0])
            pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"]
            self.ws: ClientConnection = connect(pages[0]["webSocketDebuggerUrl"], max_size=None).__enter__()
        except Exception:
            self.close()
            raise
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 15.0) -> Any:
        """Poll ``expression`` until it is truthy (after navigations it may throw while the page loads)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"waited {timeout_s} s for {expression}")

    def navigate(self, url: str) -> None:
        self.evaluate("window.__judge_loaded = false")
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && window.__judge_loaded !== false")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        self.evaluate("window.__judge_loaded = false")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def press(self, key: str) -> None:
        """A key press as the keyboard sends it (keydown with the character, then keyup)."""
        self.evaluate("window.__judge_loaded = false")
        code = KEY_CODES[key]
        self.send(
            "Input.dispatchKeyEvent",
            type="keyDown",
            key=key,
            code=f"Key{key.upper()}",
            text=key,
            windowsVirtualKeyCode=code,
            nativeVirtualKeyCode=code,
        )
        self.send(
            "Input.dispatchKeyEvent",
            type="keyUp",
            key=key,
            code=f"Key{key.upper()}",
            windowsVirtualKeyCode=code,
            nativeVirtualKeyCode=code,
        )

    def wait_loaded(self) -> None:
        """After a click or key press that navigates: the new document is complete."""
        self.wait_for("window.__judge_loaded === undefined && document.readyState === 'complete'")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, CSP reports and dialogs (alert) seen so far."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            console_error = method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert")
            if method in ("Runtime.exceptionThrown", "Page.javascriptDialogOpening") or console_error:
                out.append(json.dumps(params)[:300])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append(json.dumps(params["entry"])[:300])
        return out

    def close(self) -> None:
        try:
            if hasattr(self, "ws"):
                self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
