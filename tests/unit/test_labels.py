"""Label values from helpdesk data land in fixed sets, whatever the helpdesk sends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.labels import (
    CHANNELS,
    MAX_LABEL_LENGTH,
    STATUSES,
    bounded,
    channel_label,
    status_label,
)

CHANNEL_CASES = [
    ("a label is itself", "email", "email"),
    ("no channel", None, "none"),
    ("an empty channel", "", "none"),
    ("Zendesk web form", "web", "web"),
    ("Zendesk API", "api", "api"),
    ("Zendesk web service is the API", "web_service", "api"),
    ("Zendesk voice is the phone", "voice", "phone"),
    ("Zendesk messaging", "native_messaging", "messaging"),
    ("Zendesk rule is not a channel people use", "rule", "other"),
    ("Zendesk twitter", "twitter", "social"),
    ("Freshdesk portal", "portal", "web"),
    ("Freshdesk outbound email", "outbound_email", "email"),
    ("Freshdesk feedback widget", "feedback_widget", "web"),
    ("Freshdesk WhatsApp", "whatsapp", "messaging"),
    ("case and spacing do not matter", " E-Mail ", "email"),
    ("an unknown channel", "carrier pigeon", "other"),
    ("a megabyte of text", "x" * 1_000_000, "other"),
]


@pytest.mark.parametrize(
    ("raw", "label"), [c[1:] for c in CHANNEL_CASES], ids=[c[0] for c in CHANNEL_CASES]
)
def test_channels_map_onto_the_fixed_set(raw: str | None, label: str) -> None:
    assert channel_label(raw) == label


ALLOWLIST_CASES = [
    ("an allowed channel stays", "email", "email"),
    ("a vendor spelling of an allowed channel", "voice", "phone"),
    ("a channel outside the list is other", "chat", "other"),
    ("none always stays", None, "none"),
]


@pytest.mark.parametrize(
    ("raw", "label"), [c[1:] for c in ALLOWLIST_CASES], ids=[c[0] for c in ALLOWLIST_CASES]
)
def test_the_breakdown_allowlist_narrows_the_channels(raw: str | None, label: str) -> None:
    assert channel_label(raw, ("email", "phone")) == label


STATUS_CASES = [
    ("open", "open", "open"),
    ("on hold spelled with a space", "On Hold", "on_hold"),
    ("a custom status", "waiting-for-vendor", "other"),
    ("a megabyte of text", "s" * 1_000_000, "other"),
]


@pytest.mark.parametrize(
    ("raw", "label"), [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES]
)
def test_statuses_map_onto_the_fixed_set(raw: str, label: str) -> None:
    assert status_label(raw) == label


@given(st.one_of(st.none(), st.text()))
def test_every_channel_label_is_in_the_set_and_maps_onto_itself(raw: str | None) -> None:
    label = channel_label(raw)
    assert label in CHANNELS
    assert channel_label(label) == label  # values stored by older versions map again


@given(st.text())
def test_every_status_label_is_in_the_set_and_maps_onto_itself(raw: str) -> None:
    label = status_label(raw)
    assert label in STATUSES
    assert status_label(label) == label


BOUNDED_CASES = [
    ("a short value is kept", "12345", "12345"),
    ("a long value is cut", "9" * 1000, "9" * MAX_LABEL_LENGTH),
]


@pytest.mark.parametrize(
    ("value", "label"), [c[1:] for c in BOUNDED_CASES], ids=[c[0] for c in BOUNDED_CASES]
)
def test_other_label_values_are_cut_to_the_maximum_length(value: str, label: str) -> None:
    assert bounded(value) == label
