"""Local mode is the HTTP client over the app in this process: no token, no socket, same rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from sqlmodel import Session

from registry.api.local import LOCAL_URL, local_client
from registry.client import RegistryClient
from registry.config import Settings
from registry.errors import TokenInvalid, VariantNotFound
from tests.factories import tiny_tensors, variant_request, write_model
from tests.servers import PROVREG


def test_cli_import_loads_no_server_or_numeric_stack() -> None:
    """Starting `provreg` must not pay for fastapi, the services or the weight readers."""
    heavy = ["fastapi", "scipy", "onnx", "ml_dtypes", "numpy", "registry.services"]
    code = (
        "import json, sys; import cli.main; "
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []


def test_show_in_local_mode_loads_no_numeric_readers(tmp_path: Path) -> None:
    """`provreg show` runs the registry's app in process, without numpy, scipy, onnx or
    ml_dtypes (they load where a comparison or a weights reader needs them), without Alembic
    (the database is at head), and without the routes and tables the read does not use."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env["PROVREG_HOME"] = str(tmp_path / "home")
    model = write_model(tmp_path / "model", tiny_tensors(1))
    subprocess.run([PROVREG, "register", str(model), "--name", "acme/tiny"], env=env,
                   capture_output=True, check=True, timeout=120)  # fmt: skip
    # (the Hub's tables do load: the one page names the Hub repo its downloads come from)
    heavy = ["numpy", "scipy", "onnx", "ml_dtypes", "gguf", "torch", "alembic",
             "registry.api.routes.log", "registry.hub.sync", "celery"]  # fmt: skip
    code = (
        "import json, sys; from cli.main import main\n"
        "sys.argv = ['provreg', 'show', 'acme/tiny']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "acme/tiny" in out.stdout
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []


@pytest.mark.db
def test_local_client_writes_without_a_token_and_maps_errors_back(
    settings: Settings, session_factory: Callable[[], Session]
) -> None:
    client = local_client(settings, session_factory)
    assert client.base_url == LOCAL_URL and client.token is None
    created = client.register(variant_request("acme/base"))
    assert created.created is True
    assert client.show("acme/base").digest == created.digest
    with pytest.raises(VariantNotFound) as caught:
        client.show("acme/absent")
    assert "acme/absent" in caught.value.message
    assert client.audit().ok  # an admin-only route: the local caller is the admin


@pytest.mark.db
def test_a_presented_token_is_still_checked_in_local_mode(
    settings: Settings, session_factory: Callable[[], Session]
) -> None:
    local = local_client(settings, session_factory)
    bad = RegistryClient(LOCAL_URL, token="provreg_not-a-token", http=local.http)
    with pytest.raises(TokenInvalid):
        bad.register(variant_request("acme/base"))


def test_console_script_in_local_mode(tmp_path: Path) -> None:
    """`provreg` without PROVREG_URL: a fresh home, writes without a token, admin commands."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env["PROVREG_HOME"] = str(tmp_path / "home")

    def cli(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PROVREG, *map(str, args)], env=env, text=True, capture_output=True, timeout=120
        )

    model = write_model(tmp_path / "m", tiny_tensors(1))
    r = cli("register", model, "--name", "acme/m", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] is True
    r = cli("show", "acme/m")
    assert r.returncode == 0 and "acme/m@main" in r.stdout
    r = cli("show", "acme/none")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("token", "create", "--scope", "admin")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["token"].startswith("provreg_")
    r = cli("audit", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


@pytest.mark.db
def test_in_process_adapter_is_a_requests_transport(
    settings: Settings, session_factory: Callable[[], Session]
) -> None:
    client = local_client(settings, session_factory)
    answer = client.http.get(f"{LOCAL_URL}/v1/health", timeout=5)
    assert isinstance(answer, requests.Response)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert client.http.get(f"{LOCAL_URL}/v1/nowhere", timeout=5).status_code == 404
