"""What an offering type is, in one place (DESIGN §6): processor, capabilities, how long an order may stay
executing, the plugin options it declares (typed; which are secret) and its validate/probe hooks."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from offerings.processors.base import ManualProcessor, Processor

# Actions a provider-side caller (a person or a site agent) may drive on an order.
AGENT_ACTIONS = frozenset({"set_state_executing", "set_state_done", "set_state_erred"})
MASK = "********"


class OptionType(StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    URL = "url"


@dataclass(frozen=True)
class PluginOption:
    """One declared plugin option: its type, default, bounds, who may see it, and what it is for.

    `internal` options (where the provider fulfils orders, its probes and keys) are shown only to the
    provider's staff and platform staff; `secret` ones are masked for everyone, those staff included."""

    name: str
    type: OptionType
    default: Any = None
    secret: bool = False
    internal: bool = False
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def error(self, value: Any) -> str | None:
        """Why `value` does not fit this option (None: it fits; None and "" mean unset)."""
        if value is None or (value == "" and self.type in (OptionType.STR, OptionType.URL)):
            return None
        if self.type == OptionType.BOOL:
            return None if isinstance(value, bool) else "must be true or false"
        if self.type in (OptionType.INT, OptionType.FLOAT):
            return self._number_error(value)
        if not isinstance(value, str):
            return "must be a string"
        if self.type == OptionType.URL:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return "must be an http:// or https:// URL"
        return None

    def _number_error(self, value: Any) -> str | None:
        integral = self.type == OptionType.INT
        bounded = self.minimum is not None or self.maximum is not None
        kind = "a whole number" if integral else "a number"
        if isinstance(value, bool) or not isinstance(value, int if integral else (int, float)):
            return f"must be {kind} {self._bounds()}" if bounded else f"must be {kind}"
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            return f"must be {self._bounds()}"
        return None

    def _bounds(self) -> str:
        low, high = (_num(b) for b in (self.minimum, self.maximum))
        if low is not None and high is not None:
            return f"between {low} and {high}"
        return f"at least {low}" if low is not None else f"at most {high}"


def _num(bound: float | None) -> str | None:
    return None if bound is None else f"{bound:g}"


@dataclass(frozen=True)
class ProbeResult:
    """What a probe saw: whether the backend answers, and in short how."""

    up: bool
    detail: str = ""
    status: int | None = None
    elapsed_ms: int | None = None


def common_options(*, automated: bool) -> tuple[PluginOption, ...]:
    """Options every type understands (routing and the stuck sweep read them)."""
    return (
        PluginOption("stuck_after_minutes", OptionType.INT, minimum=1,
                     help="Override the type's stuck_after: minutes an order may stay executing."),
        PluginOption("err_stuck_orders", OptionType.BOOL, default=automated,
                     help="Move stuck orders to erred (transient) so they can be retried or resubmitted."),
        PluginOption("auto_approve_in_service_provider_projects", OptionType.BOOL, default=False,
                     help="Orders from the provider's own projects need no consumer approval."),
        PluginOption("disable_autoapprove", OptionType.BOOL, default=False,
                     help="Every order needs consumer approval, whoever places it."),
        PluginOption("resubmit_rate", OptionType.FLOAT, minimum=0.01,
                     help="Bulk resubmits and automatic recovery send at most this many orders per second."),
    )  # fmt: skip


