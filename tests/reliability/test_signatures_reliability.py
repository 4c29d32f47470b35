"""Requests Slack did not sign as they arrive (issue 4, point 7): every kind of request, every way
of getting the signature wrong, and oversized bodies are refused (401 / 400) with no side effect:
no request row, no event, no Slack call, no Zoom call."""

import json
import time

import httpx
import psycopg
import pytest

from bot.requests.passwords import PasswordVault
from bot.requests.preview import Draft, seal_draft
from bot.requests.validation import RequestInput
from bot.runtime.web import MAX_BODY_BYTES
from bot.slack.ids import PREVIEW_CALLBACK
from sandbox.slack_signing import (
    block_actions_body,
    reaction_added_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    ENCRYPTION_KEY,
    ORIGIN_CHANNEL,
    OUTSIDER,
    REQUESTER,
    SIGNING_SECRET,
    modal_values,
    running_bot,
)

pytestmark = pytest.mark.reliability

FIVE_MINUTES_SECONDS = 5 * 60


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_bot(request, tmp_path_factory):
    """One running bot per database for the whole module, holding one pending request."""
    tmp_path = tmp_path_factory.mktemp("signatures")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'zoombot.db'}"
    else:
        url = request.getfixturevalue("postgres_server_url")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
    with running_bot(url, tmp_path) as bot:
        bot.pending = bot.submit_ok()
        yield bot


# -- what is sent: each kind of request Slack sends, as the user who could do the most harm -----


def slash(bot, user_id):
    return slash_command_body(
        user_id=user_id, channel_id=ORIGIN_CHANNEL, response_url=bot.slack.response_url()
    )


def submission(bot, user_id):
    return view_submission_body(
        user_id=user_id,
        values=modal_values(email=f"{user_id.lower()}@example.com"),
        private_metadata=json.dumps({"channel_id": ORIGIN_CHANNEL}),
    )


def confirmation(bot, user_id):
    """The confirmation step's Submit, its values sealed for `user_id` as the bot seals them."""
    raw = RequestInput(
        first_name="Jill",
        last_name="Chill",
        email=f"{user_id.lower()}@example.com",
        reason="Onboarding a new partner",
    )
    sealed = seal_draft(
        Draft(user_id=user_id, channel_id=ORIGIN_CHANNEL, raw=raw),
        PasswordVault(ENCRYPTION_KEY.encode()),
    )
    return view_submission_body(
        user_id=user_id, values={}, callback_id=PREVIEW_CALLBACK, private_metadata=sealed
    )


def click(bot, user_id):
    return block_actions_body(
        user_id=user_id,
        action_id="approve_request",
        value=str(bot.pending.id),
        channel_id=APPROVAL_CHANNEL,
        message_ts=bot.pending.approval_ts,
        response_url=bot.slack.response_url(),
    )


def reaction(bot, user_id):
    return reaction_added_body(
        user_id=user_id,
        reaction="white_check_mark",
        channel_id=APPROVAL_CHANNEL,
        message_ts=bot.pending.approval_ts,
    )


KINDS = {
    "slash_command": slash,
    "view_submission": submission,
    "confirmation": confirmation,
    "click": click,
    "event": reaction,
}
# Who would act if the request got through: the approver approves, the requester requests.
ACTOR = {"slash_command": REQUESTER, "view_submission": REQUESTER, "click": APPROVER}
ACTOR |= {"confirmation": REQUESTER, "event": APPROVER}


# -- how it is spoiled --------------------------------------------------------------------------


def post(bot, body, headers):
    return httpx.post(bot.url, content=body, headers=headers, timeout=10)


def wrong_secret(bot, body, content_type):
    return post(bot, body, sign(body, secret="not-the-signing-secret", content_type=content_type))


def without(*names):
    def send(bot, body, content_type):
        headers = sign(body, secret=SIGNING_SECRET, content_type=content_type)
        return post(bot, body, {k: v for k, v in headers.items() if k not in names})

    return send


def signed_at(offset_seconds):
    def send(bot, body, content_type):
        timestamp = int(time.time()) + offset_seconds
        headers = sign(body, secret=SIGNING_SECRET, timestamp=timestamp, content_type=content_type)
        return post(bot, body, headers)

    return send


def version_v1(bot, body, content_type):
    headers = sign(body, secret=SIGNING_SECRET, content_type=content_type)
    headers["X-Slack-Signature"] = headers["X-Slack-Signature"].replace("v0=", "v1=", 1)
    return post(bot, body, headers)


def timestamp_not_a_number(bot, body, content_type):
    headers = sign(body, secret=SIGNING_SECRET, content_type=content_type)
    headers["X-Slack-Request-Timestamp"] = "soon"
    return post(bot, body, headers)


def signed_with_the_timestamp_changed(bot, body, content_type):
    # A captured request replayed later with a fresh timestamp: the signature covers it.
    headers = sign(
        body, secret=SIGNING_SECRET, timestamp=int(time.time()) - 600, content_type=content_type
    )
    headers["X-Slack-Request-Timestamp"] = str(int(time.time()))
    return post(bot, body, headers)


def empty_signature(bot, body, content_type):
    headers = sign(body, secret=SIGNING_SECRET, content_type=content_type)
    headers["X-Slack-Signature"] = ""
    return post(bot, body, headers)


