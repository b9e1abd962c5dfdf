"""provreg's engine and server.

Turns model files into fingerprints (``registry.weights``), keeps variants and their lineage in a
database (``registry.db``), applies the registry's rules (``registry.services``) and serves them
over HTTP (``registry.api``); ``registry.client`` is the matching HTTP client.
"""

__version__ = "0.1.0"
