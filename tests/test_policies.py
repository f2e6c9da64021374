"""Who may do what (DESIGN §3): a role × policy matrix written by hand from the default grants, role
validity, staff-edited grants, queryset scoping and the grants cache."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from core.models import Job
from offerings.models import Offering
from orders.models import Order, Resource
from permissions import policies as p
from permissions.models import Role, RolePermission, UserRole
from permissions.roles import forget_grants
from permissions.scoping import filter_visible
from tests.factories import CustomerFactory, OfferingFactory, OrderFactory, ProjectFactory, UserFactory

ROLES = [
    "staff",
    "support",
    "stranger",
    "consumer_owner",
    "customer_support",
    "project_admin",
    "project_manager",
    "project_member",
    "provider_owner",
    "service_manager",
    "offering_manager",
    "other_owner",
]

# Groups of holders, from the DESIGN §3 grant table (the order is in the consumer project, on the SLURM
# offering the offering manager manages). Staff may do everything; support changes nothing.
PROJECT_ROLES = {"project_admin", "project_manager"}
CONSUMER_CREATORS = {"staff", "consumer_owner", "project_member"} | PROJECT_ROLES
CONSUMER_APPROVERS = {"staff", "consumer_owner"}
CONSUMER_MANAGERS = {"staff", "consumer_owner"} | PROJECT_ROLES  # DESTROY, CANCEL, RESOURCE.SET_*/TERMINATE
PROVIDER_APPROVERS = {"staff", "provider_owner", "service_manager", "offering_manager"}
PROVIDER_RETRIERS = {"staff", "provider_owner", "offering_manager"}  # seed 000
PROVIDER_BACKEND_ID = {"staff", "provider_owner", "offering_manager"}

ORDER_POLICIES: dict[str, set[str]] = {
    "can_approve_order_as_consumer": CONSUMER_APPROVERS,
    "can_reject_order_as_consumer": CONSUMER_APPROVERS,
    "can_approve_order_as_provider": PROVIDER_APPROVERS,
    "can_reject_order_as_provider": PROVIDER_APPROVERS,
    "can_drive_order_provisioning": PROVIDER_APPROVERS,
    "can_retry_order": PROVIDER_RETRIERS,
    "can_cancel_order": CONSUMER_MANAGERS,
    "can_destroy_order": CONSUMER_MANAGERS,
    "can_unlink_order": {"staff"},
    "can_release_order": {"staff"},
    "can_update_order": CONSUMER_APPROVERS,
    "can_manage_order_attachment": CONSUMER_CREATORS,
    "can_set_order_consumer_info": CONSUMER_APPROVERS,
    "can_set_order_provider_info": PROVIDER_APPROVERS,
    "can_set_order_backend_id": PROVIDER_BACKEND_ID,
}
RESOURCE_POLICIES: dict[str, set[str]] = {
    "can_terminate_resource": CONSUMER_MANAGERS,
    "can_switch_resource_plan": CONSUMER_MANAGERS,
    "can_update_resource_limits": CONSUMER_MANAGERS,
    "can_set_resource_backend_id": PROVIDER_BACKEND_ID,
    "can_set_resource_limits_as_provider": PROVIDER_APPROVERS,
    "can_terminate_resource_as_provider": PROVIDER_APPROVERS,
    "can_set_resource_state_as_provider": PROVIDER_APPROVERS,
}
# who consumes a provider's offerings: the provider organisation's people (not a single offering's manager)
PROVIDER_POLICIES: dict[str, set[str]] = {
    "can_see_provider_consumers": {"staff", "support", "provider_owner", "service_manager"},
}
PROJECT_POLICIES: dict[str, set[str]] = {"can_create_order": CONSUMER_CREATORS}
OFFERING_POLICIES: dict[str, set[str]] = {
    "can_manage_offering": PROVIDER_APPROVERS,
    "can_see_offering_as_provider": PROVIDER_APPROVERS | {"support"},
    "can_see_offering_internals": PROVIDER_APPROVERS | {"support"},  # internal plugin options
    "can_retry_orders_of_offering": PROVIDER_RETRIERS,  # the bulk resubmit preview decides per offering
}


def _row(world, policy: str, obj) -> dict[str, bool]:
    """One row of the matrix: the policy's answer for every role user (a mismatch names the cell)."""
    return {role: getattr(p, policy)(world.user(role), obj) for role in ROLES}


