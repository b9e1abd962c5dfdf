"""Dump a whole registry as JSON Lines, and restore one into an empty database after checking
that its transparency log re-derives to the dump's signed checkpoint."""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.backup.dump import DUMP_FORMAT, DUMP_VERSION, dump_lines
    from registry.services.backup.restore import restore_lines

__all__, __getattr__ = lazy_surface(__name__, __file__)
