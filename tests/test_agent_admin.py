"""Staff see the site agents, their services, processors and last activity in the admin."""

import pytest
from django.urls import reverse

from offerings import agent_services
from offerings.models import AgentIdentity


@pytest.fixture
def agent(world):
    manager = world.user("offering_manager")
    identity, _ = agent_services.agent_identity_register(
        actor=manager, offering=world.slurm, name=f"agent-{world.slurm.uuid.hex}", version="1.0.7"
    )
    service, _ = agent_services.agent_service_register(actor=manager, identity=identity, name="order_process")
    agent_services.agent_processor_register(
        actor=manager, service=service, name="OfferingOrderProcessor", backend_type="mock.MockBackend"
    )
    return identity


def test_staff_see_agents_with_their_services_processors_and_last_activity(client, world, agent):
    client.force_login(world.user("staff"))
    listing = client.get(reverse("admin:offerings_agentidentity_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert agent.name in page and "1.0.7" in page and world.slurm.name in page
    detail = client.get(reverse("admin:offerings_agentidentity_change", args=[agent.pk])).content.decode()
    assert "order_process" in detail
    service = agent.services.get()
    processors = client.get(reverse("admin:offerings_agentservice_change", args=[service.pk])).content.decode()
    assert "OfferingOrderProcessor" in processors and "mock.MockBackend" in processors
    for name in ("agentservice", "agentprocessor"):
        assert client.get(reverse(f"admin:offerings_{name}_changelist")).status_code == 200


def test_agent_rows_are_read_only_for_staff(client, world, agent):
    client.force_login(world.user("staff"))
    assert client.get(reverse("admin:offerings_agentidentity_add")).status_code == 403
    client.post(reverse("admin:offerings_agentidentity_change", args=[agent.pk]), {"name": "renamed"})
    assert AgentIdentity.objects.get(pk=agent.pk).name == agent.name


def test_registering_agents_requires_managing_the_offering(world):
    from offerings.exceptions import AgentNotPermitted

    with pytest.raises(AgentNotPermitted):
        agent_services.agent_identity_register(actor=world.user("consumer_owner"), offering=world.slurm, name="x")
    assert not AgentIdentity.objects.exists()


def test_token_rotation_refuses_a_selection_too_large_for_one_request(client, world, monkeypatch):
    from offerings.agent_admin import AgentIdentityAdmin
    from tests import factories as f

    agent_user = world.user("offering_manager")
    identities = [
        agent_services.agent_identity_register(actor=agent_user, offering=world.slurm, name=f"agent-{i}")[0]
        for i in range(3)
    ]
    before = f.token_for(agent_user)
    staff = world.user("staff")
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    monkeypatch.setattr(AgentIdentityAdmin, "max_action_selection", 2)

    response = client.post(
        "/admin/offerings/agentidentity/",
        {"action": "rotate_token", "_selected_action": [i.pk for i in identities]},
        follow=True,
    )

    assert any("at most 2" in str(m) for m in response.context["messages"])
    assert f.token_for(agent_user) == before
