"""factory-boy factories. `OrderFactory(state="erred")` works: a protected FSM field may be set once."""

from __future__ import annotations

import factory
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from rest_framework.authtoken.models import Token

from offerings.models import Category, Offering, OfferingComponent, Plan, PlanComponent, ServiceProvider
from orders.models import Order, OrderEvent, Resource
from orders.states import OrderType, ResourceState
from permissions.models import Customer, Project, Role, UserProfile, UserRole
from permissions.roles import forget_grants


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("password")


def token_for(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def make_support(user: User) -> User:
    UserProfile.objects.update_or_create(user=user, defaults={"is_support": True})
    return User.objects.get(pk=user.pk)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class ServiceProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceProvider
        django_get_or_create = ("customer",)

    customer = factory.SubFactory(CustomerFactory)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    title = factory.Sequence(lambda n: f"Category {n}")


class OfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offering

    customer = factory.SubFactory(CustomerFactory)
    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Offering {n}")
    slug = factory.Sequence(lambda n: f"offering-{n}")
    type = "Marketplace.Basic"
    state = Offering.States.ACTIVE
    shared = True
    plugin_options = factory.LazyFunction(dict)


class OfferingComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfferingComponent

    offering = factory.SubFactory(OfferingFactory)
    type = "cpu"
    name = "CPU"
    measured_unit = "k-Hours"
    billing_type = OfferingComponent.BillingTypes.LIMIT


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    offering = factory.SubFactory(OfferingFactory)
    name = factory.Sequence(lambda n: f"Plan {n}")
    unit_price = 10


class PlanComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanComponent

    plan = factory.SubFactory(PlanFactory)
    component = factory.SubFactory(OfferingComponentFactory)
    price = 1


class ResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resource

    project = factory.SubFactory(ProjectFactory)
    offering = factory.SubFactory(OfferingFactory)
    name = factory.Sequence(lambda n: f"resource-{n}")
    slug = factory.Sequence(lambda n: f"resource-{n}")
    state = ResourceState.CREATING


class OrderFactory(factory.django.DjangoModelFactory):
    """An order (and, unless given, its resource in the state its type implies)."""

    class Meta:
        model = Order

    type = OrderType.CREATE
    state = "pending-consumer"
    project = factory.SubFactory(ProjectFactory)
    offering = factory.SubFactory(OfferingFactory)
    resource = factory.LazyAttribute(
        lambda o: ResourceFactory(
            project=o.project,
            offering=o.offering,
            state={
                OrderType.CREATE: ResourceState.CREATING,
                OrderType.RESTORE: ResourceState.CREATING,
                OrderType.UPDATE: ResourceState.UPDATING,
                OrderType.TERMINATE: ResourceState.TERMINATING,
            }[o.type],
        )
    )
    created_by = factory.SubFactory(UserFactory)
    state_entered_at = factory.LazyFunction(timezone.now)


class OrderEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderEvent

    order = factory.SubFactory(OrderFactory)
    kind = "create"


def grant_role(user: User, role: str, scope) -> UserRole:
    """Give `user` the role named `role` (e.g. "PROJECT.ADMIN") on `scope`."""
    user_role = UserRole.objects.create(
        user=user,
        role=Role.objects.get(name=role),
        content_type=ContentType.objects.get_for_model(scope),
        object_id=scope.pk,
    )
    forget_grants(user)
    return user_role
