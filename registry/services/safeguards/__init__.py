"""Safeguards: the policy, each variant's status with its reasons (kept fresh as evidence
arrives), the query for variants lacking them, and advisories down the lineage.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.safeguards.advisories import add_advisory, advisory_public, affected
    from registry.services.safeguards.policy import (
        BenchmarkRule,
        SafeguardPolicy,
        load_policy,
        normalise,
        parse_policy,
    )
    from registry.services.safeguards.query import (
        lacking_safeguards,
        parse_statuses,
        safeguard_status,
    )
    from registry.services.safeguards.status import (
        catch_up,
        current_downloads,
        mark_dirty,
        refresh,
        refresh_reach,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
