"""Staff view of the site agents registered for offerings: identities, services, processors, last activity.

Agents write these rows themselves every cycle, so staff read them here and may delete stale ones.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Max, QuerySet
from django.http import HttpRequest

from core.admin_base import ReadOnlyTabularInline, SmallSelectionMixin, StaffAdmin
from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService
from offerings.agent_tokens import AgentHasNoUser, agent_token_rotate


class _AgentRowAdmin(StaffAdmin):
    """Written by agents only: staff look, filter and delete; they do not add or edit."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AgentServiceInline(ReadOnlyTabularInline):
    model = AgentService
    fields = ("name", "mode", "state", "modified")
    readonly_fields = fields
    show_change_link = True


class AgentProcessorInline(ReadOnlyTabularInline):
    model = AgentProcessor
    fields = ("name", "backend_type", "backend_version", "last_run")
    readonly_fields = fields


@admin.register(AgentIdentity)
class AgentIdentityAdmin(SmallSelectionMixin, _AgentRowAdmin):
    list_display = ("name", "offering", "provider", "version", "last_restarted", "last_activity", "created")
    list_select_related = ("offering", "offering__customer")
    list_filter = ("offering__type", "offering__customer", "version", "last_restarted")
    search_fields = ("name", "offering__name", "uuid")
    uuid_search_fields = ("uuid", "offering__uuid")
    inlines = [AgentServiceInline]
    actions = ["rotate_token"]

    @admin.action(description="Rotate the API token of the agent's user")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet) -> None:
        """A new token per selected agent, shown once here; the old one stops working at once."""
        if self.selection_too_large(request, queryset):
            return
        rotated: dict[int, Any] = {}  # one new token per user, however many of their agents are selected
        for identity in queryset.select_related("created_by"):
            try:
                token = rotated.get(identity.created_by_id) or agent_token_rotate(identity=identity)
            except AgentHasNoUser as problem:
                self.message_user(request, str(problem), messages.ERROR)
                continue
            rotated[identity.created_by_id] = token
            self.message_user(
                request,
                f"New API token of {identity.created_by.get_username()} (site agent {identity.name!r}): "
                f"{token.key}. Put it in the agent's configuration (waldur_api_token); the old token no longer works.",
                messages.WARNING,
            )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(last_activity=Max("services__processors__last_run"))

    @admin.display(ordering="offering__customer__name")
    def provider(self, obj: AgentIdentity) -> str:
        return obj.offering.customer.name

    @admin.display(description="last processor run", ordering="last_activity")
    def last_activity(self, obj: AgentIdentity) -> Any:
        return obj.last_activity  # type: ignore[attr-defined]


@admin.register(AgentService)
class AgentServiceAdmin(_AgentRowAdmin):
    list_display = ("name", "identity", "mode", "state", "modified")
    list_select_related = ("identity",)
    list_filter = ("state", "mode", "modified")
    search_fields = ("name", "identity__name", "uuid")
    inlines = [AgentProcessorInline]


@admin.register(AgentProcessor)
class AgentProcessorAdmin(_AgentRowAdmin):
    list_display = ("name", "service", "backend_type", "backend_version", "last_run")
    list_select_related = ("service", "service__identity")
    list_filter = ("backend_type", "last_run")
    search_fields = ("name", "backend_type", "service__identity__name", "uuid")
