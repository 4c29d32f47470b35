"""The sandbox page's rendering contract in headless Chromium against a scripted console (no
bot): mrkdwn, raw JSON for what it cannot render, shared files, the modal (inputs, errors, its
buttons, a file_input), the App Home tab, and what it posts for each click."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Response, Route, expect

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = PROJECT_ROOT / "sandbox" / "static"
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


OUTCOME_CSV = {
    "id": "F0000000007",
    "name": "bulk-3-outcome.csv",
    "title": "Outcome of bulk request #3",
    "size": 2048,
    "url": "http://127.0.0.1:1/files/F0000000007/bulk-3-outcome.csv",
}
ODD_FILE = {"id": "F0000000008", "name": "x.txt", "size": 12, "url": "javascript:alert(1)"}
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
    _channel(
        "CAPPROVALS",
        "zoom-approvals",
        _message(
            "1700000010.000100",
            text="Bulk request #3: 2 of 2 created",
            # The outcome CSV is shared in the thread as a file with no text.
            replies=[_message("1700000011.000100", files=[OUTCOME_CSV])],
        ),
        _message("1700000012.000100", files=[{**ODD_FILE, "mode": "hosted"}]),
        _message(
            "1700000013.000100",
            text="has an attachment",
            attachments=[{"color": "#2eb886", "text": "legacy attachment text"}],
        ),
        _message("1700000014.000100"),
    ),
    _channel("DURILEY01", "zoombot"),
]
EPHEMERAL = {"channel": "CREQUESTS", "ts": "1700000004.000100", "text": "just for *you*"}
RILEY = {"id": "URILEY01", "name": "Riley Rivera", "role": "requester", "description": "asks"}


class ScriptedConsole:
    """Answers the page's requests from fields the test sets; records what the page posts."""

    def __init__(self) -> None:
        self.view: dict[str, Any] | None = None
        self.home: dict[str, Any] | None = None
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
            "home": self.home,
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


# -- shared files and fields the page does not render -------------------------------------------


def test_a_shared_file_shows_as_a_card_with_its_size_and_a_download_link(
    scripted: ScriptedConsole, page: Page
) -> None:
    page.get_by_test_id("channel-CAPPROVALS").click()
    reply = page.get_by_test_id("message-1700000011.000100")
    card = reply.get_by_test_id(f"file-{OUTCOME_CSV['id']}")

    expect(card.get_by_test_id("file-title")).to_have_text("Outcome of bulk request #3")
    expect(card.get_by_test_id("file-meta")).to_have_text("bulk-3-outcome.csv · 2 KB")
    link = card.get_by_test_id("file-download")
    expect(link).to_have_attribute("href", OUTCOME_CSV["url"])
    expect(link).to_have_attribute("download", "bulk-3-outcome.csv")
    # A file share with no text is the file, not an empty message or a raw box.
    expect(reply.get_by_test_id("unknown-block")).to_have_count(0)


def test_a_file_without_a_web_link_gets_no_link_and_its_other_fields_shown_raw(
    scripted: ScriptedConsole, page: Page
) -> None:
    page.get_by_test_id("channel-CAPPROVALS").click()
    card = page.get_by_test_id(f"file-{ODD_FILE['id']}")

    expect(card).to_contain_text("no download link")
    expect(card.locator("a")).to_have_count(0)
    expect(card).to_contain_text("File fields the sandbox does not show")
    expect(card).to_contain_text('"mode": "hosted"')


def test_message_fields_the_page_does_not_render_are_shown_raw(
    scripted: ScriptedConsole, page: Page
) -> None:
    page.get_by_test_id("channel-CAPPROVALS").click()
    attached = page.get_by_test_id("message-1700000013.000100")
    empty = page.get_by_test_id("message-1700000014.000100")

    expect(attached).to_contain_text("has an attachment")
    field = attached.get_by_test_id("unknown-field")
    expect(field).to_contain_text("Message field “attachments” is not rendered by the sandbox")
    expect(field).to_contain_text("legacy attachment text")
    expect(empty).to_contain_text("A message with nothing the sandbox can show")
    expect(empty).to_contain_text('"ts": "1700000014.000100"')


# -- the modal's buttons, code blocks and file inputs --------------------------------------------

LONG_VALUE = "x" * 400
PREVIEW = {
    "type": "modal",
    "callback_id": "confirm_sub_account",
    "title": {"type": "plain_text", "text": "Check the request"},
    "submit": {"type": "plain_text", "text": "Submit request"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f'```\n{{\n  "account_name": "{LONG_VALUE}"\n}}\n```',
            },
        },
        {
            "type": "actions",
            "block_id": "preview_back",
            "elements": [
                {
                    "type": "button",
                    "action_id": "preview_back",
                    "value": "back",
                    "text": {"type": "plain_text", "text": "Back to the form"},
                }
            ],
        },
    ],
}
BULK_FORM = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Bulk Zoom sub accounts"},
    "submit": {"type": "plain_text", "text": "Check rows"},
    "blocks": [
        _input("bulk_file", {"type": "file_input", "filetypes": ["csv", "txt"], "max_files": 1}),
        _input("bulk_text", {"type": "plain_text_input", "multiline": True}),
    ],
}


