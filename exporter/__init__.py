"""helpdesk-slo-exporter: customer-support SLAs run the way SREs run services."""

__version__ = "0.1.0"
