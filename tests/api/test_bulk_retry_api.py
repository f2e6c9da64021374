"""POST /api/marketplace-orders/bulk_retry/ (DESIGN §7, seed 003): selection by the list filters or uuids,
dry run, small runs answered in the request, large ones as jobs, Idempotency-Key, and who may resubmit."""

from __future__ import annotations

import datetime
import time
from urllib.parse import quote, urlencode

import pytest
from django.utils import timezone

from core import jobs
from core.models import Job
from orders.models import Order, OrderEvent
from tests import factories as f
from tests.api import ORDERS, USERS, make_order
from tests.conftest import build_world

BULK = f"{ORDERS}bulk_retry/"
NOW = timezone.now().replace(microsecond=0)


def erred(world, kind: str = "slurm", *, minutes_ago: int = 10, error: str = "Connection refused", transient=True):
    """An erred order of `world.<kind>` that last failed `minutes_ago` minutes before NOW."""
    return make_order(
        world, "erred", kind, error_message=error, error_is_transient=transient,
        error_updated_at=NOW - datetime.timedelta(minutes=minutes_ago),
    )  # fmt: skip


def last_hour() -> str:
    return "?" + urlencode({"failed_after": (NOW - datetime.timedelta(hours=1)).isoformat()})


def states(orders) -> dict[str, str]:
    return {o.uuid.hex: s for o in orders for s in [Order.objects.get(pk=o.pk).state]}


def post(api, user, body: dict | None = None, query: str = "", **headers):
    return api.as_user(user).post(f"{BULK}{query}", body or {}, format="json", **headers)


@pytest.fixture
def outage(world):
    """Five slurm and three basic orders that erred in an outage 10–30 minutes ago, one slurm order that
    erred for another reason two days ago, and one done order."""
    slurm = [erred(world, "slurm", minutes_ago=10 + i) for i in range(5)]
    basic = [erred(world, "basic", minutes_ago=20 + i, error="HTTP 503 from 10.0.0.7") for i in range(3)]
    old = erred(world, "slurm", minutes_ago=2 * 24 * 60, error="Quota exceeded", transient=False)
    done = make_order(world, "done", "slurm")
    return {"slurm": slurm, "basic": basic, "old": old, "done": done}


# --- dry run --------------------------------------------------------------------------------------------


def test_dry_run_lists_what_would_be_resubmitted_grouped_by_offering_and_error_and_changes_nothing(world, api, outage):
    window = last_hour()
    before = OrderEvent.objects.count()

    response = post(api, world.user("staff"), {"dry_run": True}, window)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["matched"] == 8
    outage_uuids = {o.uuid.hex for o in outage["slurm"] + outage["basic"]}
    assert set(body["retried"]) == outage_uuids and body["skipped"] == []
    assert {(g["name"], g["count"]) for g in body["by_offering"]} == {("slurm", 5), ("basic", 3)}
    assert sum(g["count"] for g in body["by_error"]) == 8 and len(body["by_error"]) == 2
    assert OrderEvent.objects.count() == before and Job.objects.count() == 0
    assert set(states(outage["slurm"]).values()) == {"erred"}


def test_dry_run_without_filters_selects_every_erred_order_and_no_other(world, api, outage):
    body = post(api, world.user("staff"), {"dry_run": True}).json()

    assert body["matched"] == 9
    assert outage["done"].uuid.hex not in body["retried"] + [s["uuid"] for s in body["skipped"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?error_contains=quota", {"old"}),
        ("?error_is_transient=false", {"old"}),
        ("?error_is_transient=true&offering_type=Marketplace.Basic", {"basic"}),
        ("?failed_before={}", {"old"}),
    ],
)
def test_dry_run_honours_the_failure_filters(world, api, outage, query, expected):
    query = query.format(quote((NOW - datetime.timedelta(days=1)).isoformat()))
    wanted = {o.uuid.hex for key in expected for o in (outage[key] if isinstance(outage[key], list) else [outage[key]])}

    body = post(api, world.user("staff"), {"dry_run": True}, query).json()

    assert set(body["retried"]) == wanted


