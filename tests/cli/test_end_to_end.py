"""A real `provreg serve` on loopback and the `provreg` console script talking to it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import tiny_tensors, write_model
from tests.servers import PROVREG, free_port, running_server


def _cli(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROVREG, *map(str, args)], env=env, text=True, capture_output=True, timeout=120
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for CLI calls against a fresh server on SQLite; holds an admin token."""
    home = tmp_path / "server-home"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    server_env = {**base, "PROVREG_HOME": str(home)}
    assert _cli(server_env, "init").returncode == 0
    token = json.loads(_cli(server_env, "token", "create", "--scope", "admin").stdout)["token"]
    with running_server(server_env) as url:
        yield {
            **base,
            "PROVREG_HOME": str(tmp_path / "client-home"),
            "PROVREG_URL": url,
            "PROVREG_TOKEN": token,
        }


def test_cli_through_a_real_server(server: dict[str, str], tmp_path: Path) -> None:
    base = write_model(tmp_path / "base", tiny_tensors(1))
    chat = write_model(tmp_path / "chat", tiny_tensors(2), shards=2)

    anonymous = {k: v for k, v in server.items() if k != "PROVREG_TOKEN"}
    refused = _cli(anonymous, "register", base, "--name", "acme/base")
    assert refused.returncode == 1 and "bearer token" in refused.stderr
    assert "Traceback" not in refused.stderr

    r = _cli(server, "register", base, "--name", "acme/base", "--json")
    assert r.returncode == 0, r.stderr
    r = _cli(
        server,
        "register",
        chat,
        "--name",
        "acme/chat",
        "--parent",
        "acme/base",
        "--relation",
        "finetune",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["lineage"][0]["parent"] == "acme/base@main"

    g = json.loads(_cli(server, "lineage", "acme/base", "--down", "--json").stdout)
    assert [(e["child"], e["parent"]) for e in g["edges"]] == [("acme/chat@main", "acme/base@main")]
    shown = _cli(server, "show", "acme/chat")
    assert shown.returncode == 0 and "acme/base@main" in shown.stdout

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00nope!")
    r = _cli(server, "register", bad, "--name", "acme/bad")
    assert r.returncode == 1 and "bad.safetensors" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_token_create_with_a_server_url_mints_on_the_server(
    server: dict[str, str], tmp_path: Path
) -> None:
    """The token is the server's (the client has no database to write it to), so the server
    accepts it; a publisher token cannot mint more tokens."""
    r = _cli(server, "token", "create", "--scope", "publish", "--namespace", "acme", "--json")
    assert r.returncode == 0, r.stderr
    minted = json.loads(r.stdout)["token"]
    model = write_model(tmp_path / "m", tiny_tensors(3))
    as_publisher = {**server, "PROVREG_TOKEN": minted}
    r = _cli(as_publisher, "register", model, "--name", "acme/m")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "client-home" / "provreg.db").exists()
    r = _cli(as_publisher, "token", "create", "--scope", "admin")
    assert r.returncode == 1 and "admin" in r.stderr


def test_server_unreachable_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env["PROVREG_URL"] = f"http://127.0.0.1:{free_port()}"
    r = _cli(env, "show", "acme/base")
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and "provreg serve" in r.stderr
