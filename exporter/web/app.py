"""The exporter's HTTP routes without a socket: ``/metrics``, ``/healthz``, ``/ready`` and the
landing page."""

from __future__ import annotations

import gzip
import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from exporter import __version__
from exporter.collector import build_registry
from exporter.config import Config
from exporter.snapshot import Snapshot
from exporter.units import format_percent
from exporter.web.auth import BasicAuthChecker

log = logging.getLogger(__name__)

NAME = "helpdesk-slo-exporter"


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
        auth: BasicAuthChecker | None = None,
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
