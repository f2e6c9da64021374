"""Offering types as complete specs (DESIGN §6): capabilities, stuck_after, declared plugin options (validated
and masked by declaration), the validate hook at creation, the probe hook, and registration by a function."""

from __future__ import annotations

import datetime
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata

import pytest
from django.core.exceptions import ValidationError

from offerings import registry
from offerings.admin import OfferingForm
from offerings.exceptions import OfferingTypeValidationError
from offerings.processors.base import ManualProcessor, Outcome, ProcessResult
from offerings.types import registry as type_registry
from offerings.types.spec import OfferingTypeSpec, OptionType, PluginOption
from orders.models import Order, Resource
from orders.processing import process_order
from tests import factories as f
from tests.api import ORDERS, create_body, order_url

PUBLIC = "/api/marketplace-public-offerings/"
PROVIDER = "/api/marketplace-provider-offerings/"
HOUR, DAY = datetime.timedelta(hours=1), datetime.timedelta(days=1)


# --- the built-in specs --------------------------------------------------------------------------------

BUILTIN = [
    # type, automated, provider review, retry, cancel, agent actions, stuck_after
    (registry.BASIC, False, True, True, True, {"set_state_done", "set_state_erred"}, 3 * DAY),
    (registry.SLURM, False, True, True, False, {"set_state_executing", "set_state_done", "set_state_erred"}, DAY),
    (registry.WEBHOOK, True, False, True, False, {"set_state_done", "set_state_erred"}, HOUR),
]


@pytest.mark.parametrize(("name", "automated", "review", "retry", "cancel", "agent", "stuck_after"), BUILTIN)
def test_every_built_in_type_declares_its_capabilities_in_one_spec(
    name, automated, review, retry, cancel, agent, stuck_after
):
    spec = registry.get_offering_type(name)

    assert spec.automated is automated
    assert spec.requires_provider_review({}) is review
    assert (spec.supports("retry"), spec.supports("cancel")) == (retry, cancel)
    assert {a for a in registry.AGENT_ACTIONS if spec.supports(a)} == agent
    assert spec.stuck_after == stuck_after
    assert spec.err_when_stuck_for(f.OfferingFactory.build(type=name, plugin_options={})) is automated


def test_only_the_webhook_type_is_automated():
    assert registry.automated_type_names() == [registry.WEBHOOK]


def test_webhook_provider_review_follows_its_plugin_option(world):
    world.webhook.plugin_options = {**world.webhook.plugin_options, "require_provider_review": True}

    assert registry.requires_provider_review(world.webhook) is True
    assert registry.requires_provider_review(world.basic) is True  # manual types: always


@pytest.mark.parametrize(
    ("options", "stuck_after", "err"),
    [
        ({}, HOUR, True),
        ({"stuck_after_minutes": 15}, datetime.timedelta(minutes=15), True),
        ({"err_stuck_orders": False}, HOUR, False),
        ({"stuck_after_minutes": "soon", "err_stuck_orders": "no"}, HOUR, True),  # invalid: the type's defaults
    ],
)
def test_stuck_after_and_erring_are_overridable_per_offering(options, stuck_after, err):
    offering = f.OfferingFactory.build(type=registry.WEBHOOK, plugin_options=options)
    spec = registry.get_offering_type(registry.WEBHOOK)

    assert spec.stuck_after_for(offering) == stuck_after
    assert spec.err_when_stuck_for(offering) is err


def test_every_type_declares_the_common_options_and_the_webhook_its_own():
    common = {"stuck_after_minutes", "err_stuck_orders", "auto_approve_in_service_provider_projects",
              "disable_autoapprove", "resubmit_rate"}  # fmt: skip
    webhook = registry.get_offering_type(registry.WEBHOOK).declared_options

    for name in (registry.BASIC, registry.SLURM):
        assert set(registry.get_offering_type(name).declared_options) == common
    assert set(webhook) == common | {
        "webhook_url", "webhook_secret", "webhook_timeout_seconds", "require_provider_review", "auto_resubmit",
        "health_url",
    }  # fmt: skip
    assert [name for name, option in webhook.items() if option.secret] == ["webhook_secret"]
    assert (webhook["webhook_url"].type, webhook["health_url"].type) == (OptionType.URL, OptionType.URL)
    assert (webhook["webhook_timeout_seconds"].minimum, webhook["webhook_timeout_seconds"].maximum) == (1, 60)
    assert (webhook["require_provider_review"].default, webhook["auto_resubmit"].default) == (False, True)
    assert webhook["err_stuck_orders"].default is True
    assert registry.get_offering_type(registry.BASIC).declared_options["err_stuck_orders"].default is False


