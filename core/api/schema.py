"""OpenAPI helpers: declare every status code an endpoint can answer (schemathesis checks them)."""

from __future__ import annotations

import inspect
import re
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_view_model
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    name="ErrorResponse",
    fields={"detail": serializers.CharField(required=False)},
)

FIELD_PARAM = OpenApiParameter("field", str, many=True, description="Return only these keys (repeatable).")

_DESCRIPTIONS = {
    400: "Invalid input: field → messages.",
    401: "Authentication credentials were not provided or are invalid.",
    403: "You may see the object but not do this.",
    404: "Not found (or not visible to you).",
    405: "The offering type does not support this action.",
    409: "The order's state does not allow this action; the message names the valid states.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ERROR, description=_DESCRIPTIONS[code]) for code in codes}


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """Success responses plus the error codes, always with 401 (token auth)."""
    return {**ok, **errors(401, *codes)}


def list_and_retrieve(serializer, *, params: bool = True) -> dict[str, Any]:
    """extend_schema_view kwargs for list (400 bad filter, 404 page beyond the last) and retrieve (404)."""
    parameters = [FIELD_PARAM] if params else []
    return {
        "list": extend_schema(parameters=parameters, responses=responses({200: serializer(many=True)}, 400, 404)),
        "retrieve": extend_schema(parameters=parameters, responses=responses({200: serializer}, 404)),
    }


# --- summaries and descriptions (DEFAULT_SCHEMA_CLASS) ---------------------------------------------

_LEADS = {
    "list": "The {plural} you may see, newest first unless `o` says otherwise; the filters below narrow it. "
    "Paged: `page`, `page_size`; the `Link` and `X-Result-Count` headers give the pages and the total.",
    "retrieve": "One {singular} by its uuid (32 hex digits or dashed, any case).",
    "create": "Create {a_singular}; the answer is the new {singular}.",
    "update": "Replace the writable fields of {a_singular}.",
    "partial_update": "Change some writable fields of {a_singular}.",
    "destroy": "Delete {a_singular}.",
}
_SUMMARIES = {
    "list": "List {plural}",
    "retrieve": "Retrieve {a_singular}",
    "create": "Create {a_singular}",
    "update": "Replace {a_singular}",
    "partial_update": "Update {a_singular}",
    "destroy": "Delete {a_singular}",
}
_VISIBLE = (
    "Any signed-in user; the answer covers only what your roles reach, and an object outside them is a 404, "
    "never a 403."
)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n", 1)[0].split())


def _own_doc(obj: Any) -> str:
    """A docstring written on this very class or function, never one inherited from a mixin or DRF."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    module = getattr(obj, "__module__", "") or ""
    if not doc or module.startswith(("rest_framework", "django")):
        return ""
    return inspect.cleandoc(doc)


class DocumentedAutoSchema(AutoSchema):
    """Every operation gets a summary and a description: its own docstring (or the view's), who may call it
    (the view's `action_policies`), and for standard actions a generated lead. Apps refine operations in
    postprocessing hooks (orders.api_docs fills the order actions from their action table)."""

    def _action(self) -> str:
        return getattr(self.view, "action", None) or self.method.lower()

    def _names(self) -> tuple[str, str]:
        model = get_view_model(self.view, emit_warnings=False)
        if model is None:
            return "objects", "object"
        return str(model._meta.verbose_name_plural), str(model._meta.verbose_name)

    def _who(self) -> str:
        from rest_framework.permissions import AllowAny

        if any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            return "Anyone, signed in or not."
        policies = getattr(self.view, "action_policies", None)
        policy = policies.get(self._action()) if policies else None
        if policy is None:
            return _VISIBLE
        doc = _first_paragraph(inspect.getdoc(policy) or "") or f"Whoever the policy `{policy.__name__}` allows."
        return f"{doc} Others get 403 (or 404 when they cannot see the object)."

    def get_summary(self) -> str | None:
        action = self._action()
        plural, singular = self._names()
        if action in _SUMMARIES:
            return _SUMMARIES[action].format(plural=plural, singular=singular, a_singular=_a(singular))
        if getattr(self.view, "action", None) is None:  # a plain APIView: its class names it
            words = re.findall(r"[A-Z][a-z]*|[a-z]+", re.sub(r"(API)?View$", "", type(self.view).__name__))
            return " ".join(words).capitalize()
        return f"{action.replace('_', ' ').replace('-', ' ').capitalize()} ({singular})"

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and "**Who may call it:**" not in operation.get("description", ""):
            # an explicit extend_schema(description=...) replaced ours: still say who may call it
            lead = operation.get("description", "").strip()
            operation["description"] = "\n\n".join(p for p in (lead, f"**Who may call it:** {self._who()}") if p)
        return operation

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        """A key the serializer leaves out when empty (`Meta.omit_when_empty`, nullable fields only: the others
        are never empty) is not `required` in the response schema: the answer may lack it."""
        result = super()._map_basic_serializer(serializer, direction)
        meta = getattr(serializer, "Meta", None)
        omitted = set(getattr(meta, "omit_when_empty", ()))
        fields = serializer.fields if omitted else {}
        optional = {name for name in omitted if name in fields and fields[name].allow_null}
        if optional and "required" in result:
            result["required"] = [name for name in result["required"] if name not in optional]
            if not result["required"]:
                del result["required"]
        return result

    def get_description(self) -> str:  # type: ignore[override]
        action = self._action()
        method = getattr(self.view, action, None)
        own = _own_doc(method) if method is not None else ""
        view_doc = _own_doc(type(self.view))
        plural, singular = self._names()
        if own:
            lead = own
        elif action in _LEADS:
            lead = _LEADS[action].format(plural=plural, singular=singular, a_singular=_a(singular))
        else:
            lead = f"{self.get_summary()}: `{self.method} {self.path}`."
        parts = [part for part in (lead, "" if own else view_doc) if part]
        parts.append(f"**Who may call it:** {self._who()}")
        return "\n\n".join(parts)
