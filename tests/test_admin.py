"""The staff admin: every model renders, orders are found by uuid, and order actions go through services."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import constants as message_levels
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import jobs
from core.models import Job
from offerings import agent_services
from offerings.models import Offering
from orders import services
from orders.models import Order, OrderEvent
from tests import factories as f

APPS = ("permissions", "offerings", "orders")
CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def staff_client(client, world):
    client.force_login(world.user("staff"))
    return client


def place(world, *, author: str = "consumer_owner") -> Order:
    """A Create order on the basic offering; the owner's goes to pending-provider, a member's waits for the consumer."""
    return services.order_create(
        actor=world.user(author), project=world.project, offering=world.basic, plan=world.plans["basic"]
    )


def made(world, state: str) -> Order:
    return f.OrderFactory(state=state, offering=world.basic, project=world.project)


def state_of(order: Order) -> str:
    return Order.objects.get(pk=order.pk).state


def run_action(client, action: str, *orders: Order):
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [o.pk for o in orders]}, follow=True)
    assert response.status_code == 200
    return [(m.level, m.message) for m in response.context["messages"]]


def resubmit_as_job(client, *orders: Order) -> None:
    """The retry action: confirmed on its preview page, it starts a job (run here) and shows the job's page."""
    data = {"action": "retry", "index": 0, "_selected_action": [o.pk for o in orders], "confirm": "yes"}
    response = client.post(CHANGELIST, data)
    assert response.status_code == 302 and "/admin/core/job/" in response["Location"]
    jobs.job_run_inline(Job.objects.latest("pk"))


def staff_events(world, order: Order, kind: str) -> int:
    return OrderEvent.objects.filter(order=order, kind=kind, actor=world.user("staff")).count()


# --- order changelist ---------------------------------------------------------------------------


def test_order_changelist_lists_orders_for_staff(staff_client, world):
    pending, erred = place(world), made(world, "erred")

    response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {pending, erred}
    assert pending.uuid.hex in response.content.decode()


def test_every_order_filter_choice_renders(staff_client, world):
    place(world)
    made(world, "erred")
    f.OrderFactory(state="done", project=world.other_project)  # a second provider, consumer and offering
    changelist = staff_client.get(CHANGELIST).context["cl"]
    titles = {str(spec.title) for spec in changelist.filter_specs}
    assert {"state", "type", "offering type", "provider", "created", "completed at"} <= titles

    queries = [choice["query_string"] for spec in changelist.filter_specs for choice in spec.choices(changelist)]
    assert len(queries) > 20
    for query in queries:
        response = staff_client.get(CHANGELIST + query)
        assert response.status_code == 200, query  # an invalid filter redirects with ?e=1


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("state__exact=erred", {"erred"}),
        ("type__exact=Create", {"erred", "pending"}),
        ("offering_type=Marketplace.Basic", {"pending"}),
        ("offering_type=Marketplace.Slurm", {"erred"}),
    ],
)
def test_order_filters_narrow_the_list(staff_client, world, query, matches):
    orders = {
        "pending": place(world),
        "erred": f.OrderFactory(state="erred", offering=world.slurm, project=world.project),
    }

    response = staff_client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {orders[name] for name in matches}


def test_order_provider_filter_keeps_orders_of_that_provider(staff_client, world):
    order = place(world)
    foreign = f.OrderFactory(state="erred", project=world.project)  # an offering of another provider

    response = staff_client.get(f"{CHANGELIST}?offering__customer__id__exact={world.provider.pk}")

    assert list(response.context["cl"].result_list) == [order]
    assert foreign not in response.context["cl"].result_list


