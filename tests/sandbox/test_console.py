"""The sandbox console over real HTTP: static files (and nothing beside them), the JSON API's
refusals, the state's shape, and a whole request driven through the API against the real bot."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sandbox.audit_view import AuditReader
from sandbox.console import ConsoleParts, SandboxConsole
from sandbox.people import Person
from sandbox.slack_emulator import SlackEmulator
from sandbox.workspace import Workspace
from sandbox.zoom_simulator import ZoomSimulator
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    BotHarness,
    running_bot,
)

TYPED_PASSWORD = "Tq7-vLm9-Xr2p"  # satisfies the bot's rules; must not come back after Back
BACK = {"action_id": "preview_back", "block_id": "preview_back", "value": None}
PEOPLE = (
    Person(REQUESTER, "Rita Requester", "rita@example.com", "requester", "asks"),
    Person(APPROVER, "Abe Approver", "abe@example.com", "approver", "decides"),
    Person(OUTSIDER, "Otto Outsider", "otto@example.com", "not allowed", "refused"),
)
UNREACHABLE_BOT = "http://127.0.0.1:9/slack/events"
# A click in a view, as the page sends it.
CLICK = {
    "user": REQUESTER,
    "view_id": "V1",
    "action_id": "preview_back",
    "block_id": "preview_back",
    "value": None,
}


@contextmanager
def serving(
    slack: SlackEmulator,
    zoom: ZoomSimulator,
    *,
    database_url: str,
    bot_url: str,
    static_dir: Path | None = None,
) -> Iterator[httpx.Client]:
    audit = AuditReader(database_url)
    workspace = Workspace(slack, bot_url=bot_url, signing_secret=SIGNING_SECRET)
    parts = ConsoleParts(workspace, slack, zoom, audit, PEOPLE)
    console = (
        SandboxConsole(parts)
        if static_dir is None
        else SandboxConsole(parts, static_dir=static_dir)
    )
    console.start()
    try:
        with httpx.Client(base_url=console.origin, timeout=20) as client:
            yield client
    finally:
        console.close()
        audit.close()


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>sandbox</title>")
    (folder / "app.js").write_text("console.log('page');")
    (folder / "style.css").write_text("body { margin: 0; }")
    (folder / ".hidden").write_text("hidden")
    (tmp_path / "outside.txt").write_text("outside the static folder")
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    return folder


@pytest.fixture
def idle_api(tmp_path: Path, static_dir: Path) -> Iterator[httpx.Client]:
    """A console whose bot is unreachable: for what the console answers on its own."""
    with (
        SlackEmulator() as slack,
        ZoomSimulator() as zoom,
        serving(
            slack,
            zoom,
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            bot_url=UNREACHABLE_BOT,
            static_dir=static_dir,
        ) as client,
    ):
        yield client


@contextmanager
def bot_and_api(database_url: str, tmp_path: Path) -> Iterator[tuple[BotHarness, httpx.Client]]:
    with running_bot(database_url, tmp_path) as bot:
        bot.slack.add_channel(ORIGIN_CHANNEL, "origin")
        bot.slack.add_channel(APPROVAL_CHANNEL, "approvals")
        with serving(bot.slack, bot.zoom, database_url=database_url, bot_url=bot.url) as api:
            yield bot, api


def raw_get(client: httpx.Client, target: str) -> int:
    """GET with the target sent byte for byte (httpx would normalize `..` away)."""
    origin = urlsplit(str(client.base_url))
    connection = http.client.HTTPConnection(origin.hostname or "", origin.port, timeout=10)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


def post(client: httpx.Client, action: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/sandbox/api/{action}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def state(client: httpx.Client, user_id: str) -> dict[str, Any]:
    response = client.get("/sandbox/api/state", params={"user": user_id})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def channel(snapshot: dict[str, Any], channel_id: str) -> dict[str, Any]:
    return next(item for item in snapshot["slack"]["channels"] if item["id"] == channel_id)


def approve_button(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(block_id, element) of the message's approve button."""
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "approve_request":
                return block["block_id"], element
    raise AssertionError(f"no approve button in {message['blocks']}")


