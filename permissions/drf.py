"""One DRF permission class driven by each view's map of action → policy (STYLE.md 9).

`view.action_policies = {"list": None, "approve": can_approve, ...}`: None means "visibility is enough"
(querysets are scoped, so what one cannot see is already a 404); a predicate is asked about the object
(403 when it says no); an action missing from the map is denied.

OPTIONS (DRF's implicit "metadata" action) is open to any signed-in caller; the metadata then lists a POST
or PUT form only where the action behind that method would be allowed (DRF asks again with the method).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class ActionPolicyPermission(BasePermission):
    message = "You do not have permission to perform this action."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        action = _action(request, view)
        if action is None:  # a method this route does not serve: let DRF answer 405
            return True
        return action == METADATA or action in getattr(view, "action_policies", {})

    def has_object_permission(self, request, view, obj) -> bool:
        action = _action(request, view)
        if action == METADATA:
            return True
        policies = getattr(view, "action_policies", {})
        if action not in policies:
            return False
        policy = policies[action]
        return policy is None or policy(request.user, obj)


METADATA = "metadata"


def _action(request, view) -> str | None:
    """The view's action; while DRF builds OPTIONS metadata, the action the request's method maps to."""
    action = getattr(view, "action", None)
    if action == METADATA and request.method != "OPTIONS":
        return getattr(view, "action_map", {}).get(request.method.lower())
    return action
