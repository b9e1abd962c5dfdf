"""Settings: the one place that reads the environment.

Build a :class:`Settings` once (``Settings()`` reads ``PROVREG_*``) and pass it down; nothing else
in provreg looks at ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
