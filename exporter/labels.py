"""Label values taken from helpdesk data, mapped onto fixed sets so every series stays bounded.

A helpdesk can send any text as a ticket's channel or status.  Published as
is, 400 distinct channels would be 400 label values (and as many stored
counter series), and a megabyte of text a megabyte-long label.  So every such
value goes through this module before it is stored or published:

* :func:`channel_label` maps a channel onto :data:`CHANNELS` (the vendors'
  spellings of the same channel included), optionally narrowed further by
  the ``exporter.breakdown.channel`` allowlist;
* :func:`status_label` maps a status onto :data:`STATUSES`;
* :func:`bounded` cuts any other label value (a ticket id in the opt-in
  deadline series) to :data:`MAX_LABEL_LENGTH` characters.

Both mappings are idempotent (a label maps onto itself), so values stored by
an older exporter are simply mapped again when they are read.
"""

from __future__ import annotations

from collections.abc import Collection

#: The ``channel`` label values: where a ticket came in (``none``: the helpdesk did not say).
CHANNELS: tuple[str, ...] = (
    "email",
    "web",
    "chat",
    "phone",
    "messaging",
    "social",
    "api",
    "other",
    "none",
)
#: The ``status`` label values of open tickets (and of the two closed ones).
STATUSES: tuple[str, ...] = ("new", "open", "pending", "on_hold", "solved", "closed", "other")
#: Longest label value published; longer ones are cut.
MAX_LABEL_LENGTH = 64

# Zendesk ``via.channel`` and Freshdesk ``source`` names (and a few common spellings)
# of the same channels.  Anything not listed is ``other``.
_CHANNEL_ALIASES: dict[str, str] = {
    # email
    "mail": "email",
    "e_mail": "email",
    "outbound_email": "email",
    # web: forms, portals, widgets and apps
    "web_form": "web",
    "portal": "web",
    "help_center": "web",
    "helpcenter": "web",
    "web_widget": "web",
    "widget": "web",
    "feedback_widget": "web",
    "feedback_tab": "web",
    "forum": "web",
    "mobile": "web",
    "mobile_sdk": "web",
    "mobihelp": "web",
    # chat
    "live_chat": "chat",
    "chat_transcript": "chat",
    "bot": "chat",
    # phone
    "voice": "phone",
    "voicemail": "phone",
    "call": "phone",
    "phone_call_inbound": "phone",
    "phone_call_outbound": "phone",
    # messaging apps and text messages
    "native_messaging": "messaging",
    "sms": "messaging",
    "whatsapp": "messaging",
    "line": "messaging",
    "wechat": "messaging",
    "messenger": "messaging",
    "facebook_messenger": "messaging",
    "telegram": "messaging",
    "viber": "messaging",
    "kakaotalk": "messaging",
    "instagram_dm": "messaging",
    "twitter_dm": "messaging",
    "apple_business_chat": "messaging",
    "google_rcs": "messaging",
    # public social posts
    "twitter": "social",
    "x": "social",
    "facebook": "social",
    "facebook_post": "social",
    "instagram": "social",
    # programs
    "web_service": "api",
    "any_channel": "api",
}
_CHANNEL_OF: dict[str, str] = {
    **{name: name for name in CHANNELS},
    **_CHANNEL_ALIASES,
}
_STATUS_OF: dict[str, str] = {name: name for name in STATUSES}
# The longest name either table knows: longer text is ``other`` without being copied.
_LONGEST_NAME = max(len(name) for name in (*_CHANNEL_OF, *_STATUS_OF))


def _key(raw: str) -> str:
    return raw.strip().lower().replace("-", "_").replace(" ", "_")


def channel_label(raw: str | None, allowed: Collection[str] | None = None) -> str:
    """The ``channel`` label of a ticket's channel: one of :data:`CHANNELS`.

    ``allowed`` (the ``exporter.breakdown.channel`` list) narrows the set:
    a channel not in it is ``other``; ``none`` always stays.
    """
    if not raw:
        return "none"
    label = "other" if len(raw) > _LONGEST_NAME + 8 else _CHANNEL_OF.get(_key(raw), "other")
    if allowed is not None and label != "none" and label not in allowed:
        return "other"
    return label


def status_label(raw: str) -> str:
    """The ``status`` label of a ticket's status: one of :data:`STATUSES`."""
    if len(raw) > _LONGEST_NAME + 8:
        return "other"
    return _STATUS_OF.get(raw) or _STATUS_OF.get(_key(raw), "other")


def bounded(value: str) -> str:
    """``value`` cut to :data:`MAX_LABEL_LENGTH` characters."""
    return value if len(value) <= MAX_LABEL_LENGTH else value[:MAX_LABEL_LENGTH]
