"""Settings: the one place that reads the environment and the CLI's config file.

Build a :class:`Settings` once (``Settings()`` reads ``PROVREG_*``) and pass it down; nothing else
in provreg looks at ``os.environ``.

The config file holds named profiles (a server URL and a token each), written by
``provreg login``: ``config.toml`` in ``PROVREG_HOME`` when that is set, else
``~/.config/provreg/config.toml`` (``$XDG_CONFIG_HOME/provreg``). It is written with mode 0600,
as it holds tokens. :meth:`Settings.with_profile` applies one; ``PROVREG_URL`` and
``PROVREG_TOKEN`` still win over it.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.errors import ConfigInvalid, ProfileNotFound

#: the profile used when none is named
DEFAULT_PROFILE = "default"


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "provreg"


class Settings(BaseSettings):
    """provreg's configuration, from ``PROVREG_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="PROVREG_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="where local state lives")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in home"
    )
    url: str | None = Field(default=None, description="when set, the CLI talks to this server")
    token: str | None = Field(default=None, description="bearer token for writes to a server")
    profile: str | None = Field(
        default=None, description="the config file's profile to use; default: `default`"
    )
    config_file: Path | None = Field(
        default=None,
        description="the CLI's profiles; default: config.toml in PROVREG_HOME when it is set, "
        "else ~/.config/provreg/config.toml",
    )
    hash_workers: int = Field(default=0, description="threads for hashing; 0 picks from the CPUs")
    max_header_bytes: int = Field(
        default=100 * 1024 * 1024, description="largest safetensors header accepted"
    )

    log_key_path: Path | None = Field(
        default=None,
        description="Ed25519 key that signs the transparency log's checkpoints; default: "
        "log-key.pem in home, created on first use",
    )
    log_origin: str | None = Field(
        default=None, description="the log's checkpoint origin line; default: derived from its key"
    )
    write_rate: float = Field(default=5.0, gt=0, description="writes per second per token")
    write_burst: int = Field(default=60, ge=1, description="writes a token may make at once")
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="largest request body the server reads"
    )
    safeguard_policy: Path | None = Field(
        default=None,
        description="YAML safeguard policy; default: the one shipped in registry/policy",
    )

    hf_endpoint: str = Field(
        default="https://huggingface.co",
        validation_alias=AliasChoices("PROVREG_HF_ENDPOINT", "HF_ENDPOINT"),
        description="the Hugging Face Hub (or a mirror) that `hub sync` reads",
    )
    hf_token: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PROVREG_HF_TOKEN", "HF_TOKEN"),
        description="a Hub token, for gated and private repos",
    )
    hub_max_retries: int = Field(
        default=6, ge=0, description="retries of one Hub request on 429, 5xx or lost connection"
    )
    hub_max_wait: float = Field(
        default=60.0, gt=0, description="longest single wait between Hub retries, in seconds"
    )
    hub_fingerprint_max_bytes: int = Field(
        default=20 * 1024**3,
        gt=0,
        description="`hub sync --fingerprint` skips repos with more weight bytes than this",
    )

    broker_url: str | None = Field(
        default=None,
        description="Celery broker for fingerprint jobs (redis://..., amqp://...); unset: jobs "
        "run in the calling process",
    )
    job_queue: str = Field(
        default="provreg-fingerprint", max_length=200, description="the broker queue of jobs"
    )
    job_visibility_timeout: int = Field(
        default=3600,
        gt=0,
        description="seconds after which Redis gives an unacknowledged job to another worker",
    )

    webhook_attempts: int = Field(
        default=5, ge=1, le=20, description="POSTs of one webhook delivery before it fails"
    )
    webhook_backoff: float = Field(
        default=1.0, ge=0, le=600, description="seconds before the first retry; doubles each time"
    )
    webhook_timeout: float = Field(default=5.0, gt=0, description="seconds per webhook POST")
    webhook_delivery: Literal["background", "inline"] = Field(
        default="background",
        description="send webhooks from a server thread, or after each write in its own thread "
        "(the CLI's local mode always sends inline)",
    )

    @property
    def effective_log_key_path(self) -> Path:
        return self.log_key_path or self.home / "log-key.pem"

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one or the SQLite file in ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'provreg.db'}"

    @property
    def effective_hash_workers(self) -> int:
        if self.hash_workers > 0:
            return self.hash_workers
        return max(1, min(8, os.cpu_count() or 1))

    @property
    def effective_config_file(self) -> Path:
        """Where `provreg login` keeps profiles."""
        if self.config_file is not None:
            return self.config_file
        if "home" in self.model_fields_set:  # PROVREG_HOME (or a caller) chose a home
            return self.home / "config.toml"
        xdg = os.environ.get("XDG_CONFIG_HOME")
        return (Path(xdg) if xdg else Path.home() / ".config") / "provreg" / "config.toml"

    def with_profile(self, name: str | None = None) -> Settings:
        """These settings with a profile's URL and token filled in: ``name``, else
        ``PROVREG_PROFILE``, else the ``default`` profile when there is one. A URL given by
        ``PROVREG_URL`` (or by the caller) wins, and then the profile's token is not used
        either; ``PROVREG_TOKEN`` wins over the profile's token. Raises ProfileNotFound for a
        profile the file does not hold, ConfigInvalid for a file that cannot be read."""
        chosen = name or self.profile
        profiles = read_profiles(self.effective_config_file)
        if chosen is None:
            chosen = DEFAULT_PROFILE
            if chosen not in profiles:
                return self
        elif chosen not in profiles:
            known = ", ".join(sorted(profiles)) or "none yet"
            raise ProfileNotFound(
                f"no profile {chosen!r} in {self.effective_config_file} (profiles: {known})",
                hint=f"create it with `provreg login --url URL --profile {chosen}`",
            )
        if "url" in self.model_fields_set:
            return self.model_copy(update={"profile": chosen})
        entry = profiles[chosen]
        update: dict[str, Any] = {"profile": chosen, "url": entry["url"]}
        if "token" not in self.model_fields_set:
            update["token"] = entry.get("token")
        return self.model_copy(update=update)