@dataclass(frozen=True)
class OfferingTypeSpec:
    """A complete offering type. Register it with offerings.registry.register_offering_type."""

    name: str
    label: str
    processor: type[Processor]
    automated: bool = False  # a worker provisions it without a person or an agent
    provider_review: bool = True
    provider_review_option: str | None = None  # a bool plugin option that decides provider review instead
    supports_retry: bool = True
    supports_cancel: bool = False
    agent_actions: frozenset[str] = field(default_factory=frozenset)
    stuck_after: datetime.timedelta = datetime.timedelta(days=1)
    waits_for: str = "the provider"  # who an executing order waits for: "No result from <waits_for> after 1 h"
    options: tuple[PluginOption, ...] = ()
    validate_hook: Callable[[Any], None] | None = None  # (order) → None, or raise InvalidInput (400)
    probe_hook: Callable[[Any], ProbeResult] | None = None  # (offering) → does the backend answer

    # --- capabilities ---------------------------------------------------------------------------

    def supports(self, action: str) -> bool:
        """Whether an order of this type supports `action` (actions outside these flags always do)."""
        if action == "retry":
            return self.supports_retry
        if action == "cancel":
            return self.supports_cancel
        if action in AGENT_ACTIONS:
            return action in self.agent_actions
        return True

    @cached_property
    def calls_nothing(self) -> bool:
        """Its processing calls no backend: the processor is ManualProcessor's own (a person or a site agent
        provisions), so an order's attempt is handled the moment it enters executing (no worker needed)."""
        return self.processor.process is ManualProcessor.process

    def requires_provider_review(self, options: Mapping[str, Any]) -> bool:
        if self.provider_review_option:
            return bool(self.option_value(options, self.provider_review_option))
        return self.provider_review

    # --- plugin options -------------------------------------------------------------------------

    @cached_property
    def declared_options(self) -> dict[str, PluginOption]:
        """The common options and the type's own, by name (the type's win on a clash)."""
        return {o.name: o for o in (*common_options(automated=self.automated), *self.options)}

    def option_value(self, options: Mapping[str, Any] | None, name: str) -> Any:
        """The offering's value of a declared option, or its declared default when unset."""
        value = (options or {}).get(name)
        return self.declared_options[name].default if value is None or value == "" else value

    def option_errors(self, options: Any) -> dict[str, str]:
        """Option name → what is wrong with its value; undeclared keys are not checked."""
        if not isinstance(options, Mapping):
            return {"plugin_options": "must be a JSON object"}
        declared = self.declared_options
        return {
            name: error
            for name, value in options.items()
            if name in declared and (error := declared[name].error(value))
        }

    def masked(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """The options fit to show the provider's staff: values of declared secret options replaced by MASK."""
        declared = self.declared_options
        return {
            key: MASK if value and key in declared and declared[key].secret else value
            for key, value in (options or {}).items()
        }

    def visible(self, options: Mapping[str, Any] | None, *, insider: bool) -> dict[str, Any]:
        """The options as `insider` (the provider's staff, platform staff) or anyone else may see them:
        secrets masked for all; internal options left out for everyone else."""
        masked = self.masked(options)
        if insider:
            return masked
        declared = self.declared_options
        return {key: value for key, value in masked.items() if key not in declared or not declared[key].internal}

    # --- the stuck sweep ------------------------------------------------------------------------

    def stuck_after_for(self, offering: Any) -> datetime.timedelta:
        """How long an order of this offering may stay executing (per-offering override in minutes)."""
        minutes = (offering.plugin_options or {}).get("stuck_after_minutes")
        if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
            return datetime.timedelta(minutes=minutes)
        return self.stuck_after

    def err_when_stuck_for(self, offering: Any) -> bool:
        """Whether a stuck order of this offering is moved to erred (default: automated types only)."""
        value = (offering.plugin_options or {}).get("err_stuck_orders")
        return value if isinstance(value, bool) else self.automated

    # --- hooks ----------------------------------------------------------------------------------

    def validate(self, order: Any) -> None:
        """Run the type's validate hook on an order about to be placed (raises InvalidInput → 400)."""
        if self.validate_hook is not None:
            self.validate_hook(order)

    def probe(self, offering: Any) -> ProbeResult | None:
        """Whether the offering's backend answers; None when there is nothing to probe (manual types)."""
        return None if self.probe_hook is None else self.probe_hook(offering)


def format_duration(delta: datetime.timedelta) -> str:
    """A short human duration: '3 d 4 h', '1 h', '1 h 30 min', '45 min', '20 s'."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"
