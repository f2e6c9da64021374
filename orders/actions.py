"""The order actions: for each, the FSM transition it fires, the policy that grants it and the offering
type flag it needs. Services, the API's permission map, the admin and `available_transitions` read this
one table, so adding an action is one row here plus its service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from offerings.registry import type_supports
from orders.models import Order
from orders.states import OrderState as S
from permissions import policies as p


@dataclass(frozen=True)
class OrderAction:
    name: str
    policy: Callable[[Any, Any], bool]
    transition: str | None = None  # the Order FSM method; None for actions that are not transitions
    states: tuple[str, ...] | None = None  # allowed states of non-transition actions (None: any)
    type_flag: str | None = None  # registry action the offering type must support

    def valid_states(self) -> list[str]:
        if self.transition:
            return sorted(TRANSITION_SOURCES[self.transition])
        return sorted(self.states or [s.value for s in S])

    def state_allows(self, order: Any) -> bool:
        if self.transition:
            return order.state in TRANSITION_SOURCES[self.transition]
        return self.states is None or order.state in self.states


def _transition_sources() -> dict[str, set[str]]:
    """Transition → the states it leaves from. The state machine's own answer (django-fsm's can_proceed) is
    exactly `state in sources` while transitions have no conditions and no wildcard sources: checked here, so
    an order's facts (a row read without a model instance) answer as the model would."""
    sources: dict[str, set[str]] = {}
    for t in Order._meta.get_field("state").get_all_transitions(Order):
        if t.conditions or t.source in ("*", "+"):
            raise ImproperlyConfigured(f"Order.{t.name}: conditions and wildcard sources need can_proceed()")
        sources.setdefault(t.name, set()).add(t.source)
    return sources


TRANSITION_SOURCES = _transition_sources()

PENDING_REVIEW = (S.PENDING_CONSUMER, S.PENDING_PROVIDER)
ATTACHMENT_STATES = (S.PENDING_PROJECT, S.PENDING_CONSUMER, S.PENDING_PROVIDER)

ACTIONS: dict[str, OrderAction] = {
    a.name: a
    for a in (
        OrderAction("approve_by_consumer", p.can_approve_order_as_consumer, "approve_by_consumer"),
        OrderAction("reject_by_consumer", p.can_reject_order_as_consumer, "reject_by_consumer"),
        OrderAction("approve_by_provider", p.can_approve_order_as_provider, "approve_by_provider"),
        OrderAction("reject_by_provider", p.can_reject_order_as_provider, "reject_by_provider"),
        OrderAction(
            "set_state_executing", p.can_drive_order_provisioning, "set_state_executing",
            type_flag="set_state_executing",
        ),
        OrderAction("set_state_done", p.can_drive_order_provisioning, "set_state_done", type_flag="set_state_done"),
        OrderAction(
            "set_state_erred", p.can_drive_order_provisioning, "set_state_erred", type_flag="set_state_erred"
        ),
        OrderAction("retry", p.can_retry_order, "retry", type_flag="retry"),
        OrderAction("release_project", p.can_release_order, "release_project"),
        OrderAction("release_start_date", p.can_release_order, "release_start_date"),
        OrderAction("cancel", p.can_cancel_order, "cancel", type_flag="cancel"),
        OrderAction("destroy", p.can_destroy_order, states=PENDING_REVIEW),
        OrderAction("unlink", p.can_unlink_order),
        OrderAction("update", p.can_update_order, states=(S.PENDING_CONSUMER,)),
        OrderAction("update_attachment", p.can_manage_order_attachment, states=ATTACHMENT_STATES),
        OrderAction("delete_attachment", p.can_manage_order_attachment, states=ATTACHMENT_STATES),
        OrderAction("set_consumer_info", p.can_set_order_consumer_info, states=PENDING_REVIEW),
        OrderAction("set_provider_info", p.can_set_order_provider_info, states=PENDING_REVIEW),
        OrderAction("set_backend_id", p.can_set_order_backend_id),
    )
}  # fmt: skip

# The actions offered to callers in `available_transitions` (state-changing ones).
SYSTEM_ACTIONS = ("release_project", "release_start_date")
TRANSITION_ACTIONS = tuple(n for n, a in ACTIONS.items() if a.transition and n not in SYSTEM_ACTIONS) + ("destroy",)


def type_allows(action: OrderAction, order: Order) -> bool:
    return action.type_flag is None or type_supports(order.offering, action.type_flag)


def available_actions(user, order: Any, names: tuple[str, ...] = TRANSITION_ACTIONS) -> list[str]:
    """The actions `user` may perform on `order` now: state, offering type and right all allow them.
    `order` is an Order or its OrderFacts (the cheap tests first: most actions fail on the state)."""
    return [
        name
        for name in names
        if (a := ACTIONS[name]).state_allows(order) and type_allows(a, order) and a.policy(user, order)
    ]


def order_facts(
    state: str,
    offering_id: int,
    provider_id: int,
    offering_type: str,
    project_id: int,
    consumer_id: int,
    author_id: int | None,
) -> SimpleNamespace:
    """What policies, the offering type and the state machine read of an order, without the order."""
    return SimpleNamespace(
        state=state, offering_id=offering_id, project_id=project_id, created_by_id=author_id,
        offering=SimpleNamespace(customer_id=provider_id, type=offering_type),
        project=SimpleNamespace(customer_id=consumer_id),
    )  # fmt: skip
