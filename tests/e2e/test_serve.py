"""``helpdesk-slo serve`` as a real process on 127.0.0.1.

Each exporter runs as a subprocess on a port chosen at run time, with a small
config in a temporary directory (its own store) and a file source reading
``tests/fixtures/file_source/office_week.jsonl``.  Every process started here
is killed in fixture teardown, also when a test fails.

``promtool check metrics`` runs on a live scrape; without promtool that test
is skipped, unless ``HELPDESK_SLO_REQUIRE_PROMETHEUS=1`` makes it fail.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import bcrypt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter import __version__
from tests.certs import Certificates, make_certificates
from tests.e2e.process import command, free_port
from tests.tools import require_binary

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "file_source" / "office_week.jsonl"
START_TIMEOUT = 30.0

CONFIG = """\
service: support
source: {{type: file, path: "{tickets}", poll_interval: 1s}}
store: state.db
calendars:
  office:
    timezone: Europe/Paris
    hours: {{mon-fri: ["09:00-12:30", "13:30-18:00"]}}
slas:
  first_response:
    calendar: office
    targets: {{urgent: 1h, high: 4h, normal: 8h, low: 24h}}
  next_response:
    calendar: office
    targets: {{urgent: 1h, high: 2h, normal: 4h, low: 8h}}
  resolution:
    calendar: office
    targets: {{urgent: 4h, high: 8h, normal: 16h, low: 40h}}
slos:
  - name: urgent-first-response
    sla: first_response
    match: {{priority: [urgent]}}
    threshold: 50%
    objective: 95%
    window: 28d
  - name: resolution
    sla: resolution
    objective: 80%
    window: month
  - name: csat
    kind: csat
    objective: 90%
    window: month
