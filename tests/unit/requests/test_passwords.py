"""Tests of bot.requests.passwords:
Zoom's password rules, the generator, the vault and its key file."""

import logging
import stat

import pytest
from cryptography.fernet import Fernet

from bot.errors import BotError
from bot.requests.passwords import (
    PasswordVault,
    PasswordVaultError,
    generate_password,
    load_or_create_key,
    password_problems,
)

LENGTH = "must be 8–32 characters"
CASES = "needs both upper- and lower-case letters"
DIGIT = "needs at least one digit"
REPEAT = "must not repeat a character 3 or more times in a row"
RUN = 'must not contain runs like "abc", "cba" or "123"'
SPACES = "must not contain spaces or control characters"


# -- rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["Tr0ub4dor-Xq", "Kp7mWq2z", "Zx9!Lm4#Qr8*Tv2-Wy6=Np5+Hj3_Bc1"]
)
def test_password_meeting_every_rule_has_no_problems(password):
    assert password_problems(password) == []


def test_password_of_8_characters_is_long_enough():
    assert password_problems("Kp7mWq2z") == []


def test_password_of_7_characters_is_too_short():
    assert password_problems("Kp7mWq2") == [LENGTH]


def test_password_of_32_characters_is_not_too_long():
    assert password_problems("Kp7mWq2z" * 4) == []


def test_password_of_33_characters_is_too_long():
    assert password_problems("Kp7mWq2z" * 4 + "R") == [LENGTH]


def test_password_without_upper_case_is_refused():
    assert password_problems("kp7mwq2z") == [CASES]


def test_password_without_lower_case_is_refused():
    assert password_problems("KP7MWQ2Z") == [CASES]


def test_password_without_a_digit_is_refused():
    assert password_problems("KpTmWqRz") == [DIGIT]


@pytest.mark.parametrize("password", ["Kp7mmmWq2z", "Kp7m000Wq2z", "Kp7m###Wq2z"])
def test_character_repeated_three_times_is_refused(password):
    assert password_problems(password) == [REPEAT]


def test_character_repeated_twice_is_allowed():
    assert password_problems("Kp7mmWq2z") == []


@pytest.mark.parametrize(
    "password",
    [
        "Kp7abcWq2z",
        "Kp7CBAWq2z",
        "Kp123mWqz",
        "Kp7m987Wqz",
        "Kp7xYzWq2",
        "Kp7QweWq2z",
        "Kp7ASDWq2z",
    ],
    ids=["abc", "CBA", "123", "987", "xYz", "keyboard-qwe", "keyboard-asd"],
)
def test_run_of_three_consecutive_characters_is_refused(password):
    assert password_problems(password) == [RUN]


def test_two_consecutive_characters_are_allowed():
    assert password_problems("Kp7abWq2z") == []


@pytest.mark.parametrize("character", [" ", "\t", "\n", "\x00"])
def test_space_or_control_character_is_refused(character):
    assert password_problems(f"Kp7m{character}Wq2z") == [SPACES]


def test_every_broken_rule_is_listed():
    assert password_problems("aaa") == [LENGTH, CASES, DIGIT, REPEAT]


def test_empty_password_breaks_length_case_and_digit_rules():
    assert password_problems("") == [LENGTH, CASES, DIGIT]


# -- generator -----------------------------------------------------------------------------


def test_generated_passwords_always_pass_the_rules():
    samples = [generate_password() for _ in range(1000)]

    assert [p for p in samples if password_problems(p)] == []


@pytest.mark.parametrize("length", [8, 12, 20, 32])
def test_generated_password_has_the_requested_length_and_passes(length):
    password = generate_password(length)

    assert len(password) == length
    assert password_problems(password) == []


def test_generated_password_is_20_characters_by_default():
    assert len(generate_password()) == 20


def test_generated_passwords_differ_between_calls():
    samples = {generate_password() for _ in range(100)}

    assert len(samples) == 100


# -- vault ---------------------------------------------------------------------------------


def test_vault_decrypts_what_it_encrypted():
    vault = PasswordVault(Fernet.generate_key())

    ciphertext = vault.encrypt("Tr0ub4dor-Xq")

    assert vault.decrypt(ciphertext) == "Tr0ub4dor-Xq"


def test_vault_round_trips_non_ascii_passwords():
    vault = PasswordVault(Fernet.generate_key())

    assert vault.decrypt(vault.encrypt("Pässwörd-7Ωx")) == "Pässwörd-7Ωx"


