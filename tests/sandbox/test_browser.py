"""The sandbox page in a real headless Chromium against the whole sandbox (`app.py sandbox` as a
subprocess): a refusal, the modal's inline error, request → approval → created, then 409/1005.

Needs Debian's Chromium at /usr/bin/chromium (Playwright's own browser downloads are not used):
without it the test skips on a developer's machine and fails in CI (CI=true).
"""

from __future__ import annotations

import json
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
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Response, Route, expect, sync_playwright

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# The bot works in the background (Zoom is called by a worker): generous waits, never sleeps.
WAIT_MS = 30_000
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the page raised: {errors}"


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
    # The bot replaces the form with its notice, which the person closes.
    expect(modal).to_contain_text("Request sent")
    expect(modal.get_by_test_id("modal-submit")).to_have_count(0)
    saved = re.search(r"Request #(\d+) is saved", modal.inner_text())
    assert saved, modal.inner_text()
    modal.get_by_test_id("modal-close").click()
    expect(page.get_by_test_id("modal")).to_have_count(0)
    return int(saved.group(1))


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


# -- the page's rendering contract, against a scripted console (no bot) --------------------------

STATIC_DIR = PROJECT_ROOT / "bot" / "sandbox" / "static"
FAKE_ORIGIN = "http://sandbox.invalid"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
MRKDWN = (
    "*bold* _slanted_ ~gone~ `x&lt;y` <@URILEY01> <#CAPPROVALS> "
    "<!date^1700000000^{date_short}|FALLBACK-DATE> <https://example.com/a|a link> "
    ":white_check_mark: :no_such_emoji: &lt;tag&gt;\n```pre *not bold*```"
)
ODD_BLOCKS = [
    {"type": "video", "title": {"type": "plain_text", "text": "clip"}},
    {
        "type": "actions",
        "block_id": "acts",
        "elements": [
            {
                "type": "button",
                "action_id": "go",
                "value": "v1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Go"},
            },
            {
                "type": "button",
                "action_id": "stop",
                "value": "v2",
                "style": "danger",
                "text": {"type": "plain_text", "text": "Stop"},
                "confirm": {
                    "title": {"type": "plain_text", "text": "Really stop?"},
                    "text": {"type": "mrkdwn", "text": "It cannot be undone."},
                    "confirm": {"type": "plain_text", "text": "Stop it"},
                    "deny": {"type": "plain_text", "text": "Keep going"},
                },
            },
            {"type": "overflow", "action_id": "more", "options": []},
        ],
    },
    {"type": "image", "image_url": "https://example.com/chart.png", "alt_text": "a chart"},
]


def _input(block_id: str, element: dict[str, Any], *, optional: bool = True) -> dict[str, Any]:
    label = {"type": "plain_text", "text": block_id.title()}
    return {
        "type": "input",
        "block_id": block_id,
        "label": label,
        "optional": optional,
        "element": {"action_id": block_id, **element},
    }


def _options(*values: str) -> list[dict[str, Any]]:
    return [
        {"value": value, "text": {"type": "plain_text", "text": value.upper()}} for value in values
    ]


MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Every element"},
    "submit": {"type": "plain_text", "text": "Send"},
    "close": {"type": "plain_text", "text": "Back"},
    "blocks": [
        _input("name", {"type": "plain_text_input", "initial_value": "Ann"}, optional=False),
        _input("notes", {"type": "plain_text_input", "multiline": True}),
        _input("mail", {"type": "email_text_input"}),
        _input("count", {"type": "number_input", "is_decimal_allowed": False}),
        _input(
            "plan",
            {
                "type": "static_select",
                "options": _options("a", "b"),
                "initial_option": _options("b")[0],
            },
        ),
        _input(
            "flags",
            {"type": "checkboxes", "options": _options("x", "y"), "initial_options": _options("x")},
        ),
        _input("size", {"type": "radio_buttons", "options": _options("s", "m")}),
        _input("when", {"type": "datepicker"}),
        {"type": "call", "call_id": "R1"},
    ],
}


def _message(ts: str, **fields: Any) -> dict[str, Any]:
    message = {"ts": ts, "user": "UZOOMBOT", "text": "", "blocks": [], "edited": False}
    return {**message, "thread_ts": None, "replies": [], "reactions": [], **fields}


