from orders import services


def test_owner_order_on_basic_offering_waits_for_the_provider(world):
    order = services.order_create(
        actor=world.user("consumer_owner"), project=world.project, offering=world.basic, plan=world.plans["basic"]
    )
    assert order.state == "pending-provider"
    assert order.resource.state == "Creating"
