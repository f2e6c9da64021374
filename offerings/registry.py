"""The offering types this marketplace knows, each with its processor and flags.

Adding a type: write a processor under offerings/processors/ and register it here; nothing in orders/
changes (STYLE.md, recipe "a new offering type").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from offerings.processors.base import Processor
from offerings.processors.basic import BasicProcessor
from offerings.processors.slurm import SiteAgentProcessor
from offerings.processors.webhook import WebhookProcessor

BASIC = "Marketplace.Basic"
SLURM = "Marketplace.Slurm"
WEBHOOK = "Marketplace.Webhook"

# Actions a provider-side caller (a person or a site agent) may drive on an order.
AGENT_ACTIONS = frozenset({"set_state_executing", "set_state_done", "set_state_erred"})


def _always(options: Mapping[str, Any]) -> bool:
    return True


def _option(name: str, default: bool) -> Callable[[Mapping[str, Any]], bool]:
    def read(options: Mapping[str, Any]) -> bool:
        return bool(options.get(name, default))

    return read


@dataclass(frozen=True)
class OfferingType:
    name: str
    label: str
    processor: type[Processor]
    provider_review: Callable[[Mapping[str, Any]], bool] = _always
    supports_retry: bool = True
    supports_cancel: bool = False
    agent_actions: frozenset[str] = field(default_factory=frozenset)

    def supports(self, action: str) -> bool:
        """Whether an order of this type supports `action` (actions outside these flags always do)."""
        if action == "retry":
            return self.supports_retry
        if action == "cancel":
            return self.supports_cancel
        if action in AGENT_ACTIONS:
            return action in self.agent_actions
        return True


REGISTRY: dict[str, OfferingType] = {
    t.name: t
    for t in (
        OfferingType(
            name=BASIC,
            label="Basic (manual provisioning)",
            processor=BasicProcessor,
            supports_cancel=True,
            agent_actions=frozenset({"set_state_done", "set_state_erred"}),
        ),
        OfferingType(
            name=SLURM,
            label="SLURM (site agent)",
            processor=SiteAgentProcessor,
            agent_actions=AGENT_ACTIONS,
        ),
        OfferingType(
            name=WEBHOOK,
            label="Webhook (automated fulfilment)",
            processor=WebhookProcessor,
            provider_review=_option("require_provider_review", False),
            agent_actions=frozenset({"set_state_done", "set_state_erred"}),
        ),
    )
}

TYPE_CHOICES = [(t.name, t.label) for t in REGISTRY.values()]


def get_offering_type(name: str) -> OfferingType | None:
    return REGISTRY.get(name)


def requires_provider_review(offering: Any) -> bool:
    """Provider review is needed for this offering (unknown types: yes, a person must look)."""
    offering_type = get_offering_type(offering.type)
    return True if offering_type is None else offering_type.provider_review(offering.plugin_options or {})


def type_supports(offering: Any, action: str) -> bool:
    offering_type = get_offering_type(offering.type)
    return offering_type is not None and offering_type.supports(action)
