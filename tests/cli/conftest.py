"""Run the real CLI in process, locally on the test database or through the real app over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session

from cli.backend import CliState, LocalBackend, RemoteBackend
from cli.main import run
from registry.client import RegistryClient
from registry.config import Settings


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


CliRunner = Callable[..., Result]


@pytest.fixture(params=["local", "remote"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def provreg(
    mode: str,
    settings: Settings,
    session_factory: Callable[[], Session],
    client_for: Callable[[str | None], RegistryClient],
    admin_token: str,
    capsys: pytest.CaptureFixture[str],
) -> CliRunner:
    """``provreg(*args, token=...)`` runs one command and returns its status and output."""

    def invoke(*args: str, token: str | None = admin_token) -> Result:
        backend = (
            LocalBackend(session_factory) if mode == "local" else RemoteBackend(client_for(token))
        )
        state = CliState(
            settings=settings, backend_override=backend, session_factory_override=session_factory
        )
        capsys.readouterr()
        code = run([str(a) for a in args], state=state)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
