"""A JSON Lines file of normalized tickets (the ``Ticket`` JSON form), for audits and tests.

Each poll re-reads the file when it changed (size or modification time) and
returns every ticket in it; a malformed line is reported with its line number
and skipped, and the rest of the file is still read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from exporter.config import SourceConfig
from exporter.model import Ticket, TicketFormatError, ticket_from_json
from exporter.sources.base import PollResult, SourceError


def parse_lines(
    path: os.PathLike[str] | str, first_line: int, lines: Iterable[str], problems: list[str]
) -> Iterator[Ticket]:
    """Tickets of JSON Lines text starting at line ``first_line`` of ``path``.

    Blank lines and ``//`` comments are skipped; an unreadable record is
    reported in ``problems`` with its line number and the rest is still read.
    """
    for number, line in enumerate(lines, start=first_line):
        text = line.strip()
        if not text or text.startswith("//"):
            continue
        try:
            yield ticket_from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not valid JSON: {exc.msg} (column {exc.colno})")
        except TicketFormatError as exc:
            problems.append(f"{path}:{number}: {exc}")


def iter_tickets(path: os.PathLike[str] | str, problems: list[str]) -> Iterator[Ticket]:
    """The tickets of a JSON Lines file one at a time; unreadable records go to ``problems``."""
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SourceError(f"{path}: cannot read tickets: {exc.strerror or exc}", "io") from None
    with handle:
        yield from parse_lines(path, 1, handle, problems)


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
