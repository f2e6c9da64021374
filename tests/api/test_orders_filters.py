"""Every list filter of clients.md §A.3 with Waldur semantics (waldur-orders.md §5), ordering and paging."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from django.utils import timezone

from orders.models import Order
from tests.api import ORDERS, bulk_orders, listed_uuids, make_order
from tests.factories import ResourceFactory


@pytest.fixture
def orders(world):
    """Four orders that differ in every filtered attribute; keys name them."""
    made = {
        "slurm": make_order(world, "pending-provider", "slurm", slug="alpha-slurm"),
        "basic": make_order(world, "executing", "basic", type="Update", slug="beta-basic",
                            resource=ResourceFactory(project=world.project, offering=world.basic, name="Shiny box",
                                                     state="Updating")),
        "webhook": make_order(world, "pending-consumer", "webhook", type="Terminate", slug="gamma-webhook"),
        "other": make_order(world, "done", "slurm", project=world.other_project, slug="delta-other"),
    }  # fmt: skip
    base = timezone.now() - dt.timedelta(days=10)
    for day, order in enumerate(made.values()):
        Order.objects.filter(pk=order.pk).update(created=base + dt.timedelta(days=day * 2), cost=10 - day)
        order.refresh_from_db()
    return made


def found(api, world, query: str, user: str = "staff") -> set[str]:
    return set(listed_uuids(api.as_user(world.user(user)).get(f"{ORDERS}?{query}")))


def keys(orders, *names) -> set[str]:
    return {orders[name].uuid.hex for name in names}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("state=executing", ["basic"]),
        ("state=pending-provider&state=executing", ["slurm", "basic"]),
        ("state=done&state=pending-consumer&state=erred", ["other", "webhook"]),
        ("type=Create", ["slurm", "other"]),
        ("type=Update&type=Terminate", ["basic", "webhook"]),
        ("type=Create&state=done", ["other"]),
    ],
)
def test_state_and_type_take_repeated_keys(world, api, orders, query, expected):
    assert found(api, world, query) == keys(orders, *expected)


@pytest.mark.parametrize("query, field", [("state=cancelled", "state"), ("state=executing&state=Executing", "state"),
                                          ("type=create", "type")])  # fmt: skip
def test_unknown_state_or_type_is_400_naming_the_field(world, api, orders, query, field):
    response = api.as_user(world.user("staff")).get(f"{ORDERS}?{query}")

    assert response.status_code == 400
    assert isinstance(response.json()[field], list) and response.json()[field][0]


UUID_FILTERS = {
    "offering_uuid": lambda w, o: (w.slurm.uuid, ["slurm", "other"]),
    "project_uuid": lambda w, o: (w.other_project.uuid, ["other"]),
    "customer_uuid": lambda w, o: (w.customer.uuid, ["slurm", "basic", "webhook"]),
    "provider_uuid": lambda w, o: (w.provider.uuid, ["slurm", "basic", "webhook", "other"]),
    "category_uuid": lambda w, o: (w.slurm.category.uuid, ["slurm", "basic", "webhook", "other"]),
    "resource_uuid": lambda w, o: (o["basic"].resource.uuid, ["basic"]),
}


@pytest.mark.parametrize("name", list(UUID_FILTERS))
@pytest.mark.parametrize("spelling", ["hex", "dashed", "upper-dashed"])
def test_uuid_filters_accept_hex_and_dashed(world, api, orders, name, spelling):
    value, expected = UUID_FILTERS[name](world, orders)
    text = {"hex": value.hex, "dashed": str(value), "upper-dashed": str(value).upper()}[spelling]

    assert found(api, world, f"{name}={text}") == keys(orders, *expected)


@pytest.mark.parametrize("name", list(UUID_FILTERS))
@pytest.mark.parametrize("value", ["not-a-uuid", "1234", "0123456789abcdef0123456789abcdeg"])
def test_malformed_uuid_filter_is_400_naming_the_field(world, api, orders, name, value):
    response = api.as_user(world.user("staff")).get(ORDERS, {name: value})

    assert response.status_code == 400
    assert name in response.json()


def test_unknown_uuid_filter_value_finds_nothing(world, api, orders):
    assert found(api, world, "offering_uuid=00000000000000000000000000000000") == set()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("offering_type=Marketplace.Basic", ["basic"]),
        ("offering_type=Marketplace.Basic&offering_type=Marketplace.Webhook", ["basic", "webhook"]),
        ("offering_type=Marketplace.Basic,Marketplace.Webhook", ["basic", "webhook"]),
        ("offering_slug=slurm", ["slurm", "other"]),
        ("offering_slug=basic&offering_slug=webhook", ["basic", "webhook"]),
        ("offering_slug=basic,webhook", ["basic", "webhook"]),
        ("offering_slug=nothing", []),
    ],
)
def test_offering_type_and_slug_take_repeated_and_comma_separated_values(world, api, orders, query, expected):
    assert found(api, world, query) == keys(orders, *expected)


def test_offering_and_resource_filters_take_hyperlinks(world, api, orders):
    offering = f"http://testserver/api/marketplace-public-offerings/{world.webhook.uuid.hex}/"
    resource = f"http://testserver/api/marketplace-resources/{orders['basic'].resource.uuid.hex}/"

    assert found(api, world, f"offering={quote(offering, safe='')}") == keys(orders, "webhook")
    assert found(api, world, f"resource={quote(resource, safe='')}") == keys(orders, "basic")
    assert found(api, world, f"offering={world.basic.uuid}") == keys(orders, "basic")


@pytest.mark.parametrize("name", ["offering", "resource"])
def test_link_filter_without_a_uuid_is_400(world, api, orders, name):
    response = api.as_user(world.user("staff")).get(ORDERS, {name: "http://testserver/api/nothing-here/"})

    assert response.status_code == 400
    assert name in response.json()


@pytest.mark.parametrize("spelling", ["hex", "dashed"])
def test_query_with_a_uuid_finds_exactly_that_order(world, api, orders, spelling):
    uuid = orders["webhook"].uuid
    # the project name of every order contains no part of the uuid, so a substring match would find none

    assert found(api, world, f"query={uuid.hex if spelling == 'hex' else uuid}") == keys(orders, "webhook")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("other PROJECT", ["other"]),  # project name, case-insensitive
        ("shiny", ["basic"]),  # resource name
        ("ALPHA-slu", ["slurm"]),  # order slug
        ("consumer proj", ["slurm", "basic", "webhook"]),
        ("nothing like it", []),
    ],
)
def test_query_text_searches_project_name_resource_name_and_slug(world, api, orders, text, expected):
    assert found(api, world, f"query={quote(text)}") == keys(orders, *expected)


def test_resource_name_and_slug_are_exact(world, api, orders):
    assert found(api, world, f"resource_name={quote('Shiny box')}") == keys(orders, "basic")
    assert found(api, world, "resource_name=Shiny") == set()
    assert found(api, world, "slug=gamma-webhook") == keys(orders, "webhook")


def test_created_and_modified_ranges_take_isoformat_with_offset(world, api, orders):
    third = orders["webhook"].created  # created: slurm < basic < webhook < other, two days apart
    after = quote((third - dt.timedelta(hours=1)).isoformat())  # "+00:00" percent-encoded
    before = quote((third + dt.timedelta(hours=1)).isoformat())

    assert "%2B00%3A00" in after
    assert found(api, world, f"created={after}") == keys(orders, "webhook", "other")
    assert found(api, world, f"created_before={before}") == keys(orders, "slurm", "basic", "webhook")
    assert found(api, world, f"created={after}&created_before={before}") == keys(orders, "webhook")
    assert found(api, world, f"created={quote(third.isoformat())}&created_before={quote(third.isoformat())}") == keys(
        orders, "webhook"
    )


def test_modified_filters_use_the_last_change(world, api, orders):
    cut = timezone.now()
    Order.objects.filter(pk=orders["slurm"].pk).update(modified=cut + dt.timedelta(minutes=5))
    Order.objects.exclude(pk=orders["slurm"].pk).update(modified=cut - dt.timedelta(minutes=5))

    assert found(api, world, f"modified={quote(cut.isoformat())}") == keys(orders, "slurm")
    assert found(api, world, f"modified_before={quote(cut.isoformat())}") == keys(orders, "basic", "webhook", "other")
    assert found(api, world, f"modified_before={cut.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}") == keys(
        orders, "basic", "webhook", "other"
    )


@pytest.mark.parametrize("name", ["created", "created_before", "modified", "modified_before"])
def test_malformed_datetime_is_400_naming_the_field(world, api, orders, name):
    response = api.as_user(world.user("staff")).get(ORDERS, {name: "yesterday"})

    assert response.status_code == 400
    assert name in response.json()


@pytest.mark.parametrize(
    "user, query, expected",
    [
        ("consumer_owner", "can_approve_as_consumer=true", ["webhook"]),
        ("project_admin", "can_approve_as_consumer=true", []),  # no ORDER.APPROVE
        ("project_admin", "can_approve_as_consumer=false", ["webhook"]),  # pending-consumer, not by right
        ("staff", "can_approve_as_consumer=true", ["webhook"]),
        ("provider_owner", "can_approve_as_provider=true", ["slurm"]),
        ("offering_manager", "can_approve_as_provider=true", ["slurm"]),
        ("consumer_owner", "can_approve_as_provider=true", []),
        ("consumer_owner", "can_approve_as_provider=false", ["slurm"]),
        ("staff", "can_approve_as_provider=false", ["slurm"]),
        ("staff", "was_auto_approved=false", ["slurm", "basic", "webhook", "other"]),
        ("staff", "was_auto_approved=true", []),
    ],
)
def test_approval_filters(world, api, orders, user, query, expected):
    assert found(api, world, query, user) == keys(orders, *expected)


def test_offering_manager_can_approve_only_orders_of_the_offering_it_manages(world, api, orders):
    basic_pending = make_order(world, "pending-provider", "basic")

    assert found(api, world, "can_approve_as_provider=true", "offering_manager") == keys(orders, "slurm")
    assert found(api, world, "can_approve_as_provider=true", "provider_owner") == keys(orders, "slurm") | {
        basic_pending.uuid.hex
    }


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("", ["slurm", "basic", "webhook", "other"]),
        ("o=created", ["slurm", "basic", "webhook", "other"]),
        ("o=-created", ["other", "webhook", "basic", "slurm"]),
        ("o=cost", ["other", "webhook", "basic", "slurm"]),
        ("o=-cost", ["slurm", "basic", "webhook", "other"]),
        ("o=state,-created", ["other", "basic", "webhook", "slurm"]),
        ("o=state&o=-created", ["other", "basic", "webhook", "slurm"]),
        ("o=-state&o=created", ["slurm", "webhook", "basic", "other"]),
    ],
)
def test_ordering(world, api, orders, ordering, expected):
    rows = listed_uuids(api.as_user(world.user("staff")).get(f"{ORDERS}?{ordering}"))

    assert rows == [orders[name].uuid.hex for name in expected]


def test_ordering_by_consumer_review_time(world, api, orders):
    now = timezone.now()
    Order.objects.filter(pk=orders["other"].pk).update(consumer_reviewed_at=now - dt.timedelta(hours=2))
    Order.objects.filter(pk=orders["basic"].pk).update(consumer_reviewed_at=now - dt.timedelta(hours=1))

    rows = listed_uuids(
        api.as_user(world.user("staff")).get(f"{ORDERS}?o=consumer_reviewed_at&state=done&state=executing")
    )
    desc = listed_uuids(api.get(f"{ORDERS}?o=-consumer_reviewed_at&state=done&state=executing"))

    assert rows == [orders["other"].uuid.hex, orders["basic"].uuid.hex] == desc[::-1]


def test_unknown_ordering_is_400(world, api, orders):
    response = api.as_user(world.user("staff")).get(ORDERS, {"o": "password"})

    assert response.status_code == 400
    assert "o" in response.json()


@pytest.mark.parametrize("ordering", ["", "o=state", "o=-cost"])
def test_pages_of_seven_neither_overlap_nor_skip_rows_with_equal_sort_keys(world, api, ordering):
    made = bulk_orders(world, 50)
    Order.objects.update(created=timezone.now(), cost=1)  # every row ties on created, state and cost
    api.as_user(world.user("consumer_owner"))

    pages = [listed_uuids(api.get(f"{ORDERS}?page_size=7&page={n}&{ordering}")) for n in range(1, 9)]

    rows = [uuid for page in pages for uuid in page]
    assert [len(p) for p in pages] == [7] * 7 + [1]
    assert len(rows) == len(set(rows)) == 50
    assert set(rows) == {o.uuid.hex for o in made}


def test_page_beyond_the_last_is_404(world, api):
    bulk_orders(world, 12)
    api.as_user(world.user("staff"))

    assert api.get(ORDERS, {"page": 2}).status_code == 200
    assert api.get(ORDERS, {"page": 3}).status_code == 404
    assert api.get(ORDERS, {"page": "last"}).status_code == 200


def test_page_size_is_capped_at_300(world, api):
    bulk_orders(world, 305)
    api.as_user(world.user("provider_owner"))

    response = api.get(ORDERS, {"page_size": 1000, "field": "uuid"})

    assert len(response.json()) == 300
    assert response.headers["X-Result-Count"] == "305"
    assert 'rel="next"' in response.headers["Link"]
