"""The real waldur-site-agent (1.0.7, a separate process speaking HTTP) processes orders of its offering."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from offerings.models import AgentIdentity
from orders import services
from orders.models import Order, Resource
from tests.e2e.site_agent import agent_config, require_backend, run_cycle
from tests.factories import OfferingComponentFactory, OfferingFactory, PlanFactory, UserFactory, grant_role, token_for

pytestmark = [pytest.mark.e2e]


def fetch(order: Order) -> Order:
    return Order.objects.select_related("resource").get(pk=order.pk)


def provisioned_resource(world, owner, name: str) -> Resource:
    """A resource that an earlier Create order provisioned (state OK, with a backend id)."""
    order = services.order_create(
        actor=owner, project=world.project, offering=world.slurm, plan=world.plans["slurm"],
        attributes={"name": name}, limits={"cpu": 5},
    )  # fmt: skip
    services.order_approve_by_provider(order=order, actor=None)
    services.order_set_state_done(order=order, actor=None, backend_id=f"acc-{name}")
    return Resource.objects.get(pk=order.resource_id)


def place(world, owner, name: str) -> Order:
    return services.order_create(
        actor=owner, project=world.project, offering=world.slurm, plan=world.plans["slurm"],
        attributes={"name": name}, limits={"cpu": 10},
    )  # fmt: skip


@pytest.fixture
def agent_for(live_server, live_world, tmp_path):
    def config(offering, user, backend: str = "mock", settings: dict | None = None) -> dict:
        return agent_config(
            api_url=f"{live_server.url}/api/", token=token_for(user), offering_uuid=offering.uuid.hex,
            backend=backend, settings=settings,
        )  # fmt: skip

    return config


def test_agent_provisions_create_update_and_terminate_orders_in_one_cycle(live_world, agent_for, tmp_path):
    require_backend("mock")
    world, owner = live_world, live_world.user("consumer_owner")
    create = place(world, owner, "alloc-create")
    update = services.resource_update_limits(
        actor=owner, resource=provisioned_resource(world, owner, "alloc-update"), limits={"cpu": 42}
    )
    terminate = services.resource_terminate(actor=owner, resource=provisioned_resource(world, owner, "alloc-gone"))
    assert {fetch(o).state for o in (create, update, terminate)} == {"pending-provider"}

    result = run_cycle(agent_for(world.slurm, world.user("offering_manager")), tmp_path)

    assert result.errors == [], result.output[-4000:]
    create, update, terminate = fetch(create), fetch(update), fetch(terminate)
    assert (create.state, create.resource.state) == ("done", "OK")
    assert create.resource.backend_id  # the agent's set_backend_id
    assert create.resource.limits == {"cpu": 1000, "mem": 2048}  # what MockBackend reports via set_limits
    assert (update.state, update.resource.state, update.resource.limits["cpu"]) == ("done", "OK", 42)
    assert (terminate.state, terminate.resource.state) == ("done", "Terminated")
    assert {e.kind for e in create.events.all()} >= {"create", "approve_by_provider", "set_state_done"}

    identity = AgentIdentity.objects.get(offering=world.slurm, name=f"agent-{world.slurm.uuid.hex}")
    service = identity.services.get(name="order_process")
    assert service.processors.get().backend_type.endswith("MockBackend")


def test_agent_reports_a_failed_provisioning_as_erred(live_world, agent_for, tmp_path):
    require_backend("mock-failing")
    world, owner = live_world, live_world.user("consumer_owner")
    failing = place(world, owner, "fail-alloc")
    fine = place(world, owner, "alloc-fine")

    result = run_cycle(agent_for(world.slurm, world.user("offering_manager"), backend="mock-failing"), tmp_path)

    failing, fine = fetch(failing), fetch(fine)
    assert (failing.state, failing.resource.state) == ("erred", "Erred")
    assert "refuses to create fail-alloc" in failing.error_message
    assert failing.error_traceback  # the agent sends its traceback
    assert (fine.state, fine.resource.state) == ("done", "OK")
    # the only errors the agent logged are about the order that failed
    assert result.errors and all("fail-alloc" in e or "refuses" in e for e in result.errors), result.errors

    services.order_retry(order=failing, actor=world.user("offering_manager"))  # after the outage…
    assert fetch(failing).state == "executing"


def test_agent_of_one_offering_never_sees_or_touches_another_offerings_orders(live_world, agent_for, tmp_path):
    require_backend("mock")
    world, owner = live_world, live_world.user("consumer_owner")
    other = OfferingFactory(customer=world.provider, category=world.slurm.category, type="Marketplace.Slurm")
    OfferingComponentFactory(offering=other, type="cpu")
    other_plan = PlanFactory(offering=other)
    other_manager = UserFactory(username="other-offering-manager")
    grant_role(other_manager, "OFFERING.MANAGER", other)
    mine = place(world, owner, "alloc-mine")
    theirs = services.order_create(actor=owner, project=world.project, offering=other, plan=other_plan)

    result = run_cycle(agent_for(world.slurm, world.user("offering_manager")), tmp_path)

    assert result.errors == [], result.output[-4000:]
    assert fetch(mine).state == "done"
    theirs = fetch(theirs)
    assert (theirs.state, theirs.resource.backend_id) == ("pending-provider", "")
    assert [e.kind for e in theirs.events.all()] == ["create"]

    # pointed at the other offering with its own token, the agent gets nothing: 404s, and no changes
    result = run_cycle(agent_for(other, world.user("offering_manager")), tmp_path)
    assert fetch(theirs).state == "pending-provider"
    assert not AgentIdentity.objects.filter(offering=other).exists()
    assert result.errors  # it says it could not process the offering


SLURM_BIN = Path(sys.executable).parent


@pytest.mark.skipif(not (SLURM_BIN / "sacctmgr").exists(), reason="slurm-emulator is not installed in this venv")
def test_real_slurm_plugin_creates_the_account_in_the_slurm_emulator(live_world, agent_for, tmp_path):
    require_backend("slurm")
    world, owner = live_world, live_world.user("consumer_owner")
    order = place(world, owner, "hpc-alloc")
    state_file = tmp_path / "slurm_emulator_db.json"
    settings = {
        "slurm_bin_path": str(SLURM_BIN), "default_account": "root", "customer_prefix": "c_",
        "project_prefix": "p_", "allocation_prefix": "a_", "qos_downscaled": "limited", "qos_paused": "paused",
        "qos_default": "normal", "enable_user_homedir_account_creation": False,
    }  # fmt: skip
    env = {"SLURM_EMULATOR_STATE_FILE": str(state_file), "PATH": f"{SLURM_BIN}:{shutil.os.environ['PATH']}"}

    result = run_cycle(agent_for(world.slurm, world.user("offering_manager"), "slurm", settings), tmp_path, env)

    assert result.errors == [], result.output[-4000:]
    order = fetch(order)
    assert (order.state, order.resource.state) == ("done", "OK")
    accounts = json.loads(state_file.read_text())["accounts"]
    allocation = accounts[order.resource.backend_id]  # the agent stored the SLURM account as backend id
    assert allocation["parent"] == f"p_{world.project.slug}"
    assert accounts[f"p_{world.project.slug}"]["parent"] == f"c_{world.customer.slug}"
    assert allocation["limits"] == {"GrpTRESMins:cpu": 10}
