"""Seeding for bench/orders_api.py: a small catalogue and N orders written in bulk (COPY or bulk_create).

Import only after django.setup(). The orders bypass the services on purpose (one service call per order
would take far too long for 100k rows); the benchmark measures reads, so the rows only need to look like
the ones the services write: states over all nine, types Create/Update/Terminate, reviewers and
timestamps consistent with the state, several offerings, projects and organisations, a year of history.
"""

from __future__ import annotations

import datetime
import json
import operator
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


def extra_staff(k: int) -> list[User]:
    """`bench-staff-2` … `bench-staff-{k+1}`: more staff users, each with its own token (concurrency)."""
    return [_user(f"bench-staff-{i}", is_staff=True) for i in range(2, k + 2)]


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


class _CopyText:
    """Rows (dicts keyed by attname) as COPY text lines for one model: columns missing from a row get the
    field's default, formatted once; values are formatted by their Python type (psycopg's per-value
    adaptation and Jsonb dumping were half of the Python time)."""

    ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})

    def __init__(self, model) -> None:
        self.model = model
        self.fields = model._meta.concrete_fields
        self.names = [f.attname for f in self.fields]
        self.defaults: dict[str, str] = {}
        for f in self.fields:
            value = f.get_default()
            self.defaults[f.attname] = (
                "\\N" if value is None and f.null else None if value is None else self.text(value)
            )

    @classmethod
    def text(cls, value) -> str:
        formatter = _FORMATTERS.get(type(value))
        if formatter is not None:
            return formatter(value)
        if isinstance(value, str):  # TextChoices members
            return value.translate(cls.ESCAPES)
        return value.isoformat()  # date

    def lines(self, rows: list[dict]) -> str:
        formatters, text = _FORMATTERS, self.text
        columns = list(zip(self.names, (self.defaults[n] for n in self.names), strict=True))
        out = []
        for row in rows:
            cells = []
            for name, default in columns:
                if name in row:
                    value = row[name]
                    formatter = formatters.get(type(value))
                    cells.append(formatter(value) if formatter is not None else text(value))
                elif default is None:
                    raise ValueError(f"{self.model.__name__}.{name}: NOT NULL without a default, give it in the rows")
                else:
                    cells.append(default)
            out.append("\t".join(cells))
        out.append("")
        return "\n".join(out)

    def copy(self, cursor, rows: list[dict], *, freeze: bool) -> None:
        from psycopg import sql

        if not rows:
            return
        statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
            sql.Identifier(self.model._meta.db_table),
            sql.SQL(", ").join(sql.Identifier(f.column) for f in self.fields),
            sql.SQL(" (FREEZE)" if freeze else ""),
        )
        with cursor.copy(statement) as copy:
            copy.write(self.lines(rows))


def _json_text(value) -> str:
    return _dumps(value).translate(_CopyText.ESCAPES)


try:  # orjson where installed (the benchmark's floor needs it anyway): ~5x json.dumps
    import orjson

    def _dumps(value) -> str:
        return orjson.dumps(value).decode()

except ImportError:  # pragma: no cover

    def _dumps(value) -> str:
        return json.dumps(value, separators=(",", ":"))


_FORMATTERS = {
    type(None): lambda value: "\\N",
    str: operator.methodcaller("translate", _CopyText.ESCAPES),
    bool: lambda value: "t" if value else "f",
    int: str,
    uuid.UUID: str,
    Decimal: str,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    dict: _json_text,
    list: _json_text,
}


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes that back no constraint."""
    cursor.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           WHERE x.indrelid = %s::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)""",
        [table],
    )
    return list(cursor.fetchall())


