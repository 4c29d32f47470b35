"""PASSWORD_ENCRYPTION_KEY with several keys: the first encrypts, every one decrypts."""

import pytest
from cryptography.fernet import Fernet

from bot.config import load_settings
from bot.errors import ConfigurationError
from bot.observability.redaction import REDACTED, forget_secret, redact
from bot.requests.passwords import PasswordVault, PasswordVaultError, parse_keys
from bot.runtime.parts import password_vault
from bot.runtime.safeguards import protect_secrets

OLD, NEW = Fernet.generate_key(), Fernet.generate_key()
REQUIRED = {
    "slack_bot_token": "xoxb-test",
    "slack_signing_secret": "signing-secret",
    "zoom_account_id": "acct",
    "zoom_client_id": "client",
    "zoom_client_secret": "zoom-secret",
    "requester_allowlist": "U1",
    "approver_allowlist": "U2",
}


def settings_with_keys(value: str, tmp_path):
    return load_settings(
        REQUIRED
        | {"password_encryption_key": value, "password_key_file": str(tmp_path / "unused.key")}
    )


def test_a_value_encrypted_under_the_old_key_decrypts_after_a_new_key_is_put_first(tmp_path):
    stored = PasswordVault(OLD).encrypt("Kp7mWq2zRt")

    vault = password_vault(settings_with_keys(f"{NEW.decode()},{OLD.decode()}", tmp_path))

    assert vault.decrypt(stored) == "Kp7mWq2zRt"


def test_new_values_are_encrypted_under_the_first_key(tmp_path):
    vault = password_vault(settings_with_keys(f"{NEW.decode()}, {OLD.decode()}", tmp_path))

    stored = vault.encrypt("Kp7mWq2zRt")

    assert PasswordVault(NEW).decrypt(stored) == "Kp7mWq2zRt"
    with pytest.raises(PasswordVaultError):
        PasswordVault(OLD).decrypt(stored)


def test_sealed_values_unseal_under_an_older_key_too():
    token = PasswordVault(OLD).seal(b"draft")

    assert PasswordVault(NEW, older_keys=[OLD]).unseal(token, max_age_seconds=60) == b"draft"


def test_a_value_under_a_key_no_longer_listed_does_not_decrypt():
    stored = PasswordVault(OLD).encrypt("Kp7mWq2zRt")

    with pytest.raises(PasswordVaultError):
        PasswordVault(NEW).decrypt(stored)


def test_each_key_is_registered_for_redaction_on_its_own(tmp_path):
    settings = settings_with_keys(f"{NEW.decode()},{OLD.decode()}", tmp_path)

    protect_secrets(settings)
    try:
        text = redact(f"first {NEW.decode()} second {OLD.decode()}")
    finally:
        for value in (
            *REQUIRED.values(),
            NEW.decode(),
            OLD.decode(),
            f"{NEW.decode()},{OLD.decode()}",
        ):
            forget_secret(value)

    assert text == f"first {REDACTED} second {REDACTED}"


def test_a_malformed_key_stops_the_start_naming_its_position_not_its_value(tmp_path):
    with pytest.raises(ConfigurationError) as error:
        settings_with_keys(f"{NEW.decode()},not-a-key-at-all", tmp_path)

    (problem,) = error.value.problems
    assert problem.startswith("PASSWORD_ENCRYPTION_KEY: key 2 is not a Fernet key")
    assert "not-a-key-at-all" not in problem


def test_parse_keys_skips_blanks_and_keeps_the_order():
    assert parse_keys(f" {NEW.decode()} ,, {OLD.decode()} ") == [NEW, OLD]


def test_without_the_setting_the_key_file_is_used(tmp_path):
    settings = load_settings(REQUIRED | {"password_key_file": str(tmp_path / "zoombot.key")})

    vault = password_vault(settings)

    assert vault.decrypt(vault.encrypt("Kp7mWq2zRt")) == "Kp7mWq2zRt"
    assert (tmp_path / "zoombot.key").exists()
