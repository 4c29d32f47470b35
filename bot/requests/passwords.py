"""Zoom's basic password rules (what its error 1111 rejects), a generator that meets them,
and Fernet encryption of the password while a request waits for approval (several keys while
one is rotated: the first encrypts, each decrypts)."""

from __future__ import annotations

import logging
import os
import secrets
import string
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import BotError

logger = logging.getLogger(__name__)

MIN_LENGTH, MAX_LENGTH = 8, 32
# Zoom's message names "aaaaaa" and "abc"/"123"; we refuse runs of three so Zoom never has to.
RUN_LENGTH = 3
_SEQUENCES = (string.ascii_lowercase, string.digits, "qwertyuiop", "asdfghjkl", "zxcvbnm")


def password_problems(password: str) -> list[str]:
    """Every rule the password breaks, in words a person can act on; empty when it is fine."""
    problems = []
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        problems.append(f"must be {MIN_LENGTH}–{MAX_LENGTH} characters")
    if not any(c.islower() for c in password) or not any(c.isupper() for c in password):
        problems.append("needs both upper- and lower-case letters")
    if not any(c.isdigit() for c in password):
        problems.append("needs at least one digit")
    if _has_repeated_run(password):
        problems.append(f"must not repeat a character {RUN_LENGTH} or more times in a row")
    if _has_consecutive_run(password):
        problems.append('must not contain runs like "abc", "cba" or "123"')
    if any(not c.isprintable() or c.isspace() for c in password):
        problems.append("must not contain spaces or control characters")
    return problems


def _has_repeated_run(password: str) -> bool:
    return any(len(set(password[i : i + RUN_LENGTH])) == 1 for i in range(len(password) - 2))


def _has_consecutive_run(password: str) -> bool:
    lowered = password.lower()
    for i in range(len(lowered) - RUN_LENGTH + 1):
        window = lowered[i : i + RUN_LENGTH]
        for sequence in _SEQUENCES:
            if window in sequence or window[::-1] in sequence:
                return True
    return False


def generate_password(length: int = 20) -> str:
    """A random password that passes password_problems()."""
    alphabet = string.ascii_letters + string.digits + "!@#$%^*-_=+"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not password_problems(candidate):
            return candidate


class PasswordVaultError(BotError):
    """The stored password cannot be decrypted (key changed or data damaged)."""


class SealExpiredError(PasswordVaultError):
    """A sealed value is authentic but older than its time to live."""


class PasswordVault:
    """Encrypts passwords at rest with Fernet; the key comes from settings or a 0600 file.

    `older_keys` still decrypt (and unseal) what was encrypted before `key` was put first: a
    rotation keeps the old key listed until no stored value needs it (APPROVAL_TTL later)."""

    def __init__(self, key: bytes, *, older_keys: Sequence[bytes] = ()) -> None:
        self._fernet = MultiFernet([Fernet(each) for each in (key, *older_keys)])

    def encrypt(self, password: str) -> bytes:
        return self._fernet.encrypt(password.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise PasswordVaultError("the stored password cannot be decrypted") from None

    def seal(self, data: bytes) -> str:
        """A Fernet token of `data` as text; it also carries (authenticated) when it was made."""
        return self._fernet.encrypt(data).decode("ascii")

    def unseal(self, token: str, *, max_age_seconds: int) -> bytes:
        """The data of a token made by seal(): SealExpiredError past its age, PasswordVaultError
        when it was not made with this key or was changed."""
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=max_age_seconds)
        except (InvalidToken, UnicodeEncodeError):
            pass
        try:
            # Checks the signature too: only an authentic token gets this far.
            self._fernet.extract_timestamp(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise PasswordVaultError("the sealed value is not authentic") from None
        raise SealExpiredError("the sealed value has expired")


def parse_keys(value: str) -> list[bytes]:
    """PASSWORD_ENCRYPTION_KEY: one Fernet key, or several comma-separated, newest first.
    ValueError (naming no key) when one is not a Fernet key."""
    keys = [part.strip().encode() for part in value.split(",") if part.strip()]
    if not keys:
        raise ValueError("must hold at least one Fernet key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(
                f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


def load_or_create_key(key_file: Path) -> bytes:
    """Development fallback: read the key file, or create it readable by this user only."""
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    logger.warning(
        "PASSWORD_ENCRYPTION_KEY is not set: generated a key in %s (mode 0600). "
        "Set PASSWORD_ENCRYPTION_KEY in production so every instance shares one key.",
        key_file,
    )
    return key
