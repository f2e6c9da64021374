"""The offering types this marketplace knows: the public entry to offerings/types/ (DESIGN §6).

A type is an OfferingTypeSpec (processor, capabilities, `automated`, `stuck_after`, declared plugin
options, validate and probe hooks) registered with register_offering_type, by the built-ins in
offerings/types/builtin.py and by packages through the `marketplace.offering_types` entry point group.
Adding a type changes nothing in orders/ (STYLE.md, recipe "a new offering type").
"""

from __future__ import annotations

from typing import Any

from offerings.types.names import BASIC, SLURM, WEBHOOK
from offerings.types.registry import (
    ENTRY_POINT_GROUP,
    REGISTRY,
    TYPE_CHOICES,
    get_offering_type,
    offering_types,
    register_offering_type,
    unregister_offering_type,
)
from offerings.types.spec import AGENT_ACTIONS, OfferingTypeSpec, PluginOption, ProbeResult

OfferingType = OfferingTypeSpec  # the former name

__all__ = [
    "AGENT_ACTIONS", "BASIC", "ENTRY_POINT_GROUP", "REGISTRY", "SLURM", "TYPE_CHOICES", "WEBHOOK", "OfferingType",
    "OfferingTypeSpec", "PluginOption", "ProbeResult", "automated_type_names", "get_offering_type",
    "offering_types", "register_offering_type", "requires_provider_review", "type_supports",
    "unregister_offering_type",
]  # fmt: skip


def requires_provider_review(offering: Any) -> bool:
    """Provider review is needed for this offering (unknown types: yes, a person must look)."""
    spec = get_offering_type(offering.type)
    return True if spec is None else spec.requires_provider_review(offering.plugin_options or {})


def type_supports(offering: Any, action: str) -> bool:
    spec = get_offering_type(offering.type)
    return spec is not None and spec.supports(action)


def automated_type_names() -> list[str]:
    """Types a worker provisions on its own (the reconciler re-sends their unclaimed orders)."""
    return sorted(name for name, spec in offering_types().items() if spec.automated)