def test_ciphertext_does_not_contain_the_password():
    vault = PasswordVault(Fernet.generate_key())

    ciphertext = vault.encrypt("Tr0ub4dor-Xq")

    assert b"Tr0ub4dor-Xq" not in ciphertext


def test_encrypting_the_same_password_twice_gives_different_ciphertexts():
    vault = PasswordVault(Fernet.generate_key())

    assert vault.encrypt("Tr0ub4dor-Xq") != vault.encrypt("Tr0ub4dor-Xq")


def test_another_vault_with_the_same_key_decrypts():
    key = Fernet.generate_key()

    ciphertext = PasswordVault(key).encrypt("Tr0ub4dor-Xq")

    assert PasswordVault(key).decrypt(ciphertext) == "Tr0ub4dor-Xq"


def test_wrong_key_raises_password_vault_error():
    ciphertext = PasswordVault(Fernet.generate_key()).encrypt("Tr0ub4dor-Xq")
    other = PasswordVault(Fernet.generate_key())

    with pytest.raises(PasswordVaultError, match="cannot be decrypted"):
        other.decrypt(ciphertext)


def test_wrong_key_error_reveals_neither_password_nor_key_nor_cause():
    key = Fernet.generate_key()
    ciphertext = PasswordVault(Fernet.generate_key()).encrypt("Tr0ub4dor-Xq")

    with pytest.raises(PasswordVaultError) as raised:
        PasswordVault(key).decrypt(ciphertext)

    shown = f"{raised.value} {raised.value!r}"
    assert "Tr0ub4dor-Xq" not in shown
    assert key.decode() not in shown
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__ is True


def test_password_vault_error_is_a_bot_error():
    assert issubclass(PasswordVaultError, BotError)


@pytest.mark.parametrize("damaged", [b"", b"not a token", b"gAAAAA" + b"A" * 80])
def test_damaged_ciphertext_raises_password_vault_error(damaged):
    vault = PasswordVault(Fernet.generate_key())

    with pytest.raises(PasswordVaultError):
        vault.decrypt(damaged)


def test_tampered_ciphertext_raises_password_vault_error():
    vault = PasswordVault(Fernet.generate_key())
    ciphertext = bytearray(vault.encrypt("Tr0ub4dor-Xq"))
    ciphertext[-5] = ord("A") if ciphertext[-5] != ord("A") else ord("B")

    with pytest.raises(PasswordVaultError):
        vault.decrypt(bytes(ciphertext))


# -- key file ------------------------------------------------------------------------------


def test_missing_key_file_is_created_readable_by_owner_only(tmp_path):
    key_file = tmp_path / "zoombot.key"

    load_or_create_key(key_file)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_created_key_is_a_usable_fernet_key_stored_in_the_file(tmp_path):
    key_file = tmp_path / "zoombot.key"

    key = load_or_create_key(key_file)

    assert key_file.read_bytes() == key
    assert PasswordVault(key).decrypt(PasswordVault(key).encrypt("Kp7mWq2z")) == "Kp7mWq2z"


def test_existing_key_file_is_reused(tmp_path):
    key_file = tmp_path / "zoombot.key"
    first = load_or_create_key(key_file)

    second = load_or_create_key(key_file)

    assert second == first


def test_existing_key_file_is_read_without_its_trailing_newline(tmp_path):
    key = Fernet.generate_key()
    key_file = tmp_path / "zoombot.key"
    key_file.write_bytes(key + b"\n")

    assert load_or_create_key(key_file) == key


def test_missing_parent_directories_of_the_key_file_are_created(tmp_path):
    key_file = tmp_path / "state" / "keys" / "zoombot.key"

    load_or_create_key(key_file)

    assert key_file.is_file()


def test_creating_a_key_warns_without_logging_the_key(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="bot.requests.passwords")

    key = load_or_create_key(tmp_path / "zoombot.key")

    assert "PASSWORD_ENCRYPTION_KEY is not set" in caplog.text
    assert key.decode() not in caplog.text


def test_reusing_a_key_file_logs_no_warning(tmp_path, caplog):
    key_file = tmp_path / "zoombot.key"
    load_or_create_key(key_file)
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="bot.requests.passwords")

    load_or_create_key(key_file)

    assert caplog.records == []