def test_order_changelist_query_count_does_not_grow_with_the_orders(staff_client, world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(CHANGELIST).status_code == 200
        return len(captured)

    place(world)
    made(world, "erred")
    few = queries()
    for _ in range(5):
        place(world)
        f.OrderFactory(state="done", project=world.other_project)
    assert queries() == few


@pytest.mark.parametrize("form", ["hex", "dashed", "upper hex"])
def test_order_search_finds_the_order_by_uuid(staff_client, world, form):
    order, _other = place(world), place(world)
    term = {"hex": order.uuid.hex, "dashed": str(order.uuid), "upper hex": order.uuid.hex.upper()}[form]

    response = staff_client.get(CHANGELIST, {"q": term})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [order]


@pytest.mark.parametrize(
    "term", ["Consumer project", "Consumer Org", "consumer-owner", "my-vm"], ids=["project", "customer", "user", "res"]
)
def test_order_search_by_names(staff_client, world, term):
    order = services.order_create(
        actor=world.user("consumer_owner"),
        project=world.project,
        offering=world.basic,
        plan=world.plans["basic"],
        attributes={"name": "my-vm"},
    )
    f.OrderFactory(state="erred", project=world.other_project, offering=world.slurm)

    response = staff_client.get(CHANGELIST, {"q": term})

    assert list(response.context["cl"].result_list) == [order]


# --- order change page --------------------------------------------------------------------------


def test_order_change_page_shows_events_and_no_editable_state(staff_client, world):
    order = place(world)
    f.OrderEventFactory(order=order, kind="note", message="provider asked for more cores")
    url = reverse("admin:orders_order_change", args=[order.pk])

    response = staff_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert order.uuid.hex in html
    assert "provider asked for more cores" in html
    events = response.context["inline_admin_formsets"][0].formset.queryset
    assert [e.kind for e in events] == ["create", "note"]
    assert 'name="state"' not in html
    assert "state" not in response.context["adminform"].form.fields


def test_order_state_cannot_be_changed_by_posting_the_change_form(staff_client, world):
    order = place(world)
    url = reverse("admin:orders_order_change", args=[order.pk])

    response = staff_client.post(url, {"state": "done", "error_message": "x"})

    assert response.status_code == 403
    assert state_of(order) == "pending-provider"


def test_staff_rename_a_resource_and_its_state_stays(staff_client, world):
    order = place(world)
    resource = order.resource
    data = {
        "name": "renamed",
        "slug": "renamed",
        "end_date": "",
        "backend_metadata": "{}",
        "state": "OK",
        "orders-TOTAL_FORMS": "1",
        "orders-INITIAL_FORMS": "1",
        "orders-MIN_NUM_FORMS": "0",
        "orders-MAX_NUM_FORMS": "1000",
        "orders-0-id": str(order.pk),
        "orders-0-resource": str(resource.pk),
    }

    response = staff_client.post(reverse("admin:orders_resource_change", args=[resource.pk]), data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    stored = Order.objects.get(pk=order.pk).resource
    assert (stored.name, stored.state) == ("renamed", "Creating")
    assert state_of(order) == "pending-provider"


def test_orders_and_events_cannot_be_added_or_deleted_in_the_admin(staff_client, world):
    order = place(world)
    assert staff_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert staff_client.get(reverse("admin:orders_orderevent_add")).status_code == 403
    assert staff_client.get(reverse("admin:orders_resource_add")).status_code == 403
    assert staff_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


# --- order actions ------------------------------------------------------------------------------


def test_approve_moves_pending_consumer_and_pending_provider_orders_on(staff_client, world):
    by_member, by_owner = place(world, author="project_member"), place(world)
    assert (by_member.state, by_owner.state) == ("pending-consumer", "pending-provider")

    notes = run_action(staff_client, "approve", by_member, by_owner)

    assert state_of(by_member) == "pending-provider"
    assert state_of(by_owner) == "executing"
    assert staff_events(world, by_member, "approve_by_consumer") == 1
    assert staff_events(world, by_owner, "approve_by_provider") == 1
    assert [level for level, _ in notes] == [message_levels.SUCCESS]
    assert by_member.uuid.hex in notes[0][1] and by_owner.uuid.hex in notes[0][1]


def test_reject_picks_consumer_or_provider_rejection_by_state(staff_client, world):
    by_member, by_owner = place(world, author="project_member"), place(world)

    notes = run_action(staff_client, "reject", by_member, by_owner)

    assert state_of(by_member) == state_of(by_owner) == "rejected"
    assert staff_events(world, by_member, "reject_by_consumer") == 1
    assert staff_events(world, by_owner, "reject_by_provider") == 1
    assert Order.objects.get(pk=by_owner.pk).resource.state == "Terminated"
    assert [level for level, _ in notes] == [message_levels.SUCCESS]


@pytest.mark.parametrize(
    ("action", "start", "end", "kind"),
    [
        ("mark_done", "executing", "done", "set_state_done"),
        ("mark_erred", "executing", "erred", "set_state_erred"),
    ],
)
def test_provisioning_actions_move_orders_through_services(staff_client, world, action, start, end, kind):
    order = made(world, start)

    notes = run_action(staff_client, action, order)

    assert state_of(order) == end
    assert staff_events(world, order, kind) == 1
    assert notes == [(message_levels.SUCCESS, notes[0][1])] and order.uuid.hex in notes[0][1]


def test_retry_counts_the_attempt_and_mark_erred_names_the_staff_member(staff_client, world):
    erred, executing = made(world, "erred"), made(world, "executing")

    resubmit_as_job(staff_client, erred)
    run_action(staff_client, "mark_erred", executing)

    assert Order.objects.get(pk=erred.pk).attempt == 2
    assert "staff" in Order.objects.get(pk=executing.pk).error_message


@pytest.mark.parametrize(
    ("action", "state", "valid"),
    [
        ("approve", "executing", "pending-consumer, pending-provider"),
        ("reject", "done", "pending-consumer, pending-provider"),
        ("mark_done", "pending-consumer", "executing"),
        ("mark_erred", "done", "pending-consumer"),
    ],
)
def test_actions_refuse_orders_in_the_wrong_state_and_leave_them_alone(staff_client, world, action, state, valid):
    order = made(world, state)
    events = OrderEvent.objects.filter(order=order).count()

    notes = run_action(staff_client, action, order)

    assert state_of(order) == state
    assert OrderEvent.objects.filter(order=order).count() == events
    assert len(notes) == 1
    level, text = notes[0]
    assert level == message_levels.WARNING
    assert order.uuid.hex in text and f"in state {state}" in text and valid in text


def test_mixed_selection_moves_the_good_orders_and_reports_each_bad_one(staff_client, world):
    good = [made(world, "executing"), made(world, "executing")]
    bad = [made(world, "done"), made(world, "pending-provider")]

    notes = run_action(staff_client, "mark_done", *good, *bad)

    assert [state_of(o) for o in good] == ["done", "done"]
    assert [state_of(o) for o in bad] == ["done", "pending-provider"]
    success = [text for level, text in notes if level == message_levels.SUCCESS]
    warnings = [text for level, text in notes if level == message_levels.WARNING]
    assert len(success) == 1 and all(o.uuid.hex in success[0] for o in good)
    assert len(warnings) == 2
    assert all(any(o.uuid.hex in text for text in warnings) for o in bad)
    assert all("Valid states for operation: executing" in text for text in warnings)


def test_action_reports_an_offering_type_that_does_not_support_it(staff_client, world):
    odd = f.OfferingFactory(customer=world.provider, type="Legacy.Thing")
    order = f.OrderFactory(state="executing", offering=odd, project=world.project)

    notes = run_action(staff_client, "mark_done", order)

    assert state_of(order) == "executing"
    assert notes == [(message_levels.WARNING, notes[0][1])]
    assert "Legacy.Thing" in notes[0][1]


# --- every registered model ---------------------------------------------------------------------


def project_models():
    return [model for model in admin.site._registry if model._meta.app_label in APPS]


def test_every_project_model_is_registered():
    names = {m._meta.label for m in project_models()}
    assert names == {
        "permissions.Customer", "permissions.Project", "permissions.Role", "permissions.UserRole",
        "permissions.UserProfile", "offerings.ServiceProvider", "offerings.Category", "offerings.Offering",
        "offerings.OfferingComponent", "offerings.Plan", "orders.Order", "orders.Resource", "orders.OrderEvent",
        "orders.FailedOrder",
        "offerings.AgentIdentity", "offerings.AgentService", "offerings.AgentProcessor",
    }  # fmt: skip


def register_agent(world) -> None:
    manager = world.user("offering_manager")
    identity, _ = agent_services.agent_identity_register(actor=manager, offering=world.slurm, name="agent-x")
    service, _ = agent_services.agent_service_register(actor=manager, identity=identity, name="order_process")
    agent_services.agent_processor_register(actor=manager, service=service, name="p", backend_type="mock")


@pytest.mark.parametrize("label", sorted(m._meta.label for m in project_models()))
def test_changelist_change_and_add_pages_of_every_model_render(staff_client, world, label):
    place(world)
    made(world, "erred")
    register_agent(world)
    model = next(m for m in project_models() if m._meta.label == label)
    model_admin = admin.site._registry[model]
    info = (model._meta.app_label, model._meta.model_name)
    obj = model._default_manager.order_by("pk").last()
    assert obj is not None, f"the world has no {label}"

    assert staff_client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200
    assert staff_client.get(reverse("admin:{}_{}_changelist".format(*info)), {"q": "x"}).status_code == 200
    # follow: a failed order's page is its order's page
    assert staff_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]), follow=True).status_code == 200
    request = staff_client.get(reverse("admin:index")).wsgi_request
    if model_admin.has_add_permission(request):
        assert staff_client.get(reverse("admin:{}_{}_add".format(*info))).status_code == 200


