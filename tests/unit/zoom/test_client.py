"""ZoomClient + ZoomServerToServerAuth against ZoomSimulator over real HTTP on 127.0.0.1."""

import logging
import socket
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from jsonschema import Draft4Validator

from bot.zoom import (
    CreatedAccount,
    ZoomAccountTransferError,
    ZoomAuthError,
    ZoomClient,
    ZoomEmailDomainBlocked,
    ZoomEmailInUse,
    ZoomError,
    ZoomPasswordRejected,
    ZoomPermissionError,
    ZoomRateLimited,
    ZoomServerError,
    ZoomServerToServerAuth,
    ZoomTimeout,
    ZoomUnexpectedResponse,
    ZoomUnreachable,
    ZoomValidationError,
)
from sandbox.zoom_simulator import ZoomSimulator, account_create_schema

SECRET = "zoom-client-secret"


# -- helpers ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def account_body(email="jill@example.com", **overrides):
    body = {"first_name": "Jill", "last_name": "Chill", "email": email, "password": "Tr0ub4dor"}
    return {**body, **overrides}


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def fake():
    with ZoomSimulator() as server:
        yield server


@pytest.fixture
def token_client():
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_auth(fake, token_client):
    def make(**overrides):
        settings = {
            "account_id": fake.account_id,
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "oauth_url": fake.oauth_url,
            "token_client": token_client,
        }
        return ZoomServerToServerAuth(**{**settings, **overrides})

    return make


