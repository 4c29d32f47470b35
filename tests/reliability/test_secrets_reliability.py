"""Secrets through every failure path (issue 4, point 9): one conversation with a password the
requester typed walks each refusal and each kind of Zoom failure, then every place the bot
writes to is searched for the password, the Slack bot token and signing secret, the Zoom
client secret and the password encryption key."""

import json
import logging
import time
import traceback

import pytest

from sandbox.slack_signing import sign, view_submission_body
from tests.harness import (
    APPROVER,
    BOT_TOKEN,
    ENCRYPTION_KEY,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    ZOOM_CLIENT_SECRET,
    modal_values,
    preview_metadata,
    running_bot,
)

pytestmark = pytest.mark.reliability

PASSWORD = "Vb4nWq8sLx2k"
SECRETS = {
    "password": PASSWORD,
    "bot token": BOT_TOKEN,
    "signing secret": SIGNING_SECRET,
    "zoom client secret": ZOOM_CLIENT_SECRET,
    "encryption key": ENCRYPTION_KEY,
}
# The one place the password must reach: Zoom's create body. Everything else is searched for it.
ZOOM_MAY_SEE = {"password"}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # app.configure_logging's


class Conversation:
    """Drives the bot and keeps every answer it gave over HTTP."""

    def __init__(self, bot):
        self.bot = bot
        self.answers = []

    def keep(self, response):
        self.answers.append(f"{response.status_code} {response.text}")
        return response

    def submit(self, user_id=REQUESTER, **values):
        """The form, then its confirmation step when there is one: both answers are kept."""
        values.setdefault("password", PASSWORD)
        response = self.keep(self.bot.submit_form(user_id, **values))
        sealed = preview_metadata(response)
        if sealed:
            response = self.keep(self.bot.confirm(user_id, sealed))
        self.bot.wait()
        return response

    def submit_ok(self, email):
        self.submit(email=email)
        request = self.bot.latest_request()
        assert (request.status, request.email) == ("pending_approval", email)
        return request

    def approve(self, request, user_id=APPROVER):
        self.keep(self.bot.click(user_id, request, "approve_request"))
        self.bot.wait()
        return self.bot.request(request.id)

    def status(self, request):
        self.keep(self.bot.slash(text=f"status {request.id}"))
        self.keep(self.bot.slash(APPROVER, text=f"status {request.id}"))


def run_every_failure_path(bot):
    """The conversation; returns the HTTP answers the bot gave and the exceptions it logged."""
    talk = Conversation(bot)
    talk.keep(bot.slash())
    talk.keep(bot.slash(OUTSIDER))  # refused by response_url
    bot.wait()
    assert len(bot.slack.response_posts) == 1

    # The modal: field errors beside the typed password, a refusal, a request signed too long
    # ago (a server whose clock drifted), a request signed with the wrong secret.
    errors = json.loads(talk.submit(email="not-an-email").text)
    assert errors["response_action"] == "errors"
    talk.submit(OUTSIDER, email="outsider@example.com")
    assert bot.latest_request().status == "denied"
    body, content_type = view_submission_body(
        user_id=REQUESTER, values=modal_values(password=PASSWORD)
    )
    stale = talk.keep(bot.sender.post(body, content_type, timestamp=int(time.time()) - 600))
    forged = sign(body, secret="not-the-signing-secret", content_type=content_type)
    wrong = talk.keep(bot.sender.post(body, content_type, headers_override=forged))
    assert (stale.status_code, wrong.status_code) == (401, 401)

    # Approvals refused, then a rejection.
    refused = talk.submit_ok("refused@example.com")
    talk.keep(bot.react(OUTSIDER, refused))
    talk.keep(bot.click(REQUESTER, refused, "approve_request"))
    bot.wait()
    assert bot.event_kinds(refused.id)[-2:] == ["approve_refused", "approve_refused"]
    talk.keep(bot.click(APPROVER, refused, "reject_request"))
    bot.wait()
    assert bot.request(refused.id).status == "rejected"
    talk.approve(refused, "UAPP2")  # too late: already rejected

    # Zoom failing in each way: the password echoed in an error, a 5xx echoing it too,
    # and an answer the client cannot even decode (an internal error, not a ZoomError).
    echoed = talk.submit_ok("echoed@example.com")
    bot.zoom.queue_response(400, {"code": 1111, "message": f"Password {PASSWORD} is too simple."})
    assert talk.approve(echoed).status == "failed"
    server_error = talk.submit_ok("server-error@example.com")
    bot.zoom.queue_response(503, {"code": 503, "message": f"upstream saw password={PASSWORD}"})
    assert talk.approve(server_error).status == "unknown"
    garbage = talk.submit_ok("garbage@example.com")
    bot.zoom.queue_response(
        201, {"id": "acc", "message": PASSWORD}, headers={"Content-Encoding": "gzip"}
    )
    assert talk.approve(garbage).status == "unknown"

    # And one that works.
    created = talk.submit_ok("created@example.com")
    assert talk.approve(created).status == "created"

    for request in (refused, echoed, server_error, garbage, created):
        talk.status(request)
    bot.wait()
    return talk.answers


