"""The Hugging Face Hub integration: reading the Hub (with retries), recording its repos as
variants observed in the wild, the resumable sync of a base model's descendants, and
fingerprinting their weights.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.hub.fingerprint import FingerprintOutcome, fingerprint_repo
    from registry.hub.reader import HubReader
    from registry.hub.sync import DEFAULT_DEPTH, sync_root

__all__, __getattr__ = lazy_surface(__name__, __file__)
