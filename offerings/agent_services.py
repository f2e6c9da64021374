"""Writes of site-agent bookkeeping. An agent authenticates as a user who may manage the offering."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService
from offerings.exceptions import AgentNotPermitted
from offerings.models import Offering
from permissions.policies import can_manage_offering


def _check(actor: Any, offering: Offering) -> None:
    if not can_manage_offering(actor, offering):
        raise AgentNotPermitted()


def agent_identity_register(
    *,
    actor: Any,
    offering: Offering,
    name: str,
    identity: AgentIdentity | None = None,
    version: str = "",
    dependencies: list[dict] | None = None,
    config_file_path: str = "",
    config_file_content: str = "",
    last_restarted: datetime.datetime | None = None,
) -> tuple[AgentIdentity, bool]:
    """Create the agent's identity for the offering, or refresh it (agents re-register every cycle)."""
    _check(actor, offering)
    fields = {
        "offering": offering,
        "name": name,
        "version": version or "",
        "dependencies": dependencies or [],
        "config_file_path": config_file_path or "",
        "config_file_content": config_file_content or "",
        "last_restarted": last_restarted,
    }
    with transaction.atomic():
        if identity is None:
            identity, created = AgentIdentity.objects.select_for_update().get_or_create(
                offering=offering, name=name, defaults={**fields, "created_by": actor}
            )
            if created:
                return identity, True
        for key, value in fields.items():
            setattr(identity, key, value)
        identity.save()
    return identity, False


def agent_service_register(
    *, actor: Any, identity: AgentIdentity, name: str, mode: str = ""
) -> tuple[AgentService, bool]:
    """Record that the agent runs a service (e.g. order_process); marks it active now."""
    _check(actor, identity.offering)
    with transaction.atomic():
        service, created = AgentService.objects.select_for_update().get_or_create(
            identity=identity, name=name, defaults={"mode": mode or ""}
        )
        service.mode, service.state = mode or service.mode, AgentService.States.ACTIVE
        service.save()
    return service, created


def agent_processor_register(
    *, actor: Any, service: AgentService, name: str, backend_type: str, backend_version: str = ""
) -> tuple[AgentProcessor, bool]:
    """Record the processor a service runs with, and that it ran now."""
    _check(actor, service.identity.offering)
    with transaction.atomic():
        processor, created = AgentProcessor.objects.select_for_update().update_or_create(
            service=service,
            name=name,
            defaults={
                "backend_type": backend_type,
                "backend_version": backend_version or "",
                "last_run": timezone.now(),
            },
        )
    return processor, created
