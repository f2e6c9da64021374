"""Marketplace.Basic: provisioned by hand; the provider marks the order done or erred."""

from offerings.processors.base import ManualProcessor


class BasicProcessor(ManualProcessor):
    """Leaves the order executing until the provider calls set_state_done / set_state_erred."""
