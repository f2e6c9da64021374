"""`manage.py resubmit_failed_orders`: the same selection as the order list's filters, dry run, confirmation,
rate, a progress bar and a summary, and the exit status (0 all resubmitted, 1 some skipped, 2 bad usage)."""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import Job
from orders.models import Order, OrderEvent
from tests import factories as f
from tests.test_batch import erred

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "resubmit_failed_orders"


@pytest.fixture
def sent(monkeypatch):
    """Hand-offs to Celery are recorded, not run (the tests look at the resubmit, not the provisioning)."""
    from orders import dispatch

    calls: list[tuple] = []
    monkeypatch.setattr(dispatch, "_send", lambda name, *args: calls.append((name, *args)))
    return calls


@pytest.fixture
def no_tty(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def run(*args: str) -> tuple[int, str, str]:
    """call_command with the exit status the command would have: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(COMMAND, *args, stdout=out, stderr=err)
        status = 0
    except CommandError as exc:
        status = exc.returncode
        err.write(str(exc))
    return status, out.getvalue(), err.getvalue()


def states(*orders: Order) -> list[str]:
    return [Order.objects.get(pk=o.pk).state for o in orders]


def at(minutes_ago: int) -> str:
    """An ISO date-time with a +02:00 offset, `minutes_ago` minutes before now."""
    when = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return when.astimezone(datetime.timezone(datetime.timedelta(hours=2))).isoformat()


# --- dry run ----------------------------------------------------------------------------------------------


def test_a_dry_run_prints_counts_by_offering_and_error_and_changes_nothing(world, sent):
    for n in range(3):
        erred(world, "webhook", error=f"Fulfilment endpoint answered 503 for order {n}.")
    erred(world, "slurm", error="QOS 7 exceeded")
    f.OrderFactory(state="done", offering=world.slurm, project=world.project)

    status, out, _ = run("--dry-run")

    assert status == 0
    assert "Matched 4 orders. Would resubmit: 4. Would skip: 0." in out
    assert any(line.split()[:1] == ["webhook"] and line.split()[-1] == "3" for line in out.splitlines())
    assert "Fulfilment endpoint answered 503 for order <n>." in out
    assert "QOS <n> exceeded" in out
    assert Order.objects.filter(state="erred").count() == 4
    assert not Job.objects.exists()
    assert sent == []


def test_a_dry_run_with_no_match_says_so_and_exits_0(world, sent):
    status, out, _ = run("--dry-run", "--error-contains", "nothing like this")

    assert status == 0
    assert "No orders match" in out


# --- runs -------------------------------------------------------------------------------------------------


def test_a_run_resubmits_the_orders_of_a_time_window_and_leaves_the_others(world, sent):
    before = erred(world, minutes_ago=180, error="Fulfilment endpoint refused the order: HTTP 422.")
    during = [erred(world, minutes_ago=m) for m in (50, 40, 30)]
    after = erred(world, minutes_ago=5)
    done = f.OrderFactory(state="done", offering=world.webhook, project=world.project)

    status, out, err = run(
        "--failed-after", at(60), "--failed-before", at(20), "--yes", "--reason", "after maintenance", "--rate", "1000"
    )

    assert status == 0, err
    assert states(*during) == ["executing"] * 3
    assert states(before, after, done) == ["erred", "erred", "done"]
    job = Job.objects.get()
    assert (job.state, job.total, job.succeeded, job.skipped) == ("done", 3, 3, 0)
    assert job.created_by is None  # a system run
    assert job.reason == "after maintenance" and job.rate_per_second == 1000
    assert job.params["source"] == "cli"
    events = OrderEvent.objects.filter(kind="retry")
    assert {e.payload["job"] for e in events} == {job.uuid.hex}
    assert {e.payload["reason"] for e in events} == {"after maintenance"}
    assert "100%" in err  # the progress bar reached the end
    assert f"Job {job.uuid.hex} done" in out
    assert any(line.split()[:2] == ["resubmitted", "3"] for line in out.splitlines())


def test_a_second_run_finds_nothing_and_exits_0(world, sent):
    erred(world)
    assert run("--yes")[0] == 0

    status, out, _ = run("--yes")

    assert status == 0
    assert "No orders match" in out
    assert Job.objects.count() == 1


def test_the_rate_option_paces_the_run(world, sent):
    orders = [erred(world, "slurm") for _ in range(6)]
    started = time.monotonic()

    status, _, err = run("--yes", "--rate", "4")

    assert status == 0, err
    assert time.monotonic() - started >= 5 / 4  # order k starts no earlier than k / 4 s in
    assert states(*orders) == ["executing"] * 6
    assert Job.objects.get().rate_per_second == 4


# --- selection: the order list's filters ------------------------------------------------------------------


def list_api_uuids(api, staff, **params) -> set[str]:
    response = api.as_user(staff).get("/api/marketplace-orders/", {"state": "erred", "page_size": 300, **params})
    assert response.status_code == 200, response.content
    return {row["uuid"] for row in response.json()}


def _fill(value: str, world, hour_ago: str) -> str:
    return value.format(slurm=world.slurm.uuid, provider=world.provider.uuid.hex, hour_ago=hour_ago)


@pytest.mark.parametrize(
    ("cli", "params"),
    [
        (["--error-contains", "ANSWERED 503"], {"error_contains": "ANSWERED 503"}),
        (["--transient"], {"error_is_transient": "true"}),
        (["--no-transient"], {"error_is_transient": "false"}),
        (["--type", "terminate"], {"type": "Terminate"}),
        (["--offering", "{slurm}"], {"offering_uuid": "{slurm}"}),
        (["--provider", "{provider}"], {"provider_uuid": "{provider}"}),
        (["--failed-after", "{hour_ago}", "--transient"], {"failed_after": "{hour_ago}", "error_is_transient": "true"}),
    ],
    ids=["error-contains", "transient", "no-transient", "type", "offering", "provider", "window+transient"],
)
def test_the_cli_resubmits_exactly_what_the_order_list_filters_select(world, sent, api, cli, params):
    other_provider = f.CustomerFactory(name="Elsewhere")
    elsewhere = f.OfferingFactory(customer=other_provider, type="Marketplace.Slurm", name="elsewhere")
    erred(world, "webhook", minutes_ago=30)
    erred(world, "webhook", minutes_ago=90)
    erred(world, "slurm", minutes_ago=30, error="sbatch failed")
    erred(world, elsewhere, minutes_ago=30, error="Fulfilment endpoint answered 503.")
    terminate_target = f.ResourceFactory(project=world.project, offering=world.slurm, state="OK")
    f.OrderFactory(
        state="erred", type="Terminate", offering=world.slurm, project=world.project, resource=terminate_target,
        error_message="scancel failed", error_updated_at=timezone.now(),
    )  # fmt: skip
    hour_ago = at(60)
    expected = list_api_uuids(api, world.user("staff"), **{k: _fill(v, world, hour_ago) for k, v in params.items()})
    assert expected and len(expected) < Order.objects.filter(state="erred").count()  # the filter filters

    status, _, err = run(*[_fill(a, world, hour_ago) for a in cli], "--yes")

    assert status == 0, err
    assert {u.hex for u in Job.objects.get().items.values_list("subject_uuid", flat=True)} == expected
    assert {u.hex for u in Order.objects.filter(state="executing").values_list("uuid", flat=True)} == expected


def test_repeated_offerings_select_the_orders_of_any_of_them(world, sent):
    webhook, slurm, basic = erred(world, "webhook"), erred(world, "slurm"), erred(world, "basic")

    status, _, err = run("--offering", world.webhook.uuid.hex, "--offering", str(world.slurm.uuid), "--yes")

    assert status == 0, err
    assert states(webhook, slurm, basic) == ["executing", "executing", "erred"]


def test_a_uuids_file_selects_those_orders_and_reports_the_ones_not_erred(world, sent, tmp_path):
    chosen, other = erred(world), erred(world)
    done = f.OrderFactory(state="done", offering=world.webhook, project=world.project)
    listing = tmp_path / "uuids.txt"
    listing.write_text(f"# orders of ticket 42\n{chosen.uuid.hex}\n\n  {done.uuid}  # already done\n")

    status, out, err = run("--uuids-file", str(listing), "--yes")

    assert status == 1
    assert "1 of 2 selected orders were not resubmitted" in err
    assert states(chosen, other, done) == ["executing", "erred", "done"]
    assert any(line.split()[:2] == ["not_erred", "1"] for line in out.splitlines())


# --- who --------------------------------------------------------------------------------------------------


def test_as_a_user_only_their_visible_orders_are_selected_and_their_right_is_checked(world, sent):
    slurm, webhook = erred(world, "slurm"), erred(world, "webhook")

    manager = run("--as-user", "offering-manager", "--yes")
    consumer = run("--as-user", "consumer-owner", "--yes", "--offering", world.webhook.uuid.hex)

    assert manager[0] == 0, manager[2]
    assert states(slurm, webhook) == ["executing", "erred"]
    assert Job.objects.get(created_by=world.user("offering_manager")).total == 1
    assert consumer[0] == 1  # the consumer sees the order but may not retry it
    assert any(line.split()[:2] == ["not_permitted", "1"] for line in consumer[1].splitlines())
    assert states(webhook) == ["erred"]


# --- confirmation and bad usage ---------------------------------------------------------------------------


def test_without_yes_and_without_a_terminal_it_refuses_with_status_2(world, sent, no_tty):
    order = erred(world)

    status, _, err = run()

    assert status == 2
    assert "--yes" in err and "not a terminal" in err
    assert states(order) == ["erred"] and not Job.objects.exists()


@pytest.mark.parametrize(("answer", "status", "state"), [("y", 0, "executing"), ("", 1, "erred"), ("no", 1, "erred")])
def test_on_a_terminal_it_asks_first(world, sent, monkeypatch, answer, status, state):
    order = erred(world)
    prompts: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or answer)

    assert run()[0] == status

    assert prompts == ["Resubmit 1 orders? [y/N] "]
    assert states(order) == [state]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--failed-after", "yesterday"], "--failed-after 'yesterday'"),
        (["--offering", "not-a-uuid"], "--offering"),
        (["--provider", "123"], "--provider"),
        (["--as-user", "nobody"], "no active user 'nobody'"),
        (["--uuids-file", "/nonexistent/uuids.txt"], "cannot read"),
    ],
)
def test_bad_usage_is_status_2_and_names_the_option(world, sent, args, message):
    order = erred(world)

    status, _, err = run(*args, "--yes")

    assert status == 2
    assert message in err
    assert states(order) == ["erred"]


def test_a_bad_line_in_the_uuids_file_is_status_2_with_its_line_number(world, sent, tmp_path):
    listing = tmp_path / "uuids.txt"
    listing.write_text(f"{erred(world).uuid.hex}\n# fine\n1234\n")

    status, _, err = run("--uuids-file", str(listing), "--yes")

    assert status == 2
    assert "line 3" in err and "'1234'" in err


def test_options_argparse_refuses_are_errors(world, sent):
    for args in (["--type", "Explode"], ["--rate", "0"], ["--rate", "-3"], ["--transient", "--no-transient"]):
        with pytest.raises(CommandError):
            call_command(COMMAND, *args, "--yes", stdout=io.StringIO(), stderr=io.StringIO())


# --- the real command line --------------------------------------------------------------------------------


def test_the_command_line_exit_status_is_0_1_or_2(tmp_path):
    """A real `python manage.py …` against its own SQLite database."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "LOG_LEVEL": "WARNING"}
    env.pop("CELERY_BROKER_URL", None)  # the embedded mode: no broker

    def manage(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    assert manage("migrate", "-v0").returncode == 0
    seeded = manage(
        "shell", "-c",
        "from tests.conftest import build_world\n"
        "from tests.test_batch import erred\n"
        "w = build_world()\n"
        "print(erred(w, 'slurm').uuid.hex, erred(w, 'slurm').uuid.hex)",
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    first, second = seeded.stdout.split()[-2:]

    bad = manage(COMMAND, "--type", "Explode")
    unconfirmed = manage(COMMAND, stdin="")
    ok = manage(COMMAND, "--yes", "--uuids-file", "/dev/stdin", stdin=f"{first}\n")
    partly = manage(COMMAND, "--yes", "--uuids-file", "/dev/stdin", stdin=f"{first}\n{second}\n")

    assert bad.returncode == 2 and "invalid order type value: 'Explode'" in bad.stderr
    assert unconfirmed.returncode == 2 and "Pass --yes" in unconfirmed.stderr
    assert ok.returncode == 0, ok.stderr
    assert partly.returncode == 1, partly.stderr  # the first is executing now: skipped, the second resubmitted
    assert "1 of 2 selected orders were not resubmitted" in partly.stderr