def read_profiles(path: Path) -> dict[str, dict[str, str]]:
    """The profiles in a config file (``{}`` when there is none); raises ConfigInvalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigInvalid(f"cannot read {path}: {exc}", hint="fix or remove the file") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigInvalid(f"{path} is not valid TOML: {exc}", hint="fix or remove it") from None
    profiles = document.get("profiles", {})
    good = isinstance(profiles, dict) and all(
        isinstance(p, dict)
        and isinstance(p.get("url"), str)
        and isinstance(p.get("token", ""), str)
        for p in profiles.values()
    )
    if not good:
        raise ConfigInvalid(
            f"{path}: each [profiles.NAME] needs a url (and may have a token) as strings",
            hint="fix the file, or log in again with `provreg login`",
        )
    return profiles


def save_profile(path: Path, name: str, url: str, token: str | None) -> None:
    """Store (or replace) profile ``name`` in the config file, written with mode 0600."""
    profiles = read_profiles(path)
    profiles[name] = {"url": url, **({"token": token} if token else {})}
    _write_profiles(path, profiles)


def remove_profile(path: Path, name: str) -> bool:
    """Drop profile ``name`` from the config file; False when it was not there."""
    profiles = read_profiles(path)
    if profiles.pop(name, None) is None:
        return False
    _write_profiles(path, profiles)
    return True


def _write_profiles(path: Path, profiles: dict[str, dict[str, str]]) -> None:
    lines = ["# provreg profiles, written by `provreg login` (it holds tokens: keep it 0600)"]
    for name, entry in sorted(profiles.items()):
        lines.append(f"\n[profiles.{json.dumps(name)}]")  # JSON strings are TOML basic strings
        lines += [f"{key} = {json.dumps(value)}" for key, value in sorted(entry.items())]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(partial, 0o600)  # an old partial file may have had other bits
    os.replace(partial, path)
