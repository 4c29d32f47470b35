"""How the project is installed and run: the locks agree with pyproject.toml and carry hashes,
requirements.txt installs the runtime lock, bot/ never imports the sandbox or the tests, only the
Procfile's release step migrates, and no file of the project reaches outside its own tree."""

import ast
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(?P<version>[^\s;]+)")
# Written in two parts so this file does not match itself.
OUTSIDE_PATHS = ("../" + "shared", "/work" + "/")
SKIPPED_DIRECTORIES = {".git", ".venv", "__pycache__", ".sandbox", ".mypy_cache", ".ruff_cache"}
REQUIRED_SETTINGS = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "secret",
    "ZOOM_ACCOUNT_ID": "acct",
    "ZOOM_CLIENT_ID": "client",
    "ZOOM_CLIENT_SECRET": "zoom-secret",
    "REQUESTER_ALLOWLIST": "U0REQUESTER",
    "APPROVER_ALLOWLIST": "U0APPROVER",
}


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(requirements):
    """{normalized name: version} of `name==version` requirement strings."""
    found = {}
    for requirement in requirements:
        match = PINNED.match(requirement)
        assert match, f"not pinned with ==: {requirement}"
        found[normalized(match["name"])] = match["version"]
    return found


def lock_entries(path):
    """{normalized name: (version, hashes)} of a `uv pip compile --generate-hashes` file."""
    entries = {}
    for block in re.split(r"\n(?=\S)", path.read_text()):
        match = PINNED.match(block)
        if match:
            hashes = re.findall(r"--hash=sha256:[0-9a-f]{64}", block)
            entries[normalized(match["name"])] = (match["version"], hashes)
    return entries


# -- the locks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", []), ("requirements-dev.lock", ["sandbox", "dev"])],
)
def test_every_declared_dependency_is_in_the_lock_at_its_pinned_version(lock, groups):
    project = pyproject()
    declared = pins(project["dependencies"])
    for group in groups:
        declared |= pins(project["optional-dependencies"][group])

    locked = lock_entries(ROOT / lock)

    assert {name: locked.get(name, (None,))[0] for name in declared} == declared


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_carries_its_hashes(lock):
    locked = lock_entries(ROOT / lock)

    assert locked
    assert [name for name, (_, hashes) in locked.items() if not hashes] == []


def test_the_runtime_lock_holds_no_sandbox_or_dev_package():
    optional = pyproject()["optional-dependencies"]
    extras = pins(optional["sandbox"]) | pins(optional["dev"])

    locked = lock_entries(ROOT / "requirements.lock")

    assert sorted(set(extras) & set(locked)) == []


def test_the_runtime_lock_is_the_dev_locks_runtime_part():
    runtime = lock_entries(ROOT / "requirements.lock")
    dev = lock_entries(ROOT / "requirements-dev.lock")

    assert {name: dev.get(name, ("missing",))[0] for name in runtime} == {
        name: version for name, (version, _) in runtime.items()
    }


def test_requirements_txt_installs_exactly_the_runtime_lock():
    lines = (ROOT / "requirements.txt").read_text().splitlines()

    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    assert requirements == ["-r requirements.lock"]


def test_make_install_reinstalls_when_a_lock_or_pyproject_changes():
    makefile = (ROOT / "Makefile").read_text()

    target = re.search(r"^\$\(BIN\)/\.installed:(.*)$", makefile, re.MULTILINE)

    assert target is not None
    assert set(target[1].split()) >= {
        "requirements.lock",
        "requirements-dev.lock",
        "pyproject.toml",
    }
    assert "--require-hashes -r requirements-dev.lock" in makefile


# Every module of the bot, imported with jsonschema and the sandbox (a package of its own beside
# bot/, the one that needs jsonschema) made unimportable.
IMPORT_WITHOUT_JSONSCHEMA = """
import importlib, pkgutil, sys
sys.modules["jsonschema"] = None
sys.modules["sandbox"] = None
import app
for module in pkgutil.walk_packages(["bot"], "bot."):
    importlib.import_module(module.name)
"""


def test_the_bot_runs_on_the_runtime_lock_alone_without_jsonschema():
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", IMPORT_WITHOUT_JSONSCHEMA],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]


def imported_packages(path):
    """The top-level package of every import statement in one module (relative ones excluded)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0]


def test_no_bot_module_imports_the_sandbox_or_the_tests():
    modules = sorted((ROOT / "bot").rglob("*.py"))

    offenders = [
        f"{path.relative_to(ROOT)}: {package}"
        for path in modules
        for package in imported_packages(path)
        if package in {"sandbox", "tests"}
    ]

    assert Path("bot/cli.py") in [path.relative_to(ROOT) for path in modules]
    assert offenders == []


# -- the Procfile -----------------------------------------------------------------------------


def procfile_line(process_type):
    """(NAME=value settings in front of the command, the command's words) of one line."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            words = shlex.split(command)
            settings = {}
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                variable, _, value = words.pop(0).partition("=")
                settings[variable] = value
            return settings, words
    raise AssertionError(f"the Procfile has no {process_type}: line")


@pytest.mark.parametrize("process_type", ["web", "worker"])
def test_the_procfiles_long_running_processes_do_not_migrate(monkeypatch, tmp_path, process_type):
    assignments, _ = procfile_line(process_type)
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's
    for name, value in {**REQUIRED_SETTINGS, **assignments}.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.auto_migrate is False


def test_the_procfiles_release_step_migrates():
    assignments, words = procfile_line("release")

    assert assignments == {}
    assert words in (["alembic", "upgrade", "head"], ["zoombot", "migrate"])


def test_python_app_py_still_migrates_at_start_by_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTO_MIGRATE", raising=False)
    for name, value in REQUIRED_SETTINGS.items():
        monkeypatch.setenv(name, value)

    assert load_settings().auto_migrate is True


# -- self-contained -----------------------------------------------------------------------------


def project_files():
    """Code, build and deployment files: what runs, builds or configures the project."""
    names = {"Makefile", "Procfile", "run", "alembic.ini"}
    suffixes = {".py", ".sh", ".toml", ".cfg", ".ini", ".lock", ".txt", ".js", ".html", ".json"}
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRECTORIES & set(relative.parts) or not path.is_file():
            continue
        if path.name in names or path.suffix in suffixes:
            yield relative


def test_no_project_file_refers_to_a_path_outside_the_repository():
    files = list(project_files())

    offenders = [
        f"{relative}: {outside}"
        for relative in files
        for outside in OUTSIDE_PATHS
        if outside in (ROOT / relative).read_text(errors="replace")
    ]

    assert Path(".ci/run") in files
    assert Path("Makefile") in files
    assert offenders == []
