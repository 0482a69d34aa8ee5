"""The exporter's HTTP side: ``/metrics``, ``/healthz``, ``/ready`` and a landing page.

:class:`ExporterApp` answers requests without any socket (so it is tested
directly); :class:`ExporterServer` is a threaded stdlib HTTP server in front of
it.  ``/metrics`` negotiates the exposition format and gzip exactly as
``prometheus_client`` does (it reuses ``choose_encoder`` and
``gzip_accepted``); the rendered bytes are kept per snapshot, so fifty
scrapers reading the same snapshot cost one rendering.

``--web.listen-address`` is ``host:port``, ``:port`` (every interface) or
``[v6addr]:port``; the server binds exactly that.  ``--web.config.file`` reads
the Prometheus exporter-toolkit format::

    tls_server_config:
      cert_file: server.crt          # or cert: inline PEM
      key_file: server.key           # or key: inline PEM
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: clients-ca.crt                 # optional
      min_version: TLS12
    http_server_config:
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      prometheus: $2b$10$...           # bcrypt hash, never a password

Relative paths are relative to the web config file.  Certificates are
reloaded when their files change, so a rotated certificate needs no restart.
"""

from __future__ import annotations

import base64
import binascii
import errno
import gzip
import hashlib
import hmac
import html
import ipaddress
import logging
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import parse_qs, urlsplit

import bcrypt
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from exporter import __version__
from exporter.collector import build_registry
from exporter.config import DEFAULT_LISTEN_PORT, Config, ConfigError
from exporter.snapshot import Snapshot
from exporter.units import format_percent
from exporter.yamlfile import TextFileError, read_text, shorten, shorten_quotes, yaml_error_text
from exporter.yamlfile import load as load_yaml

log = logging.getLogger(__name__)

NAME = "helpdesk-slo-exporter"
DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_LISTEN_PORT}"
LOG_LEVELS = ("debug", "info", "warning", "error")
#: Idle keep-alive connections are closed after this many seconds.
CONNECTION_TIMEOUT = 60.0
#: A client has this long to finish the TLS handshake.
HANDSHAKE_TIMEOUT = 10.0
#: How long a successful basic-auth verification is remembered.
AUTH_CACHE_SECONDS = 60.0


# --- logging ------------------------------------------------------------------------------------


class LogFormatter(logging.Formatter):
    """One line per record: ``2026-11-02T08:15:00.123Z info exporter.poller poll done k=v``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        text = f"{stamp}.{int(record.msecs):03d}Z {record.levelname.lower()} {record.name} "
        text += record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in :class:`LogFormatter`'s format."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


# --- listen address -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where to listen; ``host`` is empty for every interface."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, tls: bool = False, port: int | None = None) -> str:
        """A URL a person on this machine can open (``localhost`` for wildcard addresses)."""
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = "localhost"
        elif ":" in host:
            host = f"[{host}]"
        return f"{'https' if tls else 'http'}://{host}:{self.port if port is None else port}/"


_LISTEN_HELP = "expected host:port, :port (every interface) or [v6addr]:port, e.g. :9707"


def parse_listen_address(text: str) -> ListenAddress:
    """``:9707``, ``127.0.0.1:9707``, ``localhost:9707`` or ``[::1]:9707``."""
    where = "--web.listen-address"
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ConfigError([f"{where}: {_LISTEN_HELP} (got {text!r})"])
        host, port_text = text[1:end], text[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError([f"{where}: {host!r} is not an IPv6 address"]) from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ConfigError([f"{where}: {_LISTEN_HELP} (got {text!r})"])
        if ":" in host:
            raise ConfigError(
                [f"{where}: write IPv6 addresses in brackets, e.g. [{host}]:{port_text}"]
            )
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError([f"{where}: the port must be a number from 0 to 65535 (got {text!r})"])
    return ListenAddress(host, int(port_text))


# --- web config (exporter-toolkit format) -------------------------------------------------------

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
#: Go's "request a certificate but do not verify it" modes have no equivalent in Python's ssl.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
_TLS_KEYS = (
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
)
#: Response headers http_server_config.headers may set, as in the exporter-toolkit.
_ALLOWED_HEADERS = {
    "strict-transport-security": "Strict-Transport-Security",
    "x-content-type-options": "X-Content-Type-Options",
    "x-frame-options": "X-Frame-Options",
    "x-xss-protection": "X-XSS-Protection",
    "content-security-policy": "Content-Security-Policy",
}
_BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")
_HASH_HELP = (
    "make one with: python -c 'import bcrypt, getpass; "
    "print(bcrypt.hashpw(getpass.getpass().encode(), bcrypt.gensalt()).decode())'"
)


@dataclass(frozen=True)
class TlsSettings:
    """``tls_server_config``, resolved: every path absolute, every value checked."""

    cert_file: Path | None = None
    key_file: Path | None = None
    cert: str | None = field(default=None, repr=False)
    key: str | None = field(default=None, repr=False)
    client_auth: ssl.VerifyMode = ssl.CERT_NONE
    client_ca_file: Path | None = None
    client_ca: str | None = field(default=None, repr=False)
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    client_allowed_sans: tuple[str, ...] = ()

    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)

    def build_context(self) -> ssl.SSLContext:
        """A server context; raises ``OSError``/``ssl.SSLError`` when a file cannot be used."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.min_version
        context.maximum_version = self.max_version
        with tempfile.TemporaryDirectory(prefix="helpdesk-slo-tls-") as private:
            cert_file = self.cert_file or _private_file(private, "cert.pem", self.cert or "")
            key_file = self.key_file or _private_file(private, "key.pem", self.key or "")
            context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
        if self.client_auth is not ssl.CERT_NONE:
            if self.client_ca_file is not None:
                context.load_verify_locations(cafile=str(self.client_ca_file))
            else:
                context.load_verify_locations(cadata=self.client_ca)
            context.verify_mode = self.client_auth
        return context

    def peer_allowed(self, connection: ssl.SSLSocket) -> bool:
        """False when ``client_allowed_sans`` is set and the client certificate has none."""
        if not self.client_allowed_sans:
            return True
        cert = connection.getpeercert()
        if not cert:
            return False
        wanted = {_normal_san(v) for v in self.client_allowed_sans}
        sans: Iterable[tuple[str, str]] = cert.get("subjectAltName", ())  # type: ignore[assignment]
        return any(_normal_san(value) in wanted for _kind, value in sans)


