"""A generated fulfilment history for the dashboard and statistics tests: orders in every state at two
providers, failures spread over two months (some retried since), stuck and long-waiting orders, agents and
jobs. Every timestamp is known here, so tests compute the expected numbers from these lists, not from the
database."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

from core.models import Job
from offerings.agent_models import AgentIdentity, AgentProcessor, AgentService
from orders.models import Order, OrderEvent
from orders.states import OrderState as S
from orders.states import OrderType
from tests import factories as f

ERRORS = (  # (template, …): the variable part is filled per order; each template is one error group
    "Fulfilment answered HTTP 503 after {n}s",
    "Connection refused by 10.0.{n}.7:8443",
    "quota exceeded for project {uuid}",
)


@dataclass
class Dataset:
    now: datetime.datetime
    orders: list[Order] = field(default_factory=list)
    failures: list[datetime.datetime] = field(default_factory=list)  # every entry into erred
    erred: list[Order] = field(default_factory=list)
    second_provider: object = None
    second_offering: object = None


def _failure_event(order: Order, at: datetime.datetime, message: str) -> None:
    OrderEvent.objects.create(
        order=order, kind="set_state_erred", from_state=S.EXECUTING, to_state=S.ERRED, message=message, created=at
    )


def build_dataset(world, *, now: datetime.datetime, per_state: int = 2, seed: int = 9) -> Dataset:
    """`per_state` orders in each state for each of four offerings (two providers), plus failures."""
    rng = random.Random(seed)
    data = Dataset(now=now)
    second = f.CustomerFactory(name="Second Provider", slug="second-provider")
    f.ServiceProviderFactory(customer=second)
    data.second_provider = second
    data.second_offering = f.OfferingFactory(customer=second, type="Marketplace.Basic", name="second basic")
    offerings = [world.basic, world.slurm, world.webhook, data.second_offering]
    projects = [world.project, world.other_project]
    for offering in offerings:
        for state in S:
            for i in range(per_state):
                created = now - datetime.timedelta(days=rng.randint(0, 59), minutes=rng.randint(0, 1439))
                entered = created + (now - created) * rng.random()
                extra = {}
                if state == S.ERRED:
                    template = ERRORS[(i + offering.pk) % len(ERRORS)]
                    message = template.format(n=rng.randint(1, 250), uuid=f"{rng.getrandbits(128):032x}")
                    extra = {"error_message": message, "error_updated_at": entered, "error_is_transient": True}
                if state == S.EXECUTING and i == 0:
                    extra = {"stuck_since": entered + (now - entered) / 2}
                order = f.OrderFactory(
                    state=state,
                    offering=offering,
                    project=projects[i % 2],
                    type=[OrderType.CREATE, OrderType.UPDATE, OrderType.TERMINATE][i % 3],
                    created=created,
                    state_entered_at=entered,
                    cost=rng.randint(1, 9),
                    **extra,
                )
                data.orders.append(order)
                if state == S.ERRED:
                    data.erred.append(order)
                    data.failures.append(entered)
                    _failure_event(order, entered, order.error_message)
                    # a later message update of the same failure is not a second failure
                    OrderEvent.objects.create(
                        order=order, kind="set_state_erred", from_state=S.ERRED, to_state=S.ERRED, created=entered
                    )
                elif state == S.DONE and i % 2 == 0:  # failed once, retried, done since
                    failed = created + (entered - created) / 2
                    data.failures.append(failed)
                    _failure_event(order, failed, "Fulfilment answered HTTP 503 after 3s")
    # a burst of failures in the last few hours, so the hourly chart has something to draw
    for hours_ago in (0.2, 0.5, 1.5, 1.6, 5.1, 30.0):
        at = now - datetime.timedelta(hours=hours_ago)
        order = f.OrderFactory(
            state=S.ERRED, offering=world.webhook, project=world.project, created=at - datetime.timedelta(minutes=5),
            state_entered_at=at, error_message=f"Fulfilment answered HTTP 503 after {int(hours_ago * 10)}s",
            error_updated_at=at, error_is_transient=True,
        )  # fmt: skip
        data.orders.append(order)
        data.erred.append(order)
        data.failures.append(at)
        _failure_event(order, at, order.error_message)
    return data


def add_agents_and_jobs(world, *, now: datetime.datetime) -> dict[str, AgentIdentity]:
    fresh = AgentIdentity.objects.create(offering=world.slurm, name="slurm-agent-fresh", version="1.0.7")
    stale = AgentIdentity.objects.create(offering=world.slurm, name="slurm-agent-stale", version="1.0.5")
    service = AgentService.objects.create(identity=fresh, name="order_process", mode="order_process")
    AgentProcessor.objects.create(service=service, name="slurm", backend_type="slurm", last_run=now)
    long_ago = now - datetime.timedelta(hours=6)
    AgentIdentity.objects.filter(pk=stale.pk).update(modified=long_ago, created=long_ago)
    AgentIdentity.objects.filter(pk=fresh.pk).update(modified=long_ago)  # its processor ran just now
    Job.objects.create(kind="bulk_retry", state=Job.States.RUNNING, total=40, processed=10, succeeded=10)
    Job.objects.create(kind="bulk_retry", state=Job.States.DONE, total=5, processed=5, succeeded=4, skipped=1)
    return {"fresh": fresh, "stale": stale}