def test_admin_index_lists_the_marketplace_apps_for_staff(staff_client, world):
    response = staff_client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert {app["app_label"] for app in response.context["app_list"]} >= set(APPS)


# --- forms --------------------------------------------------------------------------------------


def test_offering_type_is_chosen_from_the_registry_and_unknown_stored_types_stay(staff_client, world):
    odd = f.OfferingFactory(customer=world.provider, type="Legacy.Thing")

    page = staff_client.get(reverse("admin:offerings_offering_change", args=[odd.pk]))
    choices = dict(page.context["adminform"].form.fields["type"].choices)
    add_choices = dict(
        staff_client.get(reverse("admin:offerings_offering_add")).context["adminform"].form.fields["type"].choices
    )

    assert {"Marketplace.Basic", "Marketplace.Slurm", "Marketplace.Webhook", "Legacy.Thing"} <= set(choices)
    assert "Legacy.Thing" not in add_choices
    assert Offering.objects.get(pk=odd.pk).type == "Legacy.Thing"


def test_user_role_on_the_wrong_scope_kind_is_refused(staff_client, world):
    from django.contrib.contenttypes.models import ContentType

    from permissions.models import Role, UserRole

    user = f.UserFactory(username="newcomer")
    data = {
        "user": user.pk,
        "role": Role.objects.get(name="PROJECT.ADMIN").pk,
        "content_type": ContentType.objects.get_for_model(world.customer).pk,
        "object_id": world.customer.pk,
        "is_active": "on",
    }

    refused = staff_client.post(reverse("admin:permissions_userrole_add"), data)
    data["content_type"] = ContentType.objects.get_for_model(world.project).pk
    data["object_id"] = world.project.pk
    accepted = staff_client.post(reverse("admin:permissions_userrole_add"), data)

    assert refused.status_code == 200 and "is granted on a project" in refused.content.decode()
    assert accepted.status_code == 302
    assert UserRole.objects.filter(user=user, object_id=world.project.pk).count() == 1


