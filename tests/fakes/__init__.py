"""Local stand-ins for the helpdesks the exporter polls, served over HTTP on 127.0.0.1.

Each module holds one helpdesk (``tests.fakes.zendesk.FakeZendesk``,
``tests.fakes.freshdesk.FakeFreshdesk``): a small scripted world in memory
(tickets, replies, status changes, ratings) answered with exactly the JSON
shapes the vendor documents, so an end-to-end test can run ``helpdesk-slo
serve`` against it and compare the scraped metrics with values worked out by
hand.  Import the module you need; this package imports none of them.
"""
