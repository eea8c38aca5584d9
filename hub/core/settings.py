"""Configuration from the environment (prefix HUB_), with local-first defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the hub reads; see README 'Configuration'."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    mode: Literal["local", "production"] = "local"
    data_dir: Path = Path(".data")
    database_url: str | None = None
    master_key: str | None = Field(default=None, repr=False)
    master_key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    registry_dir: Path | None = None
    workflows_dir: Path | None = None
    n8n_url: str | None = None
    n8n_api_key: str | None = Field(default=None, repr=False)
    scheduler_enabled: bool = True
    # Every periodic job's interval at once (tests and small deployments); unset: each its own.
    scheduler_interval_s: float | None = Field(default=None, gt=0)
    run_timeout_s: float = 60.0
    # The outbound URL guard's allow-list (hub.core.outbound): host names or CIDRs.
    outbound_allow: str = ""
    # How long a remote MCP tool call may take once sent before its outcome is unknown.
    remote_call_timeout_s: float = Field(default=30.0, gt=0)
    # Request limits (hub.core.guard): bodies by route family, and how long a client may
    # take to send its headers and each part of its body.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_form_bytes: int = Field(default=64 * 1024, ge=1024)
    max_edge_body_bytes: int = Field(default=16 * 1024, ge=1024)
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """The configured database URL, or an SQLite file under the data folder."""
        if self.database_url:
            url = self.database_url
            # Accept the common postgres:// spellings and use psycopg 3.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.data_dir / 'hub.db'}"

    @property
    def resolved_master_key_file(self) -> Path:
        """Where the master key file is (or would be generated in local mode)."""
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def base_url(self) -> str:
        """URL the hub is reachable at (used in printed links and n8n callbacks)."""
        return self.public_url or f"http://{self.host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()


@lru_cache(maxsize=64)
def repo_path(name: str) -> Path:
    """A data folder shipped with the hub (source checkout first, then the installed copy)."""
    here = Path(__file__).resolve().parents[2] / name
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[1] / "_data" / name
