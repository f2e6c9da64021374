"""Staff view of the site agents registered for offerings: identities, services, processors, last activity.

Agents write these rows themselves every cycle, so staff read them here and may delete stale ones.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Max, QuerySet
from django.http import HttpRequest

from core.admin_base import ReadOnlyTabularInline, StaffAdmin
from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService


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
class AgentIdentityAdmin(_AgentRowAdmin):
    list_display = ("name", "offering", "provider", "version", "last_restarted", "last_activity", "created")
    list_select_related = ("offering", "offering__customer")
    list_filter = ("offering__type", "offering__customer", "version", "last_restarted")
    search_fields = ("name", "offering__name", "uuid")
    uuid_search_fields = ("uuid", "offering__uuid")
    inlines = [AgentServiceInline]

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
