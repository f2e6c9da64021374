"""The real waldur-api-client (8.1.2) against a live server: every order call it makes, parsed by its
own models (an unexpected status raises UnexpectedStatus; a bad body raises in from_dict)."""

from __future__ import annotations

import io
import uuid as uuidlib

import pytest
from waldur_api_client.api.marketplace_orders import (
    marketplace_orders_approve_by_consumer as approve_by_consumer,
)
from waldur_api_client.api.marketplace_orders import (
    marketplace_orders_approve_by_provider as approve_by_provider,
)
from waldur_api_client.api.marketplace_orders import marketplace_orders_cancel as cancel
from waldur_api_client.api.marketplace_orders import marketplace_orders_count as count
from waldur_api_client.api.marketplace_orders import marketplace_orders_create as create
from waldur_api_client.api.marketplace_orders import marketplace_orders_delete_attachment as delete_attachment
from waldur_api_client.api.marketplace_orders import marketplace_orders_destroy as destroy
from waldur_api_client.api.marketplace_orders import marketplace_orders_list as order_list
from waldur_api_client.api.marketplace_orders import marketplace_orders_partial_update as partial_update
from waldur_api_client.api.marketplace_orders import marketplace_orders_reject_by_consumer as reject_by_consumer
from waldur_api_client.api.marketplace_orders import marketplace_orders_reject_by_provider as reject_by_provider
from waldur_api_client.api.marketplace_orders import marketplace_orders_resource_retrieve as resource_retrieve
from waldur_api_client.api.marketplace_orders import marketplace_orders_retrieve as retrieve
from waldur_api_client.api.marketplace_orders import marketplace_orders_retry as retry
from waldur_api_client.api.marketplace_orders import marketplace_orders_set_backend_id as set_backend_id
from waldur_api_client.api.marketplace_orders import marketplace_orders_set_state_done as set_state_done
from waldur_api_client.api.marketplace_orders import marketplace_orders_set_state_erred as set_state_erred
from waldur_api_client.api.marketplace_orders import marketplace_orders_set_state_executing as set_state_executing
from waldur_api_client.api.marketplace_orders import marketplace_orders_unlink as unlink
from waldur_api_client.api.marketplace_orders import marketplace_orders_update_attachment as update_attachment
from waldur_api_client.errors import UnexpectedStatus
from waldur_api_client.models import (
    GenericOrderAttributes,
    OrderApproveByProviderRequest,
    OrderAttachmentRequestMultipart,
    OrderBackendIDRequest,
    OrderCreateRequest,
    OrderCreateRequestLimits,
    OrderDetails,
    OrderDetailsFieldEnum,
    OrderErrorDetailsRequest,
    OrderProviderRejectionRequest,
    OrderState,
    PatchedOrderUpdateRequest,
    PatchedOrderUpdateRequestLimits,
)
from waldur_api_client.types import File

from orders import services

pytestmark = [pytest.mark.e2e]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def order_body(live_server, world, kind: str) -> OrderCreateRequest:
    offering, plan = world.offering(kind), world.plans[kind]
    root = f"{live_server.url}/api"
    return OrderCreateRequest(
        offering=f"{root}/marketplace-public-offerings/{offering.uuid.hex}/",
        project=f"{root}/projects/{world.project.uuid.hex}/",
        plan=f"{root}/marketplace-public-offerings/{offering.uuid.hex}/plans/{plan.uuid.hex}/",
        attributes=GenericOrderAttributes.from_dict({"name": f"alloc-{uuidlib.uuid4().hex[:6]}"}),
        limits=OrderCreateRequestLimits.from_dict({"cpu": 10}),
    )


def state_of(client, order: OrderDetails) -> OrderState:
    return retrieve.sync(uuid=order.uuid, client=client).state


