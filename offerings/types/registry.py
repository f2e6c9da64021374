"""The registered offering types. Every type, built-in or shipped in its own package, goes through
register_offering_type; packages announce theirs under the entry point group below, loaded on first use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from importlib import metadata

from offerings.types.spec import OfferingTypeSpec

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "marketplace.offering_types"

REGISTRY: dict[str, OfferingTypeSpec] = {}
_loaded = False
_loading = threading.RLock()


def register_offering_type(spec: OfferingTypeSpec, *, replace: bool = False) -> OfferingTypeSpec:
    """Make `spec` known by its name; registering another spec under a taken name needs replace=True."""
    if not isinstance(spec, OfferingTypeSpec):
        raise TypeError(f"register_offering_type expects an OfferingTypeSpec, not {type(spec).__name__}.")
    current = REGISTRY.get(spec.name)
    if current is not None and current != spec and not replace:
        raise ValueError(f"Offering type {spec.name!r} is already registered.")
    REGISTRY[spec.name] = spec
    return spec


def unregister_offering_type(name: str) -> None:
    REGISTRY.pop(name, None)


def _load_entry_points() -> None:
    """Each entry point names an OfferingTypeSpec, or a callable that registers or returns one."""
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
            spec = loaded if isinstance(loaded, OfferingTypeSpec) else loaded()
            if isinstance(spec, OfferingTypeSpec):
                register_offering_type(spec)
        except Exception:  # a broken plugin must not take the catalogue down with it
            logger.exception("offering type entry point %s could not be loaded", entry_point.name)


def ensure_loaded() -> None:
    """Register the built-in types, then those of installed packages (once per process)."""
    global _loaded
    if _loaded:
        return
    with _loading:
        if _loaded:
            return
        from offerings.types.builtin import register_builtin_types

        register_builtin_types()
        _load_entry_points()
        _loaded = True


def offering_types() -> dict[str, OfferingTypeSpec]:
    ensure_loaded()
    return dict(REGISTRY)


def get_offering_type(name: str) -> OfferingTypeSpec | None:
    ensure_loaded()
    return REGISTRY.get(name)


class TypeChoices(Sequence[tuple[str, str]]):
    """(name, label) of every registered type, read when used, so late registrations show up."""

    def _choices(self) -> list[tuple[str, str]]:
        return [(spec.name, spec.label) for spec in offering_types().values()]

    def __getitem__(self, index):  # type: ignore[override]
        return self._choices()[index]

    def __len__(self) -> int:
        return len(self._choices())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._choices())


TYPE_CHOICES = TypeChoices()