def request_inputs(**changes: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "jill@example.com",
        "password": None,
        "account_name": None,
        "sub_reseller_id": None,
        "pay_mode": None,
        "options": [],
        "meeting_connector_list": None,
        "room_connector_list": None,
        "reason": "Onboarding a new partner",
    }
    inputs.update(changes)
    return inputs


def open_request_form(bot: BotHarness, api: httpx.Client) -> dict[str, Any]:
    outcome = post(api, "command", user=REQUESTER, channel=ORIGIN_CHANNEL, text="")
    assert outcome["ok"], outcome
    bot.slack.wait_for("views.open")
    view: dict[str, Any] = state(api, REQUESTER)["slack"]["view"]
    assert view is not None, "the bot's modal is not in the requester's state"
    return view


# -- static files ----------------------------------------------------------------------------


def test_the_root_serves_the_page(idle_api):
    response = idle_api.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>sandbox</title>" in response.text


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8")],
)
def test_static_files_carry_their_content_type(idle_api, name, content_type):
    response = idle_api.get(f"/static/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize(
    "target",
    [
        "/static/../outside.txt",
        "/static/%2e%2e/outside.txt",
        "/static/..%2foutside.txt",
        "/static/%2E%2E%2Foutside.txt",
        "/static//etc/passwd",
        "/static/.hidden",
        "/static/link.txt",
        "/static/missing.js",
        "/static/",
        "/outside.txt",
        "/index.html/../../outside.txt",
    ],
)
def test_nothing_outside_the_static_folder_is_served(idle_api, target):
    assert raw_get(idle_api, target) == 404


# -- refusals --------------------------------------------------------------------------------


def test_state_of_an_unknown_user_is_refused(idle_api):
    response = idle_api.get("/sandbox/api/state", params={"user": "UNOBODY"})

    assert response.status_code == 400
    assert response.json() == {"ok": False, "message": "unknown user: 'UNOBODY'"}


def test_state_without_a_user_is_refused(idle_api):
    assert idle_api.get("/sandbox/api/state").status_code == 400


def test_a_body_that_is_not_json_is_refused(idle_api):
    response = idle_api.post(
        "/sandbox/api/command", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["message"] == "the body is not valid JSON"


def test_a_json_body_that_is_not_an_object_is_refused(idle_api):
    response = idle_api.post("/sandbox/api/command", json=["URILEY01"])

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("command", {"user": "UNOBODY", "channel": "C1"}, "unknown user: 'UNOBODY'"),
        ("command", {"user": REQUESTER}, "missing or empty field: channel"),
        ("command", {"user": REQUESTER, "channel": "C1", "text": 5}, "field text must be a"),
        ("view/submit", {"user": REQUESTER, "view_id": "V1"}, "missing field: inputs"),
        ("view/submit", {"user": REQUESTER, "view_id": "V1", "inputs": {"a": 1}}, "input a must"),
        ("view/close", {"user": REQUESTER}, "missing or empty field: view_id"),
        ("action", {"user": REQUESTER, "channel": "C1", "ts": "1.0"}, "missing or empty field"),
        ("reaction", {"user": REQUESTER, "channel": "C1", "ts": "1.0"}, "missing or empty field"),
        ("home/open", {}, "missing or empty field: user"),
        ("home/open", {"user": "UNOBODY"}, "unknown user: 'UNOBODY'"),
        (
            "view/action",
            {**CLICK, "view_id": ""},
            "missing or empty field: view",
        ),
        ("view/action", {**CLICK, "action_id": None}, "missing or empty field"),
        ("view/action", {**CLICK, "block_id": 7}, "missing or empty field"),
        ("view/action", {**CLICK, "value": 3}, "field value must be"),
        ("view/action", {**CLICK, "user": "UNOBODY"}, "unknown user: 'UNOBODY'"),
    ],
)
def test_missing_or_malformed_fields_are_refused_with_a_message(idle_api, action, body, message):
    response = idle_api.post(f"/sandbox/api/{action}", json=body)

    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert response.json()["message"].startswith(message)


