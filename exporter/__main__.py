"""``python -m exporter`` is the ``helpdesk-slo`` command."""

from exporter.cli import run

run()
