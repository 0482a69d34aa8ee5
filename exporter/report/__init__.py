"""``helpdesk-slo report``: the SLO review page, from the history replayed by the decision core.

:mod:`~exporter.report.document` builds the report as one JSON-ready document;
:mod:`~exporter.report.render` turns it into a self-contained HTML page or
Markdown, with the charts of :mod:`~exporter.report.charts` (matplotlib, the
optional ``report`` extra); :mod:`~exporter.report.links` knows where a
ticket's page is in the helpdesk.
"""
