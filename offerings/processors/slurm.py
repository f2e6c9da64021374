"""Marketplace.Slurm: a site agent at the provider polls, provisions and reports."""

from offerings.processors.base import ManualProcessor


class SiteAgentProcessor(ManualProcessor):
    """Leaves the order executing until the site agent reports set_state_done / set_state_erred."""
