"""Per-invocation state: the settings, the one :class:`Registry` commands talk to, and how
output is rendered.

With a server URL (``PROVREG_URL``, or the profile `provreg login` saved) the registry is a
:class:`RegistryClient` over HTTP; without one, the same client over the in-process app on the
local database (:mod:`registry.api.local`). Commands never ask which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from registry.config import Settings
from registry.interface import Registry

if TYPE_CHECKING:  # sqlmodel and requests load only when a command needs them
    import requests
    from sqlmodel import Session

    from registry.client import RegistryClient


@dataclass
class CliState:
    """What one command run needs; tests pass a ready registry or session factory."""

    settings: Settings = field(default_factory=Settings)
    registry_override: Registry | None = None
    session_factory_override: Callable[[], Session] | None = None
    as_json: bool = False
    argv: list[str] = field(default_factory=list)
    profile: str | None = None
    http: requests.Session | None = None
    _registry: Registry | None = None
    _local: Registry | None = None

    def local_sessions(self) -> Callable[[], Session]:
        """Sessions on the local database (``PROVREG_DATABASE_URL`` or the file in home), for
        the commands that own it: init, serve, hub sync."""
        if self.session_factory_override is not None:
            return self.session_factory_override
        from registry.db import make_session_factory, ready_engine

        return make_session_factory(ready_engine(self.settings))

    def registry(self) -> Registry:
        """The registry: the server at ``PROVREG_URL``, else the local database."""
        if self.registry_override is not None:
            return self.registry_override
        if self._registry is None:
            settings = self.settings.with_profile(self.profile)
            if settings.url:
                self._registry = self.client(settings.url, settings.token)
            else:
                self._registry = self.local_registry()
        return self._registry

    def client(self, url: str, token: str | None) -> RegistryClient:
        """A client of the server at ``url`` (tests hand in the transport as ``http``)."""
        from registry.client import RegistryClient  # requests: only when a command talks

        return RegistryClient(url, token=token, http=self.http)

    def local_registry(self) -> Registry:
        """The local database through the in-process app, acting as its administrator."""
        if self._local is None:
            from registry.api.local import local_client

            self._local = local_client(self.settings, self.local_sessions())
        return self._local
