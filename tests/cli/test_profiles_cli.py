"""`provreg login`/`logout` and `--profile`: the config file, what wins over it, bad input."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient
from sqlmodel import Session

from cli.main import run
from cli.state import CliState
from registry.config import Settings, read_profiles
from registry.services import create_token
from tests import conftest as shared
from tests.cli.conftest import Result
from tests.servers import free_port

SERVER = "http://testserver"
Runner = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("PROVREG_URL", "PROVREG_TOKEN", "PROVREG_PROFILE", "PROVREG_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


@pytest.fixture
def cli(
    home: Path,
    http: TestClient,
    session_factory: Callable[[], Session],
    capsys: pytest.CaptureFixture[str],
) -> Runner:
    """``cli(*args, **settings)``: the CLI as a user runs it, with PROVREG_HOME set and whatever
    ``settings`` the environment would give; http://testserver is the app in process."""

    def invoke(*args: str, **settings: object) -> Result:
        transport = requests.Session()
        transport.mount(SERVER, shared.TestClientAdapter(http))
        state = CliState(
            settings=Settings(home=home, database_url=None, **settings),  # type: ignore[arg-type]
            session_factory_override=session_factory,
            http=transport,
        )
        capsys.readouterr()
        code = run([str(a) for a in args], state=state)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def test_login_saves_a_private_profile_that_later_commands_use(
    cli: Runner, home: Path, admin_token: str
) -> None:
    r = cli("login", "--url", SERVER + "/", "--token", admin_token, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["profile"] == "default" and doc["url"] == SERVER
    assert doc["token"]["scope"] == "admin" and admin_token not in r.out
    config = home / "config.toml"
    assert doc["config_file"] == str(config)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert read_profiles(config) == {"default": {"url": SERVER, "token": admin_token}}
    # the profile's server and token are used: token list needs an admin token over HTTP
    r = cli("token", "list", "--json")
    assert r.code == 0, r.err
    # a profile without a token reads only: the same command is refused by the server
    assert cli("login", "--url", SERVER, "--profile", "reader").code == 0
    r = cli("--profile", "reader", "token", "list")
    assert r.code == 1 and "bearer token" in r.err
    r = cli("token", "list", profile="reader")  # PROVREG_PROFILE
    assert r.code == 1 and "bearer token" in r.err
    assert set(read_profiles(config)) == {"default", "reader"}


def test_environment_wins_over_the_profile(cli: Runner, admin_token: str) -> None:
    assert cli("login", "--url", SERVER, "--profile", "reader").code == 0
    # PROVREG_TOKEN with the profile's URL
    assert cli("--profile", "reader", "token", "list", token=admin_token).code == 0
    # PROVREG_URL: the profile is not used at all (neither its URL nor its token)
    dead = f"http://127.0.0.1:{free_port()}"
    r = cli("--profile", "reader", "list", url=dead)
    assert r.code == 1 and "cannot reach the provreg server" in r.err
    # an empty PROVREG_URL means the local database
    assert cli("--profile", "reader", "token", "list", url="").code == 0


def test_login_refuses_what_it_cannot_check(
    cli: Runner, home: Path, session: Session, admin_token: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    r = cli("login", "--url", dead)
    assert r.code == 1 and f"cannot reach the provreg server at {dead}" in r.err
    r = cli("login", "--url", SERVER, "--token", "provreg_000000000000_" + "x" * 30)
    assert r.code == 1 and "not valid" in r.err
    secret, revoked = create_token(session, "admin")
    assert cli("token", "revoke", revoked.token_id).code == 0
    r = cli("login", "--url", SERVER, "--token", secret)
    assert r.code == 1 and "revoked" in r.err
    r = cli("login", "--url", "ftp://example.org")
    assert r.code == 1 and "invalid --url" in r.err
    assert cli("login").code == 2  # --url is required
    assert not (home / "config.toml").exists()  # nothing half-stored


def test_unknown_profile_and_logout(cli: Runner, home: Path, admin_token: str) -> None:
    r = cli("--profile", "staging", "list")
    assert r.code == 1
    assert "no profile 'staging'" in r.err and "provreg login --url URL --profile staging" in r.err
    r = cli("list", profile="staging")
    assert r.code == 1 and "no profile 'staging'" in r.err
    assert cli("login", "--url", SERVER, "--token", admin_token, "--profile", "staging").code == 0
    assert cli("--profile", "staging", "list", "--json").code == 0
    r = cli("logout", "--profile", "staging", "--json")
    assert r.code == 0 and r.json()["removed"] is True
    assert read_profiles(home / "config.toml") == {}
    r = cli("logout", "--profile", "staging")
    assert r.code == 1 and "no profile 'staging'" in r.err


def test_a_broken_config_file_is_named(cli: Runner, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text("[profiles.default\nurl = ")
    r = cli("list")
    assert r.code == 1 and "config.toml is not valid TOML" in r.err
    (home / "config.toml").write_text("[profiles.default]\ntoken = 'no url'\n")
    r = cli("list")
    assert r.code == 1 and "needs a url" in r.err


def test_default_config_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROVREG_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert Settings().effective_config_file == tmp_path / "xdg" / "provreg" / "config.toml"
    monkeypatch.setenv("PROVREG_HOME", str(tmp_path / "h"))
    assert Settings().effective_config_file == tmp_path / "h" / "config.toml"
