"""Trust on the server side: API tokens, namespace keys, signed statements and bundles, the
transparency log (leaves, checkpoints, proofs) and its audit.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.trust.audit import audit_log
    from registry.services.trust.keys import add_key
    from registry.services.trust.log_records import leaves_of
    from registry.services.trust.signatures import (
        attach_bundle,
        get_release_statement,
        record_registration,
        registration_index,
        signature_info,
        verified_statement,
    )
    from registry.services.trust.tokens import (
        authenticate,
        create_token,
        require_publish,
        revoke_token,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
