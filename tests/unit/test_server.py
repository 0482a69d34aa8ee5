"""The HTTP side without a process: routes, negotiation, basic auth, web config, TLS.

:class:`ExporterApp` is called directly for routing and negotiation; the
basic-auth cache runs on a fake clock; TLS is exercised on an in-process
server bound to 127.0.0.1 with certificates made at test time.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import logging
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest

from exporter import __version__, metrics
from exporter.config import Config, ConfigError, parse_config
from exporter.poller import Readiness
from exporter.snapshot import EMPTY, Sample, Snapshot
from exporter.web.app import ExporterApp
from exporter.web.auth import BasicAuthChecker
from exporter.web.config import WebConfig, parse_web_config
from exporter.web.logs import LogFormatter, configure_logging
from exporter.web.server import ExporterServer, ListenAddress, create_server, parse_listen_address
from tests.builders import OFFICE_CONFIG
from tests.certs import CLIENT_SAN, Certificates, make_certificates

#: cost 4: the cheapest bcrypt, so tests stay fast
PASSWORD = "correct horse"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class FakePoller:
    snapshot: Snapshot = EMPTY
    ready: bool = False
    reason: str = "the first poll of the helpdesk (file) has not finished"

    def readiness(self) -> Readiness:
        return Readiness(self.ready, self.reason)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def config() -> Config:
    return parse_config(OFFICE_CONFIG)


def up(value: float) -> Snapshot:
    return Snapshot(taken_at=value, samples={metrics.UP.name: (Sample(("file",), value),)})


# --- listen address ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        (":9707", "", 9707),
        ("0.0.0.0:9707", "0.0.0.0", 9707),
        ("127.0.0.1:8080", "127.0.0.1", 8080),
        ("localhost:9707", "localhost", 9707),
        ("[::1]:9707", "::1", 9707),
        ("[::]:0", "::", 0),
    ],
    ids=["every-interface", "ipv4-any", "ipv4", "hostname", "ipv6-loopback", "ipv6-any-port-0"],
)
def test_listen_address_forms(text: str, host: str, port: int) -> None:
    assert parse_listen_address(text) == ListenAddress(host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9707", "expected host:port"),
        ("::1:9707", "in brackets"),
        ("[::1]9707", "expected host:port"),
        ("[nope]:9707", "not an IPv6 address"),
        (":http", "the port must be a number"),
        (":70000", "the port must be a number"),
    ],
    ids=["port-only", "bare-ipv6", "bracket-without-colon", "bad-ipv6", "named-port", "too-big"],
)
def test_bad_listen_address_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_listen_address(text)
    assert message in raised.value.problems[0]
    assert raised.value.problems[0].startswith("--web.listen-address: ")


@pytest.mark.parametrize(
    ("address", "tls", "url"),
    [
        (ListenAddress("", 9707), False, "http://localhost:9707/"),
        (ListenAddress("::", 9707), True, "https://localhost:9707/"),
        (ListenAddress("::1", 1), False, "http://[::1]:1/"),
        (ListenAddress("10.0.0.1", 2), False, "http://10.0.0.1:2/"),
    ],
)
def test_listen_address_url(address: ListenAddress, tls: bool, url: str) -> None:
    assert address.url(tls=tls) == url


# --- routes ---------------------------------------------------------------------------------------


def test_healthz_is_ok_while_the_process_runs() -> None:
    response = ExporterApp(FakePoller(), config()).handle("GET", "/healthz")
    assert (response.status, response.body) == (200, b"ok\n")


READY = [
    # (readiness, status, body)
    (
        "fresh",
        Readiness(True, "last successful poll of the helpdesk (file) 10s ago"),
        200,
        b"ready: last successful poll of the helpdesk (file) 10s ago\n",
    ),
    (
        "never answered",
        Readiness(False, "the helpdesk (zendesk) has never answered since the exporter started"),
        503,
        b"not ready: the helpdesk (zendesk) has never answered since the exporter started\n",
    ),
    (
        "a reason on several lines is sent on one",
        Readiness(False, "stopped answering:\nlast error: auth"),
        503,
        b"not ready: stopped answering: last error: auth\n",
    ),
]


@pytest.mark.parametrize(
    ("readiness", "status", "body"), [c[1:] for c in READY], ids=[c[0] for c in READY]
)
def test_ready_answers_the_pollers_verdict_in_one_line(
    readiness: Readiness, status: int, body: bytes
) -> None:
    poller = FakePoller(ready=readiness.ready, reason=readiness.reason)
    response = ExporterApp(poller, config()).handle("GET", "/ready")
    assert (response.status, response.body) == (status, body)


@pytest.mark.parametrize(
    ("readiness", "says"),
    [
        (Readiness(True, "last successful poll 10s ago"), "Ready:</strong> last successful poll"),
        (
            Readiness(False, "the helpdesk (zendesk) has never answered <since> the start"),
            "Not ready:</strong> the helpdesk (zendesk) has never answered &lt;since&gt; the",
        ),
    ],
    ids=["fresh", "never-answered-escaped"],
)
def test_landing_page_says_whether_the_helpdesk_answers(readiness: Readiness, says: str) -> None:
    poller = FakePoller(ready=readiness.ready, reason=readiness.reason)
    page = ExporterApp(poller, config()).handle("GET", "/").body.decode()
    assert says in page


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("GET", "/metrics/extra", 404),
        ("POST", "/metrics", 405),
        ("DELETE", "/", 405),
        ("HEAD", "/healthz", 200),
        ("GET", "/healthz?verbose=1", 200),
    ],
)
def test_routing(method: str, path: str, status: int) -> None:
    assert ExporterApp(FakePoller(), config()).handle(method, path).status == status


def test_landing_page_links_and_lists_slos_without_secrets(tmp_path: Path) -> None:
    text = OFFICE_CONFIG.replace(
        "source: {type: file, path: tickets.jsonl}",
        "source: {type: zendesk, url: 'https://acme.zendesk.com', email: ops@acme.example, "
        "token_env: ZENDESK_TOKEN}",
    )
    response = ExporterApp(FakePoller(ready=True), parse_config(text)).handle("GET", "/")
    page = response.body.decode()
    assert response.status == 200
    assert dict(response.headers)["Content-Type"].startswith("text/html")
    for link in ('href="metrics"', 'href="healthz"', 'href="ready"'):
        assert link in page
    assert __version__ in page
    assert "<code>zendesk</code>" in page
    assert "<code>urgent-first-response</code>" in page
    assert "95%" in page and "28d" in page
    for secret_ish in ("ZENDESK_TOKEN", "ops@acme.example", "acme.zendesk.com"):
        assert secret_ish not in page


# --- /metrics negotiation ---------------------------------------------------------------------


def test_metrics_default_is_the_prometheus_text_format() -> None:
    response = ExporterApp(FakePoller(up(1.0)), config()).handle("GET", "/metrics")
    headers = dict(response.headers)
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in headers
    assert b'helpdesk_up{source="file"} 1.0' in response.body


def test_metrics_openmetrics_when_asked() -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = ExporterApp(FakePoller(up(1.0)), config()).handle("GET", "/metrics", accept=accept)
    assert dict(response.headers)["Content-Type"].startswith(
        "application/openmetrics-text; version=1.0.0"
    )
    assert response.body.endswith(b"# EOF\n")


def test_metrics_gzip_when_accepted() -> None:
    app = ExporterApp(FakePoller(up(1.0)), config())
    response = app.handle("GET", "/metrics", accept_encoding="gzip, deflate")
    assert dict(response.headers)["Content-Encoding"] == "gzip"
    assert b'helpdesk_up{source="file"} 1.0' in gzip.decompress(response.body)


def test_metrics_name_filter() -> None:
    app = ExporterApp(FakePoller(up(1.0)), config())
    body = app.handle("GET", "/metrics?name[]=helpdesk_up").body.decode()
    assert "helpdesk_up" in body
    assert "helpdesk_slo_events_total" not in body


def test_metrics_rendering_is_reused_until_the_snapshot_changes() -> None:
    poller = FakePoller(up(1.0))
    app = ExporterApp(poller, config())
    first = app.handle("GET", "/metrics").body
    assert app.handle("GET", "/metrics").body is first
    poller.snapshot = up(0.0)
    second = app.handle("GET", "/metrics").body
    assert b'helpdesk_up{source="file"} 0.0' in second
    gzipped = app.handle("GET", "/metrics", accept_encoding="gzip").body
    assert gzip.decompress(gzipped) == second


def test_metrics_render_failure_is_a_500_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def readiness(self) -> Readiness:
            return Readiness(True, "fresh")

        @property
        def snapshot(self) -> Snapshot:
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR):
        response = ExporterApp(Broken(), config()).handle("GET", "/metrics")
    assert response.status == 500
    assert "cannot render /metrics" in caplog.text


# --- basic auth -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (basic("prometheus", PASSWORD), True),
        (basic("prometheus", "wrong"), False),
        (basic("someone", PASSWORD), False),
        (None, False),
        ("Bearer abc", False),
        ("Basic !!!notbase64", False),
        ("Basic " + base64.b64encode(b"no-colon").decode(), False),
        ("basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode(), True),
    ],
    ids=[
        "right",
        "wrong-password",
        "unknown-user",
        "no-header",
        "other-scheme",
        "bad-base64",
        "no-colon",
        "scheme-any-case",
    ],
)
def test_basic_auth(header: str | None, allowed: bool) -> None:
    assert BasicAuthChecker({"prometheus": HASH}).authorize(header) is allowed


def test_basic_auth_remembers_success_briefly() -> None:
    clock = Clock()
    auth = BasicAuthChecker({"prometheus": HASH}, cache_seconds=60, clock=clock)
    header = basic("prometheus", PASSWORD)
    assert auth.authorize(header) and auth.checks == 1
    clock.now += 59
    assert auth.authorize(header) and auth.checks == 1
    clock.now += 2
    assert auth.authorize(header) and auth.checks == 2


def test_basic_auth_never_remembers_failures_or_other_passwords() -> None:
    auth = BasicAuthChecker({"prometheus": HASH}, clock=Clock())
    assert auth.authorize(basic("prometheus", PASSWORD))
    assert not auth.authorize(basic("prometheus", "wrong"))
    assert not auth.authorize(basic("prometheus", "wrong"))
    assert auth.checks == 3


def test_unknown_users_still_cost_a_bcrypt_check() -> None:
    auth = BasicAuthChecker({"prometheus": HASH})
    assert not auth.authorize(basic("intruder", "x"))
    assert auth.checks == 1


def test_concurrent_first_checks_run_bcrypt_once() -> None:
    auth = BasicAuthChecker({"prometheus": HASH})
    header = basic("prometheus", PASSWORD)
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(auth.authorize(header))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 20
    assert auth.checks == 1


def test_unauthorized_response_asks_for_basic_auth_on_every_path() -> None:
    app = ExporterApp(FakePoller(ready=True), config(), auth=BasicAuthChecker({"prometheus": HASH}))
    for path in ("/metrics", "/", "/healthz", "/ready", "/nope"):
        response = app.handle("GET", path)
        assert response.status == 401
        assert dict(response.headers)["WWW-Authenticate"].startswith("Basic ")
    assert app.handle("GET", "/ready", authorization=basic("prometheus", PASSWORD)).status == 200


# --- web config -------------------------------------------------------------------------------


def web(text: str, directory: Path) -> WebConfig:
    return parse_web_config(text, directory / "web.yml")


def test_empty_web_config_is_plain_http_without_auth(tmp_path: Path) -> None:
    assert web("", tmp_path) == WebConfig()
    assert web("tls_server_config: {}\nbasic_auth_users: {}", tmp_path).tls is None


def test_web_config_with_users_and_headers(tmp_path: Path) -> None:
    loaded = web(
        f"basic_auth_users:\n  prometheus: {HASH}\n"
        "http_server_config:\n  http2: true\n  headers:\n    x-frame-options: deny\n",
        tmp_path,
    )
    assert loaded.users == {"prometheus": HASH}
    assert loaded.headers == {"X-Frame-Options": "deny"}
    assert any("http2" in note for note in loaded.notes)


def test_web_config_headers_are_sent(tmp_path: Path) -> None:
    loaded = web("http_server_config:\n  headers: {X-Content-Type-Options: nosniff}\n", tmp_path)
    app = ExporterApp(FakePoller(), config(), headers=loaded.headers)
    assert ("X-Content-Type-Options", "nosniff") in app.handle("GET", "/healthz").headers


def test_web_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    loaded = web("tls_server_config: {cert_file: server.crt, key_file: server.key}", tmp_path)
    assert loaded.tls is not None
    assert loaded.tls.cert_file == certs.server_cert
    assert loaded.tls.key_file == certs.server_key


def test_web_config_accepts_inline_pem(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    cert = certs.server_cert.read_text().replace("\n", "\n    ")
    key = certs.server_key.read_text().replace("\n", "\n    ")
    loaded = web(f"tls_server_config:\n  cert: |\n    {cert}\n  key: |\n    {key}\n", tmp_path)
    assert loaded.tls is not None and loaded.tls.cert_file is None
    assert "PRIVATE KEY" not in repr(loaded)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tls_config: {}", "web.yml:1: tls_config: unknown key"),
        ("tls_server_config: {cert_file: server.crt}", "missing one of key or key_file"),
        ("tls_server_config: {key_file: server.key}", "missing one of cert or cert_file"),
        (
            "tls_server_config: {cert_file: nope.crt, key_file: server.key}",
            "cannot load the certificate",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_ca_file: ca.crt\n",
            "client CAs are configured without a client auth policy",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.crt\n",
            "web.yml:4: tls_server_config.client_auth_type: RequireAnyClientCert is not supported",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n",
            "needs client_ca_file or client_ca",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: Sometimes\n",
            "must be one of NoClientCert",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: SSL3}",
            "tls_server_config.min_version: must be one of TLS10",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_allowed_sans: [a.example]\n",
            "needs client_auth_type: RequireAndVerifyClientCert",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key, ciphers: []}",
            "ciphers",
        ),
        ("basic_auth_users:\n  prometheus: hunter2\n", "web.yml:2: basic_auth_users.prometheus"),
        ("basic_auth_users: [prometheus]", "basic_auth_users: expected a mapping"),
        ("http_server_config: {headers: {Server: x}}", "header 'Server' cannot be set"),
        (
            "http_server_config: {headers: {X-Frame-Options: allow}}",
            "X-Frame-Options must be deny or sameorigin",
        ),
        ("http_server_config: {http3: true}", "http_server_config.http3: unknown key"),
        ("tls_server_config: [", "not valid YAML"),
    ],
    ids=[
        "unknown-top-level-key",
        "cert-without-key",
        "key-without-cert",
        "missing-cert-file",
        "ca-without-auth-type",
        "unverified-client-auth",
        "client-auth-without-ca",
        "unknown-client-auth",
        "bad-tls-version",
        "sans-without-required-cert",
        "unknown-tls-key",
        "password-instead-of-hash",
        "users-not-a-mapping",
        "header-not-allowed",
        "bad-frame-options",
        "unknown-http-key",
        "bad-yaml",
    ],
)
def test_bad_web_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    make_certificates(tmp_path)
    with pytest.raises(ConfigError) as raised:
        web(text, tmp_path)
    problems = "\n".join(raised.value.problems)
    assert message in problems
    assert "hunter2" not in problems


# --- logging ---------------------------------------------------------------------------------


def test_log_lines_have_timestamp_level_logger_and_message() -> None:
    record = logging.LogRecord(
        "exporter.poller", logging.INFO, __file__, 1, "poll k=%d", (3,), None
    )
    record.created, record.msecs = 1_793_607_300.25, 250.0
    assert LogFormatter().format(record) == "2026-11-02T08:15:00.250Z info exporter.poller poll k=3"


def test_configure_logging_replaces_handlers() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("warning", stream)
        logging.getLogger("exporter.test").info("hidden")
        logging.getLogger("exporter.test").warning("shown x=1")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert stream.getvalue().endswith(" warning exporter.test shown x=1\n")
    assert "hidden" not in stream.getvalue()


@pytest.mark.parametrize(
    ("level", "logger", "severity", "shown"),
    [
        ("info", "urllib3.connectionpool", logging.WARNING, False),
        ("debug", "urllib3.connectionpool", logging.WARNING, False),
        ("info", "urllib3.connectionpool", logging.ERROR, True),
        ("info", "exporter.sources.http", logging.WARNING, True),
    ],
    ids=[
        "urllib3-retry-warning-hidden",
        "urllib3-warning-hidden-even-at-debug",
        "urllib3-error-shown",
        "own-warning-shown",
    ],
)
def test_urllib3_logs_only_its_errors(level: str, logger: str, severity: int, shown: bool) -> None:
    stream = io.StringIO()
    root, library = logging.getLogger(), logging.getLogger("urllib3")
    saved = root.handlers[:], root.level, library.level
    try:
        configure_logging(level, stream)
        logging.getLogger(logger).log(severity, "Retrying (Retry(total=3)) after connection broken")
    finally:
        root.handlers[:], root_level, library_level = saved
        root.setLevel(root_level)
        library.setLevel(library_level)
    assert ("Retrying" in stream.getvalue()) is shown


# --- a real server on 127.0.0.1 -----------------------------------------------------------------


@pytest.fixture
def running() -> Iterator[list[ExporterServer]]:
    servers: list[ExporterServer] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def start(servers: list[ExporterServer], web_config: WebConfig | None = None) -> ExporterServer:
    server = create_server(
        ListenAddress("127.0.0.1", 0), FakePoller(up(1.0), ready=True), config(), web_config
    )
    servers.append(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def get(
    server: ExporterServer, path: str, context: ssl.SSLContext | None = None
) -> tuple[int, bytes]:
    connection: http.client.HTTPConnection
    if context is None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    else:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", server.port, timeout=5, context=context
        )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_server_binds_exactly_the_requested_address(running: list[ExporterServer]) -> None:
    server = start(running)
    assert server.server_address[0] == "127.0.0.1"
    assert server.port != 0
    assert get(server, "/healthz") == (200, b"ok\n")


def test_keep_alive_serves_several_requests_on_one_connection(
    running: list[ExporterServer],
) -> None:
    server = start(running)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for path in ("/healthz", "/metrics", "/ready"):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
    finally:
        connection.close()


@dataclass
class Tls:
    certs: Certificates
    extra: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def config(self, directory: Path) -> WebConfig:
        text = (
            f"tls_server_config:\n  cert_file: {self.certs.server_cert}\n"
            f"  key_file: {self.certs.server_key}\n{self.extra}"
        )
        return parse_web_config(text, directory / "web.yml")


def client_context(certs: Certificates, with_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if with_client_cert:
        context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return context


def test_tls_serves_https_and_refuses_plain_http(
    running: list[ExporterServer], tmp_path: Path
) -> None:
    certs = make_certificates(tmp_path)
    server = start(running, Tls(certs).config(tmp_path))
    assert get(server, "/healthz", client_context(certs, False)) == (200, b"ok\n")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        get(server, "/healthz")


@pytest.mark.parametrize(
    ("extra", "with_cert", "accepted"),
    [
        ("  client_auth_type: RequireAndVerifyClientCert\n", True, True),
        ("  client_auth_type: RequireAndVerifyClientCert\n", False, False),
        ("  client_auth_type: VerifyClientCertIfGiven\n", False, True),
        (
            "  client_auth_type: RequireAndVerifyClientCert\n"
            f"  client_allowed_sans: [{CLIENT_SAN}]\n",
            True,
            True,
        ),
        (
            "  client_auth_type: RequireAndVerifyClientCert\n"
            "  client_allowed_sans: [other.example]\n",
            True,
            False,
        ),
    ],
    ids=["mtls-with-cert", "mtls-without-cert", "optional-without-cert", "san-allowed", "san-not"],
)
def test_client_certificates(
    running: list[ExporterServer], tmp_path: Path, extra: str, with_cert: bool, accepted: bool
) -> None:
    certs = make_certificates(tmp_path)
    settings = Tls(certs, extra + f"  client_ca_file: {certs.ca}\n").config(tmp_path)
    server = start(running, settings)
    context = client_context(certs, with_cert)
    if accepted:
        assert get(server, "/healthz", context) == (200, b"ok\n")
    else:
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            get(server, "/healthz", context)


def test_rotated_certificate_is_picked_up_without_restart(
    running: list[ExporterServer], tmp_path: Path
) -> None:
    for name in ("first", "second", "live"):
        (tmp_path / name).mkdir()
    first = make_certificates(tmp_path / "first")
    second = make_certificates(tmp_path / "second")  # another CA: only trusted after rotation
    live = tmp_path / "live"
    (live / "tls.crt").write_bytes(first.server_cert.read_bytes())
    (live / "tls.key").write_bytes(first.server_key.read_bytes())
    settings = parse_web_config(
        "tls_server_config: {cert_file: tls.crt, key_file: tls.key}", live / "web.yml"
    )
    server = start(running, settings)
    assert server.tls is not None
    assert get(server, "/healthz", client_context(first, False))[0] == 200
    (live / "tls.crt").write_bytes(second.server_cert.read_bytes())
    (live / "tls.key").write_bytes(second.server_key.read_bytes())
    server.tls._checked = 0.0  # skip the once-a-second check interval
    assert get(server, "/healthz", client_context(second, False))[0] == 200