def test_a_button_in_a_modal_is_sent_as_a_click_in_that_view(
    scripted: ScriptedConsole, page: Page
) -> None:
    scripted.view = PREVIEW
    modal = page.get_by_test_id("modal")
    back = modal.get_by_test_id("action-preview_back")
    expect(back).to_be_enabled()

    with posting(page, "view/action"):
        back.click()

    assert scripted.posts == [
        (
            "view/action",
            {
                "user": "URILEY01",
                "view_id": "V1",
                "action_id": "preview_back",
                "block_id": "preview_back",
                "value": "back",
            },
        )
    ]


def test_a_long_json_line_in_a_code_block_wraps_inside_the_modal(
    scripted: ScriptedConsole, page: Page
) -> None:
    scripted.view = PREVIEW
    code = page.get_by_test_id("modal").locator("pre")
    expect(code).to_contain_text(LONG_VALUE)

    fits = code.evaluate("node => node.scrollWidth <= node.clientWidth")
    body_fits = page.locator(".modal-body").evaluate("node => node.scrollWidth <= node.clientWidth")

    assert (fits, body_fits) == (True, True)


def test_a_file_input_is_listed_with_a_note_and_nothing_is_sent_for_it(
    scripted: ScriptedConsole, page: Page
) -> None:
    scripted.view = BULK_FORM
    modal = page.get_by_test_id("modal")
    note = modal.get_by_test_id("input-bulk_file")
    expect(note).to_contain_text("File upload is not available in the sandbox: paste the CSV")
    expect(note).to_contain_text("accepts .csv, .txt; at most 1 file")
    expect(modal.locator("input[type=file]")).to_have_count(0)
    modal.get_by_test_id("input-bulk_text").fill("first_name,last_name,email")

    with posting(page, "view/submit"):
        modal.get_by_test_id("modal-submit").click()

    [(_, body)] = scripted.posts
    assert body["inputs"] == {"bulk_text": "first_name,last_name,email"}


# -- the App Home tab ----------------------------------------------------------------------------


def _button(action_id: str, text: str, **more: Any) -> dict[str, Any]:
    label = {"type": "plain_text", "text": text}
    return {"type": "button", "action_id": action_id, "value": "4", "text": label, **more}


HOME = {
    "id": "VHOME01",
    "hash": "h1",
    "view": {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Waiting for my approval"}},
            {
                "type": "section",
                "block_id": "home_request_4",
                "text": {"type": "mrkdwn", "text": "*#4* <@URILEY01> asks for Kim"},
            },
            {
                "type": "actions",
                "block_id": "home_decision_4",
                "elements": [
                    _button("home_approve_request", "Approve", style="primary"),
                    _button(
                        "home_reject_request",
                        "Reject",
                        style="danger",
                        confirm={
                            "title": {"type": "plain_text", "text": "Reject this request?"},
                            "text": {"type": "plain_text", "text": "The requester is told."},
                            "confirm": {"type": "plain_text", "text": "Reject"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                        },
                    ),
                ],
            },
        ],
    },
}


def test_selecting_home_opens_it_and_shows_the_published_view(
    scripted: ScriptedConsole, page: Page
) -> None:
    with posting(page, "home/open"):
        page.get_by_test_id("channel-home").click()
    expect(page.get_by_test_id("home-empty")).to_be_visible()
    expect(page.get_by_test_id("composer")).to_be_hidden()

    scripted.home = HOME

    home = page.get_by_test_id("home-view")
    expect(home).to_contain_text("Waiting for my approval")
    expect(home.locator(".mention")).to_have_text("@Riley Rivera")
    expect(page.locator("#messages")).to_have_text(re.compile(r"^\s*Waiting for my approval"))
    assert scripted.posts == [("home/open", {"user": "URILEY01"})]
    page.get_by_test_id("channel-CREQUESTS").click()
    expect(page.get_by_test_id("composer")).to_be_visible()


def test_the_homes_buttons_are_sent_as_clicks_in_the_home_view(
    scripted: ScriptedConsole, page: Page
) -> None:
    scripted.home = HOME
    with posting(page, "home/open"):
        page.get_by_test_id("channel-home").click()
    decision = page.locator('[data-block-id="home_decision_4"]')

    with posting(page, "view/action"):
        decision.get_by_test_id("action-home_approve_request").click()
    decision.get_by_test_id("action-home_reject_request").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Reject this request?")
    with posting(page, "view/action"):
        page.get_by_test_id("confirm-ok").click()

    where = {"user": "URILEY01", "view_id": "VHOME01", "block_id": "home_decision_4", "value": "4"}
    assert scripted.posts == [
        ("home/open", {"user": "URILEY01"}),
        ("view/action", {**where, "action_id": "home_approve_request"}),
        ("view/action", {**where, "action_id": "home_reject_request"}),
    ]


def test_a_failed_home_open_is_said_in_the_pane(scripted: ScriptedConsole, page: Page) -> None:
    scripted.outcome = {
        "ok": False,
        "result": "bot_error",
        "errors": {},
        "message": "the bot answered HTTP 500",
    }

    page.get_by_test_id("channel-home").click()

    problem = page.get_by_test_id("home-problem")
    expect(problem).to_have_text("Opening the Home failed: the bot answered HTTP 500")