TAMPERING = {
    "wrong_secret": wrong_secret,
    "no_signature": without("X-Slack-Signature"),
    "no_timestamp": without("X-Slack-Request-Timestamp"),
    "no_headers": without("X-Slack-Signature", "X-Slack-Request-Timestamp"),
    "empty_signature": empty_signature,
    "older_than_5_minutes": signed_at(-FIVE_MINUTES_SECONDS - 30),
    "more_than_5_minutes_ahead": signed_at(FIVE_MINUTES_SECONDS + 30),
    "v1_signature": version_v1,
    "timestamp_not_a_number": timestamp_not_a_number,
    "timestamp_replaced": signed_with_the_timestamp_changed,
}


def state(bot):
    """Everything a request could change, as plain values to compare before and after."""
    bot.wait()
    return {
        "requests": [(row.id, row.status, row.approver_id) for row in bot.requests()],
        "events": [(event.id, event.kind) for event in bot.events(None)],
        "slack_calls": len(bot.slack.calls),
        "response_posts": len(bot.slack.response_posts),
        "zoom": bot.zoom.raw_log(),
    }


def assert_refused_without_effect(bot, before, response, status):
    assert response.status_code == status, response.text
    assert state(bot) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tampering", TAMPERING)
def test_badly_signed_request_is_refused_without_effect(module_bot, kind, tampering):
    body, content_type = KINDS[kind](module_bot, ACTOR[kind])
    before = state(module_bot)

    response = TAMPERING[tampering](module_bot, body, content_type)

    assert_refused_without_effect(module_bot, before, response, 401)
    assert response.json() == {"error": "invalid request"}


@pytest.mark.parametrize("kind", KINDS)
def test_body_altered_after_signing_is_refused_without_effect(module_bot, kind):
    # Signed for someone allowed nothing, delivered with the acting user swapped in.
    signed_body, content_type = KINDS[kind](module_bot, OUTSIDER)
    altered_body = signed_body.replace(OUTSIDER.encode(), ACTOR[kind].encode())
    headers = sign(signed_body, secret=SIGNING_SECRET, content_type=content_type)
    before = state(module_bot)

    response = post(module_bot, altered_body, headers)

    assert altered_body != signed_body
    assert_refused_without_effect(module_bot, before, response, 401)


@pytest.mark.parametrize("kind", KINDS)
def test_one_byte_appended_after_signing_is_refused_without_effect(module_bot, kind):
    body, content_type = KINDS[kind](module_bot, ACTOR[kind])
    headers = sign(body, secret=SIGNING_SECRET, content_type=content_type)
    before = state(module_bot)

    response = post(module_bot, body + b" ", headers)

    assert_refused_without_effect(module_bot, before, response, 401)


def padded(body, content_type, size):
    """`body` grown to `size` bytes in a way that keeps it a well-formed payload."""
    if content_type.startswith("application/json"):
        envelope = json.loads(body)
        envelope["padding"] = ""
        grown = json.dumps(envelope).encode()
        envelope["padding"] = "x" * (size - len(grown))
        return json.dumps(envelope).encode()
    filler = b"&padding="
    return body + filler + b"x" * (size - len(body) - len(filler))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_oversized_body_is_refused_without_effect(module_bot, kind, signed):
    body, content_type = KINDS[kind](module_bot, ACTOR[kind])
    huge = padded(body, content_type, MAX_BODY_BYTES + 1)
    secret = SIGNING_SECRET if signed else "not-the-signing-secret"
    headers = sign(huge, secret=secret, content_type=content_type)
    before = state(module_bot)

    response = post(module_bot, huge, headers)

    assert len(huge) == MAX_BODY_BYTES + 1
    assert_refused_without_effect(module_bot, before, response, 400)
    assert response.json() == {"error": "body too large"}


def test_oversized_body_without_a_length_is_refused_without_effect(module_bot):
    # Chunked: no Content-Length for the size check; the body cannot be verified either.
    body, content_type = submission(module_bot, REQUESTER)
    huge = padded(body, content_type, MAX_BODY_BYTES + 1)
    headers = sign(huge, secret=SIGNING_SECRET, content_type=content_type)
    before = state(module_bot)

    response = post(module_bot, iter([huge[:1000], huge[1000:]]), headers)

    assert response.status_code in (400, 401), response.text
    assert state(module_bot) == before


# -- the controls: the same requests, correctly signed, do get through ---------------------------


def test_body_just_under_the_limit_with_a_good_signature_is_accepted(module_bot):
    body, content_type = slash(module_bot, REQUESTER)
    big = padded(body, content_type, MAX_BODY_BYTES)
    opened = len(module_bot.slack.calls_to("views.open"))

    response = post(module_bot, big, sign(big, secret=SIGNING_SECRET, content_type=content_type))
    module_bot.wait()

    assert response.status_code == 200, response.text
    assert len(module_bot.slack.calls_to("views.open")) == opened + 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_request_correctly_signed_has_an_effect(module_bot, kind):
    # OUTSIDER: accepted requests from them are refused by policy, and that refusal is visible.
    body, content_type = KINDS[kind](module_bot, OUTSIDER)
    before = state(module_bot)

    response = post(module_bot, body, sign(body, secret=SIGNING_SECRET, content_type=content_type))

    assert response.status_code == 200, response.text
    after = state(module_bot)
    assert after != before
    assert module_bot.request(module_bot.pending.id).status == "pending_approval"
    assert after["zoom"] == ""
