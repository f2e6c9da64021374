"""The order part of the API documentation, generated from the code so it cannot drift: each order action's
description from the action table (who: its policy; when: the FSM sources of its transition; which offering
types), the routing rules (orders.approval, DESIGN §5) and the lifecycle as a Mermaid state diagram drawn
from Order's FSM transitions. A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""

from __future__ import annotations

import inspect
import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from core.api.schema import ERROR, responses
from orders.actions import ACTIONS, SYSTEM_ACTIONS, OrderAction
from orders.models import Order
from orders.serializers import bulk as b
from orders.serializers import inputs as i
from orders.states import OrderState as S
from permissions.policies import can_create_order

ORDERS = "/api/marketplace-orders/"
# operations of the order collection that are rows of the action table under another name
_METHOD_ACTIONS = {("{uuid}/", "put"): "update", ("{uuid}/", "patch"): "update", ("{uuid}/", "delete"): "destroy"}
_SUMMARIES = {
    "approve_by_consumer": "Approve an order as the consumer",
    "reject_by_consumer": "Reject an order as the consumer (or withdraw it as its author)",
    "approve_by_provider": "Approve an order as the provider",
    "reject_by_provider": "Reject an order as the provider",
    "set_state_executing": "Mark an order as executing (provider or site agent)",
    "set_state_done": "Mark an order as done (provider or site agent)",
    "set_state_erred": "Mark an order as erred, or update its error (provider or site agent)",
    "retry": "Resubmit an erred order",
    "cancel": "Cancel an order",
    "destroy": "Delete a pending order",
    "unlink": "Remove an order row without touching the backend (staff)",
    "update": "Change a pending order's limits, attributes or start date",
    "update_attachment": "Upload the order's purchase-order attachment",
    "delete_attachment": "Remove the order's attachment",
    "set_consumer_info": "Attach the consumer's message to a pending order",
    "set_provider_info": "Attach the provider's message to a pending order",
    "set_backend_id": "Set the order's backend id",
}

ROUTING_RULES = """\
## Who must approve what, and when (routing)

Every path that places or moves an order (create, consumer approval, project release, provider approval)
asks the same rules (`orders/approval.py`):