def _channel(channel_id: str, name: str, *messages: dict[str, Any]) -> dict[str, Any]:
    kind = "im" if channel_id.startswith("D") else "channel"
    return {"id": channel_id, "name": name, "kind": kind, "messages": list(messages)}


CHANNELS = [
    _channel(
        "CREQUESTS",
        "zoom-requests",
        _message("1700000001.000100", text=MRKDWN, edited=True),
        _message(
            "1700000002.000100",
            text="fallback",
            blocks=ODD_BLOCKS,
            replies=[_message("1700000003.000100", text="a reply in the thread")],
            reactions=[{"name": "eyes", "users": ["UBLAKE01"], "count": 1}],
        ),
    ),
    _channel("CAPPROVALS", "zoom-approvals"),
    _channel("DURILEY01", "zoombot"),
]
EPHEMERAL = {"channel": "CREQUESTS", "ts": "1700000004.000100", "text": "just for *you*"}
RILEY = {"id": "URILEY01", "name": "Riley Rivera", "role": "requester", "description": "asks"}


class ScriptedConsole:
    """Answers the page's requests from fields the test sets; records what the page posts."""

    def __init__(self) -> None:
        self.view: dict[str, Any] | None = None
        self.errors: dict[str, str] = {}
        self.down = False
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.outcome = {"ok": True, "result": "delivered", "errors": {}, "message": ""}

    def handle(self, route: Route) -> None:
        path = urlsplit(route.request.url).path
        if path == "/sandbox/api/state":
            if self.down:
                route.abort()
            else:
                route.fulfill(json=self.state())
        elif path.startswith("/sandbox/api/"):
            body = json.loads(route.request.post_data or "{}")
            self.posts.append((path.removeprefix("/sandbox/api/"), body))
            route.fulfill(json=self.outcome)
        else:
            file = STATIC_DIR / ("index.html" if path == "/" else path.removeprefix("/static/"))
            route.fulfill(path=file, content_type=CONTENT_TYPES[file.suffix])

    def state(self) -> dict[str, Any]:
        view = None
        if self.view is not None:
            view = {"id": "V1", "view": self.view, "errors": self.errors, "depth": 1}
        slack = {
            "version": len(self.posts),
            "viewer": "URILEY01",
            "bot_user_id": "UZOOMBOT",
            "users": [RILEY, {"id": "UBLAKE01", "name": "Blake Brown"}],
            "channels": CHANNELS,
            "ephemerals": [EPHEMERAL],
            "view": view,
        }
        return {
            "slack": slack,
            "people": [RILEY],
            "audit": {"requests": [], "events": []},
            "zoom": {"received": [], "scenarios": []},
            "command": "/zoom-subaccount",
        }


def posting(page: Page, action: str) -> Any:
    """Waits (as a context manager) until the console has answered the page's POST."""

    def answered(response: Response) -> bool:
        return response.url == f"{FAKE_ORIGIN}/sandbox/api/{action}"

    return page.expect_response(answered)


@pytest.fixture
def scripted(page: Page) -> ScriptedConsole:
    console = ScriptedConsole()
    page.route(f"{FAKE_ORIGIN}/**", console.handle)
    page.goto(f"{FAKE_ORIGIN}/?as=URILEY01&channel=CREQUESTS")
    return console


def test_page_renders_mrkdwn_as_slack_does(scripted: ScriptedConsole, page: Page) -> None:
    text = page.get_by_test_id("message-1700000001.000100")
    expect(text.locator("strong")).to_have_text("bold")
    expect(text.locator("em")).to_have_text("slanted")
    expect(text.locator("s")).to_have_text("gone")
    expect(text.locator("code")).to_have_text("x<y")
    expect(text.locator(".mention").first).to_have_text("@Riley Rivera")
    expect(text.locator(".channel-mention")).to_have_text("#zoom-approvals")
    expect(text).to_contain_text("FALLBACK-DATE")
    expect(text.locator("a")).to_have_attribute("href", "https://example.com/a")
    expect(text.locator("a")).to_have_text("a link")
    expect(text).to_contain_text("✅")
    expect(text).to_contain_text(":no_such_emoji:")
    expect(text).to_contain_text("<tag>")
    expect(text.locator("pre")).to_have_text("pre *not bold*")
    expect(text).to_contain_text("(edited)")
    ephemeral = page.get_by_test_id("ephemeral-1700000004.000100")
    expect(ephemeral).to_contain_text("Only visible to you")
    expect(ephemeral.locator("strong")).to_have_text("you")


