"""``helpdesk-slo``: the command line of the exporter and of the pack generator.

Exit codes: 0 ok, 1 a check or a drift failed (or the helpdesk could not be
read, or the output could not be written), 2 bad usage or bad config.
Problems are printed one per line, config problems with file and line, and
never as a traceback: an unexpected failure is one ``error:`` line too (set
``HELPDESK_SLO_DEBUG=1``, or ``serve --log-level debug``, to see the
traceback).  A closed pipe (``evaluate | head -1``) ends the command quietly
with exit 1, as Python documents for ``EPIPE``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

import yaml

from exporter import __version__
from exporter.config import Config, ConfigError, load_config
from exporter.model import format_instant, parse_instant
from exporter.records import SkippedRecord, evaluate_ticket
from exporter.selection import (
    STATES,
    Selection,
    SelectionError,
    ShownTicket,
    Tally,
    cycles_text,
    select,
    tally,
)
from exporter.slo import Evaluator, Outcome, TicketEvaluation
from exporter.sources import build_source
from exporter.sources.base import SourceError, SourceUnavailable
from exporter.store import StoreError, StoreInUse
from exporter.units import format_duration
from exporter.yamlfile import TextFileError, load_all, read_text, shorten, yaml_error_text

if TYPE_CHECKING:  # the pack is imported only by generate
    from exporter.pack.imports import ImportNote

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Set (to anything but empty or 0) to print the traceback of an unexpected failure.
DEBUG_ENV = "HELPDESK_SLO_DEBUG"
#: The longest line a problem is printed as.
MESSAGE_CHARS = 480
#: ``--at`` and the history of ``backfill`` stay in this range (the calendars reach further).
#: ``backfill`` writes at most this many samples per series (``--since`` / ``--step``).
MAX_BACKFILL_STEPS = 1_000_000


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class CommandFailed(Exception):
    """The command could not do its work (exit 1); the message says why."""


class OutputError(Exception):
    """Standard output cannot be written (closed, a closed pipe, a full disk)."""

    def __init__(self, reason: OSError | None) -> None:
        super().__init__(reason)
        self.reason = reason


class _GuardedOutput:
    """What commands print to: standard output whose write failures are :class:`OutputError`."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if self.stream is None:
            raise OutputError(None)
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        if self.stream is None:
            return
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputError(exc) from None