def test_dry_run_of_listed_uuids_reports_the_orders_that_are_not_erred(world, api, outage):
    executing = make_order(world, "executing", "slurm")
    uuids = [outage["slurm"][0].uuid.hex, str(outage["done"].uuid), executing.uuid.hex]

    body = post(api, world.user("staff"), {"dry_run": True, "uuids": uuids}).json()

    assert body["retried"] == [outage["slurm"][0].uuid.hex]
    assert sorted(body["skipped"], key=lambda s: s["uuid"]) == sorted(
        [{"uuid": outage["done"].uuid.hex, "reason": "not_erred"}, {"uuid": executing.uuid.hex, "reason": "not_erred"}],
        key=lambda s: s["uuid"],
    )
    assert body["skipped_by_reason"] == {"not_erred": 2}


# --- small runs -----------------------------------------------------------------------------------------


def test_a_small_run_resubmits_in_the_request_and_answers_with_the_report_and_its_job(world, api, outage):
    window = last_hour()

    response = post(api, world.user("provider_owner"), {"reason": "storage back after maintenance"}, window)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is False and body["matched"] == 8
    assert set(body["retried"]) == {o.uuid.hex for o in outage["slurm"] + outage["basic"]}
    assert body["skipped"] == []
    assert set(states(outage["slurm"] + outage["basic"]).values()) == {"executing"}
    assert states([outage["old"]]) == {outage["old"].uuid.hex: "erred"}
    job = Job.objects.get()
    assert body["job"] == f"http://testserver/api/marketplace-order-jobs/{job.uuid.hex}/"
    assert (job.state, job.reason, job.created_by, job.succeeded) == (
        "done", "storage back after maintenance", world.user("provider_owner"), 8
    )  # fmt: skip
    event = OrderEvent.objects.filter(order=outage["slurm"][0], kind="retry").get()
    assert event.payload["reason"] == "storage back after maintenance" and event.payload["job"] == job.uuid.hex
    assert event.payload["error_message"] == "Connection refused"


def test_listed_uuids_resubmit_the_erred_ones_and_skip_the_others_with_a_reason(world, api, outage):
    uuids = [str(outage["old"].uuid), outage["done"].uuid.hex]

    body = post(api, world.user("staff"), {"uuids": uuids}).json()

    assert body["matched"] == 2 and body["retried"] == [outage["old"].uuid.hex]
    assert body["skipped"] == [{"uuid": outage["done"].uuid.hex, "reason": "not_erred"}]
    assert states([outage["old"], outage["done"]]) == {
        outage["old"].uuid.hex: "executing", outage["done"].uuid.hex: "done"
    }  # fmt: skip


def test_listed_uuids_are_narrowed_by_the_filters(world, api, outage):
    uuids = [outage["old"].uuid.hex, outage["slurm"][0].uuid.hex]

    body = post(api, world.user("staff"), {"dry_run": True, "uuids": uuids}, "?error_contains=quota").json()

    assert body["retried"] == [outage["old"].uuid.hex]


# --- refusals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["?failed_afer=2024-01-01", "?page_size=5", "?stat=erred&state=erred"])
def test_an_unknown_query_parameter_is_a_400_naming_it_and_nothing_is_resubmitted(world, api, outage, query):
    typo = query[1:].split("=")[0]

    response = post(api, world.user("staff"), {}, query)

    assert response.status_code == 400
    assert typo in response.json()
    assert set(states(outage["slurm"]).values()) == {"erred"} and Job.objects.count() == 0


