"""A JSON Lines file of normalized tickets (the ``Ticket`` JSON form), for audits and tests.

Each poll re-reads the file when it changed (size or modification time) and
returns every ticket in it.  The file is read as bytes and each line decoded
on its own, so a line that is not UTF-8, not JSON, not a ticket or dated
outside the supported years is reported with its line number
(:class:`~exporter.records.SkippedRecord`) and skipped, and the rest of the
file is still read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from exporter.config import Config, SourceConfig
from exporter.model import InstantRangeError, Ticket, TicketFormatError, ticket_from_json
from exporter.records import SkippedRecord, SkipReason, describe
from exporter.sources.base import PollResult, SourceError


def parse_line(
    path: os.PathLike[str] | str, number: int, line: bytes
) -> Ticket | SkippedRecord | None:
    """The ticket on line ``number``; None for a blank line or ``//`` comment; else why not."""
    where = f"{path}:{number}"
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        return SkippedRecord(
            SkipReason.UNDECODABLE,
            where,
            f"not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1})",
        )
    if not text or text.startswith("//"):
        return None
    try:
        return ticket_from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        return SkippedRecord(
            SkipReason.INVALID, where, f"not valid JSON: {exc.msg} (column {exc.colno})"
        )
    except InstantRangeError as exc:
        return SkippedRecord(SkipReason.OUT_OF_RANGE, where, str(exc))
    except TicketFormatError as exc:
        return SkippedRecord(SkipReason.INVALID, where, str(exc))
    except Exception as exc:  # e.g. nesting too deep for the JSON parser: still one record
        return SkippedRecord(SkipReason.INVALID, where, describe(exc))


def parse_lines(
    path: os.PathLike[str] | str, first_line: int, lines: Iterable[bytes], problems: list[str]
) -> Iterator[Ticket]:
    """Tickets of JSON Lines (raw bytes, one item per line) starting at line ``first_line``.

    Blank lines and ``//`` comments are skipped; a record that cannot be read
    goes to ``problems`` as a :class:`~exporter.records.SkippedRecord` with its
    line number, and the rest is still read.
    """
    for number, line in enumerate(lines, start=first_line):
        parsed = parse_line(path, number, line)
        if isinstance(parsed, Ticket):
            yield parsed
        elif parsed is not None:
            problems.append(parsed)


def open_lines(path: os.PathLike[str] | str) -> Iterator[bytes]:
    """The raw lines of a file; a file that cannot be opened or read is a :class:`SourceError`."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SourceError(f"{path}: cannot read tickets: {exc.strerror or exc}", "io") from None
    with handle:
        try:
            yield from handle
        except OSError as exc:
            raise SourceError(f"{path}: cannot read tickets: {exc.strerror or exc}", "io") from None


def iter_tickets(path: os.PathLike[str] | str, problems: list[str]) -> Iterator[Ticket]:
    """The tickets of a JSON Lines file one at a time; unreadable records go to ``problems``."""
    yield from parse_lines(path, 1, open_lines(path), problems)


def read_tickets(path: os.PathLike[str] | str) -> tuple[list[Ticket], list[str]]:
    """All tickets of a JSON Lines file, and one problem line per unreadable record."""
    problems: list[str] = []
    tickets = list(iter_tickets(path, problems))
    return tickets, problems


class FileSource:
    name = "file"

    def __init__(self, config: SourceConfig) -> None:
        assert config.path is not None
        self.path = config.path

    def _fingerprint(self) -> str:
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read tickets: {exc.strerror}", "io") from None
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def poll(self, cursor: str | None, now: float) -> PollResult:
        fingerprint = self._fingerprint()
        if cursor == fingerprint:
            return PollResult([], cursor, now, requests=0)
        tickets, problems = read_tickets(self.path)
        return PollResult(tickets, fingerprint, now, problems, requests=1)


def build(config: Config) -> FileSource:
    """The file source of a config (``source.type: file``)."""
    return FileSource(config.source)