# --- plugin option validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"webhook_url": "ftp://provider.example/"}, "webhook_url: must be an http:// or https:// URL."),
        ({"webhook_url": "https://"}, "webhook_url: must be an http:// or https:// URL."),
        ({"webhook_timeout_seconds": 0.5}, "webhook_timeout_seconds: must be between 1 and 60."),
        ({"webhook_timeout_seconds": "10"}, "webhook_timeout_seconds: must be a number between 1 and 60."),
        ({"require_provider_review": "yes"}, "require_provider_review: must be true or false."),
        ({"webhook_secret": 1234}, "webhook_secret: must be a string."),
        ({"stuck_after_minutes": 0}, "stuck_after_minutes: must be at least 1."),
        ({"stuck_after_minutes": 2.5}, "stuck_after_minutes: must be a whole number at least 1."),
        ({"health_url": "not a url"}, "health_url: must be an http:// or https:// URL."),
    ],
)
def test_plugin_options_that_do_not_fit_their_declaration_are_refused_naming_the_option(world, options, message):
    world.webhook.plugin_options = {**world.webhook.plugin_options, **options}

    with pytest.raises(ValidationError) as caught:
        world.webhook.full_clean()

    assert caught.value.message_dict["plugin_options"] == [message]


def test_undeclared_and_well_typed_plugin_options_are_kept_as_they_are(world):
    options = {
        "webhook_url": "https://provider.example/hook", "webhook_timeout_seconds": 30, "health_url": "",
        "auto_resubmit": False, "stuck_after_minutes": 90, "some_waldur_option": {"nested": ["kept"]},
    }  # fmt: skip
    world.webhook.plugin_options = options
    world.webhook.full_clean()
    world.webhook.save()

    world.webhook.refresh_from_db()
    assert world.webhook.plugin_options == options


def test_the_admin_form_shows_the_option_error_on_the_plugin_options_field(world):
    data = {
        "customer": world.provider.pk, "category": world.webhook.category_id, "name": "hook", "slug": "hook",
        "description": "", "type": registry.WEBHOOK, "state": "Active", "shared": "on", "billable": "on",
        "plugin_options": '{"webhook_timeout_seconds": 600}', "backend_id": "",
    }  # fmt: skip
    form = OfferingForm(data=data, instance=world.webhook)

    assert not form.is_valid()
    assert form.errors["plugin_options"] == ["webhook_timeout_seconds: must be between 1 and 60."]


# --- a type registered through the function --------------------------------------------------------

TINY = "Test.Tiny"


class TinyProcessor:
    """Provisions at once."""

    def process(self, order) -> ProcessResult:
        return ProcessResult(Outcome.DONE, backend_id=f"tiny-{order.resource.name}")


def validate_tiny(order) -> None:
    if not order.attributes.get("flavour"):
        message = "Tiny orders need a flavour attribute."
        raise OfferingTypeValidationError(message, field_errors={"attributes": [message]})


TINY_SPEC = OfferingTypeSpec(
    name=TINY,
    label="Tiny (test)",
    processor=TinyProcessor,
    automated=True,
    provider_review=False,
    stuck_after=datetime.timedelta(minutes=5),
    options=(PluginOption("api_key", OptionType.STR, secret=True, help="Key for the tiny backend."),),
    validate_hook=validate_tiny,
)


@pytest.fixture
def tiny(world):
    registry.register_offering_type(TINY_SPEC)
    offering = f.OfferingFactory(
        customer=world.provider, category=world.basic.category, type=TINY, name="tiny", slug="tiny",
        plugin_options={"api_key": "tiny-s3cret", "region": "north"},
    )  # fmt: skip
    component = f.OfferingComponentFactory(offering=offering, type="cpu", name="CPU")
    plan = f.PlanFactory(offering=offering, name="tiny plan")
    f.PlanComponentFactory(plan=plan, component=component, price=1)
    world.tiny, world.plans["tiny"] = offering, plan
    yield offering
    registry.unregister_offering_type(TINY)


