"""Domain errors of the catalogue and the site agents; they subclass core's DomainError."""

from core.errors import DomainError, InvalidInput, NotPermitted


class CatalogueError(DomainError):
    """Any refusal of a catalogue or agent action."""


class AgentNotPermitted(CatalogueError, NotPermitted):
    default_message = "You may not manage agents of this offering."


class OfferingTypeValidationError(CatalogueError, InvalidInput):
    """The offering's type refuses an order (its validate hook) or an offering's plugin options (400)."""


class OfferingActionNotPermitted(CatalogueError, NotPermitted):
    default_message = "You may not manage accounts or resources of this offering."