"""


class Exporter:
    """One ``serve`` process; ``get`` talks to it over HTTP(S) on 127.0.0.1."""

    def __init__(self, directory: Path, args: list[str], tls: Certificates | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.tls = tls
        self.log_path = directory / "exporter.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*command(), "serve", "--web.listen-address", f"127.0.0.1:{self.port}", *args],
            cwd=directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def connection(self, tls: bool | None = None) -> http.client.HTTPConnection:
        use_tls = self.tls is not None if tls is None else tls
        if use_tls:
            assert self.tls is not None
            context = ssl.create_default_context(cafile=str(self.tls.ca))
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def get(
        self, path: str, headers: dict[str, str] | None = None, tls: bool | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = self.connection(tls)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def wait_until(
        self, path: str, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"exporter exited with {self.process.returncode}:\n{self.log}")
            try:
                code, _, _ = self.get(path, headers)
                if code == status:
                    return
                last = code
            except OSError as exc:
                last = exc
            time.sleep(0.1)
        pytest.fail(
            f"{path} did not answer {status} in {START_TIMEOUT}s (last: {last}):\n{self.log}"
        )

    def metrics(self, headers: dict[str, str] | None = None) -> str:
        code, _, body = self.get("/metrics", headers)
        assert code == 200
        return body.decode()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20.0) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


class Start(Protocol):
    """The ``start`` fixture: runs ``serve`` on a config written for the test."""

    def __call__(
        self,
        tickets: Path = ...,
        web_config: str | None = None,
        tls: Certificates | None = None,
        directory: Path | None = None,
        with_config: bool = True,
    ) -> Exporter: ...


@pytest.fixture
def start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    started: list[Exporter] = []

    def run(
        tickets: Path = FIXTURE,
        web_config: str | None = None,
        tls: Certificates | None = None,
        directory: Path | None = None,
        with_config: bool = True,
    ) -> Exporter:
        directory = directory or tmp_path_factory.mktemp("serve")
        args: list[str] = []
        if with_config:
            config = directory / "helpdesk-slo.yml"
            config.write_text(CONFIG.format(tickets=tickets), encoding="utf-8")
            args += ["--config", str(config)]
        if web_config is not None:
            web = directory / "web.yml"
            web.write_text(web_config, encoding="utf-8")
            args += ["--web.config.file", str(web)]
        exporter = Exporter(directory, args, tls)
        started.append(exporter)
        return exporter

    yield run
    for exporter in started:
        exporter.kill()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    """One exporter shared by the read-only tests: plain HTTP, no auth, ready."""
    directory = tmp_path_factory.mktemp("plain")
    config = directory / "helpdesk-slo.yml"
    config.write_text(CONFIG.format(tickets=FIXTURE), encoding="utf-8")
    exporter = Exporter(directory, ["--config", str(config)])
    try:
        exporter.wait_until("/ready")
        yield exporter
    finally:
        exporter.kill()


def sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


# --- a live scrape ------------------------------------------------------------------------------


def test_live_scrape_passes_promtool_check_metrics(plain: Exporter) -> None:
    promtool = require_binary("promtool")
    scrape = plain.metrics()
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=scrape.encode(), capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert checked.stdout == b"" and checked.stderr == b""  # no lint warning either


def test_scrape_shows_a_healthy_file_source(plain: Exporter) -> None:
    scrape = plain.metrics()
    assert sample(scrape, "helpdesk_up", {"source": "file"}) == 1.0
    assert sample(scrape, "helpdesk_exporter_build_info", {"version": __version__}) == 1.0
    last_poll = sample(
        scrape, "helpdesk_last_successful_poll_timestamp_seconds", {"source": "file"}
    )
    assert last_poll is not None and abs(last_poll - time.time()) < 600


def test_healthz_ready_and_landing_page(plain: Exporter) -> None:
    assert plain.get("/healthz")[::2] == (200, b"ok\n")
    assert plain.get("/ready")[0] == 200
    status, headers, body = plain.get("/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'href="metrics"' in page and "urgent-first-response" in page and "95%" in page


@pytest.mark.parametrize("path", ["/nope", "/metrics.txt", "/healthz/x"])
def test_unknown_paths_are_404(plain: Exporter, path: str) -> None:
    assert plain.get(path)[0] == 404


def test_gzip_when_the_scraper_accepts_it(plain: Exporter) -> None:
    status, headers, body = plain.get("/metrics", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert b"helpdesk_up" in gzip.decompress(body)
    status, headers, body = plain.get("/metrics")
    assert "Content-Encoding" not in headers and b"helpdesk_up" in body


def test_openmetrics_when_the_scraper_asks_for_it(plain: Exporter) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    status, headers, body = plain.get("/metrics", {"Accept": accept})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")
    _, headers, body = plain.get("/metrics")
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"# EOF" not in body


# --- TLS and basic auth -------------------------------------------------------------------------


def test_tls_is_served_and_plain_http_refused(start: Start, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    exporter = start(
        web_config=f"tls_server_config:\n  cert_file: {certs.server_cert}\n"
        f"  key_file: {certs.server_key}\n",
        tls=certs,
    )
    exporter.wait_until("/ready")
    status, _, body = exporter.get("/metrics")
    assert status == 200 and b"helpdesk_up" in body
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        exporter.get("/healthz", tls=False)
    assert "tls=on" in exporter.log


def test_basic_auth_accepts_the_right_password_only(start: Start) -> None:
    hashed = bcrypt.hashpw(b"scrape-me", bcrypt.gensalt(10)).decode()
    exporter = start(web_config=f"basic_auth_users:\n  prometheus: {hashed}\n")

    def auth(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    exporter.wait_until("/ready", headers=auth("prometheus", "scrape-me"))
    status, _, body = exporter.get("/metrics", auth("prometheus", "scrape-me"))
    assert status == 200 and b"helpdesk_up" in body
    for headers in (auth("prometheus", "wrong"), auth("grafana", "scrape-me"), {}):
        status, response_headers, _ = exporter.get("/metrics", headers)
        assert status == 401
        assert response_headers["WWW-Authenticate"].startswith("Basic")
    assert "scrape-me" not in exporter.log and hashed not in exporter.log


# --- faults and shutdown ------------------------------------------------------------------------


def test_failing_source_keeps_serving_with_up_0(start: Start, tmp_path: Path) -> None:
    exporter = start(tickets=tmp_path / "missing.jsonl")
    deadline = time.monotonic() + START_TIMEOUT
    up = None
    while time.monotonic() < deadline and up != 0.0:
        with contextlib.suppress(OSError):
            up = sample(exporter.metrics(), "helpdesk_up", {"source": "file"})
        time.sleep(0.2)
    assert up == 0.0, exporter.log
    time.sleep(1.5)  # a few more failed polls at poll_interval 1s
    scrape = exporter.metrics()
    assert exporter.process.poll() is None
    assert exporter.get("/healthz")[0] == 200
    assert sample(scrape, "helpdesk_up", {"source": "file"}) == 0.0
    errors = [
        s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
        if s.name == "helpdesk_poll_errors_total"
    ]
    assert sum(errors) >= 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_signal_exits_0_and_closes_the_store(start: Start, sig: signal.Signals) -> None:
    exporter = start()
    exporter.wait_until("/ready")
    assert exporter.stop(sig) == 0, exporter.log
    assert "store closed" in exporter.log
    store = exporter.directory / "state.db"
    # the last connection to a WAL database checkpoints and removes the -wal file on close
    assert store.exists() and not store.with_name("state.db-wal").exists()
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with pytest.raises(OSError):
        exporter.get("/healthz")


def test_restart_on_the_same_store_serves_again(start: Start) -> None:
    first = start()
    first.wait_until("/ready")
    assert first.stop() == 0
    second = start(directory=first.directory)
    second.wait_until("/ready")
    assert sample(second.metrics(), "helpdesk_up", {"source": "file"}) == 1.0


# --- startup errors -------------------------------------------------------------------------------


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "helpdesk-slo.yml"
    config.write_text(CONFIG.format(tickets=FIXTURE), encoding="utf-8")
    return subprocess.run(
        [*command(), "serve", "--config", str(config), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--web.listen-address", "9707"], "--web.listen-address: expected host:port"),
        (["--web.config.file", "missing.yml"], "missing.yml: cannot read web config"),
    ],
    ids=["bad-listen-address", "missing-web-config"],
)
def test_bad_serve_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_serve(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_web_config_exits_2_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text("basic_auth_users:\n  prometheus: plain-password\n")
    result = run_serve(tmp_path, "--web.config.file", str(tmp_path / "web.yml"))
    assert result.returncode == 2
    assert "web.yml:2: basic_auth_users.prometheus: expected a bcrypt hash" in result.stderr
    assert "plain-password" not in result.stderr


def test_busy_port_exits_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve(tmp_path, "--web.listen-address", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_without_config_the_first_log_line_announces_the_demo(start: Start) -> None:
    exporter = start(with_config=False)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and "\n" not in exporter.log:
        assert exporter.process.poll() is None, exporter.log
        time.sleep(0.1)
    first_line = exporter.log.splitlines()[0]
    assert "running the built-in demo helpdesk" in first_line
    assert f"url=http://127.0.0.1:{exporter.port}/" in first_line
    exporter.wait_until("/healthz")
    status, _, body = exporter.get("/")
    assert status == 200 and b"<code>demo</code>" in body
