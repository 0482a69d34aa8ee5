"""Durations and ratios as people write them in the config: ``90m``, ``1h30m``, ``95%``.

Ratios are kept as :class:`~decimal.Decimal` so that the generated rules print
exactly what the user wrote (``0.995``, never ``0.9949999999999999``).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_ORDER = "wdhms"
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION_EXAMPLE = "a duration such as 30m, 4h or 1h30m (units s m h d w)"
_RATIO_EXAMPLE = "a percentage such as 95% or 0.95"
#: The longest duration accepted anywhere (3650d, about ten years): longer values are
#: typos, and they would overflow dates and the pack's test series.
MAX_DURATION_SECONDS = 3650 * 86400
MAX_DURATION_TEXT = "3650d"


class DurationTooLong(ValueError):
    """A duration longer than :data:`MAX_DURATION_SECONDS`."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time as written (``text``) and in seconds."""

    seconds: float
    text: str

    @property
    def uses_days(self) -> bool:
        """True when written with ``d`` or ``w``, which mean nothing on a business calendar."""
        return any(unit in "dw" for _, unit in _PART.findall(self.text))

    def __str__(self) -> str:
        return self.text


def parse_duration(value: object) -> Duration:
    """Parse ``30s``, ``90m``, ``1h30m``, ``2d``, ``1w``; a bare number is seconds.

    Units go from the largest to the smallest, each at most once (``1h30m``,
    not ``30m1h``), so that a typo cannot hide in a long spelling; nothing is
    longer than :data:`MAX_DURATION_SECONDS`.  Raises
    :class:`ValueError` with a message for the person who wrote the value.
    """
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
        if value < 0:
            raise ValueError(f"must not be negative (got {value})")
        return _bounded(Duration(float(value), f"{value}s"), value)
    if not isinstance(value, str):
        raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
    text = value.strip().replace(" ", "")
    if not _DURATION.match(text):
        raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
    parts = _PART.findall(text)
    positions = [_UNIT_ORDER.index(unit) for _, unit in parts]
    if any(later <= earlier for earlier, later in itertools.pairwise(positions)):
        raise ValueError(
            f"write units from the largest to the smallest, each once (e.g. 1h30m), got {value!r}"
        )
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return _bounded(Duration(seconds, text), value)


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "..." + text[-1]


def _bounded(duration: Duration, value: object) -> Duration:
    if not duration.seconds <= MAX_DURATION_SECONDS:  # also catches inf and nan
        raise DurationTooLong(
            f"must be at most {MAX_DURATION_TEXT} (about ten years), got {_excerpt(value)}"
        )
    return duration


def format_duration(seconds: float, *, days: bool = False) -> str:
    """The shortest exact spelling in hours, minutes, seconds: 5400 -> ``1h30m``, 97200 -> ``27h``.

    Never ``d`` or ``w`` by default: what this prints can be written back into
    the config anywhere, business calendars included, where a "day" is
    ambiguous.  ``days=True`` is for wall-clock spans a person reads, such as
    how long an error budget lasts (``2d19h``).  Seconds are rounded to whole
    seconds; anything that rounds to zero or less is ``0s``.
    """
    remaining = round(seconds) if math.isfinite(seconds) else 0
    if remaining <= 0:
        return "0s"
    out = []
    for unit in "dhms" if days else "hms":
        count, remaining = divmod(remaining, _UNIT_SECONDS[unit])
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _checked_ratio(number: Decimal, value: object) -> Decimal:
    if not number.is_finite():
        raise ValueError(f"expected {_RATIO_EXAMPLE}, got {value!r}")
    return number


def parse_ratio(value: object) -> Decimal:
    """Parse ``95%``, ``99.5%`` or ``0.95`` into an exact fraction.

    A plain number above 1 is refused (``95`` is almost certainly ``95%``).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {_RATIO_EXAMPLE}, got {value!r}")
    if isinstance(value, int | float):
        number = _checked_ratio(Decimal(str(value)), value)
        if number > 1:
            raise ValueError(
                f"write percentages with a % sign (got {value}; did you mean {value}%?)"
            )
        return number
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return _checked_ratio(Decimal(text[:-1].strip()), value) / 100
            number = _checked_ratio(Decimal(text), value)
        except InvalidOperation:
            raise ValueError(f"expected {_RATIO_EXAMPLE}, got {value!r}") from None
        if number > 1:
            raise ValueError(
                f"write percentages with a % sign (got {value}; did you mean {value}%?)"
            )
        return number
    raise ValueError(f"expected {_RATIO_EXAMPLE}, got {value!r}")


def format_ratio(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: ``0.995``, ``0.05``, ``1``."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def format_percent(value: Decimal) -> str:
    """A ratio as an exact percentage: ``0.995`` -> ``99.5%``."""
    return format_ratio(value * 100) + "%"
