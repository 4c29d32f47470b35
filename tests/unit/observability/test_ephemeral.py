"""The start-up warning of a deployment whose audit log or key would not survive a restart."""

import logging

import pytest

from bot.observability.ephemeral import data_loss_warnings, warn_about_data_loss

HEROKU = {"DYNO": "web.1", "PATH": "/usr/bin"}


def test_heroku_with_sqlite_is_told_loudly_to_set_a_postgresql_database_url(caplog):
    with caplog.at_level(logging.WARNING):
        warnings = warn_about_data_loss(
            ephemeral_disk=None, environ=HEROKU, sqlite=True, key_file_generated=False
        )

    assert len(warnings) == 1
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "Heroku" in record.getMessage()
    assert "DATABASE_URL" in record.getMessage()
    assert "audit log" in record.getMessage()


def test_heroku_with_postgresql_and_a_set_key_is_not_warned(caplog):
    with caplog.at_level(logging.WARNING):
        warnings = warn_about_data_loss(
            ephemeral_disk=None, environ=HEROKU, sqlite=False, key_file_generated=False
        )

    assert warnings == []
    assert caplog.records == []


def test_a_generated_key_file_on_an_ephemeral_disk_says_to_set_the_key():
    (warning,) = data_loss_warnings(
        ephemeral_disk=None,
        environ={"K_SERVICE": "zoombot"},
        sqlite=False,
        key_file_generated=True,
    )

    assert "Cloud Run" in warning
    assert "Set PASSWORD_ENCRYPTION_KEY" in warning


@pytest.mark.parametrize("marker", ["DYNO", "RENDER", "K_SERVICE", "FLY_APP_NAME"])
def test_each_platform_marker_is_detected(marker):
    assert data_loss_warnings(
        ephemeral_disk=None, environ={marker: "x"}, sqlite=True, key_file_generated=True
    )


def test_no_platform_marker_means_no_warning():
    assert not data_loss_warnings(
        ephemeral_disk=None, environ={"HOME": "/root"}, sqlite=True, key_file_generated=True
    )


def test_ephemeral_disk_false_silences_a_detected_platform_with_a_volume():
    assert not data_loss_warnings(
        ephemeral_disk=False, environ=HEROKU, sqlite=True, key_file_generated=True
    )


def test_ephemeral_disk_true_warns_without_any_marker():
    (warning,) = data_loss_warnings(
        ephemeral_disk=True, environ={}, sqlite=True, key_file_generated=False
    )

    assert "EPHEMERAL_DISK=true" in warning
