"""The `zoombot` command: each subcommand reaches its code with its arguments, anything else is
a usage error, `migrate` builds the schema, and the console script is declared and installed."""

import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot import cli

ROOT = Path(__file__).resolve().parents[2]
AUDIT_TABLES = {"subaccount_requests", "request_events", "request_approvals"}


def record_calls(monkeypatch, target, *, takes_argv):
    """Replace `target` (module:attribute) with a function recording its arguments."""
    module_name, attribute = target.split(":")
    calls = []

    def fake(*args):
        calls.append(list(args[0]) if takes_argv else [])
        return 7

    monkeypatch.setattr(f"{module_name}.{attribute}", fake)
    return calls


@pytest.mark.parametrize(
    ("argv", "target", "takes_argv"),
    [
        (["serve"], "bot.runtime.serve:serve", False),
        (["worker"], "bot.runtime.serve:run_worker", False),
        (["sandbox", "--reset", "--port", "8001"], "sandbox.launcher:main", True),
        (["export", "--format", "json"], "bot.audit.export:main", True),
        (["check", "--no-network"], "bot.check:main", True),
    ],
)
def test_each_subcommand_runs_its_code_with_the_rest_of_the_arguments(
    monkeypatch, argv, target, takes_argv
):
    calls = record_calls(monkeypatch, target, takes_argv=takes_argv)

    status = cli.main(argv)

    assert status == 7
    assert calls == [argv[1:]]


@pytest.mark.parametrize(
    ("missing", "advice"),
    [
        ("sandbox", "the sandbox is not installed: run it from a checkout of the repository"),
        (
            "jsonschema",
            "the sandbox needs the `sandbox` extra: pip install -r requirements-dev.lock",
        ),
    ],
)
def test_sandbox_says_what_is_missing_when_its_package_or_extra_is_not_installed(
    monkeypatch, capsys, missing, advice
):
    def import_module(name):
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    monkeypatch.setattr("importlib.import_module", import_module)

    status = cli.main(["sandbox"])

    assert status == 2
    assert capsys.readouterr().err == f"zoombot: {advice}\n"


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["bogus"], "unknown command: bogus"),
        (["--version"], "unknown command: --version"),
        ([], "missing command"),
    ],
)
def test_an_unknown_or_missing_command_prints_usage_and_exits_2(capsys, argv, problem):
    status = cli.main(argv)

    assert status == 2
    error = capsys.readouterr().err
    assert problem in error
    assert "usage: zoombot <command>" in error


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_command_without_options_refuses_arguments(capsys, command):
    status = cli.main([command, "--port", "80"])

    assert status == 2
    assert f"{command} takes no arguments" in capsys.readouterr().err


def test_help_lists_every_command_and_exits_0(capsys):
    status = cli.main(["--help"])

    assert status == 0
    out = capsys.readouterr().out
    for name in ("serve", "worker", "sandbox", "export", "check", "migrate"):
        assert f"  {name} " in out


def test_migrate_creates_the_tables_in_a_new_sqlite_file_and_says_so(monkeypatch, tmp_path, capsys):
    database = tmp_path / "fresh.db"
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")

    status = cli.main(["migrate"])

    engine = create_engine(f"sqlite:///{database}")
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert status == 0
    assert tables >= AUDIT_TABLES
    assert "migrated from empty to " in capsys.readouterr().out


def test_migrate_on_a_migrated_database_changes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'twice.db'}")
    cli.main(["migrate"])
    capsys.readouterr()

    status = cli.main(["migrate"])

    assert status == 0
    assert ": already at " in capsys.readouterr().out


def test_pyproject_declares_the_zoombot_console_script():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert project["scripts"] == {"zoombot": "bot.cli:main"}


def test_the_installed_console_script_is_this_main():
    (script,) = entry_points(group="console_scripts", name="zoombot")

    assert script.load() is cli.main


@pytest.mark.parametrize(("argv", "status"), [(["--help"], 0), (["bogus"], 2)])
def test_app_py_dispatches_through_the_same_command(argv, status):
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's app.py
        [sys.executable, str(ROOT / "app.py"), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == status
    assert "usage: zoombot <command>" in done.stdout + done.stderr


def test_migrate_says_in_one_line_when_the_database_cannot_be_reached(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:hunter2@127.0.0.1:1/none")

    status = cli.main(["migrate"])

    error = capsys.readouterr().err
    assert status == 1
    assert error.startswith("zoombot: could not migrate postgresql+psycopg://nobody:***@")
    assert "hunter2" not in error
