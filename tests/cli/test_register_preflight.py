"""`register` asks the registry whether it may publish before it reads a byte of weights: a
server that is down, or a token missing, invalid, expired, revoked or scoped elsewhere, is
refused with one line naming the fix, and the model's files are never opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from cli.main import run
from cli.state import CliState
from registry.config import Settings
from registry.db.models import ApiToken
from registry.services import create_token
from registry.services.trust.tokens import revoke_token
from tests.cli.conftest import CliRunner
from tests.factories import tiny_tensors, write_model
from tests.servers import PROVREG, free_port, running_server

_TOUCHED: list[str] = []
_WATCHED: list[str] = []
_FILE_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Python's audit hook: note every open or listing of a path under a watched directory."""
    if event not in _FILE_EVENTS or not _WATCHED or not args or args[0] is None:
        return
    target = args[0]
    if isinstance(target, int):
        return
    path = os.fsdecode(target) if isinstance(target, bytes | os.PathLike) else str(target)
    if path.startswith(_WATCHED[0]):
        _TOUCHED.append(path)


_hooked: list[bool] = []


@pytest.fixture
def touched() -> Iterator[Any]:
    """``watch(dir)`` starts recording opens and listings under ``dir``; yields the record."""
    if not _hooked:  # an audit hook cannot be removed: install one for the whole run
        sys.addaudithook(_audit)
        _hooked.append(True)

    def watch(directory: Path) -> list[str]:
        _WATCHED[:] = [str(directory.resolve())]
        _TOUCHED.clear()
        return _TOUCHED

    yield watch
    _WATCHED.clear()


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "Traceback" not in err, err
    return " ".join(lines)


@pytest.mark.parametrize("mode", ["remote"], indirect=True)
def test_a_token_that_may_publish_hashes_the_model(
    provreg: CliRunner, tmp_path: Path, acme_token: str, touched: Any
) -> None:
    """The control: with a good token the model's files are read (so the hook sees reads)."""
    model = write_model(tmp_path / "m", tiny_tensors(1))
    opened = touched(model)
    r = provreg("register", model, "--name", "acme/m", token=acme_token)
    assert r.code == 0, r.err
    assert any(p.endswith(".safetensors") for p in opened)


def _expired(session: Session) -> str:
    secret, row = create_token(session, "publish", namespace="acme")
    row.expires_at = datetime.now(UTC) - timedelta(days=1)
    session.add(row)
    session.commit()
    return secret


def _revoked(session: Session) -> str:
    secret, row = create_token(session, "publish", namespace="acme")
    revoke_token(session, row.token_id)
    return secret


@pytest.mark.parametrize("mode", ["remote"], indirect=True)
@pytest.mark.parametrize(
    ("token_kind", "expected"),
    [
        ("none", ["bearer token", "PROVREG_TOKEN"]),
        ("garbled", ["not valid", "PROVREG_TOKEN"]),
        ("expired", ["expired", "new token"]),
        ("revoked", ["revoked", "new token"]),
        ("other_namespace", ["cannot publish in namespace 'other'", "publish:other"]),
    ],
)
def test_a_refused_token_stops_register_before_any_file_is_read(
    provreg: CliRunner,
    session: Session,
    tmp_path: Path,
    acme_token: str,
    touched: Any,
    token_kind: str,
    expected: list[str],
) -> None:
    tokens = {
        "none": None,
        "garbled": "provreg_0123456789ab_" + "x" * 40,
        "expired": _expired(session),
        "revoked": _revoked(session),
        "other_namespace": acme_token,
    }
    model = write_model(tmp_path / "m", tiny_tensors(1))
    opened = touched(model)
    name = "other/m" if token_kind == "other_namespace" else "acme/m"
    r = provreg("register", model, "--name", name, token=tokens[token_kind])
    assert r.code == 1
    message = _one_line(r.err)
    assert all(part in message for part in expected), message
    assert opened == []
    assert session.exec(select(ApiToken)).first() is not None  # the database is untouched


def test_a_server_that_is_down_stops_register_before_any_file_is_read(
    settings: Settings, tmp_path: Path, touched: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    model = write_model(tmp_path / "m", tiny_tensors(1))
    opened = touched(model)
    state = CliState(settings=settings.model_copy(update={"url": url, "token": "provreg_x"}))
    code = run(["register", str(model), "--name", "acme/m"], state=state)
    err = capsys.readouterr().err
    assert code == 1
    message = _one_line(err)
    assert url in message and "PROVREG_URL" in message and "provreg serve" in message
    assert opened == []


def test_a_real_server_refuses_before_the_client_reads_a_byte(tmp_path: Path) -> None:
    """`provreg serve` and the console script: the weights file is a named pipe with no writer,
    so any attempt to read it would hang; the refusal comes first."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    server_env = {**base, "PROVREG_HOME": str(tmp_path / "server-home")}

    def cli(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PROVREG, *map(str, args)], env=env, text=True, capture_output=True, timeout=90
        )

    assert cli(server_env, "init").returncode == 0
    made = cli(server_env, "token", "create", "--scope", "publish", "--namespace", "acme")
    token = json.loads(made.stdout)["token"]
    model = tmp_path / "m"
    model.mkdir()
    os.mkfifo(model / "model.safetensors")
    with running_server(server_env) as url:
        env = {**base, "PROVREG_HOME": str(tmp_path / "client-home"), "PROVREG_URL": url}
        r = cli({**env, "PROVREG_TOKEN": token}, "register", model, "--name", "other/m")
        assert r.returncode == 1
        assert "publish:other" in _one_line(r.stderr)
        r = cli(env, "register", model, "--name", "acme/m")
        assert r.returncode == 1 and "PROVREG_TOKEN" in _one_line(r.stderr)