def _expected(holders: set[str]) -> dict[str, bool]:
    return {role: role in holders for role in ROLES}


# bulk resubmit (seed 003): the retry right on some offering at all, and who may pause/resume/cancel a job
# (the job below is the provider owner's)
BULK_POLICIES: dict[str, set[str]] = {
    "can_retry_orders_somewhere": PROVIDER_RETRIERS,
    "can_manage_job": {"staff", "provider_owner"},
}


def test_the_matrix_covers_every_order_and_resource_policy():
    covered = set(ORDER_POLICIES) | set(RESOURCE_POLICIES) | set(PROJECT_POLICIES) | set(OFFERING_POLICIES)
    covered |= set(BULK_POLICIES) | set(PROVIDER_POLICIES)
    public = {name for name in dir(p) if name.startswith("can_")}
    assert public == covered


@pytest.fixture
def order(world):
    order = OrderFactory(state="pending-consumer", offering=world.slurm, project=world.project)
    return Order.objects.select_related("project__customer", "offering__customer").get(pk=order.pk)


@pytest.mark.parametrize(("policy", "holders"), ORDER_POLICIES.items())
def test_order_policy_matrix(world, order, policy, holders):
    assert _row(world, policy, order) == _expected(holders)


@pytest.mark.parametrize(("policy", "holders"), RESOURCE_POLICIES.items())
def test_resource_policy_matrix(world, order, policy, holders):
    resource = Resource.objects.select_related("project__customer", "offering__customer").get(pk=order.resource_id)

    assert _row(world, policy, resource) == _expected(holders)


@pytest.mark.parametrize(("policy", "holders"), PROJECT_POLICIES.items())
def test_project_policy_matrix(world, policy, holders):
    assert _row(world, policy, world.project) == _expected(holders)


@pytest.mark.parametrize(("policy", "holders"), PROVIDER_POLICIES.items())
def test_service_provider_policy_matrix(world, policy, holders):
    assert _row(world, policy, world.service_provider) == _expected(holders)


@pytest.mark.parametrize(("policy", "holders"), OFFERING_POLICIES.items())
def test_offering_policy_matrix(world, policy, holders):
    assert _row(world, policy, world.slurm) == _expected(holders)


def test_the_retry_right_somewhere_is_held_by_staff_provider_owners_and_offering_managers_only(world):
    assert _row(world, "can_retry_orders_somewhere", Offering.objects.all()) == _expected(PROVIDER_RETRIERS)
    # the consumer owner holds ORDER.RETRY on an organisation without offerings: nowhere to use it
    assert p.can_retry_orders_somewhere(world.user("consumer_owner"), Offering.objects.all()) is False
    assert p.can_retry_orders_somewhere(world.user("offering_manager"), Offering.objects.none()) is False


def test_only_staff_and_the_author_may_manage_a_job(world):
    job = Job.objects.create(kind="bulk_retry", created_by=world.user("provider_owner"))

    assert _row(world, "can_manage_job", job) == _expected(BULK_POLICIES["can_manage_job"])


def test_offering_manager_of_slurm_has_no_say_over_basic_orders(world):
    basic_order = OrderFactory(state="pending-provider", offering=world.basic, project=world.project)
    manager = world.user("offering_manager")

    assert not p.can_approve_order_as_provider(manager, basic_order)
    assert not p.can_retry_order(manager, basic_order)


@pytest.mark.parametrize(
    "policy",
    ["can_reject_order_as_consumer", "can_update_order", "can_set_order_consumer_info", "can_manage_order_attachment"],
)
def test_author_without_a_role_may_still_act_on_their_own_order(world, order, policy):
    author = order.created_by
    assert not UserRole.objects.filter(user=author).exists()

    assert getattr(p, policy)(author, order) is True


def test_author_may_not_approve_their_own_order_without_the_right(world, order):
    assert p.can_approve_order_as_consumer(order.created_by, order) is False


def test_inactive_staff_user_has_no_staff_rights(world, order):
    staff = world.user("staff")
    staff.is_active = False

    assert p.can_unlink_order(staff, order) is False