def _say(line: str) -> None:
    """One line on stderr, at most :data:`MESSAGE_CHARS` long; a failing stderr is ignored."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        print(shorten(line, MESSAGE_CHARS), file=sys.stderr, flush=True)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else format_instant(ts)


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
        # refuses instants outside the years a ticket may carry (exporter.model.EARLIEST..LATEST)
        instant = parse_instant(text, "--at")
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, OverflowError):
            exc = ValueError(f"--at: {text!r} is out of range")
        raise UsageError(f"{exc} (example: --at 2026-11-02T12:00:00Z)") from None
    return instant.timestamp()


def _latest(outcomes: Sequence[Outcome]) -> Outcome:
    return max(outcomes, key=lambda o: o.cycle)


def evaluation_json(
    evaluator: Evaluator, evaluations: Sequence[TicketEvaluation], at: float
) -> dict[str, Any]:
    """The ``evaluate`` JSON document (shape documented in README.md, "evaluate")."""
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
    """``2026-11-02 08:15:00Z``: :func:`format_instant` to the second, for table columns."""
    if ts is None:
        return "-"
    whole = datetime.fromtimestamp(ts, UTC).replace(microsecond=0)
    return format_instant(whole).replace("T", " ")


def print_evaluation_table(
    document: dict[str, Any], out: TextIO, cycles: dict[str, dict[str, str]] | None = None
) -> None:
    """The table of ``evaluate --format table``: one row per ticket and SLA clock, then one
    summary line per SLO (``document["selection"]``).  ``cycles`` (ticket id -> SLO -> text)
    replaces an SLO's latest result by every cycle's (``bad+good``)."""
    print(f"as of {document['at']}", file=out)
    rows = [["TICKET", "SLA", "STATE", "ELAPSED", "TARGET", "DEADLINE", "STOPPED", "SLOS"]]
    for ticket in document["tickets"]:
        results = (cycles or {}).get(ticket["id"], {})
        slo_text = (
            ", ".join(f"{n}={results.get(n, v['result'])}" for n, v in ticket["slos"].items())
            or "-"
        )
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
    lines = document.get("selection", {}).get("lines", [])
    if lines:
        print(file=out)
        for line in lines:
            print(line, file=out)


def load_running_config(path: str) -> Config:
    """A config for commands that read the helpdesk: imported calendars are fetched."""
    from exporter.sources.imports import resolve_imports

    return resolve_imports(load_config(path))


def _parse_since(text: str, at: float, flag: str = "--since") -> float:
    """``--since``: a duration back from ``at`` (``90d``) or an ISO 8601 instant."""
    from exporter.units import parse_duration

    if "T" in text or "-" in text[1:]:
        try:
            return parse_instant(text, flag).timestamp()
        except (ValueError, OverflowError) as exc:
            raise UsageError(
                f"{flag}: {shorten(str(exc), 200)} (give a duration such as 7d or an instant "
                "such as 2026-11-02T00:00:00Z)"
            ) from None
    try:
        seconds = parse_duration(text).seconds
    except ValueError as exc:
        raise UsageError(
            f"{flag}: {shorten(str(exc), 200)} (or an instant such as 2026-11-02T00:00:00Z)"
        ) from None
    if seconds <= 0:
        raise UsageError(f"{flag} must be longer than zero (got {shorten(text, 20)})")
    return at - seconds


def _selection_json(tallies: dict[str, Tally]) -> dict[str, Any]:
    return {
        "slos": {
            name: {
                "good": t.good,
                "bad": t.bad,
                "pending": t.pending,
                "compliance_ratio": None if t.compliance is None else _number(t.compliance),
                "objective_ratio": _number(float(t.objective)),
            }
            for name, t in tallies.items()
        },
        "lines": [t.line(name) for name, t in tallies.items()],
    }


def cmd_evaluate(args: argparse.Namespace, out: TextIO) -> int:
    at = _parse_at(args.at)
    since = _parse_since(args.since, at) if args.since is not None else None
    config = load_running_config(args.config)
    selection = Selection(
        slos=frozenset(args.slo or ()),
        states=frozenset(args.state or ()),
        priorities=frozenset(args.priority or ()),
        since=since,
    )
    try:
        selection.check(config, args.config)
    except SelectionError as exc:
        raise UsageError(str(exc)) from None
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
    missing = sorted(wanted - {t.id for t in tickets})
    # "as of --at": the data is taken as complete up to at; a ticket that cannot be
    # evaluated is skipped and named, the rest go on
    evaluations = []
    for ticket in tickets:
        evaluation = evaluate_ticket(ticket, lambda t: evaluator.evaluate(t, at, at))
        if isinstance(evaluation, SkippedRecord):
            print(f"warning: skipped {evaluation}", file=sys.stderr)
        else:
            evaluations.append(evaluation)
    document = evaluation_json(evaluator, evaluations, at)
    shown = [
        item
        for evaluation in evaluations
        if not wanted or evaluation.ticket.id in wanted
        if (item := select(config, selection, evaluation)) is not None
    ]
    kept = {item.ticket.id: item for item in shown}
    document["tickets"] = [
        _shown_json(ticket, kept[ticket["id"]])
        for ticket in document["tickets"]
        if ticket["id"] in kept
    ]
    selection_document = _selection_json(tally(config, selection, shown))
    if args.format == "json":
        del selection_document["lines"]
        document["selection"] = selection_document
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        document["selection"] = selection_document
        cycles = {
            item.ticket.id: {name: cycles_text(o) for name, o in item.slos.items() if len(o) > 1}
            for item in shown
        }
        print_evaluation_table(document, out, cycles)
    if missing:
        out.flush()
        names = ", ".join(shorten(name, 40) for name in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise CommandFailed(
            f"--ticket: no ticket {names}{more} in the {config.source.type.value} source "
            f"as of {_iso(at)}"
        )
    return EXIT_OK


def _shown_json(ticket: dict[str, Any], item: ShownTicket) -> dict[str, Any]:
    """A ticket of the JSON document with only the clocks and SLOs the filters show."""
    return {
        "id": ticket["id"],
        "slas": {k: v for k, v in ticket["slas"].items() if k in item.slas},
        "slos": {k: v for k, v in ticket["slos"].items() if k in item.slos},
    }


# --- suggest -----------------------------------------------------------------------------------


def cmd_suggest(args: argparse.Namespace, out: TextIO) -> int:
    # imported here so that the other commands never load the review
    from exporter.backfill import history_tickets
    from exporter.config import default_config, parse_config
    from exporter.demo_config import DEMO_CONFIG
    from exporter.suggest import apply_to_config, result_json, review, slos_yaml, table_lines

    at = _parse_at(args.at)
    start = _history_start(args.since, at, "--at")
    if args.config is None:
        config, text, where = default_config(), DEMO_CONFIG, "the built-in demo"
    else:
        config = load_running_config(args.config)
        text, where = read_text(Path(args.config), "config"), args.config
    if not any(sla.targets for sla in config.slas.values()):
        raise UsageError(
            f"{where}: no SLA targets (slas:) to suggest SLOs from; write the contract's "
            "targets first, e.g. slas: {first_response: {targets: {urgent: 1h}}}"
        )
    apply_path = _apply_target(args, where) if args.apply is not None else None
    problems: list[str] = []
    tickets = history_tickets(config, at - start, at, problems)
    result = review(config, tickets, at, start)
    for problem in [*problems, *result.skipped]:
        print(f"warning: skipped {problem}", file=sys.stderr)
    if result.decided == 0:
        raise CommandFailed(
            f"no history to suggest from: {result.tickets} tickets created from {_iso(start)} "
            f"to {_iso(at)} in the {config.source.type.value} source, and no decided "
            "first-response, next-response or resolution outcome among them; "
            "give a longer --since, or an --at inside the history"
        )
    yaml_block = slos_yaml(result, where)
    if args.format == "json":
        document = result_json(result)
        document["yaml"] = yaml_block
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        for line in table_lines(result, where):
            print(line, file=out)
        print(file=out)
        out.write(yaml_block)
    if apply_path is not None:
        new_text, added, replaced = apply_to_config(text, result.suggestions)
        # the copy must pass `check` where it is written
        parse_config(
            new_text, path=apply_path, base_dir=apply_path.parent.absolute()
        ).build_calendars()
        _write_replacing(apply_path, new_text, f"--apply {args.apply}")
        _say(
            f"wrote {args.apply}: {where} with {len(added)} SLO(s) added"
            f"{' (' + ', '.join(added) + ')' if added else ''} and {len(replaced)} replaced"
            f"{' (' + ', '.join(replaced) + ')' if replaced else ''}"
        )
    return EXIT_OK


def _history_start(since: str, end: float, end_flag: str) -> float:
    """``--since`` as an instant before the history's end (``--at`` or ``--until``)."""
    start = _parse_since(since, end)
    if start >= end:
        raise UsageError(
            f"--since {shorten(since, 40)} is not before {end_flag} {_iso(end)}: "
            f"the history runs from --since to {end_flag}"
        )
    return start


