"""A real `provreg serve` on loopback and the `provreg` console script talking to it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.factories import tiny_tensors, write_model

PROVREG = shutil.which("provreg", path=str(Path(sys.executable).parent)) or "provreg"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = _free_port()
    proc = subprocess.Popen(
        [PROVREG, "serve", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded machine can take long to import
        while True:
            try:
                if requests.get(f"{url}/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()  # before reading its stderr, which a live server never closes
                _out, err = proc.communicate(timeout=10)
                pytest.fail(f"provreg serve did not start: {err}")
        yield {
            **base,
            "PROVREG_HOME": str(tmp_path / "client-home"),
            "PROVREG_URL": url,
            "PROVREG_TOKEN": token,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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


def test_server_unreachable_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env["PROVREG_URL"] = f"http://127.0.0.1:{_free_port()}"
    r = _cli(env, "show", "acme/base")
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and "provreg serve" in r.stderr
