"""Seeding for bench/orders_api.py: a small catalogue and N orders written in bulk (COPY or bulk_create).

Import only after django.setup(). The orders bypass the services on purpose (one service call per order
would take far too long for 100k rows); the benchmark measures reads, so the rows only need to look like
the ones the services write: states over all nine, types Create/Update/Terminate, reviewers and
timestamps consistent with the state, several offerings, projects and organisations, a year of history.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import JSONField
from django.utils import timezone
from rest_framework.authtoken.models import Token

from offerings.models import Category, Offering, OfferingComponent, Plan, PlanComponent, ServiceProvider
from orders.models import Order, OrderEvent, Resource
from orders.states import OrderState as S
from orders.states import OrderType as T
from orders.states import ResourceState as R
from permissions.defaults import seed_default_roles
from permissions.models import Customer, Project, Role, UserProfile, UserRole

CONSUMER_ORGS = 5
PROJECTS_PER_ORG = 4
PROVIDERS = 2
OFFERING_TYPES = ("Marketplace.Basic", "Marketplace.Slurm", "Marketplace.Webhook")
OFFERINGS_PER_PROVIDER = 4
BATCH = 1000  # orders per round (bulk_create: ≈ 50 columns x 1000 stays below 65535 parameters)

# state → weight; every state is present, terminal ones dominate as in a system that has run a year
STATE_WEIGHTS = {
    S.PENDING_CONSUMER: 6,
    S.PENDING_PROVIDER: 8,
    S.PENDING_PROJECT: 3,
    S.PENDING_START_DATE: 3,
    S.EXECUTING: 7,
    S.DONE: 50,
    S.ERRED: 9,
    S.CANCELED: 7,
    S.REJECTED: 7,
}
TYPE_WEIGHTS = {T.CREATE: 60, T.UPDATE: 28, T.TERMINATE: 12}
RESOURCE_STATE_AFTER_CREATE = {S.DONE: R.OK, S.ERRED: R.ERRED, S.CANCELED: R.TERMINATED, S.REJECTED: R.TERMINATED}
CONSUMER_REVIEWED = {S.PENDING_PROVIDER, S.PENDING_PROJECT, S.PENDING_START_DATE, S.EXECUTING, S.DONE, S.ERRED}
PROVIDER_REVIEWED = {S.PENDING_START_DATE, S.EXECUTING, S.DONE, S.ERRED}
COMPLETED = {S.DONE, S.ERRED, S.CANCELED, S.REJECTED}


@dataclass
class BenchWorld:
    staff: User
    consumer_owner: User
    provider_owner: User
    consumer_org: Customer
    provider_org: Customer
    site_agent_offering: Offering
    projects: list[Project] = field(default_factory=list)
    offerings: list[Offering] = field(default_factory=list)
    plans: dict[int, list[Plan]] = field(default_factory=dict)  # offering id → plans
    owners: dict[int, User] = field(default_factory=dict)  # customer id → owner (orders' authors)

    def token(self, user: User) -> str:
        return Token.objects.get_or_create(user=user)[0].key


def _user(username: str, **extra) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": username.split("-")[-1].title(), "last_name": "Bench", **extra},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    UserProfile.objects.get_or_create(user=user)
    return user


def _grant(user: User, role: str, scope) -> None:
    UserRole.objects.get_or_create(
        user=user,
        role=Role.objects.get(name=role),
        content_type=ContentType.objects.get_for_model(scope),
        object_id=scope.pk,
    )


def ensure_world() -> BenchWorld:
    """The catalogue, organisations and users (get_or_create by slug/username: re-runs reuse them)."""
    seed_default_roles()
    categories = [Category.objects.get_or_create(title=t)[0] for t in ("HPC", "Cloud", "Storage")]
    world_offerings: list[Offering] = []
    plans: dict[int, list[Plan]] = {}
    owners: dict[int, User] = {}
    provider_orgs = []
    for p in range(PROVIDERS):
        org, _ = Customer.objects.get_or_create(slug=f"bench-provider-{p}", defaults={"name": f"Bench Provider {p}"})
        ServiceProvider.objects.get_or_create(customer=org)
        provider_orgs.append(org)
        owner = _user(f"bench-provider-owner-{p}")
        _grant(owner, "CUSTOMER.OWNER", org)
        owners[org.pk] = owner
        for o in range(OFFERINGS_PER_PROVIDER):
            kind = OFFERING_TYPES[o % len(OFFERING_TYPES)]
            offering, created = Offering.objects.get_or_create(
                slug=f"bench-p{p}-o{o}",
                defaults={
                    "customer": org,
                    "category": categories[o % len(categories)],
                    "name": f"Bench {kind.split('.')[-1]} {p}.{o}",
                    "description": "An offering of the benchmark catalogue.",
                    "type": kind,
                    "plugin_options": {"auto_approve_in_service_provider_projects": False},
                },
            )
            if created:
                component = OfferingComponent.objects.create(offering=offering, type="cpu", name="CPU")
                for n, price in enumerate((5, 10, 20)):
                    plan = Plan.objects.create(offering=offering, name=f"Plan {n}", unit_price=price, init_price=n)
                    PlanComponent.objects.create(plan=plan, component=component, price=price)
            plans[offering.pk] = list(offering.plans.order_by("id"))
            world_offerings.append(offering)
    projects: list[Project] = []
    consumer_orgs = []
    for c in range(CONSUMER_ORGS):
        org, _ = Customer.objects.get_or_create(slug=f"bench-consumer-{c}", defaults={"name": f"Bench Consumer {c}"})
        consumer_orgs.append(org)
        owner = _user(f"bench-consumer-owner-{c}", email=f"owner{c}@example.org")
        _grant(owner, "CUSTOMER.OWNER", org)
        owners[org.pk] = owner
        for n in range(PROJECTS_PER_ORG):
            project, _ = Project.objects.get_or_create(
                slug=f"bench-c{c}-p{n}",
                defaults={"customer": org, "name": f"Project {c}.{n}", "description": "Benchmark project."},
            )
            projects.append(project)
    staff = _user("bench-staff", is_staff=True)
    return BenchWorld(
        staff=staff,
        consumer_owner=owners[consumer_orgs[0].pk],
        provider_owner=owners[provider_orgs[0].pk],
        consumer_org=consumer_orgs[0],
        provider_org=provider_orgs[0],
        site_agent_offering=next(o for o in world_offerings if o.type == "Marketplace.Slurm"),
        projects=projects,
        offerings=world_offerings,
        plans=plans,
        owners=owners,
    )


def wipe_orders() -> None:
    """Remove every order, event and resource (the database is the benchmark's own)."""
    tables = [m._meta.db_table for m in (OrderEvent, Order, Resource)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


def _insert(model, rows: list[dict]) -> None:
    """Insert rows (dicts keyed by attname, ids included): COPY on PostgreSQL, bulk_create elsewhere.

    bulk_create costs ≈ 2 ms per order here (Model.__init__, per-field get_db_prep_save and psycopg's
    array dumping for Django's UNNEST insert, ~50 columns): 100k orders took ≈ 4 minutes. COPY with
    the same values takes seconds. Columns missing from the rows get the field's default, once.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=BATCH)
        return
    from psycopg import sql
    from psycopg.types.json import Jsonb

    fields = model._meta.concrete_fields
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    defaults = {}
    for f in fields:
        if f.attname in rows[0]:
            continue
        value = f.get_default()
        if value is None and not f.null:
            raise ValueError(f"{model.__name__}.{f.attname}: NOT NULL without a default, give it in the rows")
        defaults[f.attname] = Jsonb(value) if f.attname in json_fields else value
    names = [f.attname for f in fields]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    (Jsonb(row[name]) if name in json_fields else row[name]) if name in row else defaults[name]
                    for name in names
                ]
            )


def seed_orders(world: BenchWorld, n: int, *, seed: int = 42, progress=print) -> float:
    """Write n orders (and their resources) in batches; returns the seconds it took.

    Ids are given explicitly (the tables were just wiped) so an order can name its resource without a
    round trip; the sequences are reset at the end.
    """
    rng = random.Random(seed)
    started = time.perf_counter()
    now = timezone.now()
    year = timedelta(days=365).total_seconds()
    # a year of history, in order: ids grow with `created` as they would in a real table
    offsets = sorted(rng.random() * year for _ in range(n))
    states, state_w = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
    types, type_w = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    # (resource id, project, offering, plan id) of resources created so far: Update/Terminate act on them
    pool: list[tuple[int, Project, Offering, int | None]] = []
    order_id = resource_id = 0

    def new_uuid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    with transaction.atomic():
        for start in range(0, n, BATCH):
            resources, orders = [], []
            for offset in offsets[start : start + BATCH]:
                created = now - timedelta(seconds=year - offset)
                kind = rng.choices(types, type_w)[0] if pool else T.CREATE
                state = rng.choices(states, state_w)[0]
                if kind == T.CREATE:
                    resource_id += 1
                    project, offering = rng.choice(world.projects), rng.choice(world.offerings)
                    plan_id, old_plan_id = rng.choice(world.plans[offering.pk]).pk, None
                    resources.append(
                        {
                            "id": resource_id,
                            "uuid": new_uuid(),
                            "created": created,
                            "modified": created,
                            "name": f"resource-{resource_id}",
                            "slug": f"resource-{resource_id}",
                            "project_id": project.pk,
                            "offering_id": offering.pk,
                            "plan_id": plan_id,
                            "limits": {"cpu": rng.randint(1, 64)},
                            "attributes": {"name": f"resource-{resource_id}"},
                            "backend_id": f"backend-{resource_id}" if state == S.DONE else "",
                            "state": RESOURCE_STATE_AFTER_CREATE.get(state, R.CREATING),
                        }
                    )
                    pool.append((resource_id, project, offering, plan_id))
                    target = resource_id
                else:
                    target, project, offering, plan_id = rng.choice(pool)
                    old_plan_id = None
                    if kind == T.UPDATE and rng.random() < 0.5:  # a plan switch; otherwise new limits
                        old_plan_id, plan_id = plan_id, rng.choice(world.plans[offering.pk]).pk
                order_id += 1
                author = world.owners[project.customer_id].pk
                provider = world.owners[offering.customer_id].pk
                reviewed_at = created + timedelta(minutes=rng.randint(1, 600))
                erred = state == S.ERRED
                completed_at = reviewed_at + timedelta(minutes=5) if state in COMPLETED else None
                orders.append(
                    {
                        "id": order_id,
                        "uuid": new_uuid(),
                        "created": created,
                        "modified": min(completed_at or reviewed_at, now),
                        "type": kind,
                        "state": state,
                        "offering_id": offering.pk,
                        "project_id": project.pk,
                        "resource_id": target,
                        "plan_id": plan_id,
                        "old_plan_id": old_plan_id,
                        "attributes": {"name": f"resource-{target}"} if kind == T.CREATE else {},
                        "limits": {"cpu": rng.randint(1, 64)} if kind != T.TERMINATE else {},
                        "cost": Decimal(rng.randint(0, 100_000)) / 100,
                        "created_by_id": author,
                        "consumer_reviewed_by_id": author if state in CONSUMER_REVIEWED else None,
                        "consumer_reviewed_at": reviewed_at if state in CONSUMER_REVIEWED else None,
                        "provider_reviewed_by_id": provider if state in PROVIDER_REVIEWED else None,
                        "provider_reviewed_at": reviewed_at if state in PROVIDER_REVIEWED else None,
                        "completed_at": completed_at,
                        "error_message": "Backend unavailable." if erred else "",
                        "error_traceback": "Traceback (most recent call last):\n  ...\nTimeoutError" if erred else "",
                        "error_updated_at": reviewed_at if erred else None,
                        "error_is_transient": erred and rng.random() < 0.5,
                        "attempt": rng.randint(1, 3) if erred else 1,
                        "slug": f"order-{order_id}",
                    }
                )
            _insert(Resource, resources)
            _insert(Order, orders)
            if order_id % 20_000 < BATCH or order_id == n:
                progress(f"  seeded {order_id}/{n} orders ({time.perf_counter() - started:.1f} s)")
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Resource, Order]):
                cursor.execute(statement)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # fresh statistics, as autovacuum would give a settled table
            for model in (Resource, Order):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return time.perf_counter() - started