def test_role_grants_are_edited_inline(staff_client, world):
    from permissions.models import Role

    role = Role.objects.get(name="PROJECT.MEMBER")
    page = staff_client.get(reverse("admin:permissions_role_change", args=[role.pk]))

    formset = page.context["inline_admin_formsets"][0].formset
    assert {form.instance.permission for form in formset.forms if form.instance.pk} == {"ORDER.LIST", "ORDER.CREATE"}


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["consumer_owner", "provider_owner", "support"])
def test_non_staff_users_are_sent_to_the_admin_login(client, world, who):
    client.force_login(world.user(who))

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_per_order_actions_refuse_a_selection_too_large_to_apply_within_the_request(staff_client, world, settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "BULK_RETRY_SYNC_LIMIT": 2}
    executing = [f.OrderFactory(state="executing", offering=world.basic, project=world.project) for _ in range(3)]

    messages = run_action(staff_client, "mark_done", *executing)

    assert [state_of(o) for o in executing] == ["executing"] * 3
    assert any("at most 2 orders" in text for _, text in messages)


def test_order_page_links_attachments_to_the_permission_checked_download(staff_client, world):
    from django.core.files.base import ContentFile

    order = f.OrderFactory(state="pending-consumer", offering=world.basic, project=world.project)
    order.attachment.save("po.pdf", ContentFile(b"%PDF-1.4 test"), save=True)

    page = staff_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    download = f"/api/marketplace-orders/{order.uuid.hex}/attachments/attachment/po.pdf"

    assert download in page
    assert b"".join(staff_client.get(download).streaming_content) == b"%PDF-1.4 test"