def raw_exception_texts(records):
    """The exceptions as raised, before any log redaction: str, repr and full traceback, with
    their causes and contexts."""
    texts = []
    for record in records:
        if not record.exc_info or record.exc_info[1] is None:
            continue
        error = record.exc_info[1]
        texts.append("".join(traceback.format_exception(error)))
        while error is not None:
            texts.extend([str(error), repr(error), repr(error.args)])
            error = error.__cause__ or error.__context__
    return texts


def found_in(places):
    return {
        (place, name)
        for place, text in places.items()
        for name, secret in SECRETS.items()
        if secret in text and not (place == "zoom raw log" and name in ZOOM_MAY_SEE)
    }


@pytest.fixture
def every_logger_at_debug(caplog):
    """Root and every logger that exists at DEBUG, and a console handler as in production."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    console = logging.StreamHandler()  # sys.stderr as captured by capfd
    console.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.root.addHandler(console)
    yield caplog
    logging.root.removeHandler(console)


def test_no_secret_reaches_any_output_on_any_failure_path(
    capfd, every_logger_at_debug, database_url, tmp_path
):
    caplog = every_logger_at_debug
    with running_bot(database_url, tmp_path) as bot:
        answers = run_every_failure_path(bot)
        places = {
            "slack raw log": bot.slack.raw_log(),
            "response_url posts": json.dumps(bot.slack.response_posts),
            "zoom raw log": bot.zoom.raw_log(),
            "bot http answers": "\n".join(answers),
            "tables": bot.table_dump(),
        }
    internal_errors = [
        record
        for record in caplog.records
        if record.exc_info and "unexpected error during the Zoom call" in record.getMessage()
    ]
    captured = capfd.readouterr()
    places |= {
        "caplog text": caplog.text,
        "log messages": "\n".join(record.getMessage() for record in caplog.records),
        "log args": "\n".join(repr(record.args) for record in caplog.records),
        "log exc_text": "\n".join(record.exc_text or "" for record in caplog.records),
        "raised exceptions": "\n".join(raw_exception_texts(caplog.records)),
        "stdout": captured.out,
        "stderr": captured.err,
    }

    # The searches can find something: each place holds what the conversation put there.
    assert len(internal_errors) == 1
    assert "DecodingError" in "".join(raw_exception_texts(internal_errors))
    assert "DecodingError" in captured.err
    assert "Invalid request signature detected" in caplog.text
    assert places["zoom raw log"].count(f'"password":"{PASSWORD}"') == 4  # one per create
    assert "echoed@example.com" in places["tables"]
    assert "too simple" in places["tables"]
    assert [place for place, text in places.items() if not text] == ["stdout"]
    assert found_in(places) == set()
    assert len(places) * len(SECRETS) - len(ZOOM_MAY_SEE) == 59


def test_forced_internal_error_names_no_secret(database_url, tmp_path, caplog):
    """An answer the Zoom client cannot decode surfaces as an unexpected exception: its text,
    the stored outcome and what Slack is told carry no secret."""
    with running_bot(database_url, tmp_path) as bot:
        request = bot.submit_ok(password=PASSWORD)
        bot.zoom.queue_response(201, {"id": PASSWORD}, {"Content-Encoding": "gzip"})
        bot.click(APPROVER, request, "approve_request")
        bot.wait()

        final = bot.request(request.id)
        (record,) = [r for r in caplog.records if r.exc_info and r.exc_info[1] is not None]
        texts = raw_exception_texts([record])
        assert type(record.exc_info[1]).__name__ == "DecodingError"
        assert (final.status, final.zoom_error_message) == (
            "unknown",
            "the bot failed during the call (DecodingError)",
        )
        shown = "\n".join([*texts, final.zoom_error_message, bot.slack.raw_log()])
        assert [name for name, secret in SECRETS.items() if secret in shown] == []
        assert "(DecodingError)" in bot.slack.raw_log()
