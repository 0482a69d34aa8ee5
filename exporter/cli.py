"""``helpdesk-slo``: the command line of the exporter and of the pack generator.

Exit codes: 0 ok, 1 a check or a drift failed (or the helpdesk could not be
read), 2 bad usage or bad config.  Config problems are printed one per line,
with file and line, and never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from exporter import __version__
from exporter.config import Config, ConfigError, load_config
from exporter.model import format_instant, parse_instant
from exporter.slo import Evaluator, Outcome, TicketEvaluation
from exporter.sources import build_source
from exporter.sources.base import SourceError, SourceUnavailable
from exporter.units import format_duration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return format_instant(datetime.fromtimestamp(ts, UTC))


def _number(value: float) -> int | float:
    """Whole numbers print without a trailing ``.0``."""
    rounded = round(float(value), 9)
    return int(rounded) if rounded.is_integer() else rounded


# --- check -------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    config = load_config(args.config)
    config.build_calendars()
    slos = ", ".join(s.name for s in config.slos) or "none"
    print(
        f"{args.config}: ok — source {config.source.type.value}, "
        f"{len(config.calendars)} calendar(s), {len(config.slas)} SLA metric(s), "
        f"{len(config.slos)} SLO(s): {slos}",
        file=out,
    )
    return EXIT_OK


# --- evaluate ----------------------------------------------------------------------------------


def _parse_at(text: str | None) -> float:
    if text is None:
        return time.time()
    try:
        return parse_instant(text, "--at").timestamp()
    except ValueError as exc:
        raise UsageError(f"{exc} (example: --at 2026-11-02T12:00:00Z)") from None


def _latest(outcomes: Sequence[Outcome]) -> Outcome:
    return max(outcomes, key=lambda o: o.cycle)


def evaluation_json(
    evaluator: Evaluator, evaluations: Sequence[TicketEvaluation], at: float
) -> dict[str, Any]:
    """The ``evaluate`` JSON document (shape fixed by DESIGN.md)."""
    tickets = []
    for evaluation in evaluations:
        slas = {}
        for metric, statuses in evaluation.slas.items():
            if not statuses:
                continue
            status = max(statuses, key=lambda s: s.cycle)
            slas[metric] = {
                "state": status.state.value,
                "target_seconds": _number(status.target_seconds),
                "deadline": _iso(status.deadline),
                "stopped_at": _iso(status.stopped_at),
                "breached_at": _iso(status.breached_at),
                "elapsed_business_seconds": _number(status.elapsed_business_seconds),
            }
        slos = {}
        for name, outcomes in evaluation.slos.items():
            if not outcomes:
                continue
            outcome = _latest(outcomes)
            slos[name] = {"result": outcome.result.value, "decided_at": _iso(outcome.decided_at)}
        tickets.append({"id": evaluation.ticket.id, "slas": slas, "slos": slos})
    summary = {
        name: {
            "good": s.good,
            "bad": s.bad,
            "pending": s.pending,
            "error_budget_remaining_ratio": _number(s.error_budget_remaining_ratio),
        }
        for name, s in evaluator.summarize(evaluations, at).items()
    }
    return {"at": _iso(at), "tickets": tickets, "slos": summary}


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )


def _short_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def print_evaluation_table(document: dict[str, Any], out: TextIO) -> None:
    print(f"as of {document['at']}", file=out)
    rows = [["TICKET", "SLA", "STATE", "ELAPSED", "TARGET", "DEADLINE", "STOPPED", "SLOS"]]
    for ticket in document["tickets"]:
        slo_text = ", ".join(f"{n}={v['result']}" for n, v in ticket["slos"].items()) or "-"
        if not ticket["slas"]:
            rows.append([ticket["id"], "-", "-", "-", "-", "-", "-", slo_text])
        for metric, sla in ticket["slas"].items():
            rows.append(
                [
                    ticket["id"],
                    metric,
                    sla["state"],
                    format_duration(sla["elapsed_business_seconds"]),
                    format_duration(sla["target_seconds"]),
                    (sla["deadline"] or "-"),
                    (sla["stopped_at"] or "-"),
                    slo_text,
                ]
            )
            slo_text = ""
    print(file=out)
    _table(rows, out)
    print(file=out)
    rows = [["SLO", "GOOD", "BAD", "PENDING", "BUDGET LEFT"]]
    for name, s in document["slos"].items():
        rows.append(
            [
                name,
                str(s["good"]),
                str(s["bad"]),
                str(s["pending"]),
                f"{s['error_budget_remaining_ratio'] * 100:.1f}%",
            ]
        )
    if len(rows) > 1:
        _table(rows, out)


def load_running_config(path: str) -> Config:
    """A config for commands that read the helpdesk: imported calendars are fetched."""
    from exporter.sources.imports import resolve_imports

    return resolve_imports(load_config(path))


def cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    config = load_running_config(args.config)
    at = _parse_at(args.at)
    source = build_source(config)
    result = source.poll(None, at)
    for problem in result.problems:
        print(f"warning: skipped {problem}", file=sys.stderr)
    evaluator = Evaluator(config)
    wanted = set(args.ticket or ())
    tickets = sorted(
        (t for t in result.tickets if t.created_at.timestamp() <= at),
        key=lambda t: (t.created_at, t.id),
    )
    if wanted:
        missing = wanted - {t.id for t in tickets}
        if missing:
            print(
                f"warning: no ticket {', '.join(sorted(missing))} as of {_iso(at)}", file=sys.stderr
            )
    # "as of --at": the data is taken as complete up to at
    evaluations = [evaluator.evaluate(t, at, at) for t in tickets]
    document = evaluation_json(evaluator, evaluations, at)
    if wanted:
        document["tickets"] = [t for t in document["tickets"] if t["id"] in wanted]
    if args.format == "json":
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        print_evaluation_table(document, out)
    return EXIT_OK


# --- generate ----------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace, out: TextIO) -> int:
    # imported here so that serve, check and evaluate never load the pack generators
    from pathlib import Path

    from exporter.pack.export import EXPORT_FORMATS
    from exporter.pack.generate import (
        ImportNote,
        PackOptions,
        build_pack,
        check_pack,
        import_specs,
        validate_pack,
        write_pack,
    )
    from exporter.pack.rules import RuleOptions

    config = load_config(args.config)
    notes: list[ImportNote] = []
    if args.import_specs:
        config = import_specs(config, [Path(p) for p in args.import_specs], notes)
    export = args.format if args.format in EXPORT_FORMATS else None
    options = PackOptions(
        format="prometheus" if export else args.format,
        export=export,
        rules=RuleOptions.for_config(
            config,
            job=args.job,
            runbook_base_url=args.runbook_base_url,
            grafana_url=args.grafana_url,
            dead_tiers=args.dead_tiers,
        ),
    )
    pack = build_pack(config, options)
    for note in [*notes, *(ImportNote("warning", text) for text in pack.notes)]:
        print(note, file=sys.stderr)
    refused = validate_pack(pack)
    for problem in refused:
        print(f"error: {problem}", file=sys.stderr)
    if refused:
        print(
            f"error: Prometheus would refuse these rules; nothing written to {args.out}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    out_dir = Path(args.out)
    if args.check:
        drift = check_pack(pack, out_dir)
        for line in drift:
            print(f"drift: {out_dir / line}", file=out)
        if drift:
            print(
                f"error: {out_dir} is not what {args.config} generates; run "
                f"helpdesk-slo generate --config {args.config} --out {out_dir}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(f"{out_dir}: up to date ({len(pack.files)} files)", file=out)
        return EXIT_OK
    try:
        write_pack(pack, out_dir)
    except OSError as exc:
        raise UsageError(f"--out {out_dir}: cannot write the pack: {exc}") from None
    for path in pack.files:
        print(f"wrote {out_dir / path}", file=out)
    return EXIT_OK


# --- serve -------------------------------------------------------------------------------------

#: How long SIGTERM/SIGINT waits for a poll in progress before abandoning it.
SHUTDOWN_GRACE_SECONDS = 10.0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    # imported here so that check and evaluate never load the server side
    import logging

    from exporter.config import default_config
    from exporter.poller import Poller
    from exporter.server import (
        WebConfig,
        configure_logging,
        create_server,
        load_web_config,
        parse_listen_address,
        serve_until_signalled,
    )
    from exporter.store import Store, StoreError

    configure_logging(args.log_level)
    log = logging.getLogger("exporter.cli")
    address = parse_listen_address(args.web_listen_address)
    web = load_web_config(args.web_config_file) if args.web_config_file else WebConfig()
    if args.config is None:
        url = address.url(tls=web.tls is not None)
        log.info("running the built-in demo helpdesk (no --config given) url=%s", url)
        config = default_config()
    else:
        config = load_running_config(args.config)
    for note in web.notes:
        log.warning("web config: %s", note)
    source = build_source(config)
    try:
        store = Store(config.store)
    except StoreError as exc:
        print(f"error: store: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        poller = Poller(config, source, store)
        try:
            server = create_server(address, poller, config, web)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(
                f"error: --web.listen-address {address}: cannot listen: {reason}", file=sys.stderr
            )
            return EXIT_FAILED
        log.info(
            "serving address=%s url=%s tls=%s basic_auth=%s source=%s store=%s",
            server.bound,
            server.url(),
            "on" if server.tls is not None else "off",
            "on" if server.app.auth is not None else "off",
            config.source.type.value,
            config.store,
        )
        code = serve_until_signalled(server, poller.run, SHUTDOWN_GRACE_SECONDS)
    finally:
        store.close()
    log.info("stopped; store closed")
    return EXIT_OK if code == 0 else EXIT_FAILED


# --- entry point -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk-slo",
        description="Helpdesk SLA clocks as Prometheus metrics, "
        "and the SLO pack that pages on them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="validate a config file and exit")
    check.add_argument("--config", required=True, metavar="FILE")
    check.set_defaults(handler=cmd_check)

    evaluate = commands.add_parser(
        "evaluate",
        help="poll once and print every ticket's SLA clocks and SLO outcomes",
        description="Poll the source once and print each ticket's SLA clocks and SLO outcomes "
        "as of --at (default now), treating the data as complete up to then.",
    )
    evaluate.add_argument("--config", required=True, metavar="FILE")
    evaluate.add_argument(
        "--at", metavar="ISO8601", help="evaluation instant, e.g. 2026-11-02T12:00:00Z"
    )
    evaluate.add_argument("--format", choices=("json", "table"), default="json")
    evaluate.add_argument(
        "--ticket", action="append", metavar="ID", help="only this ticket (repeatable)"
    )
    evaluate.set_defaults(handler=cmd_evaluate)

    from exporter.pack.export import EXPORT_FORMATS
    from exporter.pack.rules import FORMATS, RuleOptions

    generate = commands.add_parser(
        "generate",
        help="write the pack (rules and tests, dashboards, Alertmanager, runbooks) for a config",
        description="Write DIR/rules/helpdesk-slo.rules.yml and its promtool tests "
        "DIR/rules/helpdesk-slo.rules.test.yml (with --format prometheus-operator or mimir, "
        "also the same rules as a PrometheusRule or a Mimir/Cortex ruler namespace), "
        "DIR/dashboards/*.json, DIR/alertmanager/alertmanager.yml with its templates, and "
        "DIR/runbooks/*.md.  Each directory is written aside and swapped in whole.  "
        "Burn tiers that cannot fire are reported on stderr.  --check compares DIR with what "
        "would be written and exits 1 on any difference.",
    )
    generate.add_argument("--config", required=True, metavar="FILE")
    generate.add_argument("--out", required=True, metavar="DIR")
    generate.add_argument(
        "--format",
        choices=(*FORMATS, *EXPORT_FORMATS),
        default="prometheus",
        help="extra rule format, or openslo / pyrra: the SLOs also as DIR/openslo/*.yaml "
        "(OpenSLO v1) or DIR/pyrra/*.yaml (Pyrra ServiceLevelObjective); see docs/interop.md",
    )
    generate.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if DIR is out of date"
    )
    generate.add_argument(
        "--import",
        dest="import_specs",
        action="append",
        metavar="SPEC",
        help="add the SLOs of a Sloth prometheus/v1 or OpenSLO v1/v1alpha spec (repeatable; "
        "OpenSLO SLI, DataSource and AlertPolicy documents are found by name across all of "
        "them); see docs/interop.md",
    )
    generate.add_argument(
        "--job",
        default=RuleOptions.job,
        help=f"job label Prometheus scrapes the exporter under (default {RuleOptions.job})",
    )
    generate.add_argument(
        "--runbook-base-url",
        metavar="URL",
        help="runbooks are linked as URL/<slo>.md unless an SLO sets alerting.runbook_url "
        f"(default: notify.runbook_base_url of the config, else {RuleOptions.runbook_base_url})",
    )
    generate.add_argument(
        "--grafana-url",
        metavar="URL",
        help="Grafana base URL for dashboard links "
        f"(default: notify.grafana_url of the config, else {RuleOptions.grafana_url})",
    )
    generate.add_argument(
        "--dead-tiers",
        choices=("rescale", "drop"),
        default=RuleOptions.dead_tiers,
        help="a burn tier that can never fire is rescaled to the highest possible burn rate "
        "(default) or dropped; either way it is reported",
    )
    generate.set_defaults(handler=cmd_generate)

    serve = commands.add_parser(
        "serve",
        help="poll the helpdesk in the background and serve /metrics",
        description="Poll the helpdesk in the background and serve /metrics, /healthz, /ready "
        "and a landing page.  Without --config it runs the built-in demo helpdesk.",
    )
    serve.add_argument("--config", metavar="FILE", help="default: the built-in demo helpdesk")
    serve.add_argument(
        "--web.listen-address",
        dest="web_listen_address",
        default=":9707",
        metavar="ADDRESS",
        help="host:port, :port (every interface) or [v6addr]:port (default :9707)",
    )
    serve.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="TLS and basic auth, in the Prometheus exporter-toolkit format",
    )
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    serve.set_defaults(handler=cmd_serve)

    backfill = commands.add_parser(
        "backfill",
        help="write history as OpenMetrics for promtool tsdb create-blocks-from openmetrics",
        description="Decide every outcome of the source's history as the live exporter would "
        "and write the counters as timestamped OpenMetrics, ending where the live exporter's "
        "store begins (or now).  Load it with: promtool tsdb create-blocks-from openmetrics "
        "FILE.om DATA_DIR",
    )
    backfill.add_argument("--config", metavar="FILE", help="default: the built-in demo helpdesk")
    backfill.add_argument("--since", required=True, metavar="DURATION", help="e.g. 90d")
    backfill.add_argument("--out", required=True, metavar="FILE.om")
    backfill.add_argument(
        "--step", default="5m", metavar="DURATION", help="sample spacing (default 5m)"
    )
    backfill.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="label added to every series (default job=helpdesk-slo; repeatable)",
    )
    backfill.set_defaults(handler=cmd_backfill)

    return parser


def cmd_backfill(args: argparse.Namespace, out: TextIO) -> int:
    from exporter.backfill import backfill
    from exporter.units import parse_duration

    if args.config is None:
        from exporter.config import default_config

        config = default_config()
    else:
        config = load_running_config(args.config)
    try:
        since = parse_duration(args.since).seconds
        step = parse_duration(args.step).seconds
    except ValueError as exc:
        raise UsageError(f"--since/--step: {exc}") from None
    if since <= 0 or step <= 0:
        raise UsageError("--since and --step must be longer than zero")
    labels = {"job": "helpdesk-slo"}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--label: expected NAME=VALUE, got {item!r}")
        labels[name] = value
    started = time.monotonic()
    result = backfill(config, since, Path(args.out), step, extra_labels=labels, progress=sys.stderr)
    print(
        f"wrote {args.out}: {result.series} series, {result.samples} samples from "
        f"{_iso(result.start)} to {_iso(result.end)} ({result.tickets} tickets, "
        f"{result.problems} skipped records) in {time.monotonic() - started:.1f}s",
        file=out,
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args, out)
        return code
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SourceUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