@pytest.mark.parametrize(
    "query, body, field",
    [
        ("?failed_after=yesterday", {}, "failed_after"),
        ("?error_is_transient=maybe", {}, "error_is_transient"),
        ("", {"uuid": ["0" * 32]}, "uuid"),  # a misspelt key must not select every erred order
        ("", {"uuids": ["not-a-uuid"]}, "uuids"),
        ("", {"uuids": []}, "uuids"),
        ("", {"reason": "x" * 501}, "reason"),
        ("", {"dry_run": "perhaps"}, "dry_run"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_resubmitted(world, api, outage, query, body, field):
    response = post(api, world.user("staff"), body, query)

    assert response.status_code == 400
    assert field in response.json()
    assert set(states(outage["slurm"]).values()) == {"erred"} and Job.objects.count() == 0


def test_an_overlong_idempotency_key_is_a_400(world, api, outage):
    response = post(api, world.user("staff"), {}, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400 and "Idempotency-Key" in response.json()


def test_anonymous_callers_get_401(api, world):
    assert api.as_user(None).post(BULK, {}, format="json").status_code == 401


# --- who ------------------------------------------------------------------------------------------------

# A real run over every erred order visible to each user: (status, orders resubmitted of the 5 slurm + 3 basic)
WHO = {
    #        st   su   str  co   cs   pa   pm   mem  po   sm   om   oo
    "status": (200, 403, 403, 403, 403, 403, 403, 403, 200, 403, 200, 403),
    "retried": (8, 0, 0, 0, 0, 0, 0, 0, 8, 0, 5, 0),
}


@pytest.mark.parametrize("user", USERS)
def test_only_staff_provider_owners_and_offering_managers_resubmit_and_only_their_offerings(world, api, outage, user):
    column = USERS.index(user)
    selected = outage["slurm"] + outage["basic"]

    response = post(api, world.user(user), {}, "?error_is_transient=true")

    assert response.status_code == WHO["status"][column], response.content
    now = states(selected)
    assert sum(state == "executing" for state in now.values()) == WHO["retried"][column]
    if response.status_code == 200:
        assert set(response.json()["retried"]) == {u for u, state in now.items() if state == "executing"}
    else:
        assert Job.objects.count() == 0


def test_orders_of_offerings_the_caller_may_not_retry_are_skipped_as_not_permitted(world, api, outage):
    manager = world.user("offering_manager")  # of the slurm offering; now also sees the consumer's orders
    f.grant_role(manager, "CUSTOMER.SUPPORT", world.customer)

    body = post(api, manager, {}, "?error_is_transient=true").json()

    assert set(body["retried"]) == {o.uuid.hex for o in outage["slurm"]}
    assert sorted(s["uuid"] for s in body["skipped"]) == sorted(o.uuid.hex for o in outage["basic"])
    assert {s["reason"] for s in body["skipped"]} == {"not_permitted"}
    assert set(states(outage["basic"]).values()) == {"erred"}


def test_uuids_the_caller_cannot_see_are_not_matched(world, api, outage):
    hidden = outage["basic"][0]  # the slurm offering's manager does not see basic orders

    body = post(api, world.user("offering_manager"), {"uuids": [hidden.uuid.hex, outage["slurm"][0].uuid.hex]}).json()

    assert body["matched"] == 1 and body["retried"] == [outage["slurm"][0].uuid.hex]
    assert states([hidden]) == {hidden.uuid.hex: "erred"}


def test_a_caller_without_the_retry_right_may_still_preview_and_sees_every_order_not_permitted(world, api, outage):
    body = post(api, world.user("service_manager"), {"dry_run": True}).json()

    assert body["matched"] == 9 and body["retried"] == []
    assert body["skipped_by_reason"] == {"not_permitted": 9}


# --- Idempotency-Key ------------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_request_return_the_first_answer_without_a_second_run(world, api, outage):
    user, query = world.user("staff"), "?offering_type=Marketplace.Slurm"
    first = post(api, user, {"reason": "r"}, query, HTTP_IDEMPOTENCY_KEY="outage-42")
    erred(world, "slurm")  # erred after the first run: a repeat must not pick it up

    again = post(api, user, {"reason": "r"}, query, HTTP_IDEMPOTENCY_KEY="outage-42")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert Job.objects.count() == 1
    assert {o.attempt for o in Order.objects.filter(uuid__in=[o.uuid for o in outage["slurm"]])} == {2}


def test_the_same_idempotency_key_with_a_different_request_is_a_409(world, api, outage):
    user = world.user("staff")
    assert post(api, user, {}, "?offering_type=Marketplace.Slurm", HTTP_IDEMPOTENCY_KEY="k1").status_code == 200

    response = post(api, user, {}, "?offering_type=Marketplace.Basic", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert set(states(outage["basic"]).values()) == {"erred"}


def test_a_repeated_request_listing_the_same_uuids_in_another_spelling_and_order_is_the_same_request(
    world, api, outage
):
    staff, first_two = world.user("staff"), outage["slurm"][:2]
    hex_order = [o.uuid.hex for o in first_two]
    dashed_reversed = [str(o.uuid) for o in reversed(first_two)]

    first = post(api, staff, {"uuids": hex_order}, HTTP_IDEMPOTENCY_KEY="u")
    again = post(api, staff, {"uuids": dashed_reversed}, HTTP_IDEMPOTENCY_KEY="u")
    other = post(api, staff, {"uuids": hex_order[:1]}, HTTP_IDEMPOTENCY_KEY="u")

    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert other.status_code == 409 and Job.objects.count() == 1


def test_idempotency_keys_of_different_users_do_not_collide(world, api, outage):
    first = post(api, world.user("offering_manager"), {}, HTTP_IDEMPOTENCY_KEY="same")
    second = post(api, world.user("provider_owner"), {}, HTTP_IDEMPOTENCY_KEY="same")

    assert first.status_code == second.status_code == 200
    assert len(first.json()["retried"]) == 6 and len(second.json()["retried"]) == 3  # the rest: basic
    assert Job.objects.count() == 2


# --- large runs -----------------------------------------------------------------------------------------


@pytest.fixture
def sync_limit(settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "BULK_RETRY_SYNC_LIMIT": 3}


def test_a_large_run_answers_202_with_the_job_and_leaves_the_work_to_a_worker(
    world, api, outage, sync_limit, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as handed_off:
        response = post(api, world.user("staff"), {}, "?error_is_transient=true", HTTP_IDEMPOTENCY_KEY="big")

    assert response.status_code == 202, response.content
    job = Job.objects.get()
    link = f"http://testserver/api/marketplace-order-jobs/{job.uuid.hex}/"
    assert response.json() == {"job": link} and response["Location"] == link
    assert len(handed_off) == 1 and job.state == "queued" and job.total == 8
    assert set(states(outage["slurm"]).values()) == {"erred"}  # nothing ran in the request
    again = post(api, world.user("staff"), {}, "?error_is_transient=true", HTTP_IDEMPOTENCY_KEY="big")
    assert again.status_code == 202 and again.json() == {"job": link} and Job.objects.count() == 1

    while jobs.job_run_chunk(job.pk) is not None:  # what the worker does, chunk by chunk
        pass

    shown = api.get(link).json()
    assert (shown["state"], shown["processed"], shown["retried"], shown["progress"]) == ("done", 8, 8, 1.0)
    assert set(shown["report"]["retried"]) == {o.uuid.hex for o in outage["slurm"] + outage["basic"]}
    assert set(states(outage["slurm"] + outage["basic"]).values()) == {"executing"}


def test_a_large_run_finishes_in_the_background_and_the_job_shows_its_report(transactional_db, api, settings):
    settings.MARKETPLACE = {**settings.MARKETPLACE, "BULK_RETRY_SYNC_LIMIT": 3, "BULK_RETRY_RATE": 1000.0}
    world = build_world()
    orders = [erred(world, "slurm", minutes_ago=i) for i in range(12)]

    response = post(api, world.user("offering_manager"), {"reason": "backend is back"})
    assert response.status_code == 202, response.content
    deadline, shown = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        shown = api.get(response["Location"]).json()
        if shown["state"] not in ("queued", "running"):
            break
        time.sleep(0.05)

    assert shown["state"] == "done", shown
    assert shown["retried"] == 12 and shown["skipped"] == 0 and shown["created_by"] == "offering-manager"
    assert sorted(shown["report"]["retried"]) == sorted(o.uuid.hex for o in orders)
    assert shown["started_at"] <= shown["finished_at"]
    assert Order.objects.filter(pk__in=[o.pk for o in orders], attempt=2).count() == 12
