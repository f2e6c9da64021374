"""The built-in offering types (DESIGN §6), registered through the same function a package would use."""

from __future__ import annotations

import datetime
from typing import Any

from offerings.exceptions import OfferingTypeValidationError
from offerings.probes import probe_url
from offerings.processors.basic import BasicProcessor
from offerings.processors.slurm import SiteAgentProcessor
from offerings.processors.webhook import WebhookProcessor
from offerings.types.names import BASIC, SLURM, WEBHOOK
from offerings.types.registry import register_offering_type
from offerings.types.spec import AGENT_ACTIONS, OfferingTypeSpec, OptionType, PluginOption, ProbeResult

WEBHOOK_OPTIONS = (
    PluginOption("webhook_url", OptionType.URL, internal=True,
                 help="The provider's fulfilment endpoint; orders are POSTed here as signed JSON."),
    PluginOption("webhook_secret", OptionType.STR, secret=True, internal=True,
                 help="HMAC-SHA256 key for the X-Marketplace-Signature header (and the callback token)."),
    PluginOption("webhook_timeout_seconds", OptionType.FLOAT, default=10, minimum=1, maximum=60,
                 help="Seconds to wait for the fulfilment endpoint to connect and to answer."),
    PluginOption("require_provider_review", OptionType.BOOL, default=False,
                 help="Orders wait for the provider's approval before they are sent."),
    PluginOption("auto_resubmit", OptionType.BOOL, default=True,
                 help="Resubmit orders that erred during an outage once the backend answers again."),
    PluginOption("health_url", OptionType.URL, internal=True,
                 help="What the recovery probe GETs (default: the webhook_url); any answer below 500 is up."),
)  # fmt: skip


def validate_webhook_order(order: Any) -> None:
    """An order can only be placed if the offering says where to send it, and its options are sound."""
    spec = WEBHOOK_SPEC
    options = order.offering.plugin_options or {}
    if not options.get("webhook_url"):
        message = "This offering cannot take orders: it has no webhook_url in its plugin options."
        raise OfferingTypeValidationError(message, field_errors={"offering": [message]})
    errors = spec.option_errors(options)
    if errors:
        problems = "; ".join(f"{name} {error}" for name, error in sorted(errors.items()))
        message = f"This offering cannot take orders: its plugin options are invalid ({problems})."
        raise OfferingTypeValidationError(message, field_errors={"offering": [message]})


def probe_webhook(offering: Any) -> ProbeResult:
    """GET the offering's health_url, else its webhook_url; any answer below 500 counts as up."""
    options = offering.plugin_options or {}
    url = options.get("health_url") or options.get("webhook_url")
    if not url:
        return ProbeResult(up=False, detail="The offering has no webhook_url or health_url to probe.")
    timeout = WEBHOOK_SPEC.option_value(options, "webhook_timeout_seconds")
    if WEBHOOK_SPEC.option_errors({"webhook_timeout_seconds": timeout}):
        timeout = WEBHOOK_SPEC.declared_options["webhook_timeout_seconds"].default
    return probe_url(str(url), timeout=float(timeout))


BASIC_SPEC = OfferingTypeSpec(
    name=BASIC,
    label="Basic (manual provisioning)",
    processor=BasicProcessor,
    supports_cancel=True,
    agent_actions=frozenset({"set_state_done", "set_state_erred"}),
    stuck_after=datetime.timedelta(days=3),
    waits_for="the provider",
)

SLURM_SPEC = OfferingTypeSpec(
    name=SLURM,
    label="SLURM (site agent)",
    processor=SiteAgentProcessor,
    agent_actions=AGENT_ACTIONS,
    stuck_after=datetime.timedelta(days=1),
    waits_for="the site agent",
)

WEBHOOK_SPEC = OfferingTypeSpec(
    name=WEBHOOK,
    label="Webhook (automated fulfilment)",
    processor=WebhookProcessor,
    automated=True,
    provider_review=False,
    provider_review_option="require_provider_review",
    agent_actions=frozenset({"set_state_done", "set_state_erred"}),
    stuck_after=datetime.timedelta(hours=1),
    waits_for="the fulfilment backend",
    options=WEBHOOK_OPTIONS,
    validate_hook=validate_webhook_order,
    probe_hook=probe_webhook,
)

BUILTIN_TYPES = (BASIC_SPEC, SLURM_SPEC, WEBHOOK_SPEC)


def register_builtin_types() -> None:
    for spec in BUILTIN_TYPES:
        register_offering_type(spec)
