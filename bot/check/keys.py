"""The encryption key check: the key is set or kept in a file that already exists, every key
is a Fernet key, and the keys decrypt the passwords of requests still waiting in the database."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from bot.check.report import CheckResult, failed, passed
from bot.config import Settings
from bot.db.models import SubaccountRequest
from bot.requests.passwords import parse_keys
from bot.runtime.parts import key_file_path

NAME = "Encryption key"
GENERATE = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


def configured_keys(settings: Settings) -> list[str]:
    """PASSWORD_ENCRYPTION_KEY's keys as text, valid or not (what the output must not show)."""
    if settings.password_encryption_key is None:
        return []
    value = settings.password_encryption_key.get_secret_value()
    return [key.strip() for key in value.split(",") if key.strip()]


def check_key(settings: Settings, *, engine: Engine | None) -> CheckResult:
    """`engine`: the migrated database, to try the keys on a stored password (None: skip)."""
    found = _keys(settings)
    if isinstance(found, CheckResult):
        return found
    keys, source = found
    undecryptable = _undecryptable_request(engine, keys) if engine is not None else None
    if undecryptable is not None:
        return failed(
            NAME,
            f"{source} cannot decrypt the password of waiting request #{undecryptable}",
            "the key changed: set PASSWORD_ENCRYPTION_KEY to the new key, a comma, then the old "
            "one (the first encrypts, the others still decrypt)",
        )
    return passed(NAME, source)


def _keys(settings: Settings) -> tuple[list[bytes], str] | CheckResult:
    if settings.password_encryption_key is None:
        # Absolute: the bot resolves a relative path against its own working directory.
        return _key_file(key_file_path(settings).absolute())
    try:
        keys = parse_keys(settings.password_encryption_key.get_secret_value())
    except ValueError as exc:  # load_settings refuses these already; never trust one path
        return failed(NAME, f"PASSWORD_ENCRYPTION_KEY: {exc}", GENERATE)
    extra = f"; {len(keys)} keys, the first encrypts" if len(keys) > 1 else ""
    return keys, f"PASSWORD_ENCRYPTION_KEY is set{extra}"


def _key_file(path: Path) -> tuple[list[bytes], str] | CheckResult:
    if not path.exists():
        return failed(
            NAME,
            f"no PASSWORD_ENCRYPTION_KEY and no key file at {path}: the bot would make a new "
            "key at start, and waiting requests' passwords are lost whenever that file is",
            f"set PASSWORD_ENCRYPTION_KEY, the same on every instance; {GENERATE}",
        )
    try:
        key = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        return failed(NAME, f"cannot read the key file {path} ({type(exc).__name__})", GENERATE)
    if not _is_fernet_key(key):
        return failed(NAME, f"the key file {path} does not hold a Fernet key", GENERATE)
    return [key.encode()], f"kept in the key file {path} (PASSWORD_ENCRYPTION_KEY is not set)"


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key)
    except ValueError:
        return False
    return True


def _undecryptable_request(engine: Engine, keys: list[bytes]) -> int | None:
    """The newest waiting request whose stored password no key decrypts, if there is one."""
    query = (
        select(SubaccountRequest.id, SubaccountRequest.password_ciphertext)
        .where(SubaccountRequest.password_ciphertext.is_not(None))
        .order_by(SubaccountRequest.id.desc())
        .limit(1)
    )
    try:
        with engine.connect() as connection:
            row = connection.execute(query).first()
    except SQLAlchemyError:
        return None  # the database check reports the database
    if row is None or row.password_ciphertext is None:
        return None
    try:
        MultiFernet([Fernet(key) for key in keys]).decrypt(row.password_ciphertext)
    except InvalidToken:
        return int(row.id)
    return None
