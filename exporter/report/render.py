"""The report document as a self-contained HTML page or as Markdown, from jinja2 templates.

Both formats show the same sections from the same document (see
:mod:`exporter.report.document`); the charts are inline SVG in the HTML page
and SVG ``data:`` images in the Markdown, so neither needs the network to be
read.  :data:`SECTIONS` lists the sections in page order.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from exporter.units import format_duration

#: (anchor, title) of every section, in the order both formats show them
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "SLOs at a glance"),
    ("compliance", "SLO compliance per week"),
    ("budget", "Error budget burn-down"),
    ("slas", "SLA metrics by priority"),
    ("first-reply", "Time to first reply"),
    ("time-split", "Where resolution time goes"),
    ("heatmap", "Worst days and hours"),
    ("staffing", "Staffing gaps"),
    ("breaches", "Breached tickets"),
)
#: at most this many breached tickets are listed on the page (the JSON holds all)
MAX_LISTED = 200


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    return format_duration(round(seconds / 60) * 60)


def _percent(ratio: float | None, digits: int = 1) -> str:
    return "-" if ratio is None else f"{100 * ratio:.{digits}f}%"


def _local(document: dict[str, Any]) -> Any:
    zone = ZoneInfo(document["timezone"])

    def local(text: str | None, pattern: str = "%a %d %b %Y %H:%M") -> str:
        if text is None:
            return "-"
        instant = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        return instant.astimezone(zone).strftime(pattern)

    return local


def forecast_text(window: dict[str, Any], local: Any) -> str:
    """One sentence on the last window's budget."""
    forecast = window["forecast"]
    if forecast is None:
        return ""
    if forecast["exhausted"]:
        return f"budget spent since {local(forecast['exhaustion_at'])}"
    days = f"{forecast['pace_days']:.3g}"
    pace = f"at the pace of the last {days} days ({forecast['bad_per_day']:.2f} bad/day)"
    if forecast["exhaustion_at"] is None:
        return f"no bad events in the last {days} days: no exhaustion in sight"
    if forecast["before_window_end"]:
        return f"{pace}, the budget runs out on {local(forecast['exhaustion_at'])}"
    return f"{pace}, the budget lasts past the window's end"


def _environment(html: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("exporter.report", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["duration"] = _duration
    environment.filters["percent"] = _percent
    return environment


def _context(document: dict[str, Any], charts: dict[str, Any]) -> dict[str, Any]:
    metrics: dict[str, list[dict[str, Any]]] = {}
    for row in document["slas"]:
        metrics.setdefault(row["sla"], []).append(row)
    local = _local(document)
    gaps = [(slo, gap) for slo in document["slos"] for gap in slo.get("staffing_gaps", [])]
    return {
        "d": document,
        "charts": charts,
        "sections": SECTIONS,
        "metrics": metrics,
        "local": local,
        "forecast": lambda window: forecast_text(window, local),
        "gaps": gaps,
        "listed": document["breached_tickets"][:MAX_LISTED],
        "max_listed": MAX_LISTED,
    }


def render_html(document: dict[str, Any], charts: dict[str, Any]) -> str:
    """The self-contained page: inline CSS and SVG, no script, no external reference."""
    environment = _environment(html=True)
    environment.filters["svg"] = lambda text: Markup(text or "")
    return environment.get_template("report.html.j2").render(**_context(document, charts))


def data_uri(svg: str | None) -> str:
    """An SVG chart as a ``data:`` URI for a Markdown image."""
    if not svg:
        return ""
    if "xmlns=" not in svg[:200]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def render_markdown(document: dict[str, Any], charts: dict[str, Any]) -> str:
    """The same sections as Markdown (charts as SVG ``data:`` images)."""
    environment = _environment(html=False)
    environment.filters["image"] = data_uri
    environment.filters["cell"] = lambda value: str(value).replace("|", "\\|")
    return environment.get_template("report.md.j2").render(**_context(document, charts))