def _private_file(directory: str, name: str, text: str) -> Path:
    path = Path(directory) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _normal_san(value: str) -> str:
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower()


@dataclass(frozen=True)
class WebConfig:
    """What ``--web.config.file`` asks for; the default is plain HTTP without auth."""

    tls: TlsSettings | None = None
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: settings that are accepted but have no effect here, one line each
    notes: tuple[str, ...] = ()


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line numbers of mapping keys (two levels deep), for error messages."""
    lines: dict[tuple[str, ...], int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(str(key.value),)] = key.start_mark.line + 1
            if isinstance(value, yaml.MappingNode):
                for inner, _ in value.value:
                    lines[(str(key.value), str(inner.value))] = inner.start_mark.line + 1
    return lines


class _Problems:
    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.lines = _key_lines(text)
        self.items: list[str] = []

    def add(self, path: tuple[str, ...], message: str) -> None:
        line = self.lines.get(path) or self.lines.get(path[:1])
        where = f"{self.file}:{line}" if line else str(self.file)
        self.items.append(f"{where}: {'.'.join(path) or '(top level)'}: {message}")


def _mapping(value: Any, path: tuple[str, ...], problems: _Problems) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "expected a mapping")
        return {}
    return value


def _text(value: Any, path: tuple[str, ...], problems: _Problems) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.add(path, "expected a string")
        return ""
    return value


def _parse_tls(
    data: dict[str, Any], base: Path, problems: _Problems, notes: list[str]
) -> TlsSettings | None:
    section = "tls_server_config"
    for key in data:
        if key not in _TLS_KEYS:
            problems.add((section, str(key)), f"unknown key (known: {', '.join(_TLS_KEYS)})")
    values = {k: _text(data.get(k), (section, k), problems) for k in _TLS_KEYS[:7]}
    if not any(values.values()):
        return None  # no TLS setting at all: plain HTTP, as the exporter-toolkit does

    def path_of(key: str) -> Path | None:
        text = values[key]
        if not text:
            return None
        path = Path(text)
        return path if path.is_absolute() else base / path

    if not values["cert"] and not values["cert_file"]:
        problems.add((section,), "missing one of cert or cert_file")
    if not values["key"] and not values["key_file"]:
        problems.add((section,), "missing one of key or key_file")
    auth_name = values["client_auth_type"]
    if auth_name in _UNVERIFIED_CLIENT_AUTH:
        problems.add(
            (section, "client_auth_type"),
            f"{auth_name} is not supported (client certificates are always verified here): "
            "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file",
        )
        client_auth = ssl.CERT_REQUIRED
    elif auth_name not in _CLIENT_AUTH:
        known = ", ".join(k for k in _CLIENT_AUTH if k)
        problems.add((section, "client_auth_type"), f"must be one of {known} (got {auth_name!r})")
        client_auth = ssl.CERT_NONE
    else:
        client_auth = _CLIENT_AUTH[auth_name]
    has_ca = bool(values["client_ca_file"] or values["client_ca"])
    if has_ca and client_auth is ssl.CERT_NONE and auth_name not in _UNVERIFIED_CLIENT_AUTH:
        problems.add(
            (section, "client_auth_type"),
            "client CAs are configured without a client auth policy: set client_auth_type "
            "to RequireAndVerifyClientCert (or VerifyClientCertIfGiven)",
        )
    if client_auth is not ssl.CERT_NONE and not has_ca:
        problems.add((section, "client_ca_file"), f"{auth_name} needs client_ca_file or client_ca")

    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        name = _text(data.get(key), (section, key), problems) or default
        if name not in _TLS_VERSIONS:
            problems.add(
                (section, key), f"must be one of {', '.join(_TLS_VERSIONS)} (got {name!r})"
            )
            name = default
        versions[key] = _TLS_VERSIONS[name]
    if versions["min_version"] > versions["max_version"]:
        problems.add((section, "min_version"), "is above max_version")

    sans_value = data.get("client_allowed_sans")
    sans: tuple[str, ...] = ()
    if sans_value is not None:
        if not isinstance(sans_value, list) or not all(isinstance(s, str) for s in sans_value):
            problems.add((section, "client_allowed_sans"), "expected a list of strings")
        else:
            sans = tuple(sans_value)
            if client_auth is not ssl.CERT_REQUIRED:
                problems.add(
                    (section, "client_allowed_sans"),
                    "needs client_auth_type: RequireAndVerifyClientCert",
                )
    for key in ("cipher_suites", "curve_preferences"):
        if data.get(key):
            notes.append(
                f"{section}.{key} is not applied: Python's TLS defaults are used "
                "(modern ciphers and curves only)"
            )

    settings = TlsSettings(
        cert_file=path_of("cert_file"),
        key_file=path_of("key_file"),
        cert=values["cert"] or None,
        key=values["key"] or None,
        client_auth=client_auth,
        client_ca_file=path_of("client_ca_file"),
        client_ca=values["client_ca"] or None,
        min_version=versions["min_version"],
        max_version=versions["max_version"],
        client_allowed_sans=sans,
    )
    if not problems.items:
        try:
            settings.build_context()
        except (OSError, ssl.SSLError, ValueError) as exc:
            problems.add(
                (section,), f"cannot load the certificate, key or client CA: {_reason(exc)}"
            )
    return settings


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _parse_users(value: Any, problems: _Problems) -> dict[str, str]:
    section = "basic_auth_users"
    users: dict[str, str] = {}
    for user, hashed in _mapping(value, (section,), problems).items():
        name = str(user)
        if not isinstance(user, str) or not user or ":" in user:
            problems.add((section, name), "a user name is a non-empty string without ':'")
        elif not isinstance(hashed, str) or not _BCRYPT_HASH.match(hashed):
            # never echo the value: it may be a password written by mistake
            problems.add((section, name), f"expected a bcrypt hash; {_HASH_HELP}")
        else:
            users[user] = hashed
    return users


def _parse_http(value: Any, problems: _Problems, notes: list[str]) -> dict[str, str]:
    section = "http_server_config"
    data = _mapping(value, (section,), problems)
    headers: dict[str, str] = {}
    for key, item in data.items():
        if key == "http2":
            if item:
                notes.append(f"{section}.http2 has no effect: the exporter speaks HTTP/1.1")
        elif key == "headers":
            for name, text in _mapping(item, (section, "headers"), problems).items():
                canonical = _ALLOWED_HEADERS.get(str(name).lower())
                if canonical is None:
                    allowed = ", ".join(_ALLOWED_HEADERS.values())
                    problems.add(
                        (section, "headers"), f"header {name!r} cannot be set (allowed: {allowed})"
                    )
                elif not isinstance(text, str) or not text or "\n" in text or "\r" in text:
                    problems.add((section, "headers"), f"header {name}: expected a one-line string")
                else:
                    headers[canonical] = text
        else:
            problems.add((section, str(key)), "unknown key (known: http2, headers)")
    if headers.get("X-Content-Type-Options", "nosniff").lower() != "nosniff":
        problems.add((section, "headers"), "X-Content-Type-Options must be nosniff")
    if headers.get("X-Frame-Options", "deny").lower() not in ("deny", "sameorigin"):
        problems.add((section, "headers"), "X-Frame-Options must be deny or sameorigin")
    return headers


def load_web_config(path: str | Path) -> WebConfig:
    """Read an exporter-toolkit web config; raise :class:`ConfigError` listing every problem."""
    file = Path(path)
    try:
        text = read_text(file, "web config")
    except TextFileError as exc:
        where = f"{file}:{exc.line}" if exc.line is not None else str(file)
        raise ConfigError([f"{where}: {exc.message}"]) from None
    return parse_web_config(text, file)


def parse_web_config(text: str, file: Path) -> WebConfig:
    try:
        data = load_yaml(text)[1]
    except yaml.YAMLError as exc:
        line, problem = yaml_error_text(exc, text)
        where = f"{file}:{line}" if line is not None else str(file)
        raise ConfigError([f"{where}: not valid YAML: {problem}"]) from None
    problems = _Problems(file, text)
    notes: list[str] = []
    data = _mapping(data, (), problems)
    for key in data:
        if key not in ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"):
            problems.add(
                (str(key),),
                "unknown key (known: tls_server_config, http_server_config, basic_auth_users)",
            )
    if data.get("rate_limit"):
        notes.append("rate_limit is not applied by this exporter")
    base = file.parent.resolve()
    users = _parse_users(data.get("basic_auth_users"), problems)
    headers = _parse_http(data.get("http_server_config"), problems, notes)
    tls_data = _mapping(data.get("tls_server_config"), ("tls_server_config",), problems)
    tls = _parse_tls(tls_data, base, problems, notes)
    if problems.items:
        raise ConfigError([shorten(shorten_quotes(item), 400) for item in problems.items])
    return WebConfig(tls=tls, users=users, headers=headers, notes=tuple(notes))


class TlsContexts:
    """The current server context; rebuilt when a certificate, key or CA file changes."""

    def __init__(self, settings: TlsSettings, check_every: float = 1.0) -> None:
        self.settings = settings
        self._check_every = check_every
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._context = settings.build_context()
        self._checked = time.monotonic()

    def _file_stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self.settings.files():
            try:
                stat = path.stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append((0, 0))
        return tuple(stamps)

    def context(self) -> ssl.SSLContext:
        now = time.monotonic()
        if now - self._checked < self._check_every:
            return self._context
        with self._lock:
            if now - self._checked >= self._check_every:
                self._checked = now
                stamp = self._file_stamp()
                if stamp != self._stamp:
                    try:
                        self._context = self.settings.build_context()
                        self._stamp = stamp
                        log.info("reloaded TLS certificate")
                    except (OSError, ssl.SSLError, ValueError) as exc:
                        log.error(
                            "cannot reload TLS certificate, keeping the old one error=%r",
                            _reason(exc),
                        )
            return self._context


# --- basic auth ---------------------------------------------------------------------------------

#: Checked against when the user is unknown, so unknown and known users take as long.
_DECOY_HASH = b"$2b$10$KljA5BxnuJ664VmCrTav.u07UM3DRE31EPb/J46jLhlBN6gZGaely"


def _parse_basic(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
        user, sep, password = decoded.partition(b":")
        if not sep:
            return None
        return user.decode("utf-8"), password
    except (binascii.Error, UnicodeDecodeError):
        return None


class BasicAuth:
    """HTTP basic auth against bcrypt hashes, remembering successes for a short while.

    bcrypt is slow on purpose (tens of milliseconds a check): a successful
    check is remembered for ``cache_seconds`` as a keyed digest (never the
    password), so scrapers that send the same credentials every few seconds
    cost one bcrypt check a minute.  Concurrent first checks of one user wait
    for each other instead of all running bcrypt.  Failures are never cached.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        cache_seconds: float = AUTH_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._locks = {user: threading.Lock() for user in users}
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._key = secrets.token_bytes(32)
        self.cache_seconds = cache_seconds
        self._clock = clock
        #: bcrypt checks run so far (for tests and benchmarks)
        self.checks = 0

    def _digest(self, user: str, password: bytes) -> bytes:
        return hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()

    def _remembered(self, user: str, digest: bytes) -> bool:
        entry = self._cache.get(user)
        return (
            entry is not None and entry[1] > self._clock() and hmac.compare_digest(entry[0], digest)
        )

    def _bcrypt(self, password: bytes, hashed: bytes) -> bool:
        self.checks += 1
        try:
            # bcrypt reads at most 72 bytes of a password; so did the tool that made the hash
            return bool(bcrypt.checkpw(password[:72], hashed))
        except ValueError:
            return False

    def authorize(self, header: str | None) -> bool:
        """True when the ``Authorization`` header names a user and that user's password."""
        credentials = _parse_basic(header)
        if credentials is None:
            return False
        user, password = credentials
        hashed = self._users.get(user)
        if hashed is None:
            self._bcrypt(password, _DECOY_HASH)
            return False
        digest = self._digest(user, password)
        if self._remembered(user, digest):
            return True
        with self._locks[user]:
            if self._remembered(user, digest):
                return True
            if not self._bcrypt(password, hashed):
                return False
            self._cache[user] = (digest, self._clock() + self.cache_seconds)
            return True