def test_a_type_registered_through_the_function_is_orderable_and_processed(world, api, tiny):
    assert (TINY, "Tiny (test)") in list(registry.TYPE_CHOICES)
    body = create_body(world, "tiny", attributes={"name": "small", "flavour": "s"})

    created = api.as_user(world.user("consumer_owner")).post(ORDERS, body, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["state"] == "executing"  # no provider review declared
    order = Order.objects.get(uuid=created.json()["uuid"])
    assert process_order(order_id=order.pk, attempt=order.attempt) == "done"
    assert Resource.objects.get(pk=order.resource_id).backend_id == "tiny-small"


def test_a_registered_types_validate_hook_refuses_an_order_with_400_and_saves_nothing(world, api, tiny):
    body = create_body(world, "tiny", attributes={"name": "small"})

    response = api.as_user(world.user("consumer_owner")).post(ORDERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["attributes"] == ["Tiny orders need a flavour attribute."]
    assert not Order.objects.filter(offering=tiny).exists()
    assert not Resource.objects.filter(offering=tiny).exists()


def test_a_registered_types_secret_options_are_masked_in_every_representation(world, api, tiny):
    order = f.OrderFactory(offering=tiny, project=world.project, plan=world.plans["tiny"], state="pending-consumer")
    for user, url in (
        ("consumer_owner", f"{PUBLIC}{tiny.uuid.hex}/"),
        ("provider_owner", f"{PROVIDER}{tiny.uuid.hex}/"),
    ):
        response = api.as_user(world.user(user)).get(url)
        assert response.json()["plugin_options"] == {"api_key": "********", "region": "north"}
        assert "tiny-s3cret" not in response.content.decode()

    response = api.as_user(world.user("consumer_owner")).get(order_url(order))
    assert response.json()["offering_plugin_options"] == {"api_key": "********", "region": "north"}


def test_registering_another_spec_under_a_taken_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_offering_type(OfferingTypeSpec(name=registry.BASIC, label="x", processor=ManualProcessor))


def test_types_of_installed_packages_are_registered_from_their_entry_points(monkeypatch):
    points = metadata.EntryPoints([
        metadata.EntryPoint(name="tiny", value="tests.test_registry:TINY_SPEC", group=registry.ENTRY_POINT_GROUP),
        metadata.EntryPoint(name="broken", value="tests.no_such_module:SPEC", group=registry.ENTRY_POINT_GROUP),
    ])  # fmt: skip
    monkeypatch.setattr(type_registry.metadata, "entry_points", lambda group: points.select(group=group))
    try:
        type_registry._load_entry_points()  # the broken one is logged and skipped

        assert registry.get_offering_type(TINY) is TINY_SPEC
    finally:
        registry.unregister_offering_type(TINY)


# --- the validate hook of the webhook type at creation ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "This offering cannot take orders: it has no webhook_url in its plugin options."),
        (
            {"webhook_url": "ftp://provider.example/"},
            "This offering cannot take orders: its plugin options are invalid "
            "(webhook_url must be an http:// or https:// URL).",
        ),
    ],
)
def test_ordering_from_a_webhook_offering_without_a_valid_webhook_url_is_400(world, api, options, message):
    world.webhook.plugin_options = options
    world.webhook.save()

    response = api.as_user(world.user("consumer_owner")).post(ORDERS, create_body(world, "webhook"), format="json")

    assert response.status_code == 400
    assert response.json()["offering"] == [message]
    assert response.json()["detail"] == message
    assert not Order.objects.filter(offering=world.webhook).exists()


# --- the probe hook ----------------------------------------------------------------------------------


@dataclass
class Backend:
    """A provider's backend that answers GET with the status set for the path."""

    url: str = ""
    statuses: dict[str, int] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def backend():
    state = Backend()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            state.seen.append(self.path)
            self.send_response(state.statuses.get(self.path, 200))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("status", "up"), [(200, True), (404, True), (405, True), (503, False), (500, False)])
def test_webhook_probe_counts_any_answer_below_500_as_up(world, backend, status, up):
    backend.statuses["/fulfil"] = status
    world.webhook.plugin_options = {"webhook_url": f"{backend.url}/fulfil", "webhook_timeout_seconds": 2}

    result = registry.get_offering_type(registry.WEBHOOK).probe(world.webhook)

    assert result.up is up
    assert result.status == status
    assert backend.seen == ["/fulfil"]


def test_webhook_probe_prefers_the_health_url(world, backend):
    backend.statuses.update({"/fulfil": 503, "/health": 200})
    world.webhook.plugin_options = {"webhook_url": f"{backend.url}/fulfil", "health_url": f"{backend.url}/health"}

    result = registry.get_offering_type(registry.WEBHOOK).probe(world.webhook)

    assert result.up is True
    assert backend.seen == ["/health"]


def test_webhook_probe_is_down_when_the_connection_is_refused(world):
    world.webhook.plugin_options = {"webhook_url": f"http://127.0.0.1:{_closed_port()}/fulfil"}

    result = registry.get_offering_type(registry.WEBHOOK).probe(world.webhook)

    assert result.up is False
    assert "did not answer" in result.detail


def test_webhook_probe_is_down_when_the_target_is_not_allowed(world, settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "OUTBOUND_ALLOW_PRIVATE_TARGETS": False}
    world.webhook.plugin_options = {"webhook_url": "http://127.0.0.1:9/fulfil"}

    result = registry.get_offering_type(registry.WEBHOOK).probe(world.webhook)

    assert result.up is False
    assert "loopback" in result.detail


@pytest.mark.parametrize("kind", ["basic", "slurm"])
def test_manual_types_have_nothing_to_probe(world, kind):
    offering = world.offering(kind)

    assert registry.get_offering_type(offering.type).probe(offering) is None
