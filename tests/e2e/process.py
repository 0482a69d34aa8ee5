"""``helpdesk-slo serve`` as a child process on 127.0.0.1, for the end-to-end tests."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def command() -> list[str]:
    """The installed ``helpdesk-slo`` next to this Python, else ``python -m exporter``."""
    script = Path(sys.executable).with_name("helpdesk-slo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "exporter"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServeProcess:
    """One ``serve --config CONFIG`` on a free port; :meth:`stop` always ends it."""

    def __init__(self, directory: Path, config: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.log_path = directory / "exporter.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *command(),
                "serve",
                "--config",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
            ],
            cwd=directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def metrics_text(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, body
        return body.decode()

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        """Retry ``check`` until it holds; fail with the exporter's log after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"exporter exited with {self.process.returncode}:\n{self.log}")
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{what}: not within {timeout:g}s\n{self.log[-4000:]}")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """End the process (SIGTERM, then SIGKILL if it lingers) and close its log."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
