"""Alertmanager routing for the pack: pages and tickets to Slack, with their message templates.

:func:`alertmanager_files` returns ``alertmanager/alertmanager.yml`` and
``alertmanager/templates/slack.tmpl``.  The routing promises (``docs/architecture.md``):

* alerts are grouped by ``alertname`` and ``slo``;
* ``severity="page"`` goes to the pages channel, ``severity="ticket"`` to the
  SLO channel, anything else to a default receiver (the SLO channel too), so
  no alert is dropped;
* a ticket is inhibited while a page fires for the same ``slo``, and the
  predictive backlog page while the backlog page (tickets already late) fires;
* every receiver sends resolved notifications;
* the Slack webhook URL is read from a file (``api_url_file``), never written
  in the config;
* messages carry the SLO, the burn rate, the budget left and the description,
  with buttons to the runbook, the dashboard and a prefilled silence.

Only fields and template functions of Alertmanager 0.25 are used, so the same
files load on Debian's 0.25 and on current releases.  The config is built as
plain data and dumped with the rule files' YAML style, so the output depends
on the config alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from exporter.config import Config, NotifyConfig, Severity
from exporter.pack import GENERATED_MARKER, names

#: Files written by :func:`alertmanager_files`, relative to the output directory.
CONFIG_FILE = "alertmanager/alertmanager.yml"
SLACK_TEMPLATE_FILE = "alertmanager/templates/slack.tmpl"
#: ``templates:`` entry of the config; Alertmanager resolves it against the config's directory.
TEMPLATE_GLOB = "templates/*.tmpl"

#: The ``notify:`` defaults, as the config declares them.
_DEFAULTS = NotifyConfig()
DEFAULT_PAGES_CHANNEL = _DEFAULTS.pages_channel
DEFAULT_SLO_CHANNEL = _DEFAULTS.slo_channel
DEFAULT_WEBHOOK_URL_FILE = _DEFAULTS.webhook_url_file
DEFAULT_GRAFANA_URL = _DEFAULTS.grafana_url
#: Runbooks are linked as ``<base>/<slo>.md``: by default the pack's own ``runbooks/`` folder.
DEFAULT_RUNBOOK_BASE_URL = _DEFAULTS.runbook_base_url
DEFAULT_USERNAME = _DEFAULTS.username

PAGES_RECEIVER = "helpdesk-slo-pages"
SLO_RECEIVER = "helpdesk-slo-tickets"
DEFAULT_RECEIVER = "helpdesk-slo-default"

#: Labels that make one notification group (one Slack message thread per SLO and alert).
GROUP_BY = ("alertname", "slo")
#: Labels a page and a ticket must share for the page to hold the ticket back.
INHIBIT_EQUAL = ("slo",)


@dataclass(frozen=True)
class Timing:
    """How long Alertmanager waits before a group's first, next and repeated notification."""

    group_wait: str
    group_interval: str
    repeat_interval: str


#: Pages go out fast and repeat hourly while unacknowledged; tickets can wait and repeat daily.
ROOT_TIMING = Timing(group_wait="30s", group_interval="5m", repeat_interval="4h")
PAGE_TIMING = Timing(group_wait="30s", group_interval="5m", repeat_interval="1h")
TICKET_TIMING = Timing(group_wait="2m", group_interval="15m", repeat_interval="24h")


#: Where notifications go and what they link to: the config's ``notify:`` section, whose
#: defaults apply to every value left out.
NotifySettings = NotifyConfig


def notify_settings(config: Config) -> NotifySettings:
    """The settings for ``config``: its ``notify:`` section."""
    return config.notify


# --- the config -------------------------------------------------------------------------------


def _template(name: str) -> str:
    return '{{ template "helpdesk_slo.slack.' + name + '" . }}'


def slack_config(channel: str, settings: NotifySettings, icon_emoji: str) -> dict[str, Any]:
    """One ``slack_configs`` entry; every field exists in Alertmanager 0.25."""
    return {
        "api_url_file": settings.webhook_url_file,
        "channel": channel,
        "username": settings.username,
        "icon_emoji": icon_emoji,
        "send_resolved": True,
        "color": _template("color"),
        "title": _template("title"),
        "title_link": _template("dashboard_url"),
        "text": _template("text"),
        "fallback": _template("fallback"),
        "footer": _template("footer"),
        "actions": [
            {"type": "button", "text": "Runbook", "url": _template("runbook_url")},
            {"type": "button", "text": "Dashboard", "url": _template("dashboard_url")},
            {"type": "button", "text": "Silence", "url": _template("silence_url")},
        ],
    }


