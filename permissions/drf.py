"""One DRF permission class driven by each view's map of action → policy (STYLE.md 9).

`view.action_policies = {"list": None, "approve": can_approve, ...}`: None means "visibility is enough"
(querysets are scoped, so what one cannot see is already a 404); a predicate is asked about the object
(403 when it says no); an action missing from the map is denied.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class ActionPolicyPermission(BasePermission):
    message = "You do not have permission to perform this action."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        action = getattr(view, "action", None)
        if action is None:  # a method this route does not serve: let DRF answer 405
            return True
        return action in getattr(view, "action_policies", {})

    def has_object_permission(self, request, view, obj) -> bool:
        policy = view.action_policies[view.action]
        return policy is None or policy(request.user, obj)
