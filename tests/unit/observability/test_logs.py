"""LOG_FORMAT=json: one JSON object per line with the work's context, never a secret."""

import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.observability.context import bolt_context_middleware, log_context, slack_fields
from bot.observability.logs import configure_logging
from bot.observability.redaction import REDACTED, forget_secret, register_secret
from bot.runtime.tasks import BackgroundTasks

SECRET = "Tr0ub4dor-Zq7-s3cret"
logger = logging.getLogger("zoombot.test")


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[callable]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", "json")

    def lines() -> list[dict]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line]

    yield lines
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def secret() -> Iterator[str]:
    register_secret(SECRET)
    yield SECRET
    forget_secret(SECRET)


def test_each_record_is_one_json_object_with_time_level_logger_and_message(json_logs):
    logger.warning("request %s waited %.1fs", 7, 2.25)

    (line,) = json_logs()
    assert line["level"] == "WARNING"
    assert line["logger"] == "zoombot.test"
    assert line["message"] == "request 7 waited 2.2s"
    assert line["time"].endswith("+00:00")


def test_the_log_context_is_in_every_line_inside_it_and_gone_after(json_logs):
    with log_context(request_id=12, slack_event="reaction_added"):
        logger.info("inside")
        with log_context(outbox_id=3):
            logger.info("nested")
    logger.info("outside")

    inside, nested, outside = json_logs()
    assert (inside["request_id"], inside["slack_event"]) == (12, "reaction_added")
    assert (nested["request_id"], nested["outbox_id"]) == (12, 3)
    assert "request_id" not in outside


def test_an_unknown_context_field_is_refused():
    with pytest.raises(ValueError, match="password"), log_context(password="x"):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize(
    "log",
    [
        lambda: logger.info(f"the password is {SECRET}"),
        lambda: logger.info("the password is %s", SECRET),
        lambda: logger.info("a dict %s", {"password": SECRET}),
    ],
    ids=["in-message", "in-args", "in-a-dict-arg"],
)
def test_a_registered_secret_never_reaches_a_json_line(json_logs, secret, log):
    log()

    (line,) = json_logs()
    assert secret not in json.dumps(line)
    assert REDACTED in line["message"]


def test_a_secret_in_an_exception_and_its_traceback_is_redacted(json_logs, secret):
    def fail(password: str) -> None:
        raise RuntimeError(f"Zoom said no to {password}")

    try:
        fail(secret)
    except RuntimeError:
        logger.exception("the call failed")

    (line,) = json_logs()
    assert secret not in json.dumps(line)
    assert "RuntimeError: Zoom said no to [redacted]" in line["exc_info"]
    assert "Traceback" in line["exc_info"]


def test_a_secret_in_stack_info_is_redacted(json_logs, secret):
    logger.info("where am I %s", secret, stack_info=True)

    (line,) = json_logs()
    assert secret not in json.dumps(line)
    assert "stack_info" in line


def test_text_format_appends_the_context_and_redacts(capsys, secret):
    root = logging.getLogger()
    handlers = list(root.handlers)
    configure_logging("INFO", "text")
    try:
        with log_context(request_id=5):
            logger.info("password %s", secret)
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)

    err = capsys.readouterr().err
    assert "password [redacted] [request_id=5]" in err
    assert secret not in err


def test_configuring_twice_keeps_one_handler_of_ours(json_logs):
    configure_logging("INFO", "json")
    logger.info("once")

    assert [line["message"] for line in json_logs()] == ["once"]


def test_background_tasks_carry_the_submitters_context(json_logs):
    tasks = BackgroundTasks(max_workers=1)
    with log_context(request_id=41):
        tasks.submit(lambda: logger.info("later"))
    tasks.wait_idle()
    tasks.shutdown()

    (line,) = json_logs()
    assert line["request_id"] == 41


# -- Slack payloads ---------------------------------------------------------------------------


def test_a_decision_button_names_its_request_and_action():
    body = {
        "type": "block_actions",
        "actions": [{"action_id": "approve_request", "value": "42"}],
    }

    fields = slack_fields(body, headers={"x-slack-retry-num": ["2"]})

    assert fields == {
        "slack_type": "block_actions",
        "slack_event": "approve_request",
        "request_id": 42,
        "slack_retry_num": 2,
    }


def test_an_event_callback_names_its_event_type_and_no_request():
    body = {"type": "event_callback", "event": {"type": "reaction_added", "reaction": "x"}}

    assert slack_fields(body, headers={}) == {
        "slack_type": "event_callback",
        "slack_event": "reaction_added",
    }


def test_a_slash_command_and_a_view_submission_are_named():
    command = slack_fields({"command": "/zoom-subaccount", "text": SECRET}, headers={})
    view = {"type": "view_submission", "view": {"callback_id": "create_sub_account"}}

    assert command == {"slack_type": "slash_command", "slack_event": "/zoom-subaccount"}
    assert slack_fields(view, headers={})["slack_event"] == "create_sub_account"


def test_a_listener_run_through_bolt_logs_with_the_payloads_context(json_logs):
    app = App(
        client=WebClient(),
        # No Slack to ask: the installation is known already.
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T1", bot_token="xoxb-unused", bot_user_id="UBOT"
        ),
        request_verification_enabled=False,
        process_before_response=True,
    )
    app.use(bolt_context_middleware)

    @app.action("approve_request")
    def on_click(ack, body):
        logger.info("clicked")
        ack()

    payload = json.dumps(
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "team": {"id": "T1"},
            "actions": [{"action_id": "approve_request", "value": "9", "type": "button"}],
        }
    )
    request = BoltRequest(
        body=f"payload={quote(payload)}",
        headers={"content-type": ["application/x-www-form-urlencoded"], "x-slack-retry-num": ["1"]},
    )
    with log_context():  # what bot/runtime/web.py does around each request: the fields end with it
        response = app.dispatch(request)
    logger.info("after")

    assert response.status == 200
    lines = {line["message"]: line for line in json_logs()}
    assert lines["clicked"]["request_id"] == 9
    assert lines["clicked"]["slack_event"] == "approve_request"
    assert lines["clicked"]["slack_retry_num"] == 1
    assert "request_id" not in lines["after"]
