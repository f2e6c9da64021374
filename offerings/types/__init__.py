"""Offering types as complete specs (DESIGN §6). The public names are re-exported by offerings.registry."""

from offerings.types.registry import (
    ENTRY_POINT_GROUP,
    TYPE_CHOICES,
    get_offering_type,
    offering_types,
    register_offering_type,
    unregister_offering_type,
)
from offerings.types.spec import (
    AGENT_ACTIONS,
    MASK,
    OfferingTypeSpec,
    OptionType,
    PluginOption,
    ProbeResult,
    format_duration,
)

__all__ = [
    "AGENT_ACTIONS", "ENTRY_POINT_GROUP", "MASK", "TYPE_CHOICES", "OfferingTypeSpec", "OptionType", "PluginOption",
    "ProbeResult", "format_duration", "get_offering_type", "offering_types", "register_offering_type",
    "unregister_offering_type",
]  # fmt: skip
