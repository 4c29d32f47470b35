"""What every process does before it builds anything: its secrets kept out of every log line,
Sentry started, and the loud warning of a deployment whose data would not survive a restart."""

from __future__ import annotations

import os

from bot.config import Settings
from bot.observability.ephemeral import warn_about_data_loss
from bot.observability.redaction import install_log_redaction, register_secret
from bot.observability.sentry import init_sentry
from bot.runtime.parts import encryption_keys_from_settings


def protect_secrets(settings: Settings) -> None:
    install_log_redaction()
    for secret in (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.zoom_client_secret,
        settings.password_encryption_key,
        settings.sentry_dsn,
    ):
        register_secret(secret.get_secret_value() if secret is not None else None)
    # Each key of a rotation on its own too: a line may show one without its neighbours.
    for key in encryption_keys_from_settings(settings):
        register_secret(key.decode())


def start_observability(settings: Settings) -> None:
    """Sentry (once per process, when SENTRY_DSN is set), and the loud warning of a
    deployment whose audit log or key would not survive a restart."""
    dsn = settings.sentry_dsn
    init_sentry(
        dsn.get_secret_value() if dsn is not None else None,
        environment=settings.sentry_environment,
    )
    warn_about_data_loss(
        ephemeral_disk=settings.ephemeral_disk,
        # The platform's own markers (DYNO, K_SERVICE, …), which are not settings.
        environ=os.environ,
        sqlite=settings.is_sqlite,
        key_file_generated=settings.password_encryption_key is None,
    )
