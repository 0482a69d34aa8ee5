"""The HTTP server in front of :class:`~exporter.web.app.ExporterApp`: listen address,
connections, TLS handshakes, signals."""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
import socket
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter import __version__
from exporter.config import DEFAULT_LISTEN_PORT, Config, ConfigError
from exporter.web.app import NAME, ExporterApp, ReadinessProvider
from exporter.web.auth import BasicAuthChecker
from exporter.web.config import WebConfig
from exporter.web.tls import TlsContexts, error_reason

log = logging.getLogger(__name__)

DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_LISTEN_PORT}"
#: Idle keep-alive connections are closed after this many seconds.
CONNECTION_TIMEOUT = 60.0
#: A client has this long to finish the TLS handshake.
HANDSHAKE_TIMEOUT = 10.0


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
    auth = BasicAuthChecker(web.users) if web.users else None
    app = ExporterApp(provider, config, auth=auth, headers=web.headers)
    tls = None
    if web.tls is not None:
        try:
            tls = TlsContexts(web.tls)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError([f"tls_server_config: cannot load: {error_reason(exc)}"]) from None
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