def test_an_unknown_action_is_not_found(idle_api):
    response = idle_api.post("/sandbox/api/launch", json={"user": REQUESTER})

    assert response.status_code == 404


def test_a_post_that_is_not_json_typed_is_refused(idle_api):
    # A cross-site form can post text/plain without a preflight; the console must not act on it.
    response = idle_api.post(
        "/sandbox/api/command",
        content=b'{"user": "UREQ1", "channel": "C1"}',
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 415


def test_a_foreign_host_header_is_refused(idle_api):
    response = idle_api.get("/", headers={"Host": "attacker.example:80"})

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("action", "body"),
    [("home/open", {"user": REQUESTER}), ("view/action", CLICK)],
)
def test_the_home_and_view_routes_are_guarded_like_the_others(idle_api, action, body):
    as_text = idle_api.post(
        f"/sandbox/api/{action}",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain"},
    )
    foreign = idle_api.post(
        f"/sandbox/api/{action}", json=body, headers={"Host": "attacker.example:80"}
    )

    assert as_text.status_code == 415
    assert foreign.status_code == 403


def test_an_unreachable_bot_is_an_outcome_not_a_crash(idle_api):
    outcome = post(idle_api, "command", user=REQUESTER, channel=ORIGIN_CHANNEL, text="")

    assert outcome["ok"] is False
    assert outcome["result"] == "bot_error"
    assert outcome["message"]


# -- the page's work ---------------------------------------------------------------------------


