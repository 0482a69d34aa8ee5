"""Durations and ratios as people write them in the config: ``90m``, ``1h30m``, ``95%``.

Ratios are kept as :class:`~decimal.Decimal` so that the generated rules print
exactly what the user wrote (``0.995``, never ``0.9949999999999999``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


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
    """Parse ``30s``, ``90m``, ``1h30m``, ``2d``, ``1w``; a bare number is seconds."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30m or 4h, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"must not be negative (got {value})")
        return Duration(float(value), f"{value}s")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30m or 4h, got {value!r}")
    text = value.strip().replace(" ", "")
    if not _DURATION.match(text):
        raise ValueError(f"expected a duration such as 30m, 4h or 1h30m (units s m h d w), got {value!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    return Duration(seconds, text)


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 3600 -> ``1h``, 5400 -> ``1h30m``, 86400 -> ``1d``."""
    if seconds <= 0:
        return "0s"
    out = []
    remaining = round(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if unit == "w" and remaining % size:
            continue
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_ratio(value: object) -> Decimal:
    """Parse ``95%``, ``99.5%`` or ``0.95`` into an exact fraction."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage such as 95% or 0.95, got {value!r}")
    if isinstance(value, int | float):
        number = Decimal(str(value))
        if number > 1:
            raise ValueError(f"write percentages with a % sign (got {value}; did you mean {value}%?)")
        return number
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return Decimal(text[:-1].strip()) / 100
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"expected a percentage such as 95% or 0.95, got {value!r}") from None
        if number > 1:
            raise ValueError(f"write percentages with a % sign (got {value}; did you mean {value}%?)")
        return number
    raise ValueError(f"expected a percentage such as 95% or 0.95, got {value!r}")


def format_ratio(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: ``0.995``, ``0.05``, ``1``."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def format_percent(value: Decimal) -> str:
    return format_ratio(value * 100) + "%"