# --- the application ----------------------------------------------------------------------------


class ReadinessReport(Protocol):
    """Whether the data is fresh (a poll succeeded, recently) and why, in one line."""

    @property
    def ready(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class ReadinessProvider(Protocol):
    """The poller as the server sees it."""

    @property
    def snapshot(self) -> Snapshot: ...

    def readiness(self) -> ReadinessReport: ...


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def _one_line(text: str) -> str:
    """``text`` on one line (a reason must not break the plain-text answer of ``/ready``)."""
    return " ".join(text.split())


def _text_response(status: int, text: str, *headers: tuple[str, str]) -> Response:
    return Response(
        status, text.encode("utf-8"), (("Content-Type", "text/plain; charset=utf-8"), *headers)
    )


@dataclass(frozen=True)
class SloRow:
    name: str
    kind: str
    measures: str
    objective: str
    window: str


def slo_rows(config: Config) -> tuple[SloRow, ...]:
    rows = []
    for slo in config.slos:
        if slo.kind.value == "time":
            threshold = slo.threshold or "100%"
            if threshold.endswith("%"):
                threshold += " of the SLA target"
            measures = f"{slo.sla} within {threshold}"
        else:
            measures = slo.description or slo.kind.value
        rows.append(
            SloRow(
                slo.name, slo.kind.value, measures, format_percent(slo.objective_ratio), slo.window
            )
        )
    return tuple(rows)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{name}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 52em; padding: 0 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: 0.2em 1em 0.2em 0; border-bottom: 1px solid #ddd; }}
code {{ background: #f4f4f4; padding: 0 0.2em; }}
.down {{ color: #a40000; }}
</style>
</head>
<body>
<h1>{name}</h1>
<p>Version {version}. Helpdesk SLA clocks and SLOs as Prometheus metrics.</p>
<ul>
<li><a href="metrics">/metrics</a> &mdash; the metrics</li>
<li><a href="healthz">/healthz</a> &mdash; the process is alive</li>
<li><a href="ready">/ready</a> &mdash; a poll of the helpdesk succeeded recently ({ready})</li>
</ul>
<h2>Source</h2>
<p>Service <code>{service}</code>, source <code>{source}</code>.</p>
<p class="{health}"><strong>{headline}</strong> {reason}</p>
<h2>SLOs</h2>
{slos}
</body>
</html>
"""


class ExporterApp:
    """Answers one request: routing, basic auth, metrics rendering, landing page."""

    def __init__(
        self,
        provider: ReadinessProvider,
        config: Config,
        registry: CollectorRegistry | None = None,
        auth: BasicAuth | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.registry = registry if registry is not None else build_registry(provider)
        self.auth = auth
        self.extra_headers = tuple((headers or {}).items())
        self.service = config.service
        self.source_type = config.source.type.value
        self.slos = slo_rows(config)
        # (snapshot rendered, {(content type, gzip): body}); replaced whole on a new snapshot
        self._rendered: tuple[Snapshot | None, dict[tuple[str, bool], bytes]] = (None, {})

    def handle(
        self,
        method: str,
        target: str,
        authorization: str | None = None,
        accept: str | None = None,
        accept_encoding: str | None = None,
    ) -> Response:
        response = self._route(method, target, authorization, accept, accept_encoding)
        if self.extra_headers:
            response = Response(
                response.status, response.body, response.headers + self.extra_headers
            )
        return response

    def _route(
        self,
        method: str,
        target: str,
        authorization: str | None,
        accept: str | None,
        accept_encoding: str | None,
    ) -> Response:
        if self.auth is not None and not self.auth.authorize(authorization):
            return _text_response(
                HTTPStatus.UNAUTHORIZED,
                "401 Unauthorized\n",
                ("WWW-Authenticate", f'Basic realm="{NAME}", charset="UTF-8"'),
            )
        if method not in ("GET", "HEAD"):
            return _text_response(
                HTTPStatus.METHOD_NOT_ALLOWED, "405 Method Not Allowed\n", ("Allow", "GET, HEAD")
            )
        url = urlsplit(target)
        if url.path == "/metrics":
            return self.metrics(accept, accept_encoding, url.query)
        if url.path == "/healthz":
            return _text_response(HTTPStatus.OK, "ok\n")
        if url.path == "/ready":
            readiness = self.provider.readiness()
            status = HTTPStatus.OK if readiness.ready else HTTPStatus.SERVICE_UNAVAILABLE
            verdict = "ready" if readiness.ready else "not ready"
            return _text_response(status, f"{verdict}: {_one_line(readiness.reason)}\n")
        if url.path in ("/", "/index.html"):
            return self.landing_page()
        return _text_response(HTTPStatus.NOT_FOUND, "404 Not Found\n")

    def metrics(self, accept: str | None, accept_encoding: str | None, query: str) -> Response:
        """The exposition, negotiated as ``prometheus_client.make_wsgi_app`` does it."""
        encoder, content_type = choose_encoder(accept or "")
        compress = gzip_accepted(accept_encoding or "")
        names = parse_qs(query).get("name[]")
        try:
            if names:
                body = encoder(self.registry.restricted_registry(names))
                if compress:
                    body = gzip.compress(body)
            else:
                body = self._cached_render(encoder, content_type, compress)
        except Exception:
            log.exception("cannot render /metrics")
            return _text_response(HTTPStatus.INTERNAL_SERVER_ERROR, "error rendering metrics\n")
        headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
        if compress:
            headers.append(("Content-Encoding", "gzip"))
        return Response(HTTPStatus.OK, body, tuple(headers))

    def _cached_render(
        self, encoder: Callable[[CollectorRegistry], bytes], content_type: str, compress: bool
    ) -> bytes:
        # The collector reads the provider's snapshot itself; should a newer one land
        # between these two reads, newer bytes are kept under the older snapshot and
        # replaced on the next scrape.  Snapshots only move forward, so that is harmless.
        snapshot = self.provider.snapshot
        rendered = self._rendered
        if rendered[0] is not snapshot:
            rendered = (snapshot, {})
            self._rendered = rendered
        key = (content_type, compress)
        body = rendered[1].get(key)
        if body is None:
            body = encoder(self.registry)
            if compress:
                body = gzip.compress(body)
            rendered[1][key] = body
        return body

    def landing_page(self) -> Response:
        if self.slos:
            rows = "".join(
                f"<tr><td><code>{html.escape(r.name)}</code></td><td>{html.escape(r.kind)}</td>"
                f"<td>{html.escape(r.measures)}</td><td>{html.escape(r.objective)}</td>"
                f"<td>{html.escape(r.window)}</td></tr>\n"
                for r in self.slos
            )
            slos = (
                "<table>\n<tr><th>SLO</th><th>kind</th><th>measures</th><th>objective</th>"
                f"<th>window</th></tr>\n{rows}</table>"
            )
        else:
            slos = "<p>No SLO is configured.</p>"
        readiness = self.provider.readiness()
        page = _PAGE.format(
            name=NAME,
            version=html.escape(__version__),
            ready="yes" if readiness.ready else "no",
            health="up" if readiness.ready else "down",
            headline="Ready:" if readiness.ready else "Not ready:",
            reason=html.escape(_one_line(readiness.reason)),
            service=html.escape(self.service),
            source=html.escape(self.source_type),
            slos=slos,
        )
        return Response(
            HTTPStatus.OK, page.encode("utf-8"), (("Content-Type", "text/html; charset=utf-8"),)
        )


# --- the server ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"{NAME}/{__version__}"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT
    # Headers and body leave in one write, without Nagle's delay: otherwise the body
    # waits for the client's delayed ACK of the headers (40 ms on Linux).
    disable_nagle_algorithm = True
    wbufsize = -1

    def _serve(self) -> None:
        assert isinstance(self.server, ExporterServer)
        response = self.server.app.handle(
            self.command,
            self.path,
            authorization=self.headers.get("Authorization"),
            accept=self.headers.get("Accept"),
            accept_encoding=self.headers.get("Accept-Encoding"),
        )
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("request client=%s %s", self.address_string(), format % args)


class ExporterServer(ThreadingHTTPServer):
    """A thread per connection; TLS handshakes run in that thread, not in the accept loop."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self,
        address: ListenAddress,
        app: ExporterApp,
        tls: TlsContexts | None = None,
        family: socket.AddressFamily | None = None,
    ) -> None:
        self.app = app
        self.tls = tls
        self.listen = address
        self._dual_stack = False
        if address.host == "":
            family = family or (socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET)
            self._dual_stack = family == socket.AF_INET6
            sockaddr: tuple[Any, ...] = ("::" if self._dual_stack else "0.0.0.0", address.port)
        else:
            try:
                infos = socket.getaddrinfo(
                    address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
                )
            except socket.gaierror as exc:
                raise OSError(
                    errno.EADDRNOTAVAIL, f"cannot resolve {address.host}: {exc}"
                ) from None
            family, _, _, _, sockaddr = infos[0]
        self.address_family = family
        super().__init__(sockaddr, _Handler)

    def server_bind(self) -> None:
        if self._dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)  # no reverse DNS lookup
        self.server_port = int(port)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def bound(self) -> str:
        host = str(self.server_address[0])
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def url(self) -> str:
        return self.listen.url(tls=self.tls is not None, port=self.port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            connection = self.tls.context().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake failed client=%s error=%r", client_address[0], str(exc))
            return
        try:
            if not self.tls.settings.peer_allowed(connection):
                log.info(
                    "refused client certificate client=%s reason=no_allowed_san", client_address[0]
                )
                return
            super().finish_request(connection, client_address)
        finally:
            connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ssl.SSLError):
            log.debug("connection error client=%s error=%r", client_address[0], str(exc))
        else:
            log.exception("error serving client=%s", client_address[0])


def create_server(
    address: ListenAddress,
    provider: ReadinessProvider,
    config: Config,
    web: WebConfig | None = None,
) -> ExporterServer:
    """Bind ``address`` and return a server ready for ``serve_forever``.

    Raises :class:`ConfigError` when the TLS files cannot be loaded, ``OSError``
    when the address cannot be bound.
    """
    web = web or WebConfig()
    auth = BasicAuth(web.users) if web.users else None
    app = ExporterApp(provider, config, auth=auth, headers=web.headers)
    tls = None
    if web.tls is not None:
        try:
            tls = TlsContexts(web.tls)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError([f"tls_server_config: cannot load: {_reason(exc)}"]) from None
    try:
        return ExporterServer(address, app, tls)
    except OSError as exc:
        # every interface: fall back to IPv4 where IPv6 is not available
        unavailable = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)
        if address.host == "" and exc.errno in unavailable:
            return ExporterServer(address, app, tls, family=socket.AF_INET)
        raise


def serve_until_signalled(
    server: ExporterServer, run_poller: Callable[[threading.Event], None], grace: float = 10.0
) -> int:
    """Run the poller and the server in threads until SIGTERM or SIGINT; 0, or 1 on failure.

    On a signal the poller's stop event is set (it finishes its poll, or is
    abandoned after ``grace`` seconds), the server stops accepting and its
    socket is closed.  Closing the store is the caller's part.
    """
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)  # logged by the loop below: no logging inside a handler
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    poller = threading.Thread(target=run_poller, args=(stop,), name="poller", daemon=True)
    http = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    code = 0
    try:
        http.start()
        poller.start()
        while not stop.wait(0.5):
            if not poller.is_alive():
                log.error("the poller stopped unexpectedly; exiting")
                code = 1
                break
        if received:
            log.info("stopping signal=%s", signal.Signals(received[0]).name)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        poller.join(grace)
        if poller.is_alive():
            log.warning("abandoning the poll in progress grace_seconds=%g", grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
