"""Handing work to Celery (DESIGN §2, §7): task names, the layer rule, periodic release."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest
from celery import current_app
from django.utils import timezone

from orders import dispatch, services
from orders.models import Order
from tasks.periodic import release_pending_orders
from tests.factories import OfferingFactory, OrderFactory, ProjectFactory

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top; a package may import from its own layer or below (DESIGN §2).
LAYERS = ["core", "permissions", "offerings", "orders", "tasks", "ops", "marketplace"]
FIRST_PARTY = set(LAYERS)


def test_every_task_name_dispatch_sends_is_a_registered_task():
    current_app.loader.import_default_modules()

    assert dispatch.TASK_NAMES
    missing = [name for name in dispatch.TASK_NAMES if name not in current_app.tasks]
    assert missing == []


def test_periodic_tasks_in_the_beat_schedule_are_registered():
    current_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in (current_app.conf.beat_schedule or {}).values()}

    assert "tasks.periodic.release_pending_orders" in scheduled
    assert scheduled <= set(current_app.tasks)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def _violations(package: str, allowed: set[str]) -> list[str]:
    found = []
    for path in _modules(package):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in FIRST_PARTY and top not in allowed:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", ["permissions", "offerings", "orders"])
def test_domain_never_imports_tasks(package):
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name == "tasks" or name.startswith("tasks.")
    ]

    assert _modules(package), f"no modules found under {package}/"
    assert offenders == []


@pytest.mark.parametrize("package", ["core", "permissions", "offerings", "orders", "tasks", "ops"])
def test_apps_import_only_their_own_layer_or_below(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])

    assert _violations(package, allowed) == []


# --- periodic release --------------------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: calls.append((name, *args)))
    return calls


def test_release_moves_on_orders_whose_dates_have_come(world, sent, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    world.project.start_date = today
    world.project.save()
    later_project = ProjectFactory(customer=world.customer, start_date=tomorrow)
    project_started = OrderFactory(state="pending-project", offering=world.basic, project=world.project)
    project_later = OrderFactory(state="pending-project", offering=world.basic, project=later_project)
    start_today = OrderFactory(
        state="pending-start-date", offering=world.basic, project=world.project, start_date=today
    )
    start_tomorrow = OrderFactory(
        state="pending-start-date", offering=world.basic, project=world.project, start_date=tomorrow
    )

    with django_capture_on_commit_callbacks(execute=True):
        released = release_pending_orders()

    assert released == {"project": 1, "start_date": 1}
    states = dict(Order.objects.values_list("pk", "state"))
    assert states == {
        project_started.pk: "pending-provider",
        project_later.pk: "pending-project",
        start_today.pk: "executing",
        start_tomorrow.pk: "pending-start-date",
    }
    assert sent == []  # Basic: handed over on entry (see test_services), no task
    assert Order.objects.get(pk=start_today.pk).processing_attempt == 1
    assert Order.objects.get(pk=project_started.pk).events.get().actor is None


def test_release_of_a_project_without_a_start_date(world, sent):
    order = OrderFactory(state="pending-project", offering=world.webhook, project=world.project)

    assert release_pending_orders() == {"project": 1, "start_date": 0}

    assert Order.objects.get(pk=order.pk).state == "executing"


def test_release_runs_as_a_registered_celery_task(world, sent):
    current_app.loader.import_default_modules()
    order = OrderFactory(
        state="pending-start-date", offering=world.basic, project=world.project, start_date=timezone.localdate()
    )

    result = current_app.tasks["tasks.periodic.release_pending_orders"].apply()

    assert result.get() == {"project": 0, "start_date": 1}
    assert Order.objects.get(pk=order.pk).state == "executing"


# --- the real dispatch path, eagerly ------------------------------------------------------------------


def test_executing_order_is_processed_by_the_registered_task_after_commit(world, django_capture_on_commit_callbacks):
    if not current_app.conf.task_always_eager:
        pytest.skip("tasks are sent to a broker here (CELERY_BROKER_URL set); the eager path is not in use")
    offering = OfferingFactory(customer=world.provider, type="Marketplace.Vanished")
    order = OrderFactory(state="pending-provider", offering=offering, project=world.project)

    with django_capture_on_commit_callbacks(execute=True):
        services.order_approve_by_provider(order=order.pk, actor=world.user("provider_owner"))

    processed = Order.objects.get(pk=order.pk)
    assert processed.state == "erred"
    assert "Marketplace.Vanished" in processed.error_message