def test_the_state_has_the_designed_shape(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (_bot, api):
        snapshot = state(api, REQUESTER)

    assert set(snapshot) == {"slack", "people", "audit", "zoom", "command"}
    assert snapshot["slack"]["viewer"] == REQUESTER
    assert [person["role"] for person in snapshot["people"]] == [
        "requester",
        "approver",
        "not allowed",
    ]
    assert set(snapshot["people"][0]) == {"id", "name", "role", "description"}
    assert snapshot["audit"] == {"requests": [], "events": []}
    assert snapshot["zoom"]["received"] == []
    assert all(
        set(item) == {"trigger", "status", "code", "answer"}
        for item in snapshot["zoom"]["scenarios"]
    )
    assert snapshot["command"] == "/zoom-subaccount"


def test_a_request_goes_from_command_to_created_through_the_api(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (bot, api):
        view = open_request_form(bot, api)
        previewed = post(
            api, "view/submit", user=REQUESTER, view_id=view["id"], inputs=request_inputs()
        )
        preview = state(api, REQUESTER)["slack"]["view"]
        # The form became its confirmation step; its Submit stores the request.
        submitted = post(api, "view/submit", user=REQUESTER, view_id=view["id"], inputs={})
        bot.wait()
        [approval] = channel(state(api, APPROVER), APPROVAL_CHANNEL)["messages"]
        block_id, button = approve_button(approval)
        clicked = post(
            api,
            "action",
            user=APPROVER,
            channel=APPROVAL_CHANNEL,
            ts=approval["ts"],
            action_id=button["action_id"],
            block_id=block_id,
            value=button["value"],
        )
        bot.wait()
        final = state(api, REQUESTER)

    assert view["view"]["callback_id"] == "create_sub_account"
    assert previewed["result"] == "view_updated", previewed
    assert preview["view"]["callback_id"] == "confirm_sub_account"
    assert submitted["ok"], submitted
    assert clicked == {"ok": True, "result": "delivered", "errors": {}, "message": ""}
    [request] = final["audit"]["requests"]
    assert (request["status"], request["approver_id"]) == ("created", APPROVER)
    assert [entry["status"] for entry in final["zoom"]["received"]] == [201]


def test_a_reaction_through_the_api_approves(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (bot, api):
        request = bot.submit_ok(channel_id=ORIGIN_CHANNEL)
        reacted = post(
            api,
            "reaction",
            user=APPROVER,
            channel=APPROVAL_CHANNEL,
            ts=request.approval_ts,
            name=":white_check_mark:",
        )
        bot.wait()
        final = state(api, APPROVER)

    assert reacted["ok"], reacted
    assert final["audit"]["requests"][0]["status"] == "created"
    [approval] = channel(final, APPROVAL_CHANNEL)["messages"]
    by_name = {reaction["name"]: reaction["users"] for reaction in approval["reactions"]}
    assert APPROVER in by_name["white_check_mark"]


def test_field_errors_come_back_in_the_outcome_and_the_state(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (bot, api):
        view = open_request_form(bot, api)
        outcome = post(
            api,
            "view/submit",
            user=REQUESTER,
            view_id=view["id"],
            inputs=request_inputs(email="not-an-email"),
        )
        shown = state(api, REQUESTER)["slack"]["view"]

    assert outcome["result"] == "view_errors"
    assert "email" in outcome["errors"]
    assert shown["errors"] == outcome["errors"]


def test_opening_the_home_puts_the_published_home_in_the_state(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (bot, api):
        request = bot.submit_ok(channel_id=ORIGIN_CHANNEL)
        before = state(api, APPROVER)["slack"]["home"]
        opened = post(api, "home/open", user=APPROVER)
        bot.wait()
        home = state(api, APPROVER)["slack"]["home"]
        others = state(api, REQUESTER)["slack"]["home"]

    assert before is None
    assert opened == {"ok": True, "result": "delivered", "errors": {}, "message": ""}
    assert home["view"]["type"] == "home"
    block_ids = [block.get("block_id") for block in home["view"]["blocks"]]
    assert f"home_decision_{request.id}" in block_ids
    assert others is None, "a Home is published to the person who opened it only"


def test_a_click_in_the_home_decides_through_the_api(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (bot, api):
        request = bot.submit_ok(channel_id=ORIGIN_CHANNEL)
        post(api, "home/open", user=APPROVER)
        bot.wait()
        home = state(api, APPROVER)["slack"]["home"]
        clicked = post(
            api,
            "view/action",
            user=APPROVER,
            view_id=home["id"],
            action_id="home_approve_request",
            block_id=f"home_decision_{request.id}",
            value=None,
        )
        bot.wait()
        final = state(api, APPROVER)

    assert clicked["ok"], clicked
    [row] = final["audit"]["requests"]
    assert (row["status"], row["approver_id"]) == ("created", APPROVER)
    assert "You approved request" in json.dumps(final["slack"]["home"]["view"])


def test_back_in_the_preview_returns_the_form_as_typed_but_the_password(database_url, tmp_path):
    typed = request_inputs(password=TYPED_PASSWORD, pay_mode="sub", options=["share_mc"])
    with bot_and_api(database_url, tmp_path) as (bot, api):
        view = open_request_form(bot, api)
        post(api, "view/submit", user=REQUESTER, view_id=view["id"], inputs=typed)
        clicked = post(api, "view/action", user=REQUESTER, view_id=view["id"], **BACK)
        assert bot.slack.wait_until(
            lambda: (
                bot.slack.snapshot(REQUESTER)["view"]["view"]["callback_id"] == "create_sub_account"
            ),
            timeout=10,
        ), "Back did not return the form"
        form = state(api, REQUESTER)["slack"]["view"]

    assert clicked["ok"], clicked
    assert form["id"] == view["id"]
    elements = {
        block["block_id"]: block["element"]
        for block in form["view"]["blocks"]
        if block["type"] == "input"
    }
    assert elements["first_name"]["initial_value"] == "Jill"
    assert elements["email"]["initial_value"] == "jill@example.com"
    assert elements["reason"]["initial_value"] == "Onboarding a new partner"
    assert elements["pay_mode"]["initial_option"]["value"] == "sub"
    assert [item["value"] for item in elements["options"]["initial_options"]] == ["share_mc"]
    assert "initial_value" not in elements["password"]
    assert TYPED_PASSWORD not in json.dumps(form)


def test_a_click_in_a_view_the_person_does_not_see_is_an_outcome(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (_bot, api):
        outcome = post(api, "view/action", user=REQUESTER, view_id="VNOPE", **BACK)

    assert (outcome["ok"], outcome["result"]) == (False, "invalid")
    assert "VNOPE" in outcome["message"]


def test_an_outsider_is_refused_by_the_bot_not_the_console(database_url, tmp_path):
    with bot_and_api(database_url, tmp_path) as (bot, api):
        outcome = post(api, "command", user=OUTSIDER, channel=ORIGIN_CHANNEL, text="")
        bot.wait()
        seen = state(api, OUTSIDER)

    assert outcome["ok"], outcome
    assert seen["slack"]["view"] is None
    assert seen["slack"]["ephemerals"], "the refusal should reach the outsider"
    assert seen["audit"]["requests"][0]["status"] == "denied"


# -- concurrency -----------------------------------------------------------------------------


class _StalledBot(ThreadingHTTPServer):
    """A "bot" that holds every request until released, to show the console keeps answering."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received = threading.Event()
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _StalledHandler)


class _StalledHandler(BaseHTTPRequestHandler):
    server: _StalledBot

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.set()
        self.server.release.wait(15)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_page_is_answered_while_the_bot_is_still_working(tmp_path, static_dir):
    stalled = _StalledBot()
    threading.Thread(target=stalled.serve_forever, kwargs={"poll_interval": 0.05}).start()
    bot_url = f"http://127.0.0.1:{stalled.server_address[1]}/slack/events"
    outcomes: list[dict[str, Any]] = []
    try:
        with (
            SlackEmulator() as slack,
            ZoomSimulator() as zoom,
            serving(
                slack,
                zoom,
                database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                bot_url=bot_url,
                static_dir=static_dir,
            ) as api,
        ):
            command = threading.Thread(
                target=lambda: outcomes.append(
                    post(api, "command", user=REQUESTER, channel=ORIGIN_CHANNEL)
                )
            )
            command.start()
            assert stalled.received.wait(10), "the command never reached the bot"
            page = api.get("/static/app.js")
            stalled.release.set()
            command.join(15)
    finally:
        stalled.release.set()
        stalled.shutdown()
        stalled.server_close()

    assert page.status_code == 200
    assert [outcome["ok"] for outcome in outcomes] == [True], outcomes


def test_a_bulk_request_of_pasted_rows_goes_to_created_through_the_api(database_url, tmp_path):
    rows = (
        "first_name,last_name,email,reason\n"
        "Ada,One,ada1@example.com,Wave\n"
        "Bo,Two,bo2@example.com,Wave\n"
    )
    with bot_and_api(database_url, tmp_path) as (bot, api):
        post(api, "command", user=REQUESTER, channel=ORIGIN_CHANNEL, text="bulk")
        bot.slack.wait_for("views.open")
        form = state(api, REQUESTER)["slack"]["view"]
        checked = post(
            api, "view/submit", user=REQUESTER, view_id=form["id"], inputs={"bulk_csv": rows}
        )
        preview = state(api, REQUESTER)["slack"]["view"]
        submitted = post(api, "view/submit", user=REQUESTER, view_id=preview["id"], inputs={})
        bot.wait()
        [message] = channel(state(api, APPROVER), APPROVAL_CHANNEL)["messages"]
        block_id, button = next(
            (block["block_id"], element)
            for block in message["blocks"]
            for element in block.get("elements", [])
            if element.get("action_id") == "approve_batch"
        )
        clicked = post(
            api,
            "action",
            user=APPROVER,
            channel=APPROVAL_CHANNEL,
            ts=message["ts"],
            action_id="approve_batch",
            block_id=block_id,
            value=button["value"],
        )
        bot.wait()
        final = state(api, REQUESTER)

    assert form["view"]["callback_id"] == "bulk_upload"
    assert checked["ok"], checked
    assert preview["view"]["callback_id"] == "bulk_preview"
    assert submitted["ok"], submitted
    assert clicked["ok"], clicked
    statuses = {row["email"]: row["status"] for row in final["audit"]["requests"]}
    assert statuses == {"ada1@example.com": "created", "bo2@example.com": "created"}
    assert sorted(entry["status"] for entry in final["zoom"]["received"]) == [201, 201]