def test_agent_style_order_goes_from_consumer_approval_through_error_and_retry_to_done(
    live_server, live_world, client_for
):
    world = live_world
    member = client_for(world.user("project_member"))
    owner = client_for(world.user("consumer_owner"))
    agent = client_for(world.user("offering_manager"))

    order = create.sync(client=member, body=order_body(live_server, world, "slurm"))
    assert isinstance(order, OrderDetails)
    assert order.state == OrderState.PENDING_CONSUMER and order.type_.value == "Create"
    assert order.offering_type == "Marketplace.Slurm" and order.limits.additional_properties == {"cpu": 10}
    assert isinstance(order.marketplace_resource_uuid, uuidlib.UUID)

    answer = approve_by_consumer.sync(uuid=order.uuid, client=owner)
    assert answer.detail == "Order is pending provider approval."
    assert state_of(agent, order) == OrderState.PENDING_PROVIDER

    assert set_state_executing.sync_detailed(uuid=order.uuid, client=agent).status_code == 200
    assert state_of(agent, order) == OrderState.EXECUTING

    # the client puts uuid.UUID into paths as str(): dashed, as the site agent does
    status = set_backend_id.sync(uuid=order.uuid, client=agent, body=OrderBackendIDRequest(backend_id="ext-1"))
    assert status.status
    assert retrieve.sync(uuid=order.uuid, client=agent).backend_id == "ext-1"

    set_state_erred.sync_detailed(
        uuid=order.uuid,
        client=agent,
        body=OrderErrorDetailsRequest(error_message="probe failure", error_traceback="Traceback: probe"),
    )
    erred = retrieve.sync(uuid=order.uuid, client=agent)
    assert erred.state == OrderState.ERRED and erred.error_message == "probe failure"
    assert erred.completed_at is not None

    assert retry.sync_detailed(uuid=order.uuid, client=agent).status_code == 200
    again = retrieve.sync(uuid=order.uuid, client=agent)
    assert again.state == OrderState.EXECUTING and again.error_message == "" and again.completed_at is None

    sparse = retrieve.sync(
        uuid=order.uuid, client=agent, field=[OrderDetailsFieldEnum.UUID, OrderDetailsFieldEnum.STATE]
    )
    assert sparse.state == OrderState.EXECUTING and sparse.to_dict().keys() == {"uuid", "state"}

    assert set_state_done.sync_detailed(uuid=order.uuid, client=agent).status_code == 200
    done = retrieve.sync(uuid=order.uuid, client=agent)
    assert done.state == OrderState.DONE
    resource = resource_retrieve.sync(uuid=order.uuid, client=agent)
    assert resource.state.value == "OK"

    with pytest.raises(UnexpectedStatus) as refused:
        set_state_done.sync_detailed(uuid=order.uuid, client=agent)
    assert refused.value.status_code == 409


def test_provider_approval_rejection_and_consumer_cancel(live_server, live_world, client_for):
    world = live_world
    owner = client_for(world.user("consumer_owner"))
    agent = client_for(world.user("offering_manager"))
    provider = client_for(world.user("provider_owner"))

    approved = create.sync(client=owner, body=order_body(live_server, world, "slurm"))
    assert approved.state == OrderState.PENDING_PROVIDER
    answer = approve_by_provider.sync(uuid=approved.uuid, client=agent, body=OrderApproveByProviderRequest())
    assert answer.detail
    assert state_of(agent, approved) == OrderState.EXECUTING  # synchronously, before the answer

    rejected = create.sync(client=owner, body=order_body(live_server, world, "slurm"))
    reject_by_provider.sync_detailed(uuid=rejected.uuid, client=agent, body=OrderProviderRejectionRequest())
    assert state_of(agent, rejected) == OrderState.REJECTED

    canceled = create.sync(client=owner, body=order_body(live_server, world, "basic"))
    assert cancel.sync_detailed(uuid=canceled.uuid, client=owner).status_code == 202
    assert state_of(provider, canceled) == OrderState.CANCELED

    # an order the consumer may not act on as provider
    with pytest.raises(UnexpectedStatus) as forbidden:
        approve_by_provider.sync(uuid=approved.uuid, client=owner, body=OrderApproveByProviderRequest())
    assert forbidden.value.status_code == 403


