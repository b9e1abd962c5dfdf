"""The wheel is complete: installed into a fresh environment (away from the source tree), provreg
creates its database from the migrations it carries, registers, shows lineage and serves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import requests

from tests.factories import tiny_tensors, write_model
from tests.servers import running_server

ROOT = Path(__file__).resolve().parents[1]
_NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


def _run(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], text=True, capture_output=True, timeout=600, **kwargs
    )  # type: ignore[call-overload]


def test_installed_wheel_inits_registers_shows_lineage_and_serves(tmp_path: Path) -> None:
    # build from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    dist = tmp_path / "dist"
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("provreg-*.whl")

    # a fresh environment whose only provreg is the wheel; its dependencies come from this
    # interpreter's site-packages through a .pth (a .pth there is not processed in turn, so the
    # development install of provreg stays out of sight)
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    python = venv / "bin" / "python"
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    site = Path(purelib.stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "provreg_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel
    )
    assert installed.returncode == 0, installed.stderr

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVREG_", "PYTHON"))}
    env["PROVREG_HOME"] = str(tmp_path / "home")
    where = _run(python, "-c", "import registry; print(registry.__file__)", cwd=work, env=env)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr

    provreg = venv / "bin" / "provreg"
    r = _run(provreg, "init", "--json", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["revision"] is not None
    base = write_model(tmp_path / "base", tiny_tensors(1))
    chat = write_model(tmp_path / "chat", tiny_tensors(2))
    r = _run(provreg, "register", base, "--name", "acme/base", "--json", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    r = _run(
        provreg, "register", chat, "--name", "acme/chat", "--parent", "acme/base",
        "--relation", "finetune", "--json", cwd=work, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = _run(provreg, "lineage", "acme/base", "--down", "--json", cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    edges = [(e["child"], e["parent"]) for e in json.loads(r.stdout)["edges"]]
    assert edges == [("acme/chat@main", "acme/base@main")]

    with running_server(env, program=str(provreg)) as url:
        shown = requests.get(f"{url}/v1/variants/acme/chat", timeout=10).json()
        assert shown["lineage"][0]["parent"] == "acme/base@main"
        assert requests.get(f"{url}/", timeout=10).ok  # the explorer's static files shipped
        assert requests.get(f"{url}/ui/variants.js", timeout=10).ok
        # the API docs' own assets come with the installed dependencies, not from a CDN
        assert "/static/docs/swagger-ui-bundle.js" in requests.get(f"{url}/docs", timeout=10).text
        assert requests.get(f"{url}/static/docs/swagger-ui-bundle.js", timeout=10).ok
        assert requests.get(f"{url}/static/docs/redoc.standalone.js", timeout=10).ok
