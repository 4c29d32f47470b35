"""The sandbox page in a real headless Chromium against the whole sandbox (`app.py sandbox` as a
subprocess): a refusal, the modal's inline error, request → approval → created, then 409/1005;
and the preview's Back plus an approval from the App Home tab.

Needs Debian's Chromium at /usr/bin/chromium (Playwright's own browser downloads are not used):
without it the tests skip on a developer's machine and fail in CI (CI=true); see conftest.py.
The page's rendering against a scripted console (no bot) is in test_page_rendering.py.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 120.0
READY_LINE = re.compile(r"Sandbox ready: (http://127\.0\.0\.1:\d+/)")
EMAIL = "jill.jones@example.com"
PASSWORD = "Tq7-vLm9-Xr2p"  # satisfies the bot's rules; must never reach the page
MASK = "********"


def sandbox_command(*, port: int, data_dir: Path) -> list[str]:
    """How the test starts the sandbox: exactly what a person runs."""
    return [
        sys.executable,
        str(PROJECT_ROOT / "app.py"),
        "sandbox",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _read_lines(stream, lines: queue.Queue[str | None], seen: list[str]) -> None:
    for line in iter(stream.readline, ""):
        seen.append(line)
        lines.put(line)
    lines.put(None)


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """Starts the sandbox, yields the URL it printed, stops it with SIGTERM afterwards."""
    command = sandbox_command(port=_free_port(), data_dir=tmp_path / "sandbox")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and app.py
        command,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines, seen), daemon=True)
    reader.start()
    try:
        yield _wait_for_url(lines, seen)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The reader ends at end of output; only then is the pipe closed under it.
        reader.join(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_url(lines: queue.Queue[str | None], seen: list[str]) -> str:
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT_SECONDS)
        except queue.Empty:
            pytest.fail(f"the sandbox printed no URL; its output:\n{''.join(seen)}")
        if line is None:
            pytest.fail(f"the sandbox exited before it was ready; its output:\n{''.join(seen)}")
        found = READY_LINE.search(line)
        if found:
            return found.group(1)


# -- what a person does on the page --------------------------------------------------------------


def be(page: Page, user_id: str) -> None:
    page.get_by_test_id(f"person-{user_id}").click()
    expect(page.get_by_test_id(f"person-{user_id}")).to_have_attribute("aria-pressed", "true")


def open_channel(page: Page, channel_id: str) -> None:
    page.get_by_test_id(f"channel-{channel_id}").click()
    expect(page.get_by_test_id(f"channel-{channel_id}")).to_have_attribute("aria-current", "page")


def run_command(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    composer.press("Enter")


def approval_message(page: Page, request_id: int) -> Locator:
    """The request's message itself (its thread replies are articles inside it)."""
    header = re.compile(rf"Zoom sub account request #{request_id}\b")
    return page.locator("#messages > article.msg", has_text=header)