def _write_replacing(path: Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it, so that a failed
    write never leaves half a file; ``what`` names the option in the error."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CommandFailed(f"{what}: cannot write: {exc.strerror or exc}") from None


def _apply_target(args: argparse.Namespace, where: str) -> Path:
    """The ``--apply`` file, checked before any work: never the config itself, never an
    existing file without ``--force``."""
    path = _output_file(args.apply, "--apply")
    if args.config is not None and path.exists() and path.samefile(args.config):
        raise UsageError(
            f"--apply {args.apply} is the config itself; suggest never changes it: "
            "name another file, e.g. --apply suggested.yml"
        )
    if path.exists() and not args.force:
        raise UsageError(
            f"--apply {args.apply} exists; add --force to overwrite it, or name another file"
        )
    if args.config is not None and Path(args.config).absolute().parent != path.absolute().parent:
        _say(
            f"note: --apply {args.apply} is in another directory than {where}: "
            "relative paths in the copy (source.path, token_file, store) resolve from there"
        )
    return path


# --- report ------------------------------------------------------------------------------------

#: what ``report --format`` writes when --out is not given (html: a file; the others: stdout)
REPORT_DEFAULT_OUT = {"html": "report.html", "markdown": "-", "json": "-"}
REPORT_EXTRA = "report needs matplotlib: pip install 'helpdesk-slo-exporter[report]'"


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    import importlib.util

    from exporter.backfill import history_tickets
    from exporter.config import default_config

    if args.format != "json" and importlib.util.find_spec("matplotlib") is None:
        raise CommandFailed(REPORT_EXTRA)
    until = _parse_at(args.until)
    start = _history_start(args.since, until, "--until")
    target = args.out if args.out is not None else REPORT_DEFAULT_OUT[args.format]
    out_path = None if target == "-" else _output_file(target, "--out")
    if args.config is None:
        config, where = default_config(), "the built-in demo"
    else:
        config, where = load_running_config(args.config), args.config
    from exporter.report.document import build

    started = time.monotonic()
    _say(f"report: reading the history of {where} from {_iso(start)} to {_iso(until)}")
    problems: list[str] = []
    tickets = history_tickets(config, until - start, until, problems)
    document, skipped = build(
        config,
        tickets,
        start,
        until,
        where,
        progress=lambda count: _say(f"report: {count} tickets read"),
    )
    for problem in [*problems, *skipped]:
        _say(f"warning: skipped {problem}")
    if document["tickets"] == 0:
        raise CommandFailed(
            f"no history to report on: no tickets created from {_iso(start)} to {_iso(until)} "
            f"in the {config.source.type.value} source; give a longer --since, or an --until "
            "inside the history"
        )
    _say(f"report: {document['tickets']} tickets replayed in {time.monotonic() - started:.1f}s")
    if args.format == "json":
        text = json.dumps(document, indent=2) + "\n"
    else:
        from exporter.report.charts import draw
        from exporter.report.render import render_html, render_markdown

        charts = draw(document)
        render = render_html if args.format == "html" else render_markdown
        text = render(document, charts)
    if out_path is None:
        out.write(text)
    else:
        _write_replacing(out_path, text, f"--out {target}")
        _say(
            f"wrote {target}: {args.format}, {len(text.encode()) // 1024} KiB, "
            f"in {time.monotonic() - started:.1f}s"
        )
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

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {args.out} is not a directory: name the directory of the pack")
    config = load_config(args.config)
    notes: list[ImportNote] = []
    if args.import_specs:
        config = _import_specs(config, [Path(p) for p in args.import_specs], notes, import_specs)
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
        reason = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename and exc.filename != str(out_dir) else ""
        raise UsageError(f"--out {out_dir}: cannot write the pack: {reason}{where}") from None
    for path in pack.files:
        print(f"wrote {out_dir / path}", file=out)
    return EXIT_OK


def _import_specs(
    config: Config,
    paths: list[Path],
    notes: list[ImportNote],
    import_specs: Callable[[Config, list[Path], list[ImportNote]], Config],
) -> Config:
    """``config`` with the SLOs of the ``--import`` specs (read together: an SLO may name an
    SLI or a data source of another file), or a one-line reason (exit 2)."""
    for path in paths:
        try:
            text = read_text(path, "spec")
            load_all(text)
        except TextFileError as exc:
            where = f"{path}:{exc.line}" if exc.line is not None else str(path)
            raise UsageError(f"--import {where}: {exc.message}") from None
        except yaml.YAMLError as exc:
            line, problem = yaml_error_text(exc, text)
            where = f"{path}:{line}" if line is not None else str(path)
            raise UsageError(f"--import {where}: not valid YAML: {problem}") from None
    try:
        return import_specs(config, paths, notes)
    except ConfigError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        # a value of the wrong shape somewhere in a spec
        names = ", ".join(str(path) for path in paths)
        raise UsageError(
            f"--import {shorten(names, 120)}: not a Sloth prometheus/v1 or OpenSLO v1 SLO spec "
            f"the exporter can read ({shorten(str(exc), 80)}); check it against the spec's schema"
        ) from None


# --- serve -------------------------------------------------------------------------------------

#: How long SIGTERM/SIGINT waits for a poll in progress before abandoning it.
SHUTDOWN_GRACE_SECONDS = 10.0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    # imported here so that check and evaluate never load the server side
    import logging

    from exporter.config import default_config
    from exporter.poller import Poller
    from exporter.store import Store
    from exporter.web.config import WebConfig, load_web_config
    from exporter.web.logs import configure_logging
    from exporter.web.server import create_server, parse_listen_address, serve_until_signalled

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
    store = Store(config.store, exclusive=True)  # one writer per store
    try:
        poller = Poller(config, source, store)
        try:
            server = create_server(address, poller, config, web)
        except (OSError, UnicodeError) as exc:
            # UnicodeError: a host name that is no DNS name (an empty or over-long label)
            reason = (
                (exc.strerror or str(exc))
                if isinstance(exc, OSError)
                else "the host is not a valid DNS name"
            )
            raise CommandFailed(
                f"--web.listen-address {shorten(str(address), 80)}: cannot listen: {reason}"
            ) from None
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


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as one short ``error:`` line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        _say(f"error: {self.prog}: {message} (see {self.prog} --help)")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    evaluate.add_argument(
        "--slo",
        action="append",
        metavar="NAME",
        help="only tickets this SLO counts, with its outcomes and its SLA's clocks (repeatable)",
    )
    evaluate.add_argument(
        "--state",
        action="append",
        choices=STATES,
        help="only SLA clocks in this state (repeatable)",
    )
    evaluate.add_argument(
        "--priority",
        action="append",
        metavar="P",
        help="only tickets of this priority (repeatable)",
    )
    evaluate.add_argument(
        "--since",
        metavar="DURATION|ISO8601",
        help="only tickets created since then: a duration back from --at (7d) or an instant",
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

    suggest = commands.add_parser(
        "suggest",
        help="suggest SLOs tighter than the SLA targets, from what history would have met",
        description="Replay the history with thresholds at 70%%, 60%% and 50%% of each SLA "
        "target per priority; print the compliance each would have had per ISO week and "
        "overall, the SLO suggested per SLA metric and priority (the tightest threshold whose "
        "history meets a round objective in most weeks), and a ready-to-paste slos: block.",
    )
    suggest.add_argument("--config", metavar="FILE", help="default: the built-in demo helpdesk")
    suggest.add_argument(
        "--since",
        default="90d",
        metavar="DURATION|ISO8601",
        help="history: tickets created since then (default 90d)",
    )
    suggest.add_argument(
        "--at", metavar="ISO8601", help="end of the history, and the instant of evaluation"
    )
    suggest.add_argument("--format", choices=("table", "json"), default="table")
    suggest.add_argument(
        "--apply",
        metavar="OUT",
        help="write a copy of the config with the suggested SLOs added (or replacing SLOs of "
        "the same name); the config itself is never changed",
    )
    suggest.add_argument("--force", action="store_true", help="overwrite an existing --apply OUT")
    suggest.set_defaults(handler=cmd_suggest)

    report = commands.add_parser(
        "report",
        help="write the SLO review page (HTML, Markdown or JSON) from the history",
        description="Replay the history as the exporter decides it and write the SLO review: "
        "per SLA metric and priority, volume, p50/p90/p95 business time and met/breached per "
        "week; per SLO, compliance per week against its objective and error budget burn-down "
        "per window with the exhaustion forecast; breaches by weekday and hour, staffing gaps "
        "(the backlog alert's facts), where resolution time goes, and the breached tickets "
        "with links to the helpdesk.  HTML is one self-contained page (inline SVG charts); "
        "Markdown has the same content; JSON is the document both are drawn from "
        "(docs/report.md).",
    )
    report.add_argument("--config", metavar="FILE", help="default: the built-in demo helpdesk")
    report.add_argument(
        "--since",
        default="90d",
        metavar="DURATION|ISO8601",
        help="history: tickets created since then (default 90d)",
    )
    report.add_argument(
        "--until",
        metavar="ISO8601",
        help="end of the history, and the instant outcomes are decided at (default now)",
    )
    report.add_argument("--format", choices=("html", "markdown", "json"), default="html")
    report.add_argument(
        "--out",
        metavar="FILE",
        help="file to write, - for standard output (default: report.html for html, "
        "standard output for markdown and json); an existing file is replaced",
    )
    report.set_defaults(handler=cmd_report)

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
    if since / step > MAX_BACKFILL_STEPS:
        raise UsageError(
            f"--since {shorten(args.since, 20)} at --step {shorten(args.step, 20)} is "
            f"{since / step:.0f} samples per series (at most {MAX_BACKFILL_STEPS}): "
            "use a longer --step"
        )
    labels = {"job": "helpdesk-slo"}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep or not _LABEL_NAME.match(name) or name.startswith("__"):
            raise UsageError(
                f"--label: expected NAME=VALUE with a Prometheus label name, got {item!r}"
            )
        labels[name] = value
    out_path = _output_file(args.out, "--out")
    started = time.monotonic()
    try:
        result = backfill(config, since, out_path, step, extra_labels=labels, progress=sys.stderr)
    except OSError as exc:
        tmp = out_path.with_name(out_path.name + ".tmp")
        if exc.filename not in (str(tmp), str(out_path)):
            raise
        tmp.unlink(missing_ok=True)
        message = f"--out {args.out}: cannot write: {exc.strerror or exc}"
        if exc.errno in _NOT_WRITABLE:
            raise UsageError(message) from None
        raise CommandFailed(message) from None  # e.g. the disk filled up
    print(
        f"wrote {args.out}: {result.series} series, {result.samples} samples from "
        f"{_iso(result.start)} to {_iso(result.end)} ({result.tickets} tickets, "
        f"{result.problems} skipped records) in {time.monotonic() - started:.1f}s",
        file=out,
    )
    return EXIT_OK


#: errno values that mean "not a place to write" (usage) rather than "writing failed" (runtime)
_NOT_WRITABLE = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR}
)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _output_file(text: str, flag: str) -> Path:
    """``text`` as a file to (re)write whole, or a :class:`UsageError` saying why it cannot be.

    Checked before any work, so that a long run does not end in an error, and
    so that nothing (not even a ``.tmp``) is left behind.
    """
    path = Path(text)
    where = f"{flag} {text}"
    if not text.strip():
        raise UsageError(f"{flag}: give a file name, e.g. {flag} history.om")
    if path.is_dir():
        raise UsageError(f"{where} is a directory: name the file to write, e.g. {path / 'x.om'}")
    if path.exists() and not path.is_file():
        raise UsageError(f"{where} is not a regular file; name a file to write")
    parent = path.parent
    if not parent.exists():
        raise UsageError(f"{where}: the directory {parent} does not exist")
    if not parent.is_dir():
        raise UsageError(f"{where}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{where}: cannot write in {parent} (permission denied or read-only)")
    return path