def test_page_shows_unknown_block_kit_as_raw_json(scripted: ScriptedConsole, page: Page) -> None:
    odd = page.get_by_test_id("message-1700000002.000100")
    expect(odd).to_contain_text("Block type video is not rendered by the sandbox")
    expect(odd).to_contain_text('"title"')
    expect(odd).to_contain_text("Element type overflow is not rendered by the sandbox")
    expect(odd).to_contain_text("a chart")
    expect(odd.locator("img")).to_have_count(0)
    expect(odd.locator(".thread")).to_contain_text("a reply in the thread")


def test_page_sends_clicks_reactions_and_commands(scripted: ScriptedConsole, page: Page) -> None:
    odd = page.get_by_test_id("message-1700000002.000100")
    with posting(page, "action"):
        odd.get_by_test_id("action-go").click()
    # A button with a confirm object asks first; only "confirm" sends the click.
    odd.get_by_test_id("action-stop").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Really stop?")
    page.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    odd.get_by_test_id("action-stop").click()
    with posting(page, "action"):
        page.get_by_test_id("confirm-ok").click()
    with posting(page, "reaction"):
        odd.get_by_test_id("reaction-eyes").click()
    odd.locator(":scope > .msg-body > .reactions").get_by_test_id("add-reaction").click()
    page.get_by_test_id("reaction-name").fill(":tada:")
    with posting(page, "reaction"):
        page.get_by_test_id("reaction-add").click()
    composer = page.get_by_test_id("composer")
    composer.fill("hello there")
    composer.press("Enter")
    expect(page.locator("#composer-hint")).to_contain_text("only the slash command works")
    composer.fill("/zoom-subaccount status 3")
    with posting(page, "command"):
        composer.press("Enter")

    where = {"user": "URILEY01", "channel": "CREQUESTS", "ts": "1700000002.000100"}
    assert scripted.posts == [
        ("action", {**where, "action_id": "go", "block_id": "acts", "value": "v1"}),
        ("action", {**where, "action_id": "stop", "block_id": "acts", "value": "v2"}),
        ("reaction", {**where, "name": "eyes"}),
        ("reaction", {**where, "name": "tada"}),
        ("command", {"user": "URILEY01", "channel": "CREQUESTS", "text": "status 3"}),
    ]


def test_modal_sends_inputs_by_block_id_and_keeps_them_on_errors(
    scripted: ScriptedConsole, page: Page
) -> None:
    scripted.view = MODAL
    modal = page.get_by_test_id("modal")
    expect(modal).to_contain_text("Every element")
    expect(modal).to_contain_text("Element type datepicker is not rendered by the sandbox")
    expect(modal).to_contain_text("Block type call is not rendered by the sandbox")
    expect(modal.get_by_test_id("input-name")).to_be_focused()
    expect(modal.get_by_test_id("input-plan")).to_have_value("b")
    modal.get_by_test_id("input-notes").fill("two\nlines")
    scripted.outcome = {
        "ok": False,
        "result": "view_errors",
        "errors": {"notes": "Too long."},
        "message": "",
    }
    with posting(page, "view/submit"):
        modal.get_by_test_id("modal-submit").click()
    expect(modal.get_by_test_id("error-notes")).to_have_text("Too long.")
    scripted.errors = {"notes": "Too long."}
    expect(modal.get_by_test_id("input-notes")).to_have_value("two\nlines")
    modal.get_by_test_id("input-name").fill("")
    modal.get_by_test_id("modal-submit").click()
    expect(modal.get_by_test_id("error-name")).to_contain_text("required")

    assert scripted.posts == [
        (
            "view/submit",
            {
                "user": "URILEY01",
                "view_id": "V1",
                "inputs": {
                    "name": "Ann",
                    "notes": "two\nlines",
                    "mail": None,
                    "count": None,
                    "plan": "b",
                    "flags": ["x"],
                    "size": None,
                },
            },
        ),
    ]


def test_page_says_when_the_console_is_unreachable(scripted: ScriptedConsole, page: Page) -> None:
    expect(page.get_by_test_id("channel-CREQUESTS")).to_be_visible()
    scripted.down = True
    expect(page.locator("#banner")).to_contain_text("unreachable")
    scripted.down = False
    expect(page.locator("#banner")).to_be_hidden()
