"""The report's charts: matplotlib figures drawn from the report document, as inline SVG.

Text stays text (``svg.fonttype: none``), the SVG carries no metadata, no XML
declaration and no DOCTYPE (nothing that names a URL), and its ids are salted
with the chart's name so that several charts can share one page.  Only the
Agg/SVG backends are used: no display is ever needed.

matplotlib is the optional ``report`` extra; importing this module without it
raises ``ImportError``.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: matplotlib.dates has no type hints
_DATES: Any = matplotlib.dates
HOUR = 3600.0
#: figure widths in inches: a chart beside another, and one across the page
HALF = 6.0
FULL = 12.0
#: colours: good/met, bad/breached, objective/threshold lines, the three time groups
GOOD = "#2e7d32"
BAD = "#c62828"
LINE = "#1565c0"
TARGET = "#6d4c41"
SPLIT = ("#1565c0", "#f9a825", "#8e24aa")

_STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e0e0e0",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
}

_STRIP = (
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r"<!--.*?-->\s*", re.S),
)


def _svg(figure: Figure, name: str) -> str:
    """The figure as an SVG element to inline in a page."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    for pattern in _STRIP:
        text = pattern.sub("", text)
    # scale with the page instead of a fixed size in points
    text = re.sub(
        r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"',
        r'<svg\1 width="\2pt" height="\3pt" class="chart-svg" preserveAspectRatio="xMinYMin meet"',
        text,
        count=1,
    )
    return text.strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(cast(Any, _STYLE)):
        return plt.figure(figsize=(width, height), layout="constrained")


def _hours(seconds: float) -> float:
    return seconds / HOUR


