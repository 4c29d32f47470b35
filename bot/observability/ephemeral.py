"""The start-up warning for a deployment that would lose data at its next restart: a SQLite
audit log, or a key file generated on the spot, on a platform whose disk does not persist."""

from __future__ import annotations

import logging
from collections.abc import Mapping

logger = logging.getLogger(__name__)

# Environment variables a platform sets in every process, and its name. Their disks are
# replaced at each deploy or restart unless a volume is attached (Render and Fly: see below).
PLATFORM_MARKERS = (
    ("DYNO", "Heroku"),
    ("K_SERVICE", "Google Cloud Run"),
    ("RENDER", "Render"),
    ("FLY_APP_NAME", "Fly.io"),
    ("RAILWAY_ENVIRONMENT", "Railway"),
    ("AWS_LAMBDA_FUNCTION_NAME", "AWS Lambda"),
    ("ECS_CONTAINER_METADATA_URI_V4", "AWS ECS"),
    ("WEBSITE_INSTANCE_ID", "Azure App Service"),
)


def ephemeral_platform(environ: Mapping[str, str]) -> str | None:
    """The platform whose markers `environ` carries, when its disk does not persist."""
    for variable, platform in PLATFORM_MARKERS:
        if environ.get(variable):
            return platform
    return None


def data_loss_warnings(
    *,
    ephemeral_disk: bool | None,
    environ: Mapping[str, str],
    sqlite: bool,
    key_file_generated: bool,
) -> list[str]:
    """What this deployment would lose at a restart, and what to set; empty when nothing.
    `ephemeral_disk`: the EPHEMERAL_DISK setting (None: detect from `environ`)."""
    platform = ephemeral_platform(environ) if ephemeral_disk is None else None
    if not (ephemeral_disk or platform):
        return []
    where = f"on {platform}, whose disk" if platform else "the disk (EPHEMERAL_DISK=true)"
    warnings = []
    if sqlite:
        warnings.append(
            f"DATABASE_URL is a SQLite file and {where} is wiped at every restart or deploy: "
            "the audit log and every pending request will be lost. Set DATABASE_URL to a "
            "PostgreSQL database (or attach a persistent volume and set EPHEMERAL_DISK=false)."
        )
    if key_file_generated:
        warnings.append(
            f"PASSWORD_ENCRYPTION_KEY is not set, so the key lives in a file and {where} is "
            "wiped at every restart: passwords of pending requests become undecryptable and "
            "each instance has its own key. Set PASSWORD_ENCRYPTION_KEY (a Fernet key: python "
            '-c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )
    return warnings


def warn_about_data_loss(
    *,
    ephemeral_disk: bool | None,
    environ: Mapping[str, str],
    sqlite: bool,
    key_file_generated: bool,
) -> list[str]:
    """Log each warning of data_loss_warnings at ERROR (loud on purpose) and return them."""
    warnings = data_loss_warnings(
        ephemeral_disk=ephemeral_disk,
        environ=environ,
        sqlite=sqlite,
        key_file_generated=key_file_generated,
    )
    for warning in warnings:
        logger.error("DATA WILL BE LOST AT RESTART: %s", warning)
    return warnings