def fill_request(page: Page, *, email: str, password: str | None) -> Locator:
    modal = page.get_by_test_id("modal")
    expect(modal).to_be_visible()
    modal.get_by_test_id("input-first_name").fill("Jill")
    modal.get_by_test_id("input-last_name").fill("Jones")
    modal.get_by_test_id("input-email").fill(email)
    if password is not None:
        modal.get_by_test_id("input-password").fill(password)
    modal.get_by_test_id("input-pay_mode").select_option("sub")
    modal.get_by_label("Share Meeting Connectors").check()
    modal.get_by_test_id("input-reason").fill("A second Zoom line for the support team")
    return modal


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get("ZOOMBOT_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(folder) / name)


# -- the walk-through --------------------------------------------------------------------------


def test_page_walks_request_approval_created_then_email_reuse_409(
    page: Page, sandbox_url: str, tmp_path: Path
) -> None:
    page.goto(f"{sandbox_url}?as=UOLIVE01&channel=CREQUESTS")
    refused_olive(page)
    first = request_as_riley(page, email=EMAIL, password=PASSWORD)
    approve_by_button_as_blake(page, tmp_path, request_id=first)
    second = request_as_riley(page, email=EMAIL, password=None)
    approve_by_reaction_as_blake_and_see_409(page, tmp_path, request_id=second)


def refused_olive(page: Page) -> None:
    expect(page.get_by_test_id("person-UOLIVE01")).to_have_attribute("aria-pressed", "true")
    run_command(page, "/zoom-subaccount")
    refusal = page.locator("article.msg-ephemeral", has_text="not on the list")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Only visible to you")
    expect(page.get_by_test_id("modal")).to_have_count(0)


def request_as_riley(page: Page, *, email: str, password: str | None) -> int:
    """Fills the form (first with a bad email), sends it; returns the request's number."""
    be(page, "URILEY01")
    open_channel(page, "CREQUESTS")
    # Olive's ephemeral was hers alone.
    expect(page.locator("article.msg-ephemeral", has_text="not on the list")).to_have_count(0)
    run_command(page, "/zoom-subaccount")
    modal = fill_request(page, email="jill.jones-at-example", password=password)
    modal.get_by_test_id("modal-submit").click()
    error = modal.get_by_test_id("error-email")
    expect(error).to_contain_text("valid email address")
    # The person's input survives the error: only the email needs fixing.
    expect(modal.get_by_test_id("input-first_name")).to_have_value("Jill")
    expect(modal.get_by_label("Share Meeting Connectors")).to_be_checked()
    modal.get_by_test_id("input-email").fill(email)
    modal.get_by_test_id("modal-submit").click()
    confirm_preview(page, email=email, password=password)
    # The bot replaces the form with its notice, which the person closes.
    expect(modal).to_contain_text("Request sent")
    expect(modal.get_by_test_id("modal-submit")).to_have_count(0)
    saved = re.search(r"Request #(\d+) is saved", modal.inner_text())
    assert saved, modal.inner_text()
    modal.get_by_test_id("modal-close").click()
    expect(page.get_by_test_id("modal")).to_have_count(0)
    return int(saved.group(1))


def confirm_preview(page: Page, *, email: str, password: str | None) -> None:
    """The form turns into its confirmation step: the JSON Zoom will receive in a code block
    (the password masked), who may approve, where; its Submit stores the request."""
    modal = page.get_by_test_id("modal")
    expect(modal).to_contain_text("Zoom will receive exactly this")
    code = modal.locator("pre").first
    expect(code).to_contain_text(f'"email": "{email}"')
    shown = '"password": "********"' if password else '"password": "(generated by the bot'
    expect(code).to_contain_text(shown)
    expect(modal).to_contain_text("Who may approve")
    expect(modal).to_contain_text("Nothing is saved until you press Submit request")
    expect(modal.locator(".block-context").first).to_be_visible()
    if password:
        assert password not in modal.inner_text()
    expect(modal.get_by_test_id("modal-submit")).to_have_text("Submit request")
    modal.get_by_test_id("modal-submit").click()


def approve_by_button_as_blake(page: Page, tmp_path: Path, *, request_id: int) -> None:
    be(page, "UBLAKE01")
    open_channel(page, "CAPPROVALS")
    message = approval_message(page, request_id)
    expect(message).to_contain_text(EMAIL)
    message.get_by_test_id("action-approve_request").click()
    expect(message).to_contain_text("account created")
    expect(message).to_contain_text("(edited)")
    expect(message.get_by_test_id("action-approve_request")).to_have_count(0)
    reply = message.locator(".thread article.msg-reply", has_text="Created")
    expect(reply).to_be_visible()
    account_id = reply.locator("code").first.inner_text()
    assert account_id

    page.get_by_test_id("tab-zoom").click()
    received = page.get_by_test_id("zoom-received")
    expect(received).to_have_count(1)
    expect(received).to_contain_text(f'"password": "{MASK}"')
    expect(received).to_contain_text(account_id)
    page.get_by_test_id("tab-audit").click()
    row = page.get_by_test_id(f"audit-request-{request_id}")
    expect(row.get_by_test_id("audit-status")).to_have_text("created")
    expect(row).to_contain_text(account_id)
    assert PASSWORD not in page.content()
    screenshot(page, tmp_path, "sandbox.png")


def approve_by_reaction_as_blake_and_see_409(
    page: Page, tmp_path: Path, *, request_id: int
) -> None:
    be(page, "UBLAKE01")
    open_channel(page, "CAPPROVALS")
    message = approval_message(page, request_id)
    expect(message).to_contain_text(EMAIL)
    # The message's own reactions, not its thread replies'.
    reactions = message.locator(":scope > .msg-body > .reactions")
    reactions.get_by_test_id("add-reaction").click()
    page.get_by_test_id("pick-white_check_mark").click()
    pill = reactions.get_by_test_id("reaction-white_check_mark")
    expect(pill).to_have_attribute("aria-pressed", "true")
    expect(message).to_contain_text("HTTP 409")
    expect(message).to_contain_text("Zoom code 1005")
    expect(message).to_contain_text(re.compile("has already been used", re.IGNORECASE))
    page.get_by_test_id("tab-audit").click()
    row = page.get_by_test_id(f"audit-request-{request_id}")
    expect(row.get_by_test_id("audit-status")).to_have_text("failed")
    expect(row).to_contain_text("HTTP 409 · code 1005")
    assert PASSWORD not in page.content()
    screenshot(page, tmp_path, "sandbox-409.png")


# -- the preview's Back, then a decision from the App Home -------------------------------------

HOME_EMAIL = "kim.home@example.com"


def test_back_keeps_the_form_then_blake_approves_from_the_home_tab(
    page: Page, sandbox_url: str
) -> None:
    page.goto(f"{sandbox_url}?as=URILEY01&channel=CREQUESTS")
    request_id = request_going_back_once(page)
    approve_from_home_as_blake(page, request_id=request_id)
    open_channel(page, "CAPPROVALS")
    message = approval_message(page, request_id)
    expect(message).to_contain_text("account created")
    expect(message.get_by_test_id("action-approve_request")).to_have_count(0)
    assert PASSWORD not in page.content()


def request_going_back_once(page: Page) -> int:
    """Riley reaches the preview, goes Back (the form returns as typed, but the password),
    then sends it with the password left empty; returns the request's number."""
    run_command(page, "/zoom-subaccount")
    modal = fill_request(page, email=HOME_EMAIL, password=PASSWORD)
    modal.get_by_test_id("modal-submit").click()
    expect(modal).to_contain_text("Zoom will receive exactly this")
    modal.get_by_test_id("action-preview_back").click()
    expect(modal.get_by_test_id("input-first_name")).to_have_value("Jill")
    expect(modal.get_by_test_id("input-email")).to_have_value(HOME_EMAIL)
    expect(modal.get_by_test_id("input-pay_mode")).to_have_value("sub")
    expect(modal.get_by_label("Share Meeting Connectors")).to_be_checked()
    expect(modal.get_by_test_id("input-reason")).to_have_value(
        "A second Zoom line for the support team"
    )
    # The bot never sends a typed password back to Slack: empty, with a hint saying so.
    expect(modal.get_by_test_id("input-password")).to_have_value("")
    expect(modal).to_contain_text("Enter the password again")
    assert PASSWORD not in page.content()
    modal.get_by_test_id("modal-submit").click()
    confirm_preview(page, email=HOME_EMAIL, password=None)
    expect(modal).to_contain_text("Request sent")
    saved = re.search(r"Request #(\d+) is saved", modal.inner_text())
    assert saved, modal.inner_text()
    modal.get_by_test_id("modal-close").click()
    expect(page.get_by_test_id("modal")).to_have_count(0)
    return int(saved.group(1))


def approve_from_home_as_blake(page: Page, *, request_id: int) -> None:
    be(page, "UBLAKE01")
    page.get_by_test_id("channel-home").click()
    expect(page.get_by_test_id("channel-home")).to_have_attribute("aria-current", "page")
    home = page.get_by_test_id("home-view")
    asked = home.locator(f'[data-block-id="home_request_{request_id}"]')
    expect(asked).to_contain_text(HOME_EMAIL)
    expect(page.get_by_test_id("composer")).to_be_hidden()
    shown = home.inner_text()
    # Listed under "Waiting for my approval", before Blake's own requests.
    waiting, listed, mine = (
        shown.index("Waiting for my approval"),
        shown.index(f"#{request_id}"),
        shown.index("My requests"),
    )
    assert waiting < listed < mine, shown
    decision = home.locator(f'[data-block-id="home_decision_{request_id}"]')
    decision.get_by_test_id("action-home_approve_request").click()
    expect(home).to_contain_text(f"You approved request #{request_id}")
    expect(decision).to_have_count(0)
