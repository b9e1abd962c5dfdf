"""Trust primitives: keys, DSSE envelopes, in-toto statements, RFC 9162 Merkle trees, signed
checkpoints and OpenSSF model-signing bundles.

Pure functions over bytes and wire models: nothing here knows about databases or HTTP, so the
server, the CLI (which signs and verifies on the user's machine) and the benchmarks share them.
"""

from registry.trust.canonical import canonical_json, sha256_digest
from registry.trust.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from registry.trust.dsse import PAYLOAD_TYPE, open_envelope, pae, sign_envelope
from registry.trust.keys import (
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    write_key_pair,
)
from registry.trust.merkle import (
    empty_root,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "PAYLOAD_TYPE",
    "Checkpoint",
    "canonical_json",
    "empty_root",
    "generate_private_key",
    "key_id",
    "leaf_hash",
    "load_private_key",
    "load_public_key",
    "node_hash",
    "open_envelope",
    "pae",
    "parse_checkpoint",
    "private_key_pem",
    "public_key_pem",
    "root_from_leaves",
    "sha256_digest",
    "sign_checkpoint",
    "sign_envelope",
    "verify_consistency",
    "verify_inclusion",
    "write_key_pair",
]