* **Consumer review** (`pending-consumer`) is skipped when the author is staff, holds ORDER.APPROVE on the
  project or its organisation (organisation owners, project managers: *owners' orders skip the consumer
  review*), holds ORDER.APPROVE_PRIVATE there for a private offering, or the offering's
  `auto_approve_in_service_provider_projects` applies to a project of the provider's own organisation.
  The offering option `disable_autoapprove` makes every order (except staff's) wait for consumer review.
* After the consumer: a project whose `start_date` is in the future parks the order in `pending-project`
  until that date (then the same rules go on); else, when the offering type needs **provider review**,
  `pending-provider`; else a future order `start_date` parks it in `pending-start-date`; else `executing`.
  Offering types fulfilled automatically (a webhook, a processor, a site agent told to auto-approve) need
  no provider review: *webhook orders skip the provider review*.
* After the provider approves: `pending-start-date` while the order's start date is in the future, else
  `executing`, and processing starts after the commit.
* A refused action changes nothing. Checks run in this order: an order you cannot see is **404**; a missing
  right is **403**; an offering type that does not support the action is **405**; a wrong state is **409**
  with a message naming the valid states; a bad body is **400**.
"""


def _state_id(state: str) -> str:
    return state.replace("-", "_")


def fsm_edges() -> list[tuple[str, str, str]]:
    """(source, target, transition) for every transition of Order's state field; `*` sources expanded."""
    edges = set()
    states = [s.value for s in S]
    for t in Order._meta.get_field("state").get_all_transitions(Order):
        allowed = getattr(t.target, "allowed_states", None)
        targets = allowed if allowed is not None else [t.target]
        sources = states if t.source in ("*", "+") else [t.source]
        edges.update((str(src), str(tgt), t.name) for src in sources for tgt in targets)
    return sorted(edges)


def lifecycle_diagram() -> str:
    """The order lifecycle as Mermaid `stateDiagram-v2` text, one arrow per FSM transition."""
    lines = ["stateDiagram-v2"]
    lines += [f'    state "{s.value}" as {_state_id(s.value)}' for s in S]
    lines.append("    [*] --> pending_consumer : create (routed, see above)")
    lines += [f"    {_state_id(src)} --> {_state_id(tgt)} : {name}" for src, tgt, name in fsm_edges()]
    lines += [f"    {_state_id(s)} --> [*]" for s in (S.DONE, S.CANCELED, S.REJECTED)]
    return "\n".join(lines)


def api_description() -> str:
    base = settings.SPECTACULAR_SETTINGS.get("DESCRIPTION", "")
    system = ", ".join(f"`{name}`" for name in SYSTEM_ACTIONS)
    return (
        f"{base}\n\n{ROUTING_RULES}\n## Order lifecycle\n\nGenerated from the order state machine: every arrow "
        f"is a transition (the actions below; {system} are run by the periodic sweep). A new order starts in "
        f"the state the routing rules choose.\n\n```mermaid\n{lifecycle_diagram()}\n```\n"
    )


def _who(action: OrderAction) -> str:
    doc = " ".join((inspect.getdoc(action.policy) or "").split("\n\n", 1)[0].split())
    return f"{doc} Others get 403, or 404 when they cannot see the order."


def action_description(action: OrderAction, operation: dict[str, Any]) -> str:
    states = ", ".join(f"`{s}`" for s in action.valid_states())
    if action.transition or action.states:
        when = f"**State:** the order must be in {states}; otherwise 409 naming the valid states."
    else:
        when = "**State:** any."
    targets = sorted({tgt for src, tgt, name in fsm_edges() if name == action.transition})
    parts = [f"**Who may call it:** {_who(action)}", when]
    if targets:
        parts.append("**Moves the order to:** " + ", ".join(f"`{t}`" for t in targets) + ".")
    if action.type_flag:
        parts.append("**Offering types:** only those that support it; others answer 405.")
    answers = [
        f"{code} — {response['description'].rstrip('.')}" if response.get("description") else str(code)
        for code, response in sorted(operation.get("responses", {}).items())
    ]
    parts.append("**Answers:** " + "; ".join(answers) + ".")
    own = operation.get("description", "").split("**Who may call it:**", 1)[0].strip()
    return "\n\n".join([own, *parts] if own else parts)


def document_order_operations(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """Postprocessing hook: order action descriptions from ACTIONS, and the API description."""
    result.setdefault("info", {})["description"] = api_description()
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(ORDERS):
            continue
        rest = path[len(ORDERS) :]
        for method, operation in operations.items():
            name = _METHOD_ACTIONS.get((rest, method))
            if name is None and (match := re.fullmatch(r"\{uuid\}/(\w+)/", rest)):
                name = match.group(1)
            if name not in ACTIONS:
                continue
            operation["summary"] = _SUMMARIES.get(name, operation.get("summary"))
            operation["description"] = action_description(ACTIONS[name], operation)
        if path == ORDERS and "post" in operations:  # create: the service checks the project in the body
            who = " ".join((inspect.getdoc(can_create_order) or "").split())
            create = operations["post"]
            create["description"] = create["description"].split("**Who may call it:**", 1)[0] + (
                f"**Who may call it:** {who} Others get 400 for a project they cannot see, 403 for one they "
                "see without that right. The order starts in the state the routing rules choose (see the API "
                "description); `offering`, `project` and `plan` each take a hyperlink or a bare uuid."
            )
    return result


# --- schema pieces of the order views (orders/views.py) -----------------------------------------

UPDATE_RESPONSES = responses({200: i.OrderUpdateSerializer}, 400, 403, 404, 409)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Repeating a request with the same key returns the first answer or job instead of starting "
    "another run; the same key with a different request is a 409.",
)  # fmt: skip
BULK_RETRY_RESPONSES = responses(
    {
        200: OpenApiResponse(b.BulkRetryReportSerializer, description="Dry run, or a small run finished."),
        202: OpenApiResponse(b.JobLinkSerializer, description="A job runs the selection; Location is its url."),
    },
    400,
    403,
)
BULK_RETRY_RESPONSES[403] = OpenApiResponse(ERROR, description="You may retry orders of no offering.")
BULK_RETRY_RESPONSES[409] = OpenApiResponse(ERROR, description="The Idempotency-Key was used for another request.")


_OFFERING, _PROJECT, _PLAN = (
    "5c4a0b3e8f2d4c1a9b7e6d5f4a3b2c1d", "0f9e8d7c6b5a49382716a5b4c3d2e1f0", "a1b2c3d4e5f60718293a4b5c6d7e8f90"
)  # fmt: skip
CREATE_EXAMPLES = [
    OpenApiExample(
        "With hyperlinks",
        request_only=True,
        description="offering, project and plan as the API returns them (each takes a hyperlink or a uuid).",
        value={
            "offering": f"https://marketplace.example.org/api/marketplace-public-offerings/{_OFFERING}/",
            "project": f"https://marketplace.example.org/api/projects/{_PROJECT}/",
            "plan": f"https://marketplace.example.org/api/marketplace-public-offerings/{_OFFERING}/plans/{_PLAN}/",
            "limits": {"cpu": 100},
            "attributes": {"name": "my-allocation"},
            "accepting_terms_of_service": True,
        },
    ),
    OpenApiExample(
        "With bare uuids",
        request_only=True,
        description="The same order with bare uuids (hex or dashed).",
        value={
            "offering": _OFFERING,
            "project": "0f9e8d7c-6b5a-4938-2716-a5b4c3d2e1f0",
            "plan": _PLAN,
            "limits": {"cpu": 100},
            "attributes": {"name": "my-allocation"},
        },
    ),
]
