"""The built-in demo setup: what ``helpdesk-slo serve`` runs when no ``--config`` is given.

It polls the simulated helpdesk (``source.type: demo``) against a Paris office
calendar, so one command shows live, changing metrics.  ``examples/helpdesk-slo.yml``
is the same setup written out with comments; a test keeps the two in step.
"""

from __future__ import annotations

DEMO_CONFIG = """\
service: support

source:
  type: demo
  seed: 1
  history: 28d
  poll_interval: 15s

store: helpdesk-slo-demo.db

calendars:
  office:
    timezone: Europe/Paris
    hours:
      mon-fri: ["09:00-12:30", "13:30-18:00"]
  always: 24x7

slas:
  first_response:
    calendar: office
    targets: {urgent: 1h, high: 4h, normal: 8h, low: 24h}
    replies_count: [agent]
  next_response:
    calendar: office
    targets: {urgent: 2h, high: 4h, normal: 8h, low: 16h}
  resolution:
    calendar: office
    pause_statuses: [pending, on_hold]
    targets: {urgent: 4h, high: 9h, normal: 27h, low: 45h}

slos:
  - name: urgent-first-response
    description: Urgent tickets get a first human reply within half the SLA target.
    sla: first_response
    match: {priority: [urgent]}
    threshold: 50%
    objective: 95%
    window: 28d
    labels: {team: tier1}
    alerting:
      page: true
      ticket: true
      runbook_url: https://wiki.example/support/runbooks/urgent-first-response
      dashboard_url: http://localhost:3000/d/helpdesk-slo-detail
      min_bad_events: 3
      backlog_tickets: 2
      backlog_for: 10m
      imminent_tickets: 2
      imminent_lead: 10m
      imminent_pace: 30m
      breach_imminent: 15m
  - name: first-response
    description: Other tickets get a first human reply within the SLA target.
    sla: first_response
    match: {priority: [high, normal, low]}
    threshold: 100%
    objective: 90%
    window: 28d
    labels: {team: support}
    alerting:
      runbook_url: https://wiki.example/support/runbooks/first-response
      dashboard_url: http://localhost:3000/d/helpdesk-slo-detail
  - name: next-response
    description: Urgent and high tickets get each next reply within the SLA target.
    sla: next_response
    match: {priority: [urgent, high]}
    threshold: 100%
    objective: 90%
    window: 28d
    labels: {team: support}
    alerting:
      runbook_url: https://wiki.example/support/runbooks/next-response
      dashboard_url: http://localhost:3000/d/helpdesk-slo-detail
  - name: resolution
    description: Tickets are solved within the SLA target (pending time excluded).
    sla: resolution
    threshold: 100%
    objective: 85%
    window: 28d
    labels: {team: support}
    alerting:
      page: false
      runbook_url: https://wiki.example/support/runbooks/resolution
      dashboard_url: http://localhost:3000/d/helpdesk-slo-detail
  - name: csat
    description: Customers rate the support good.
    kind: csat
    objective: 90%
    window: month
    labels: {team: support}
    alerting:
      page: false
      runbook_url: https://wiki.example/support/runbooks/csat
      dashboard_url: http://localhost:3000/d/helpdesk-slo-detail
  - name: chat-availability
    description: The chat widget is available during business hours.
    kind: availability
    availability:
      up: 'probe_success{instance="https://chat.example.com/widget"}'
      during: office
    objective: 99.5%
    window: 28d
    labels: {team: support}
    alerting:
      runbook_url: https://wiki.example/support/runbooks/chat-availability
      dashboard_url: http://localhost:3000/d/helpdesk-slo-detail

exporter:
  top_deadlines: 10
  breakdown:
    channel: [email, web, chat, phone]
  retention_margin: 7d
"""
