"""Settings: one validated object built at start and passed down; nothing else reads os.environ."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import parse_duration
from bot.errors import ConfigurationError
from bot.requests.passwords import parse_keys

_ALLOWLIST_ENTRY = re.compile(r"^(?:[UWS][A-Z0-9]+|[^@\s,]+@[^@\s,]+\.[^@\s,]+)$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_REACTION_NAME = re.compile(r"^[a-z0-9_+\-']+$")


DEFAULT_APPROVAL_TTL = timedelta(hours=24)
DEFAULT_REMIND_AFTER = timedelta(hours=4)


def normalize_database_url(url: str) -> str:
    """Accept Heroku-style `postgres://` and plain `postgresql://`; both mean psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class DatabaseSettings(BaseSettings):
    """The database settings alone, so Alembic can run without Slack or Zoom secrets."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///zoombot.db"

    @field_validator("database_url")
    @classmethod
    def _normalize(cls, value: str) -> str:
        return normalize_database_url(value.strip())


def _check_entries(entries: list[str]) -> list[str]:
    bad = [entry for entry in entries if not _ALLOWLIST_ENTRY.match(entry)]
    if bad:
        raise ValueError(f"not a Slack user ID (U…/W…), user-group ID (S…) or email: {bad}")
    return entries


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(DatabaseSettings):
    """Every setting of CONTRACT.md, validated."""

    slack_bot_token: SecretStr
    # Declared before the signing secret, whose check needs to know whether it is set.
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = Field(default=None, validate_default=True)
    slack_api_url: str = "https://slack.com/api/"

    zoom_account_id: str = Field(min_length=1)
    zoom_client_id: str = Field(min_length=1)
    zoom_client_secret: SecretStr
    zoom_api_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    zoom_timeout_seconds: float = Field(default=15.0, gt=0)
    # Zoom's LIGHT label allows 30 req/s on Pro, per account and shared by all its apps.
    zoom_rate_limit_per_second: float = Field(default=20.0, gt=0, le=1000)
    provision_lease_seconds: float = Field(default=60.0, gt=0)
    provision_poll_seconds: float = Field(default=2.0, gt=0)
    provision_parallel: int = Field(default=4, ge=1, le=64)

    requester_allowlist: Annotated[list[str], NoDecode]
    approver_allowlist: Annotated[list[str], NoDecode]
    approval_channel: str | None = None
    required_approvals: int = Field(default=1, ge=0, le=10)
    approve_reaction: str = "white_check_mark"
    reject_reaction: str = "x"
    slash_command: str = "/zoom-subaccount"
    require_reason: bool = True
    # APPROVAL_TTL_HOURS is the older, hours-only name of APPROVAL_TTL; declared first so the
    # APPROVAL_TTL check can fall back to it.
    approval_ttl_hours: float | None = Field(default=None, gt=0)
    approval_ttl: timedelta = Field(default=DEFAULT_APPROVAL_TTL, validate_default=True)
    remind_after: timedelta | None = DEFAULT_REMIND_AFTER
    escalation_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Declared after ESCALATION_APPROVERS, whose presence its check needs.
    escalate_after: timedelta | None = None
    ops_channel: str | None = None

    password_encryption_key: SecretStr | None = None
    password_key_file: str | None = None
    auto_migrate: bool = True
    # PostgreSQL connections one process may hold: pool_size kept open, max_overflow more at a
    # peak (closed when returned). SQLite ignores both. See README for the deployment's total.
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_max_overflow: int = Field(default=5, ge=0, le=100)
    directory_cache_seconds: float = Field(default=300.0, ge=0)
    # All interfaces by default, as a web service must; the sandbox keeps its bot on 127.0.0.1.
    host: str = "0.0.0.0"  # noqa: S104
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: str = "INFO"
    # Observability (bot/observability/): log lines as text or one JSON object each; Sentry error
    # reporting when SENTRY_DSN is set; EPHEMERAL_DISK: whether the disk is wiped at restart
    # (None: detected from the platform's environment), for the start-up data-loss warning.
    log_format: Literal["text", "json"] = "text"
    sentry_dsn: SecretStr | None = None
    sentry_environment: str | None = None
    ephemeral_disk: bool | None = None
    # Slack delivery (bot/delivery/): how long an owed message is retried before it is given up
    # as failed, how many deliveries one worker runs at once, the pace of chat.postMessage per
    # channel (Slack allows about one a second), and the Web API call timeout.
    slack_delivery_timeout: timedelta = timedelta(hours=24)
    slack_delivery_parallel: int = Field(default=8, ge=1, le=64)
    slack_posts_per_second: float = Field(default=1.0, gt=0, le=50)
    slack_timeout_seconds: float = Field(default=10.0, gt=0)
    # /healthz answers 503 when no worker beat within this long, or a due delivery waited longer.
    worker_stale_seconds: float = Field(default=30.0, gt=0)
    outbox_stale_seconds: float = Field(default=300.0, gt=0)
    # How often pending requests' messages are read back (reactions.get) for lost decisions.
    reaction_reconcile_seconds: float = Field(default=300.0, gt=0)

    @field_validator(
        "requester_allowlist", "approver_allowlist", "escalation_approvers", mode="before"
    )
    @classmethod
    def _parse_allowlist(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("escalation_approvers")
    @classmethod
    def _check_escalation_list(cls, entries: list[str]) -> list[str]:
        # Optional, unlike the other two lists, but its entries follow the same rule.
        return _check_entries(entries)

    @field_validator("approval_ttl", mode="before")
    @classmethod
    def _parse_ttl(cls, value: Any, info: ValidationInfo) -> Any:
        hours = info.data.get("approval_ttl_hours")
        # The default itself arrives here too (validate_default): it yields to the older name.
        if value is None or value in ("", DEFAULT_APPROVAL_TTL):
            return timedelta(hours=hours) if hours is not None else DEFAULT_APPROVAL_TTL
        if hours is not None:
            raise ValueError("set APPROVAL_TTL or its older name APPROVAL_TTL_HOURS, not both")
        return parse_duration(value, allow_off=False) if isinstance(value, str) else value

    @field_validator("slack_delivery_timeout", mode="before")
    @classmethod
    def _parse_delivery_timeout(cls, value: Any) -> Any:
        return parse_duration(value, allow_off=False) if isinstance(value, str) else value

    @field_validator("remind_after", "escalate_after", mode="before")
    @classmethod
    def _parse_optional_duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value, allow_off=True) if value.strip() else None
        return value

    @field_validator("remind_after", "escalate_after")
    @classmethod
    def _check_positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta():
            raise ValueError("must be longer than zero (use off to disable)")
        return value

    @field_validator("escalate_after")
    @classmethod
    def _check_escalation(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is not None and info.data.get("escalation_approvers") == []:
            raise ValueError("needs ESCALATION_APPROVERS (who to escalate to)")
        return value

    @field_validator("requester_allowlist", "approver_allowlist")
    @classmethod
    def _check_allowlist(cls, entries: list[str]) -> list[str]:
        if not entries:
            raise ValueError("must name at least one Slack user ID, user-group ID or email")
        return _check_entries(entries)

    @field_validator("approval_channel", "ops_channel")
    @classmethod
    def _check_channel(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not _CHANNEL_ID.match(value):
            raise ValueError("must be a Slack channel ID such as C0123ABCD")
        return value

    @field_validator("approve_reaction", "reject_reaction")
    @classmethod
    def _check_reaction(cls, value: str) -> str:
        name = value.strip().strip(":")
        if not _REACTION_NAME.match(name):
            raise ValueError("must be a reaction name such as white_check_mark")
        return name

    @field_validator("password_encryption_key")
    @classmethod
    def _check_encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # Several comma-separated keys while one is rotated (the first encrypts).
        if value is None or not value.get_secret_value().strip():
            return None
        parse_keys(value.get_secret_value())
        return value

    @field_validator("zoom_client_secret")
    @classmethod
    def _check_zoom_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _check_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _check_signing_secret(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        # An empty secret would turn request verification off; over HTTP it is required.
        # Checked here, not after validation, so it is reported with every other problem.
        if value is not None and value.get_secret_value():
            return value
        if "slack_app_token" in info.data and info.data["slack_app_token"] is None:
            raise ValueError("required unless SLACK_APP_TOKEN is set")
        return None

    @field_validator("slash_command")
    @classmethod
    def _check_command(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build Settings from the environment (and .env), raising ConfigurationError per problem."""
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    return settings


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        variable = str(error["loc"][0]).upper() if error["loc"] else "SETTINGS"
        message = "required" if error["type"] == "missing" else error["msg"]
        message = message.removeprefix("Value error, ")
        problems.append(f"{variable}: {message}")
    return problems
