"""TLS for the web server: the resolved ``tls_server_config`` and the contexts reloaded when
certificates change."""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


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


def error_reason(exc: BaseException) -> str:
    """Why a certificate, key or CA file could not be used, in one line."""
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


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
                            error_reason(exc),
                        )
            return self._context