def test_pending_order_attachment_update_reject_and_delete(live_server, live_world, client_for):
    world = live_world
    member = client_for(world.user("project_member"))
    owner = client_for(world.user("consumer_owner"))

    order = create.sync(client=member, body=order_body(live_server, world, "basic"))
    body = OrderAttachmentRequestMultipart(attachment=File(payload=io.BytesIO(PDF), file_name="po.pdf"))
    attached = update_attachment.sync(uuid=order.uuid, client=member, body=body)
    assert attached.attachment and attached.attachment.endswith(".pdf")
    assert retrieve.sync(uuid=order.uuid, client=member).attachment
    assert delete_attachment.sync_detailed(uuid=order.uuid, client=member).status_code == 204
    assert not retrieve.sync(uuid=order.uuid, client=member).attachment

    updated = partial_update.sync(
        uuid=order.uuid,
        client=owner,
        body=PatchedOrderUpdateRequest(limits=PatchedOrderUpdateRequestLimits.from_dict({"cpu": 20})),
    )
    assert updated.limits.additional_properties == {"cpu": 20}

    assert destroy.sync_detailed(uuid=order.uuid, client=owner).status_code == 204
    with pytest.raises(UnexpectedStatus) as gone:
        retrieve.sync(uuid=order.uuid, client=owner)
    assert gone.value.status_code == 404

    rejected = create.sync(client=member, body=order_body(live_server, world, "basic"))
    reject_by_consumer.sync_detailed(uuid=rejected.uuid, client=owner, body=OrderErrorDetailsRequest())
    assert state_of(owner, rejected) == OrderState.REJECTED


def test_unlink_is_for_staff_only(live_server, live_world, client_for):
    world = live_world
    owner = client_for(world.user("consumer_owner"))
    order = create.sync(client=owner, body=order_body(live_server, world, "basic"))
    assert unlink.sync_detailed(uuid=order.uuid, client=owner).status_code == 403  # tolerated by the client
    assert state_of(owner, order) == OrderState.PENDING_PROVIDER
    assert unlink.sync_detailed(uuid=order.uuid, client=client_for(world.user("staff"))).status_code == 204
    with pytest.raises(UnexpectedStatus):
        retrieve.sync(uuid=order.uuid, client=owner)


def test_list_sync_all_follows_link_pages_and_head_counts(live_server, live_world, client_for):
    world = live_world
    owner_user = world.user("consumer_owner")
    for n in range(205):
        services.order_create(
            actor=owner_user,
            project=world.project,
            offering=world.slurm,
            plan=world.plans["slurm"],
            attributes={"name": f"bulk-{n}"},
        )
    agent = client_for(world.user("offering_manager"))

    first_page = order_list.sync(client=agent, page_size=50)
    assert len(first_page) == 50 and all(isinstance(o, OrderDetails) for o in first_page)

    every = order_list.sync_all(
        client=agent, offering_uuid=world.slurm.uuid, state=[OrderState.PENDING_PROVIDER, OrderState.EXECUTING]
    )  # page_size=100, three pages through Link rel="next"
    assert len(every) == 205
    assert len({o.uuid for o in every}) == 205

    assert count.sync(client=agent, offering_uuid=world.slurm.uuid) == 205
    assert count.sync(client=client_for(world.user("other_owner"))) == 0

    sparse = order_list.sync(client=agent, page_size=5, field=[OrderDetailsFieldEnum.UUID, OrderDetailsFieldEnum.STATE])
    assert all(o.to_dict().keys() == {"uuid", "state"} for o in sparse)


def test_order_offering_and_resource_parse_with_the_clients_models(live_server, live_world, client_for):
    from waldur_api_client.api.marketplace_orders import marketplace_orders_offering_retrieve as offering_retrieve

    world = live_world
    owner = client_for(world.user("consumer_owner"))
    order = create.sync(client=owner, body=order_body(live_server, world, "basic"))
    offering = offering_retrieve.sync(uuid=order.uuid, client=owner)
    assert offering.uuid == world.basic.uuid and offering.type_ == "Marketplace.Basic"
    assert [c.type_ for c in offering.components] == ["cpu"]
    resource = resource_retrieve.sync(uuid=order.uuid, client=owner)
    assert resource.uuid == order.marketplace_resource_uuid and resource.state.value == "Creating"


def test_webhook_secret_never_reaches_consumers_in_orders_or_resources(live_server, live_world, client_for):
    world = live_world
    world.webhook.plugin_options = {"webhook_url": "http://127.0.0.1:9/", "webhook_secret": "s3cret-value"}
    world.webhook.save()
    member = client_for(world.user("project_member"))
    order = create.sync(client=member, body=order_body(live_server, world, "webhook"))
    # internal options (the fulfilment URL and key) are not shown to consumers at all
    assert {"webhook_url", "webhook_secret"}.isdisjoint(order.offering_plugin_options.additional_properties)
    raw = member.get_httpx_client().get(f"/api/marketplace-orders/{order.uuid.hex}/resource/").text
    assert "s3cret-value" not in raw