@pytest.mark.parametrize(
    ("change", "grants_after"),
    [
        ({"expiration_time": timezone.now() - datetime.timedelta(minutes=1)}, False),
        ({"is_active": False}, False),
        ({"expiration_time": timezone.now() + datetime.timedelta(days=1)}, True),
    ],
)
def test_expired_and_inactive_roles_grant_nothing(world, order, change, grants_after):
    UserRole.objects.filter(user=world.user("consumer_owner")).update(**change)
    owner = User.objects.get(pk=world.user("consumer_owner").pk)

    assert p.can_approve_order_as_consumer(owner, order) is grants_after
    assert (filter_visible(owner, Order.objects.all()).count() == 1) is grants_after


def test_grant_removed_by_staff_takes_effect_for_the_next_request(world, order):
    owner = world.user("consumer_owner")
    assert p.can_approve_order_as_consumer(owner, order)

    RolePermission.objects.filter(role__name="CUSTOMER.OWNER", permission="ORDER.APPROVE").delete()
    next_request_user = User.objects.get(pk=owner.pk)

    assert not p.can_approve_order_as_consumer(next_request_user, order)
    assert p.can_cancel_order(next_request_user, order)  # the other grants stay


def test_grant_added_by_staff_takes_effect(world, order):
    RolePermission.objects.create(role=Role.objects.get(name="PROJECT.MEMBER"), permission="ORDER.APPROVE")
    member = User.objects.get(pk=world.user("project_member").pk)

    assert p.can_approve_order_as_consumer(member, order)


# --- scoping ------------------------------------------------------------------------------------------


@pytest.fixture
def orders(world):
    """A: consumer × slurm, B: consumer × basic, C: unrelated × unrelated, D: unrelated × basic."""
    unrelated = CustomerFactory(name="Unrelated")
    unrelated_project = ProjectFactory(customer=unrelated)
    return {
        "A": OrderFactory(offering=world.slurm, project=world.project),
        "B": OrderFactory(offering=world.basic, project=world.project),
        "C": OrderFactory(offering=OfferingFactory(customer=CustomerFactory()), project=unrelated_project),
        "D": OrderFactory(offering=world.basic, project=unrelated_project),
    }


VISIBLE = {
    "staff": "ABCD",
    "support": "ABCD",
    "stranger": "",
    "consumer_owner": "AB",
    "customer_support": "AB",
    "project_admin": "AB",
    "project_manager": "AB",
    "project_member": "AB",
    "provider_owner": "ABD",
    "service_manager": "ABD",
    "offering_manager": "A",
    "other_owner": "",
}


@pytest.mark.parametrize(("role", "expected"), VISIBLE.items())
def test_each_role_sees_exactly_its_orders(world, orders, role, expected):
    visible = filter_visible(world.user(role), Order.objects.all())

    assert set(visible.values_list("pk", flat=True)) == {orders[key].pk for key in expected}


@pytest.mark.parametrize(("role", "expected"), VISIBLE.items())
def test_each_role_sees_exactly_the_resources_of_its_orders(world, orders, role, expected):
    visible = filter_visible(world.user(role), Resource.objects.all())

    assert set(visible.values_list("pk", flat=True)) == {orders[key].resource_id for key in expected}


def test_anonymous_user_sees_nothing(world, orders):
    assert not filter_visible(AnonymousUser(), Order.objects.all()).exists()


def test_grants_are_loaded_once_per_user_object(world, order, django_assert_num_queries):
    owner = User.objects.get(pk=world.user("consumer_owner").pk)
    with django_assert_num_queries(1):
        p.can_approve_order_as_consumer(owner, order)

    with django_assert_num_queries(0):
        for _ in range(50):
            p.can_approve_order_as_consumer(owner, order)
            p.can_cancel_order(owner, order)
            p.can_approve_order_as_provider(owner, order)


def test_forgetting_grants_reloads_them(world, order):
    user = UserFactory()
    assert not p.can_cancel_order(user, order)
    UserRole.objects.create(
        user=user,
        role=Role.objects.get(name="PROJECT.ADMIN"),
        content_type=ContentType.objects.get_for_model(world.project),
        object_id=world.project.pk,
    )
    assert not p.can_cancel_order(user, order)  # still the cached answer

    forget_grants(user)

    assert p.can_cancel_order(user, order)
