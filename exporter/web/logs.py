"""The exporter's log lines: one line per record, UTC timestamps, a chosen level."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from exporter.model import format_instant

LOG_LEVELS = ("debug", "info", "warning", "error")
#: Libraries whose warnings repeat what our own lines say: urllib3 warns "Retrying (...)" on
#: every retry, and the source's retry and back-off lines already tell what happens.
QUIET_LOGGERS = {"urllib3": logging.ERROR}


class LogFormatter(logging.Formatter):
    """One line per record: ``2026-11-02T08:15:00.123Z info exporter.poller poll done k=v``."""

    def format(self, record: logging.LogRecord) -> str:
        # format_instant to the second, then the record's milliseconds
        stamp = format_instant(int(record.created)).removesuffix("Z")
        text = f"{stamp}.{int(record.msecs):03d}Z {record.levelname.lower()} {record.name} "
        text += record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in :class:`LogFormatter`'s format.

    The loggers of :data:`QUIET_LOGGERS` keep only their errors, whatever ``level`` is.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(LogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet_level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
