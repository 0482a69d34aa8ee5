"""The pack's Grafana dashboards, one module each, and the panel helpers they share."""
