"""The one decision core: what a ticket's clocks and outcomes are, as of an instant.

:class:`Plan` is a config's SLAs and SLOs prepared once; :func:`decide` applies
it to one ticket at ``now`` with the data known complete up to ``horizon``.
The live exporter, ``evaluate`` and ``backfill`` all decide through it.
"""

from exporter.engine.core import Decision, Plan, decide, explain
from exporter.engine.facts import CsatRow, SlaOutcomeRow, SlaStopRow, SloOutcomeRow, SolveRow
from exporter.engine.series import known_counter_series

__all__ = [
    "CsatRow",
    "Decision",
    "Plan",
    "SlaOutcomeRow",
    "SlaStopRow",
    "SloOutcomeRow",
    "SolveRow",
    "decide",
    "explain",
    "known_counter_series",
]