def _debugging(args: argparse.Namespace | None) -> bool:
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        return True
    return args is not None and getattr(args, "log_level", None) == "debug"


def _silence_stdout(stream: TextIO | None) -> None:
    """Point standard output at /dev/null so that the exit flush cannot fail again."""
    if stream is not sys.stdout or stream is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _output_failed(exc: OutputError, stream: TextIO | None) -> int:
    _silence_stdout(stream)
    reason = exc.reason
    if reason is not None and reason.errno in (errno.EPIPE, errno.ECONNRESET):
        return EXIT_FAILED  # the reader is gone (`| head`): nothing to say, and no one to say it to
    why = "standard output is closed" if reason is None else reason.strerror or str(reason)
    _say(f"error: cannot write the output: {why}")
    return EXIT_FAILED


def _unexpected(exc: BaseException, args: argparse.Namespace | None) -> int:
    if _debugging(args):
        with contextlib.suppress(OSError, AttributeError, ValueError):
            traceback.print_exception(exc, file=sys.stderr)
    command = f" {args.command}" if args is not None and getattr(args, "command", None) else ""
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    _say(
        f"error: helpdesk-slo{command} failed unexpectedly ({shorten(what, 200)}); "
        f"run it again with {DEBUG_ENV}=1 for the traceback, and report it"
    )
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    guarded = _GuardedOutput(stream)
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        code: int = args.handler(args, cast(TextIO, guarded))
        guarded.flush()
        return code
    except OutputError as exc:
        return _output_failed(exc, stream)
    except ConfigError as exc:
        for problem in exc.problems:
            _say(f"error: {problem}")
        return EXIT_USAGE
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except SourceUnavailable as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except StoreInUse as exc:
        _say(f"error: {exc}")
        return EXIT_FAILED
    except StoreError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except (SourceError, CommandFailed) as exc:
        _say(f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _unexpected(exc, args)


def run() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    run()