def seed_orders(world: BenchWorld, n: int, *, seed: int = 42, progress=print) -> dict:
    """Replace every order, event and resource by n orders (and their resources); returns timings.

    Ids are given explicitly so an order can name its resource without a round trip; the sequences are
    reset at the end. On PostgreSQL everything happens in one transaction that starts with TRUNCATE, so
    that: each batch is a COPY ... (FREEZE) of resources then of orders (frozen rows, visibility map set:
    the VACUUM afterwards has nothing to do); the secondary indexes of both tables are dropped first and
    built once at the end (a B-tree built from sorted input instead of ~20 indexes updated per row); the
    foreign-key checks (8 per order, deferred to COMMIT by Django's DEFERRABLE INITIALLY DEFERRED) are
    not queued (`DISABLE TRIGGER ALL` + `ENABLE TRIGGER USER`: user triggers, e.g. the order counts,
    still fire), and one anti-join per foreign key checks the rows instead before COMMIT. A failure rolls
    all of it back. Elsewhere: bulk_create in batches.
    """
    rng = random.Random(seed)
    started = time.perf_counter()
    report: dict = {"orders": n}
    now = timezone.now()
    year = timedelta(days=365).total_seconds()
    # a year of history, in order: ids grow with `created` as they would in a real table
    offsets = sorted(rng.random() * year for _ in range(n))
    states, state_w = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
    types, type_w = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    # (resource id, project, offering, plan id) of resources created so far: Update/Terminate act on them
    pool: list[tuple[int, Project, Offering, int | None]] = []
    order_id = resource_id = 0
    postgres = connection.vendor == "postgresql"
    tables = [m._meta.db_table for m in (Resource, Order)]
    copiers = {Resource: _CopyText(Resource), Order: _CopyText(Order)}
    batch = 10 * BATCH if postgres else BATCH
    dropped: list[tuple[str, str]] = []

    def new_uuid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            truncated = [m._meta.db_table for m in (OrderEvent, Order, Resource)]
            cursor.execute(f"TRUNCATE {', '.join(truncated)} RESTART IDENTITY CASCADE")
            for table in tables:
                dropped += _secondary_indexes(cursor, table)
                cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER ALL')
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
            for name, _definition in dropped:
                cursor.execute(f'DROP INDEX "{name}"')
        else:
            wipe_orders()
        for start in range(0, n, batch):
            resources, orders = [], []
            for offset in offsets[start : start + batch]:
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
            if postgres:
                copiers[Resource].copy(cursor.cursor, resources, freeze=True)
                copiers[Order].copy(cursor.cursor, orders, freeze=True)
            else:
                _insert(Resource, resources)
                _insert(Order, orders)
            if order_id % 100_000 < batch or order_id == n:
                progress(f"  seeded {order_id}/{n} orders ({time.perf_counter() - started:.1f} s)")
        report["write_s"] = time.perf_counter() - started
        if postgres:
            mark = time.perf_counter()
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for _name, definition in dropped:
                cursor.execute(definition)
            report["indexes_s"] = time.perf_counter() - mark
            report["indexes"] = len(dropped)
            mark = time.perf_counter()
            _check_foreign_keys(cursor, tables)
            for table in tables:
                cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER ALL')
            report["fk_check_s"] = time.perf_counter() - mark
        for statement in connection.ops.sequence_reset_sql(no_style(), [Resource, Order]):
            cursor.execute(statement)
        mark = time.perf_counter()
    report["commit_s"] = time.perf_counter() - mark
    if postgres:
        mark = time.perf_counter()
        with connection.cursor() as cursor:  # fresh statistics, as autovacuum would give a settled table
            for table in tables:
                cursor.execute(f'VACUUM ANALYZE "{table}"')
        report["vacuum_s"] = time.perf_counter() - mark
    report["seconds"] = time.perf_counter() - started
    return report


def _check_foreign_keys(cursor, tables: list[str]) -> None:
    """What the disabled constraint triggers would have checked: every foreign key of the seeded rows
    points at a row (one anti-join per constraint)."""
    cursor.execute(
        """SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, fa.attname
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
           WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])""",
        [tables],
    )
    for table, column, target, target_column in cursor.fetchall():
        cursor.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {target} r WHERE r.{target_column} = t.{column})"
        )
        missing = cursor.fetchone()[0]
        if missing:
            raise RuntimeError(f"seed: {missing} rows of {table}.{column} point at no {target}")