def _receiver(name: str, channel: str, settings: NotifySettings, icon: str) -> dict[str, Any]:
    return {"name": name, "slack_configs": [slack_config(channel, settings, icon)]}


def _matcher(label: str, value: str) -> str:
    return f'{label}="{value}"'


def _route(receiver: str, timing: Timing, matchers: list[str] | None = None) -> dict[str, Any]:
    route: dict[str, Any] = {"receiver": receiver}
    if matchers is None:
        route["group_by"] = list(GROUP_BY)  # the root's grouping; child routes inherit it
    else:
        route["matchers"] = matchers
    route["group_wait"] = timing.group_wait
    route["group_interval"] = timing.group_interval
    route["repeat_interval"] = timing.repeat_interval
    return route


def alertmanager_config(settings: NotifySettings) -> dict[str, Any]:
    """The Alertmanager configuration as plain data (dumped by :func:`render_config`).

    The tree does not depend on the SLOs: routing and inhibition key on the
    ``severity`` and ``slo`` labels that every alert of the pack carries.
    """
    root = _route(DEFAULT_RECEIVER, ROOT_TIMING)
    root["routes"] = [
        _route(PAGES_RECEIVER, PAGE_TIMING, [_matcher("severity", Severity.PAGE.value)]),
        _route(SLO_RECEIVER, TICKET_TIMING, [_matcher("severity", Severity.TICKET.value)]),
    ]
    return {
        "global": {"resolve_timeout": "5m"},
        "templates": [TEMPLATE_GLOB],
        "route": root,
        "inhibit_rules": [
            {
                # a page with an slo holds back that slo's tickets; alerts without an slo
                # label (the exporter's own) never inhibit each other through an empty match
                "source_matchers": [_matcher("severity", Severity.PAGE.value), 'slo=~".+"'],
                "target_matchers": [_matcher("severity", Severity.TICKET.value)],
                "equal": list(INHIBIT_EQUAL),
            },
            {
                # once tickets are past the threshold, the page that predicted it gives way
                "source_matchers": [_matcher("alertname", names.BACKLOG), 'slo=~".+"'],
                "target_matchers": [_matcher("alertname", names.BACKLOG_IMMINENT)],
                "equal": list(INHIBIT_EQUAL),
            },
        ],
        "receivers": [
            _receiver(PAGES_RECEIVER, settings.pages_channel, settings, ":rotating_light:"),
            _receiver(SLO_RECEIVER, settings.slo_channel, settings, ":warning:"),
            _receiver(DEFAULT_RECEIVER, settings.slo_channel, settings, ":bell:"),
        ],
    }


def _config_name(config: Config) -> str:
    return config.path.name if config.path is not None else "helpdesk-slo.yml"


def render_config(config: Config, settings: NotifySettings | None = None) -> str:
    """``alertmanager.yml``: a header naming the webhook URL file, then the config as YAML."""
    settings = settings or notify_settings(config)
    what = (
        "Alertmanager config: pages and tickets to Slack. Put the Slack webhook URL in "
        f"{settings.webhook_url_file}."
    )
    # imported here: the rules may import the runbooks, which import this module
    from exporter.pack import rules as rule_pack

    return rule_pack.header(_config_name(config), what) + rule_pack.dump_yaml(
        alertmanager_config(settings)
    )


# --- the Slack template -----------------------------------------------------------------------


def _go_text(value: str) -> str:
    """``value`` as literal template text (a config value must not open an action)."""
    if "{{" not in value and "}}" not in value:
        return value
    return "{{ " + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' + " }}"


def render_slack_template(config: Config, settings: NotifySettings | None = None) -> str:
    """``slack.tmpl``: a generated header with the config's values, then the static definitions."""
    settings = settings or notify_settings(config)
    static = resources.files("exporter.pack").joinpath("templates/slack.tmpl").read_text("utf-8")
    grafana = _go_text(settings.grafana_url.rstrip("/"))
    generated = (
        f"{{{{/* {GENERATED_MARKER} from {_config_name(config)}. DO NOT EDIT. */}}}}\n"
        "\n"
        "{{/* Grafana base URL for dashboard buttons of alerts without a dashboard_url link. */}}\n"
        f'{{{{ define "helpdesk_slo.grafana_url" }}}}{grafana}{{{{ end }}}}\n'
        "\n"
    )
    return generated + static


def alertmanager_files(config: Config, settings: NotifySettings | None = None) -> dict[str, str]:
    """``{relative path: text}`` of the Alertmanager config and its Slack template."""
    settings = settings or notify_settings(config)
    return {
        CONFIG_FILE: render_config(config, settings),
        SLACK_TEMPLATE_FILE: render_slack_template(config, settings),
    }