def _week_ticks(axes: Any, weeks: list[str]) -> None:
    step = max(1, len(weeks) // 8)
    axes.set_xticks(range(0, len(weeks), step))
    axes.set_xticklabels([w[5:] for w in weeks[::step]])


def slo_compliance(slo: dict[str, Any]) -> str:
    """Weekly compliance of one SLO against its objective."""
    with matplotlib.rc_context(cast(Any, _STYLE)):
        figure = _figure(HALF, 2.6)
        axes = figure.add_subplot()
        weeks = [w["week"] for w in slo["weeks"]]
        values = [
            None if w["compliance_ratio"] is None else 100 * w["compliance_ratio"]
            for w in slo["weeks"]
        ]
        xs = [i for i, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        objective = 100 * slo["objective_ratio"]
        axes.plot(xs, ys, marker="o", markersize=3, color=LINE, label="compliance")
        axes.axhline(objective, color=BAD, linestyle="--", linewidth=1, label="objective")
        misses = [(x, y) for x, y in zip(xs, ys, strict=True) if y < objective]
        if misses:
            axes.scatter([x for x, _ in misses], [y for _, y in misses], color=BAD, s=14, zorder=3)
        axes.set_ylabel("% good")
        low = min([objective, *ys]) if ys else objective
        axes.set_ylim(max(0.0, low - (100 - low) * 0.3 - 1), 100.5)
        _week_ticks(axes, weeks)
        axes.legend(loc="lower left", fontsize=7, frameon=False)
        axes.set_title(f"{slo['name']}: weekly compliance", fontsize=9, loc="left")
        return _svg(figure, f"compliance-{slo['name']}")


def budget_burn_down(slo: dict[str, Any]) -> str:
    """Error budget left through each window, with the forecast of the last one."""
    with matplotlib.rc_context(cast(Any, _STYLE)):
        figure = _figure(HALF, 2.6)
        axes = figure.add_subplot()
        for window in slo["budget_windows"]:
            points = [p for p in window["burn_down"] if p["remaining_ratio"] is not None]
            if not points:
                continue
            xs = [_instant(p["at"]) for p in points]
            ys = [100 * p["remaining_ratio"] for p in points]
            axes.plot(xs, ys, color=LINE, linewidth=1.3, drawstyle="steps-post")
            axes.axvline(xs[0], color="#9e9e9e", linewidth=0.6, linestyle=":")
        last = slo["budget_windows"][-1] if slo["budget_windows"] else None
        forecast = last["forecast"] if last else None
        if (
            last is not None
            and forecast
            and forecast["exhaustion_at"]
            and not forecast["exhausted"]
        ):
            end = _instant(last["to"])
            left = last["remaining_ratio"]
            target = _instant(forecast["exhaustion_at"])
            if left is not None and forecast["before_window_end"]:
                axes.plot([end, target], [100 * left, 0], color=BAD, linestyle="--", linewidth=1)
        axes.axhline(0, color=BAD, linewidth=0.8)
        axes.set_ylabel("% budget left")
        axes.xaxis.set_major_locator(_DATES.AutoDateLocator(minticks=3, maxticks=6))
        axes.xaxis.set_major_formatter(_DATES.DateFormatter("%d %b"))
        axes.set_title(
            f"{slo['name']}: error budget per {slo['window']} window", fontsize=9, loc="left"
        )
        return _svg(figure, f"budget-{slo['name']}")


def sla_weeks(metric: str, rows: list[dict[str, Any]]) -> str:
    """SLA breaches per week (bars) and the share met (line), every priority of one metric."""
    with matplotlib.rc_context(cast(Any, _STYLE)):
        figure = _figure(HALF, 2.6)
        axes = figure.add_subplot()
        weeks = [w["week"] for w in rows[0]["weeks"]]
        met = [sum(r["weeks"][i]["met"] for r in rows) for i in range(len(weeks))]
        breached = [sum(r["weeks"][i]["breached"] for r in rows) for i in range(len(weeks))]
        xs = list(range(len(weeks)))
        axes.bar(xs, breached, color=BAD, label="breached", width=0.6)
        axes.set_ylabel("breached")
        _week_ticks(axes, weeks)
        share = axes.twinx()
        share.grid(False)
        points = [
            (x, 100 * m / (m + b)) for x, m, b in zip(xs, met, breached, strict=True) if m + b
        ]
        if points:
            share.plot(*zip(*points, strict=True), color=GOOD, marker="o", markersize=3)
        share.set_ylabel("% met", color=GOOD)
        share.set_ylim(min([p[1] for p in points] + [90.0]) - 2, 100.5)
        share.spines["right"].set_visible(True)
        axes.set_title(
            f"{metric}: breached (bars) and % met (line) per week", fontsize=9, loc="left"
        )
        return _svg(figure, f"sla-weeks-{metric}")


def heatmap(document: dict[str, Any]) -> str:
    """SLA breaches per weekday and hour of the day (the instant the deadline passed)."""
    data = document["heatmap"]
    with matplotlib.rc_context(cast(Any, _STYLE)):
        figure = _figure(FULL, 3.4)
        axes = figure.add_subplot()
        axes.grid(False)
        mesh = axes.pcolormesh(data["breaches"], cmap="Reds", edgecolors="white", linewidth=0.5)
        axes.set_yticks([i + 0.5 for i in range(7)])
        axes.set_yticklabels(data["weekdays"])
        axes.invert_yaxis()
        axes.set_xticks([h + 0.5 for h in range(0, 24, 2)])
        axes.set_xticklabels([f"{h:02d}" for h in range(0, 24, 2)])
        axes.set_xlabel(f"hour ({document['timezone']})")
        figure.colorbar(mesh, ax=axes, label="breaches", shrink=0.9)
        axes.set_title("SLA breaches by weekday and hour", fontsize=9, loc="left")
        return _svg(figure, "heatmap")


def first_reply(document: dict[str, Any]) -> str:
    """Distribution of the business time to first reply per priority, with the SLA target
    and the SLO thresholds."""
    panels = document["first_reply"]
    with matplotlib.rc_context(cast(Any, _STYLE)):
        figure = _figure(FULL, 2.6 * ((len(panels) + 1) // 2) + 0.3)
        for index, panel in enumerate(panels):
            axes = figure.add_subplot((len(panels) + 1) // 2, 2, index + 1)
            bins = panel["bins"]
            edges = [0.0] + [_hours(b["le_seconds"]) for b in bins[:-1]]
            width = edges[1] - edges[0] if len(edges) > 1 else 1.0
            counts = [b["count"] for b in bins]
            axes.bar(edges, counts, width=width, align="edge", color="#90a4ae")
            axes.bar([edges[-1] + width], [counts[-1]], width=width, align="edge", color="#546e7a")
            target = _hours(panel["sla_target_seconds"])
            axes.axvline(target, color=BAD, linewidth=1.2, label="SLA target")
            for slo in panel["slo_thresholds"]:
                if slo["seconds"] != panel["sla_target_seconds"]:
                    axes.axvline(
                        _hours(slo["seconds"]), color=LINE, linestyle="--", linewidth=1.2,
                        label=f"SLO {slo['slo']}",
                    )  # fmt: skip
            axes.set_title(
                f"{panel['priority']} ({panel['replies']} replies)", fontsize=8, loc="left"
            )
            axes.set_xlabel("business hours (last bar: more than twice the target)", fontsize=7)
            axes.legend(fontsize=6, frameon=False, loc="upper right")
        return _svg(figure, "first-reply")


def time_split(document: dict[str, Any]) -> str:
    """Mean business time to resolution per priority, split by status group."""
    rows = document["time_split"]
    with matplotlib.rc_context(cast(Any, _STYLE)):
        figure = _figure(FULL, 0.45 * len(rows) + 1.2)
        axes = figure.add_subplot()
        names = [f"{r['priority']} ({r['solved']})" for r in rows]
        left = [0.0] * len(rows)
        parts = (
            ("working", "working_seconds"),
            ("waiting on customer", "waiting_on_customer_seconds"),
            ("on hold/escalated", "on_hold_seconds"),
        )
        for (label, key), colour in zip(parts, SPLIT, strict=True):
            values = [_hours(r[key]) for r in rows]
            axes.barh(names, values, left=left, color=colour, label=label, height=0.6)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.invert_yaxis()
        axes.set_xlabel("mean business hours per solved ticket")
        axes.legend(fontsize=8, frameon=False, ncols=3, loc="lower right", bbox_to_anchor=(1, 1))
        axes.set_title("Where resolution time goes", fontsize=9, loc="left")
        return _svg(figure, "time-split")


def _instant(text: str) -> float:
    """An ISO instant as a matplotlib date number."""
    return float(_DATES.date2num(datetime.fromisoformat(text.replace("Z", "+00:00"))))


def draw(document: dict[str, Any]) -> dict[str, Any]:
    """Every chart of the report, as SVG text keyed the way the templates read them."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for row in document["slas"]:
        by_metric.setdefault(row["sla"], []).append(row)
    charts: dict[str, Any] = {
        "sla_weeks": {metric: sla_weeks(metric, rows) for metric, rows in by_metric.items()},
        "compliance": {s["name"]: slo_compliance(s) for s in document["slos"]},
        "budget": {s["name"]: budget_burn_down(s) for s in document["slos"]},
        "heatmap": heatmap(document),
        "first_reply": first_reply(document) if document["first_reply"] else None,
        "time_split": time_split(document) if document["time_split"] else None,
    }
    return charts
