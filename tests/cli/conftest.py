"""Run the real CLI in process: locally on the test database (the in-process app, as
`provreg` without PROVREG_URL), or as a client of the real app over HTTP with a token."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session

from cli.main import run
from cli.state import CliState
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
        remote = client_for(token) if mode == "remote" else None
        state = CliState(
            settings=settings, registry_override=remote, session_factory_override=session_factory
        )
        capsys.readouterr()
        code = run([str(a) for a in args], state=state)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