@pytest.fixture
def make_client(fake, make_auth, sleeps):
    clients = []

    def make(*, auth=None, api_url=None, read_timeout_seconds=5.0):
        client = ZoomClient(
            api_url=api_url or fake.api_url,
            auth=auth or make_auth(),
            timeout=httpx.Timeout(connect=2.0, read=read_timeout_seconds, write=2.0, pool=2.0),
            sleep=sleeps.append,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()


# -- success ---------------------------------------------------------------------------------


def test_created_account_is_parsed_from_the_201(fake, client):
    created = client.create_sub_account(account_body())

    stored = fake.created_accounts["jill@example.com"]
    assert created == CreatedAccount(
        id=stored["id"],
        owner_id=stored["owner_id"],
        owner_email="jill@example.com",
        created_at=stored["created_at"],
    )


def test_body_is_sent_as_json_and_validates_against_the_openapi_schema(fake, client):
    body = account_body(
        account_name="Chill Co",
        options={"share_mc": True, "meeting_connector_list": ["203.0.113.1"], "pay_mode": "sub"},
    )

    client.create_sub_account(body)

    [post] = fake.account_posts
    assert post.body == body
    assert post.headers["content-type"] == "application/json"
    assert "authorization" not in post.headers
    assert list(Draft4Validator(account_create_schema()).iter_errors(post.body)) == []
    assert fake.schema_errors == []


def test_fake_rejects_a_body_the_schema_forbids(fake, client):
    body = account_body(password="short", reason="needed for a demo")

    with pytest.raises(ZoomValidationError) as caught:
        client.create_sub_account(body)

    fields = {error.field for error in caught.value.field_errors}
    assert fields == {"password", "reason"}  # too short; `reason` is not a Zoom field
    assert len(fake.schema_errors) == 2
    assert fake.created_accounts == {}


# -- documented errors -----------------------------------------------------------------------


PASSWORD_REPEATS = 'Password should not contain repeated characters such as "aaaaaa".'
SCOPES_MISSING = "Invalid access token, does not contain scopes."
DOCUMENTED_ERRORS = [  # (HTTP status, Zoom code, Zoom message), expected class
    pytest.param((400, 1111, PASSWORD_REPEATS), ZoomPasswordRejected, id="400/1111"),
    pytest.param((400, 11105, "Transfer token expired."), ZoomAccountTransferError, id="11105"),
    pytest.param((400, 200, "No permission."), ZoomPermissionError, id="400/200"),
    pytest.param((200, 200, "No permission."), ZoomPermissionError, id="200/200"),
    pytest.param((400, 4711, SCOPES_MISSING), ZoomAuthError, id="400/4711"),
    pytest.param((418, 9999, "Something new."), ZoomUnexpectedResponse, id="418/9999"),
]


@pytest.mark.parametrize(("answer", "error_class"), DOCUMENTED_ERRORS)
def test_documented_error_maps_to_its_class(fake, client, answer, error_class):
    status, code, message = answer
    fake.queue_response(status, {"code": code, "message": message})

    with pytest.raises(ZoomError) as caught:
        client.create_sub_account(account_body())

    error = caught.value
    assert type(error) is error_class
    assert (error.http_status, error.zoom_code, error.zoom_message) == (status, code, message)
    assert error.outcome_known is True
    assert len(fake.account_posts) == 1
    assert len(fake.token_requests) == 1  # no refresh for anything but 401/124


def test_validation_error_carries_zoom_field_messages(fake, client):
    errors = [{"field": "first_name", "message": "contains special character(s)"}]
    fake.queue_response(400, {"code": 300, "message": "Validation Failed.", "errors": errors})

    with pytest.raises(ZoomValidationError) as caught:
        client.create_sub_account(account_body())

    assert (caught.value.http_status, caught.value.zoom_code) == (400, 300)
    assert caught.value.zoom_message == "Validation Failed."
    assert "first_name: contains special character(s)" in caught.value.plain_words()
    assert "was not created" in caught.value.plain_words()


def test_name_with_an_invalid_word_is_a_validation_error(fake, client):
    fake.invalid_words.add("bogus")

    with pytest.raises(ZoomValidationError) as caught:
        client.create_sub_account(account_body(last_name="Bogusson"))

    assert (caught.value.http_status, caught.value.zoom_code) == (400, 300)
    assert caught.value.zoom_message.endswith("the name contains an invalid word: bogus")
    assert "a name contains a word Zoom does not allow" in caught.value.plain_words()


def test_blocked_email_domain(fake, client):
    fake.blocked_domains.add("example.com")

    with pytest.raises(ZoomEmailDomainBlocked) as caught:
        client.create_sub_account(account_body())

    assert (caught.value.http_status, caught.value.zoom_code) == (400, 1107)
    assert caught.value.zoom_message == "Email domain is blocked."


def test_email_already_used(fake, client):
    client.create_sub_account(account_body())

    with pytest.raises(ZoomEmailInUse) as caught:
        client.create_sub_account(account_body(first_name="Other"))

    assert (caught.value.http_status, caught.value.zoom_code) == (409, 1005)
    assert caught.value.zoom_message == 'Email "jill@example.com" has already been used.'
    assert len(fake.account_posts) == 2


def test_error_text_follows_a_redacted_zoom_message(fake, client):
    fake.queue_response(400, {"code": 300, "message": "Bad value Tr0ub4dor"})
    with pytest.raises(ZoomValidationError) as caught:
        client.create_sub_account(account_body())

    caught.value.zoom_message = caught.value.zoom_message.replace("Tr0ub4dor", "[redacted]")

    assert str(caught.value) == "HTTP 400, Zoom code 300: Bad value [redacted]"
    assert "Tr0ub4dor" not in repr(caught.value)


def test_unparseable_2xx_leaves_the_outcome_unknown(fake, client):
    fake.queue_response(201, {"owner_email": "jill@example.com"})

    with pytest.raises(ZoomUnexpectedResponse) as caught:
        client.create_sub_account(account_body())

    assert caught.value.outcome_known is False
    assert "may or may not have been created" in caught.value.plain_words()


# -- token lifecycle -------------------------------------------------------------------------


def test_token_request_uses_basic_auth_and_a_form_body(fake, client):
    client.create_sub_account(account_body())

    [request] = fake.token_requests
    assert request.client_id == "zoom-client-id"
    assert request.credentials_ok is True
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form == {"grant_type": "account_credentials", "account_id": "acct-1"}
    assert request.query == {}


def test_token_is_cached_across_calls(fake, client):
    for number in range(3):
        client.create_sub_account(account_body(email=f"user{number}@example.com"))

    assert len(fake.token_requests) == 1
    assert len(fake.created_accounts) == 3


def test_token_is_renewed_shortly_before_it_expires(fake, make_auth, make_client):
    clock = FakeClock()
    client = make_client(auth=make_auth(clock=clock, refresh_margin_seconds=120))
    client.create_sub_account(account_body(email="a@example.com"))

    clock.now += 3600 - 120 - 1
    client.create_sub_account(account_body(email="b@example.com"))
    assert len(fake.token_requests) == 1

    clock.now += 2
    client.create_sub_account(account_body(email="c@example.com"))
    assert len(fake.token_requests) == 2


def test_concurrent_first_calls_mint_one_token(fake, client):
    fake.token_delay_seconds = 0.2  # widen the window in which threads would race
    start = threading.Barrier(5)
    failures = []

    def create(number):
        start.wait()
        try:
            client.create_sub_account(account_body(email=f"t{number}@example.com"))
        except ZoomError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert failures == []
    assert len(fake.token_requests) == 1
    assert len(fake.created_accounts) == 5


def test_invalid_token_is_refreshed_once_and_the_post_replayed_once(fake, client):
    fake.queue_response(401, {"code": 124, "message": "Invalid access token."})

    created = client.create_sub_account(account_body())

    assert created.owner_email == "jill@example.com"
    assert len(fake.token_requests) == 2
    assert len(fake.account_posts) == 2
    assert fake.account_posts[0].body == fake.account_posts[1].body


def test_token_expired_by_zoom_is_replaced(fake, client):
    client.create_sub_account(account_body(email="a@example.com"))
    fake.expire_tokens()

    client.create_sub_account(account_body(email="b@example.com"))

    assert len(fake.token_requests) == 2
    assert len(fake.account_posts) == 3  # a, b rejected with 401/124, b replayed
    assert set(fake.created_accounts) == {"a@example.com", "b@example.com"}


def test_401_without_a_readable_body_also_refreshes(fake, client):
    fake.queue_response(401)

    client.create_sub_account(account_body())

    assert len(fake.token_requests) == 2
    assert len(fake.account_posts) == 2


def test_persistent_401_is_an_auth_error_after_exactly_two_posts(fake, client):
    fake.queue_response(401, {"code": 124, "message": "Invalid access token."})
    fake.queue_response(401, {"code": 124, "message": "Invalid access token."})

    with pytest.raises(ZoomAuthError) as caught:
        client.create_sub_account(account_body())

    assert (caught.value.http_status, caught.value.zoom_code) == (401, 124)
    assert caught.value.outcome_known is True
    assert len(fake.account_posts) == 2
    assert len(fake.token_requests) == 2


def test_refused_credentials_are_an_auth_error(fake, make_auth, make_client):
    client = make_client(auth=make_auth(client_secret="wrong-secret"))

    with pytest.raises(ZoomAuthError) as caught:
        client.create_sub_account(account_body())

    assert caught.value.http_status == 401
    assert caught.value.zoom_message == "Invalid client_id or client_secret"
    assert "account:master" in caught.value.plain_words()
    assert fake.account_posts == []


def test_failing_token_endpoint_is_not_blamed_on_the_credentials(fake, client):
    fake.queue_token_response(503, {"reason": "Service unavailable", "error": "server_error"})

    with pytest.raises(ZoomAuthError) as caught:
        client.create_sub_account(account_body())

    assert caught.value.http_status == 503
    assert "sign-in service failed" in caught.value.plain_words()
    assert caught.value.outcome_known is True
    assert fake.account_posts == []


def test_unreachable_token_endpoint_is_unreachable(fake, make_auth, make_client):
    client = make_client(auth=make_auth(oauth_url=f"{closed_port_url()}/oauth/token"))

    with pytest.raises(ZoomUnreachable) as caught:
        client.create_sub_account(account_body())

    assert caught.value.outcome_known is True
    assert fake.account_posts == []


# -- rate limits and failures that must not be re-sent ---------------------------------------


def test_429_honours_retry_after_seconds_then_succeeds(fake, client, sleeps):
    fake.queue_response(429, {"code": 429, "message": "Too many requests."}, {"Retry-After": "1"})

    created = client.create_sub_account(account_body())

    assert created.owner_email == "jill@example.com"
    assert sleeps == [1.0]
    assert len(fake.account_posts) == 2


def test_429_honours_an_iso_8601_retry_after(fake, client, sleeps):
    retry_at = (datetime.now(UTC) + timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    fake.queue_response(
        429, {"code": 429, "message": "Too many requests."}, {"Retry-After": retry_at}
    )

    client.create_sub_account(account_body())

    [wait] = sleeps
    assert 3.0 < wait <= 5.0


def test_429_forever_gives_up_after_bounded_retries_with_backoff(fake, client, sleeps):
    for _ in range(10):
        fake.queue_response(429, {"code": 429, "message": "Too many requests."})

    with pytest.raises(ZoomRateLimited) as caught:
        client.create_sub_account(account_body())

    assert (caught.value.http_status, caught.value.zoom_code) == (429, 429)
    assert caught.value.outcome_known is True
    assert len(fake.account_posts) == 4  # the first try and 3 retries
    assert len(sleeps) == 3
    assert 0.375 <= sleeps[0] <= 0.5
    assert 0.75 <= sleeps[1] <= 1.0
    assert 1.5 <= sleeps[2] <= 2.0


def test_retry_after_beyond_the_max_wait_gives_up_at_once(fake, client, sleeps):
    headers = {"Retry-After": "3600", "X-RateLimit-Type": "Daily-limit"}
    fake.queue_response(429, {"code": 429, "message": "Daily limit reached."}, headers)

    with pytest.raises(ZoomRateLimited) as caught:
        client.create_sub_account(account_body())

    assert sleeps == []
    assert len(fake.account_posts) == 1
    assert caught.value.rate_limit_type == "Daily-limit"
    assert "daily" in caught.value.plain_words()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_a_server_error_with_unknown_outcome_and_is_not_resent(fake, client, sleeps, status):
    fake.queue_response(status, {"code": status, "message": "Internal error."})

    with pytest.raises(ZoomServerError) as caught:
        client.create_sub_account(account_body())

    assert caught.value.http_status == status
    assert caught.value.outcome_known is False
    assert "may or may not have been created" in caught.value.plain_words()
    assert len(fake.account_posts) == 1
    assert sleeps == []


def test_read_timeout_is_a_timeout_with_unknown_outcome_and_is_not_resent(
    fake, make_client, sleeps
):
    client = make_client(read_timeout_seconds=0.2)
    fake.delay_seconds = 1.0

    with pytest.raises(ZoomTimeout) as caught:
        client.create_sub_account(account_body())

    assert caught.value.outcome_known is False
    assert caught.value.http_status is None
    assert len(fake.account_posts) == 1
    assert sleeps == []
    # The reason a timeout is never re-sent: Zoom did create the account.
    fake.delay_seconds = 0.0
    assert [a["owner_email"] for a in client.find_sub_accounts("jill@example.com")] == [
        "jill@example.com"
    ]


def test_connection_refused_is_unreachable_after_bounded_retries(fake, make_client, sleeps):
    client = make_client(api_url=f"{closed_port_url()}/v2")

    with pytest.raises(ZoomUnreachable) as caught:
        client.create_sub_account(account_body())

    assert caught.value.outcome_known is True
    assert caught.value.http_status is None
    assert len(sleeps) == 3
    assert "was not created" in caught.value.plain_words()


# -- lookups ---------------------------------------------------------------------------------


def test_find_sub_accounts_follows_next_page_token(fake, client):
    fake.max_page_size = 2
    seeded = [fake.seed_account("dup@example.com", account_name=f"n{n}") for n in range(3)]
    fake.seed_account("other@example.com")

    found = client.find_sub_accounts("dup@example.com")

    assert [account["id"] for account in found] == [account["id"] for account in seeded]
    assert [query.get("next_page_token") for query in fake.account_lists] == [None, "2"]
    assert {query["page_size"] for query in fake.account_lists} == {"300"}
    assert {query["email"] for query in fake.account_lists} == {"dup@example.com"}


def test_find_sub_accounts_is_empty_for_an_unknown_email(fake, client):
    client.create_sub_account(account_body())

    assert client.find_sub_accounts("nobody@example.com") == []


# -- secrets ---------------------------------------------------------------------------------


def failures_from_every_path(fake, make_auth, make_client):
    client = make_client()
    errors = []
    invalid_token = (401, {"code": 124, "message": "Invalid access token."})
    scenarios = [
        [invalid_token, invalid_token],
        [(500, {"code": 500, "message": "Internal error."})],
        [(429, {"code": 429, "message": "Too many requests."})],
    ]
    for answers in scenarios:
        for status, body in answers:
            fake.queue_response(status, body, {"Retry-After": "9999"})
        with pytest.raises(ZoomError) as caught:
            client.create_sub_account(account_body())
        errors.append(caught.value)
    fake.delay_seconds = 1.0
    with pytest.raises(ZoomTimeout) as caught:
        make_client(read_timeout_seconds=0.2).create_sub_account(account_body())
    errors.append(caught.value)
    with pytest.raises(ZoomAuthError) as caught:
        make_client(auth=make_auth(client_id="wrong-id")).create_sub_account(account_body())
    errors.append(caught.value)
    return errors


def test_secret_and_tokens_never_appear_in_errors_or_logs(fake, make_auth, make_client, caplog):
    caplog.set_level(logging.DEBUG)

    errors = failures_from_every_path(fake, make_auth, make_client)

    secrets = [SECRET, *fake.issued_tokens]
    assert [type(error) for error in errors] == [
        ZoomAuthError,
        ZoomServerError,
        ZoomRateLimited,
        ZoomTimeout,
        ZoomAuthError,
    ]
    assert len(fake.issued_tokens) >= 2
    for error in errors:
        shown = [str(error), repr(error), error.plain_words(), str(error.__cause__)]
        assert not [secret for secret in secrets for text in shown if secret in text]
    assert not [secret for secret in secrets if secret in caplog.text]
    assert SECRET not in repr(make_auth())
    # The fake saw what was sent; the password went to Zoom, the client secret never in a body.
    assert "Tr0ub4dor" in fake.raw_log()
    assert SECRET not in fake.raw_log()
