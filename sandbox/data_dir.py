"""The sandbox's data folder: which files are its state, the secrets generated once for it
(mode 0600), and --reset, which removes those files and nothing else."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from cryptography.fernet import Fernet

DATABASE_FILE = "zoombot.db"
SLACK_STATE_FILE = "slack.json"
ZOOM_STATE_FILE = "zoom.json"
SECRETS_FILE = "secrets.json"
# Everything --reset removes: the database with SQLite's side files, the fakes' state, secrets.
STATE_FILES = (
    DATABASE_FILE,
    f"{DATABASE_FILE}-wal",
    f"{DATABASE_FILE}-shm",
    f"{DATABASE_FILE}-journal",
    "zoombot.migrate.lock",
    SLACK_STATE_FILE,
    ZOOM_STATE_FILE,
    SECRETS_FILE,
)


class DataDirError(Exception):
    """The data folder cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class SandboxSecrets:
    """Generated once per data folder and reused, so a restart keeps working."""

    slack_bot_token: str
    slack_signing_secret: str
    zoom_client_secret: str
    password_encryption_key: str

    @classmethod
    def generate(cls) -> SandboxSecrets:
        return cls(
            slack_bot_token=f"xoxb-sandbox-{secrets.token_hex(16)}",
            slack_signing_secret=secrets.token_hex(32),
            zoom_client_secret=secrets.token_urlsafe(32),
            password_encryption_key=Fernet.generate_key().decode(),
        )


def prepare_data_dir(data_dir: Path, *, reset: bool) -> SandboxSecrets:
    """The folder (created 0700 if new) and its secrets, after an optional reset."""
    try:
        if reset:
            reset_state(data_dir)
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return load_or_create_secrets(data_dir / SECRETS_FILE)
    except OSError as exc:
        raise DataDirError(
            f"cannot use {data_dir} ({exc.strerror or type(exc).__name__})"
        ) from None


def reset_state(data_dir: Path) -> None:
    """Removes the sandbox's own files only: --data-dir may point at a folder holding others."""
    for name in STATE_FILES:
        (data_dir / name).unlink(missing_ok=True)


def load_or_create_secrets(path: Path) -> SandboxSecrets:
    if not path.exists():
        generated = SandboxSecrets.generate()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(asdict(generated), handle, indent=2)
        return generated
    path.chmod(0o600)
    try:
        stored = json.loads(path.read_text())
        return SandboxSecrets(
            **{field.name: str(stored[field.name]) for field in fields(SandboxSecrets)}
        )
    except (ValueError, KeyError, TypeError) as exc:
        message = f"{path} is damaged ({type(exc).__name__}); start with --reset to begin afresh"
        raise DataDirError(message) from None


def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / DATABASE_FILE}"
