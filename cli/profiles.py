"""`provreg login` and `provreg logout`: named profiles of a server URL and token, kept in the
config file (see :mod:`registry.config`) so commands need no PROVREG_URL/PROVREG_TOKEN."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from cli.options import JsonOption
from cli.output import Output
from cli.state import CliState
from registry.config import DEFAULT_PROFILE, remove_profile, save_profile
from registry.errors import InvalidInput, ProfileNotFound

ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="the profile's name; default: PROVREG_PROFILE, else default",
    ),
]


def login(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", metavar="URL", help="the provreg server")],
    token: Annotated[
        str | None,
        typer.Option("--token", metavar="TOKEN", help="bearer token for writes; omit: reads only"),
    ] = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> Output:
    """Check a server (and token) and save them as a profile that later commands use.

    Nothing is saved unless the server answers as a provreg server and accepts the token.
    PROVREG_URL and PROVREG_TOKEN, when set, still win over the saved profile."""
    state: CliState = ctx.obj
    profile = _chosen(state, profile)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"invalid --url {url!r}", hint="give the server's address, e.g. http://127.0.0.1:8000"
        )
    url = url.rstrip("/")
    client = state.client(url, token)
    client.list_variants(limit=1)  # reachable, and a provreg server
    doc: dict[str, Any] = {"profile": profile, "url": url, "token": None}
    if token:
        info = client.token_self()
        doc["token"] = info.model_dump(mode="json")
    path = state.settings.effective_config_file
    save_profile(path, profile, url, token)
    doc["config_file"] = str(path)
    return Output(doc, view=_login_view)


def _login_view(doc: dict[str, Any]) -> list[str]:
    token = doc["token"]
    who = (
        f"token {token['token_id']} (scope {token['scope']})" if token else "no token (reads only)"
    )
    return [
        f"logged in to {doc['url']} as profile {doc['profile']!r} with {who}",
        f"saved in {doc['config_file']} (mode 0600)",
    ]


def logout(
    ctx: typer.Context, profile: ProfileOption = None, as_json: JsonOption = False
) -> Output:
    """Forget a saved profile (its URL and token)."""
    state: CliState = ctx.obj
    profile = _chosen(state, profile)
    path = state.settings.effective_config_file
    if not remove_profile(path, profile):
        raise ProfileNotFound(f"no profile {profile!r} in {path}", hint="`provreg login` saves one")
    doc = {"profile": profile, "removed": True, "config_file": str(path)}
    return Output(doc, view=lambda d: [f"removed profile {d['profile']!r} from {d['config_file']}"])


def _chosen(state: CliState, profile: str | None) -> str:
    """The command's --profile, else the one given before the command, else PROVREG_PROFILE."""
    return profile or state.profile or state.settings.profile or DEFAULT_PROFILE
