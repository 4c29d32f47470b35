"""The Slack emulator failing as real Slack fails real apps, and reading its workspace back as
Slack's API does: HTTP 429 with Retry-After (asked for, per-channel limit, random), 5xx from the
edge before or after acting, answers lost or held back after Slack acted, `Connection: close`,
`ok: false` error codes; message metadata, conversations.history / replies, reactions.get; and
events Slack never delivers. Driven through the real slack_sdk WebClient over loopback HTTP.
"""

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sandbox.slack_emulator import SlackCall, SlackEmulator
from sandbox.slack_faults import EDGE_ERROR_TEXT, ChannelBuckets
from sandbox.workspace import Outcome, Workspace

BOT, ANN, BEN = "UZOOMBOT", "UANN0001", "UBEN0001"
CHANNEL, OTHER = "CAPPROVALS", "CREQUESTS"
META = {"event_type": "zoombot_delivery", "event_payload": {"delivery_id": "d-1", "attempt": 1}}
# Socket-level failures slack_sdk's urllib client raises when the answer never comes.
NO_ANSWER = (ConnectionError, http.client.HTTPException, URLError, TimeoutError)


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_user_id=BOT) as emulator:
        emulator.add_user(BOT, name="zoombot")
        emulator.add_user(ANN, email="ann@example.org", name="Ann Archer")
        emulator.add_user(BEN, email="ben@example.org", name="Ben Baker")
        emulator.add_channel(CHANNEL, "zoom-approvals")
        emulator.add_channel(OTHER, "zoom-requests")
        yield emulator


def _client(slack: SlackEmulator, timeout: float = 10, **options) -> WebClient:
    """No retry handlers unless given: each fault reaches the test as the bot's client sees it."""
    options.setdefault("retry_handlers", [])
    return WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=timeout, **options)


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return _client(slack)


def _api_failure(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


def _history(client: WebClient, channel: str = CHANNEL, **params) -> list[dict]:
    return client.conversations_history(channel=channel, include_all_metadata=True, **params)[
        "messages"
    ]


def _texts(messages: list[dict]) -> list[str]:
    return [message["text"] for message in messages]


def _answered(slack: SlackEmulator, method: str = "chat.postMessage") -> list[str]:
    return [call.answered for call in slack.calls_to(method)]


# -- defaults ------------------------------------------------------------------------------------


def test_without_faults_every_call_is_answered_ok_and_the_connection_kept(slack, client):
    connection = http.client.HTTPConnection("127.0.0.1", int(slack.origin.rsplit(":", 1)[1]))
    headers = {"Authorization": f"Bearer {slack.bot_token}", "Content-Type": "application/json"}
    for text in ("a", "b"):
        connection.request(
            "POST", "/api/chat.postMessage", json.dumps({"channel": CHANNEL, "text": text}), headers
        )
        response = connection.getresponse()
        assert (response.status, response.getheader("Connection")) == (200, None)
        assert json.loads(response.read())["ok"] is True
    connection.close()

    assert _answered(slack) == ["ok", "ok"]
    assert (slack.rate_limited_count(), slack.faults_given()) == (0, {})


def test_a_slack_call_built_without_answered_defaults_to_ok():
    assert SlackCall(method="auth.test", params={}, at=0.0).answered == "ok"


# -- 429 -----------------------------------------------------------------------------------------


def test_rate_limit_next_answers_429_with_retry_after_and_posts_nothing(slack, client):
    slack.rate_limit_next("chat.postMessage", retry_after=2.5)

    failure = _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="lost?"))
    client.chat_postMessage(channel=CHANNEL, text="second")

    assert failure.response.status_code == 429
    assert failure.response.headers["Retry-After"] == "3"  # rounded up
    assert failure.response["error"] == "ratelimited"
    assert _texts(_history(client)) == ["second"]
    assert _answered(slack) == ["429", "ok"]
    assert slack.rate_limited_count("chat.postMessage") == slack.rate_limited_count() == 1


def test_rate_limit_for_one_channel_spares_the_others(slack, client):
    slack.rate_limit_next("chat.postMessage", times=2, channel=CHANNEL)

    client.chat_postMessage(channel=OTHER, text="elsewhere")
    first = _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="x"))
    second = _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="y"))
    client.chat_postMessage(channel=CHANNEL, text="z")

    assert (first.response.status_code, second.response.status_code) == (429, 429)
    assert first.response.headers["Retry-After"] == "1"
    assert _texts(_history(client)) == ["z"]
    assert _texts(_history(client, OTHER)) == ["elsewhere"]


def test_slack_sdks_rate_limit_handler_waits_retry_after_then_posts_once(slack):
    client = _client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    slack.rate_limit_next("chat.postMessage", retry_after=1)

    client.chat_postMessage(channel=CHANNEL, text="after the wait")

    assert _answered(slack) == ["429", "ok"]
    assert _texts(_history(client)) == ["after the wait"]


def test_channel_limit_allows_a_burst_then_answers_429_until_a_token_returns(slack, client):
    # One token per 2 s: four quick posts cannot earn a second token on any machine.
    slack.limit_channel_posts(per_second=0.5, burst=3)

    for text in ("1", "2", "3"):
        client.chat_postMessage(channel=CHANNEL, text=text)
    parent = _history(client)[0]["ts"]
    refused = _api_failure(
        lambda: client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent)
    )
    client.chat_postMessage(channel=OTHER, text="another channel has its own bucket")
    time.sleep(int(refused.response.headers["Retry-After"]))
    client.chat_postMessage(channel=CHANNEL, text="4")

    assert refused.response.status_code == 429
    assert refused.response.headers["Retry-After"] in ("1", "2")  # 2 unless the posts took 1 s
    assert _texts(_history(client)) == ["4", "3", "2", "1"]
    assert _answered(slack) == ["ok", "ok", "ok", "429", "ok", "ok"]
    assert slack.rate_limited_count("chat.postMessage") == 1


def test_channel_limit_is_off_by_default_and_can_be_turned_off(slack, client):
    for text in "abcde":
        client.chat_postMessage(channel=CHANNEL, text=text)
    slack.limit_channel_posts(per_second=0.01, burst=1)
    client.chat_postMessage(channel=CHANNEL, text="f")
    _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="g"))
    slack.limit_channel_posts(None)
    client.chat_postMessage(channel=CHANNEL, text="h")

    assert _texts(_history(client)) == ["h", "f", "e", "d", "c", "b", "a"]
    assert slack.rate_limited_count() == 1


def test_channel_bucket_refills_at_per_second_up_to_burst():
    now = [100.0]
    buckets = ChannelBuckets(per_second=2, burst=3, clock=lambda: now[0])

    burst = [buckets.take("C1") for _ in range(4)]
    now[0] += 0.5  # one token back
    after_half_second = [buckets.take("C1"), buckets.take("C1")]
    now[0] += 60  # refills, but never past the burst
    after_a_minute = [buckets.take("C1") for _ in range(4)]

    assert burst == [0, 0, 0, 1]
    assert after_half_second == [0, 1]
    assert after_a_minute == [0, 0, 0, 1]
    assert buckets.take("C2") == 0


def test_channel_bucket_retry_after_rounds_the_wait_up():
    buckets = ChannelBuckets(per_second=0.25, burst=1, clock=lambda: 0.0)

    assert [buckets.take("C1"), buckets.take("C1")] == [0, 4]


# -- 5xx and ok:false ------------------------------------------------------------------------------


def test_server_error_answers_the_edges_text_and_posts_nothing(slack, client):
    slack.server_error_next("chat.postMessage")

    failure = _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="x"))

    assert failure.response.status_code == 503
    assert EDGE_ERROR_TEXT in failure.response["error"]  # slack_sdk could not parse it
    assert _history(client) == []
    assert _answered(slack) == ["503"]
    assert slack.faults_given() == {"503": 1}


def test_server_error_after_acting_posts_the_message_anyway(slack, client):
    slack.server_error_next("chat.postMessage", status=500, acted=True, body='{"ok": false}')

    failure = _api_failure(
        lambda: client.chat_postMessage(channel=CHANNEL, text="posted", metadata=META)
    )

    assert failure.response.status_code == 500
    assert failure.response.headers["Content-Type"].startswith("application/json")
    assert [item["text"] for item in slack.messages_with_metadata("zoombot_delivery")] == ["posted"]


def test_server_error_next_takes_only_5xx(slack):
    with pytest.raises(ValueError, match="5xx"):
        slack.server_error_next("chat.postMessage", status=429)


@pytest.mark.parametrize(
    "code",
    [
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "msg_too_long",
        "internal_error",
    ],
)
def test_fail_next_answers_any_error_code_with_http_200_and_no_effect(slack, client, code):
    slack.fail_next("chat.postMessage", code)

    failure = _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="x"))

    assert (failure.response.status_code, failure.response["error"]) == (200, code)
    assert _history(client) == []
    assert _answered(slack) == [f"error:{code}"]


# -- lost and late answers -----------------------------------------------------------------------


def test_lost_answer_leaves_the_message_posted_with_its_metadata(slack, client):
    slack.lose_answer_next("chat.postMessage")

    with pytest.raises(NO_ANSWER):
        client.chat_postMessage(channel=CHANNEL, text="did it land?", metadata=META)
    client.auth_test()  # the emulator keeps serving

    (message,) = _history(client)
    assert (message["text"], message["metadata"]) == ("did it land?", META)
    assert _answered(slack) == ["lost"]
    assert slack.faults_given() == {"lost_after_acting": 1}


def test_the_server_writes_no_byte_of_a_lost_answer(slack):
    slack.lose_answer_next("auth.test")
    with socket.create_connection(("127.0.0.1", int(slack.origin.rsplit(":", 1)[1])), 10) as raw:
        raw.sendall(b"POST /api/auth.test HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        received = raw.recv(1024)

    assert received == b""
    assert _answered(slack, "auth.test") == ["lost"]


def test_slack_sdks_default_retry_posts_a_lost_message_twice(slack):
    default_client = WebClient(token=slack.bot_token, base_url=slack.base_url, timeout=10)
    slack.lose_answer_next("chat.postMessage")

    default_client.chat_postMessage(channel=CHANNEL, text="twice")

    assert _texts(_history(default_client)) == ["twice", "twice"]
    assert _answered(slack) == ["lost", "ok"]


def test_stalled_answer_times_the_client_out_after_slack_acted(slack):
    impatient = _client(slack, timeout=0.5)
    slack.stall_next("chat.postMessage", seconds=30)

    with pytest.raises(NO_ANSWER):
        impatient.chat_postMessage(channel=CHANNEL, text="acted", metadata=META)

    assert _texts(_history(_client(slack))) == ["acted"]
    assert _answered(slack) == ["stalled"]


def test_stalled_answer_arrives_complete_for_a_patient_client(slack, client):
    slack.stall_next("chat.postMessage", seconds=0.2)

    answer = client.chat_postMessage(channel=CHANNEL, text="slow")

    assert answer["ok"] is True
    assert answer["message"]["text"] == "slow"


def test_a_stall_before_acting_leaves_nothing_done_when_the_client_gives_up(slack):
    impatient = _client(slack, timeout=0.5)
    slack.stall_next("chat.postMessage", seconds=30, acted=False)

    with pytest.raises(NO_ANSWER):
        impatient.chat_postMessage(channel=CHANNEL, text="not yet")

    assert _history(_client(slack)) == []


def test_close_cuts_stalls_short_and_a_call_waiting_to_act_never_acts():
    slack = SlackEmulator()
    slack.stall_next("auth.test", seconds=120)
    slack.stall_next("users.info", seconds=120, acted=False)
    calls = [
        threading.Thread(target=_ignore_failure, args=(_client(slack, timeout=200).auth_test,)),
        threading.Thread(
            target=_ignore_failure, args=(lambda: _client(slack, timeout=200).users_info(user=ANN),)
        ),
    ]
    for call in calls:
        call.start()
    both_waiting = {"timeout_after_acting": 1, "slow": 1}
    assert _eventually(lambda: slack.faults_given() == both_waiting), slack.faults_given()

    started = time.monotonic()
    slack.close()
    for call in calls:
        call.join(timeout=60)

    assert time.monotonic() - started < 30  # far below the 120 s stalls
    assert not any(call.is_alive() for call in calls)
    # Released at once by close(), the waiting call is recorded, never having acted.
    assert _eventually(lambda: _answered(slack, "users.info") == ["lost"])
    assert _answered(slack, "auth.test") == ["stalled"]


def _eventually(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _ignore_failure(call) -> None:
    try:
        call()
    except (*NO_ANSWER, SlackApiError):
        return


# -- Connection: close ---------------------------------------------------------------------------


def _raw_call(raw: socket.socket, token: str) -> bytes:
    """One auth.test on a kept-alive socket: the whole response, headers and body."""
    raw.sendall(
        f"POST /api/auth.test HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Length: 0\r\n\r\n".encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        received += raw.recv(4096)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += raw.recv(4096)
    return head + b"\r\n\r\n" + body


def test_every_nth_response_closes_the_connection_after_a_complete_answer(slack, client):
    slack.close_connection_every(2)
    with socket.create_connection(("127.0.0.1", int(slack.origin.rsplit(":", 1)[1])), 10) as raw:
        first = _raw_call(raw, slack.bot_token)
        second = _raw_call(raw, slack.bot_token)
        after = raw.recv(1024)

    assert b"connection: close" not in first.lower()
    assert b"connection: close" in second.lower()
    assert json.loads(second.partition(b"\r\n\r\n")[2])["user_id"] == BOT
    assert after == b""  # the server hung up once the answer was written
    assert client.auth_test()["ok"] is True  # a new connection works


def test_connection_close_can_be_turned_off(slack):
    slack.close_connection_every(1)
    slack.close_connection_every(None)
    with socket.create_connection(("127.0.0.1", int(slack.origin.rsplit(":", 1)[1])), 10) as raw:
        answers = [_raw_call(raw, slack.bot_token) for _ in range(3)]

    assert all(b"connection: close" not in answer.lower() for answer in answers)


# -- random chaos ----------------------------------------------------------------------------------


def _post_many(slack: SlackEmulator, count: int) -> None:
    client = _client(slack)
    for number in range(count):
        try:
            client.chat_postMessage(channel=CHANNEL, text=str(number))
        except (*NO_ANSWER, SlackApiError):
            continue


def test_random_faults_are_counted_by_kind_and_only_acting_kinds_post(slack, client):
    slack.random_faults(0.6, seed=7, stall_seconds=0.05)

    _post_many(slack, 40)
    slack.random_faults(0)

    answered = _answered(slack)
    given = slack.faults_given()
    assert sum(given.values()) == sum(label != "ok" for label in answered) > 0
    assert given.get("429", 0) == answered.count("429") == slack.rate_limited_count()
    assert given.get("503", 0) == answered.count("503")
    assert given.get("timeout_after_acting", 0) == answered.count("stalled")
    assert given.get("lost_after_acting", 0) == answered.count("lost")
    assert len(given) == 4  # 40 calls at 60 %: every kind came up with this seed
    posted = [
        call.params["text"]
        for call in slack.calls_to("chat.postMessage")
        if call.answered in ("ok", "stalled", "lost")
    ]
    assert _texts(_history(client))[::-1] == posted


def test_random_faults_repeat_with_a_seed():
    sequences = []
    for _ in range(2):
        with SlackEmulator() as slack:
            slack.random_faults(0.5, kinds=("429", "503"), seed=3)
            _post_many(slack, 20)
            sequences.append(_answered(slack))

    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {"ok", "429", "503"}


def test_random_faults_spare_auth_test_and_unlisted_methods_and_turn_off(slack, client):
    slack.random_faults(1.0, kinds=("429",), methods={"chat.postMessage", "auth.test"})

    client.auth_test()
    client.users_info(user=ANN)
    _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="x"))
    slack.random_faults(0)
    client.chat_postMessage(channel=CHANNEL, text="y")

    assert [(call.method, call.answered) for call in slack.calls] == [
        ("auth.test", "ok"),
        ("users.info", "ok"),
        ("chat.postMessage", "429"),
        ("chat.postMessage", "ok"),
    ]


def test_random_faults_refuse_unknown_kinds(slack):
    with pytest.raises(ValueError, match="kinds"):
        slack.random_faults(0.5, kinds=("meteor",))


# -- metadata and history --------------------------------------------------------------------------


def test_metadata_is_stored_from_json_and_from_a_form_encoded_string(slack, client):
    client.chat_postMessage(channel=CHANNEL, text="json", metadata=META)
    form = {"channel": CHANNEL, "text": "form", "metadata": json.dumps(META)}
    client.api_call("chat.postMessage", data=form)

    assert [item["text"] for item in slack.messages_with_metadata("zoombot_delivery")] == [
        "json",
        "form",
    ]
    assert all(message["metadata"] == META for message in _history(client))


def test_history_shows_metadata_only_when_asked(slack, client):
    client.chat_postMessage(channel=CHANNEL, text="with", metadata=META)
    client.chat_postMessage(channel=CHANNEL, text="without")

    plain = client.conversations_history(channel=CHANNEL)["messages"]
    full = _history(client)

    assert all("metadata" not in message for message in plain)
    assert [message.get("metadata") for message in full] == [None, META]


def test_malformed_metadata_is_refused_and_posts_nothing(slack, client):
    bad = {"event_type": "x", "event_payload": "not an object"}

    failure = _api_failure(lambda: client.chat_postMessage(channel=CHANNEL, text="x", metadata=bad))

    assert failure.response["error"] == "invalid_metadata_format"
    assert _history(client) == []


def test_metadata_survives_a_restart(tmp_path):
    state = tmp_path / "slack.json"
    with SlackEmulator(state_path=state) as first:
        first.add_channel(CHANNEL, "zoom-approvals")
        _client(first).chat_postMessage(channel=CHANNEL, text="kept", metadata=META)

    with SlackEmulator(state_path=state) as second:
        (found,) = second.messages_with_metadata("zoombot_delivery")
        (shown,) = _history(_client(second))

    assert (found["channel"], found["text"], found["metadata"]) == (CHANNEL, "kept", META)
    assert shown["metadata"] == META


def test_history_is_newest_first_in_pages_with_a_cursor(slack, client):
    for number in range(5):
        client.chat_postMessage(channel=CHANNEL, text=str(number))

    first = client.conversations_history(channel=CHANNEL, limit=2)
    second = client.conversations_history(
        channel=CHANNEL, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    third = client.conversations_history(
        channel=CHANNEL, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )

    assert [_texts(page["messages"]) for page in (first, second, third)] == [
        ["4", "3"],
        ["2", "1"],
        ["0"],
    ]
    assert (first["has_more"], second["has_more"], third["has_more"]) == (True, True, False)
    assert "response_metadata" not in third.data


def test_history_reads_oldest_latest_and_inclusive(slack, client):
    stamps = [client.chat_postMessage(channel=CHANNEL, text=str(n))["ts"] for n in range(4)]

    between = client.conversations_history(channel=CHANNEL, oldest=stamps[0], latest=stamps[3])
    inclusive = client.conversations_history(
        channel=CHANNEL, oldest=stamps[1], latest=stamps[2], inclusive=True
    )

    assert _texts(between["messages"]) == ["2", "1"]
    assert _texts(inclusive["messages"]) == ["2", "1"]


def test_history_lists_threads_by_their_parent_and_broadcast_replies(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    client.chat_postMessage(channel=CHANNEL, text="quiet reply", thread_ts=parent)
    client.chat_postMessage(
        channel=CHANNEL, text="loud reply", thread_ts=parent, reply_broadcast=True
    )

    messages = client.conversations_history(channel=CHANNEL)["messages"]

    assert _texts(messages) == ["loud reply", "parent"]
    loud, shown_parent = messages
    assert (shown_parent["thread_ts"], shown_parent["reply_count"]) == (parent, 2)
    assert (shown_parent["user"], shown_parent["bot_id"], shown_parent["type"]) == (
        BOT,
        "B0001",
        "message",
    )
    assert (loud["thread_ts"], loud["subtype"]) == (parent, "thread_broadcast")


def test_history_of_an_unknown_channel_is_channel_not_found(client):
    failure = _api_failure(lambda: client.conversations_history(channel="CNOPE"))

    assert failure.response["error"] == "channel_not_found"


def test_history_of_a_dm_lists_what_was_posted_to_the_person(slack, client):
    dm = client.conversations_open(users=ANN)["channel"]["id"]
    empty = client.conversations_history(channel=dm)["messages"]
    posted = client.chat_postMessage(channel=ANN, text="to ann by user id", metadata=META)
    client.chat_postMessage(channel=dm, text="to ann by dm id")

    assert empty == []
    assert posted["channel"] == dm
    assert _texts(_history(client, dm)) == ["to ann by dm id", "to ann by user id"]


def test_replies_list_the_parent_then_replies_oldest_first_in_pages(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent", metadata=META)["ts"]
    for number in range(3):
        client.chat_postMessage(channel=CHANNEL, text=f"r{number}", thread_ts=parent)

    whole = client.conversations_replies(channel=CHANNEL, ts=parent, include_all_metadata=True)
    first = client.conversations_replies(channel=CHANNEL, ts=parent, limit=2)
    rest = client.conversations_replies(
        channel=CHANNEL, ts=parent, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    reply_ts = whole["messages"][2]["ts"]
    from_reply = client.conversations_replies(channel=CHANNEL, ts=reply_ts)

    assert _texts(whole["messages"]) == ["parent", "r0", "r1", "r2"]
    assert whole["messages"][0]["metadata"] == META
    assert whole["messages"][0]["reply_count"] == 3
    assert {message["thread_ts"] for message in whole["messages"]} == {parent}
    assert (_texts(first["messages"]), first["has_more"]) == (["parent", "r0"], True)
    assert (_texts(rest["messages"]), rest["has_more"]) == (["r1", "r2"], False)
    assert _texts(from_reply["messages"]) == ["parent", "r0", "r1", "r2"]


def test_replies_refuse_unknown_threads_and_channels(slack, client):
    client.chat_postMessage(channel=CHANNEL, text="x")

    no_thread = _api_failure(lambda: client.conversations_replies(channel=CHANNEL, ts="1.000001"))
    no_channel = _api_failure(lambda: client.conversations_replies(channel="CNOPE", ts="1.000001"))

    assert (no_thread.response["error"], no_channel.response["error"]) == (
        "thread_not_found",
        "channel_not_found",
    )


def test_channel_messages_carry_metadata_replies_included(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="parent")["ts"]
    client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent, metadata=META)

    (shown,) = slack.channel_messages(CHANNEL)
    (found,) = slack.messages_with_metadata("zoombot_delivery")

    assert (shown["text"], shown["metadata"]) == ("parent", None)
    assert shown["replies"][0]["metadata"] == META
    assert (found["channel"], found["thread_ts"], found["text"]) == (CHANNEL, parent, "reply")
    assert slack.messages_with_metadata("other_type") == []


# -- reactions.get -------------------------------------------------------------------------------


def test_reactions_get_shows_who_reacted_with_what(slack, client):
    ts = client.chat_postMessage(channel=CHANNEL, text="react to me")["ts"]
    client.reactions_add(channel=CHANNEL, timestamp=ts, name="white_check_mark")
    slack.add_reaction(CHANNEL, ts, "white_check_mark", ANN)
    slack.add_reaction(CHANNEL, ts, "x", BEN)

    answer = client.reactions_get(channel=CHANNEL, timestamp=ts, full=True)

    assert (answer["type"], answer["channel"]) == ("message", CHANNEL)
    assert (answer["message"]["ts"], answer["message"]["text"]) == (ts, "react to me")
    assert answer["message"]["reactions"] == [
        {"name": "white_check_mark", "users": [BOT, ANN], "count": 2},
        {"name": "x", "users": [BEN], "count": 1},
    ]


def test_reactions_get_of_a_missing_message_is_message_not_found(slack, client):
    failure = _api_failure(lambda: client.reactions_get(channel=CHANNEL, timestamp="1.000001"))

    assert failure.response["error"] == "message_not_found"


# -- events Slack never delivers -----------------------------------------------------------------


class _CountingBot(ThreadingHTTPServer):
    """Stands in for the bot: answers 200 to every request and counts them."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _CountingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/slack/events"


class _CountingHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(self.rfile.read(length))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:
        """Silent."""


@pytest.fixture
def counting_bot() -> Iterator[_CountingBot]:
    server = _CountingBot()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_an_undelivered_reaction_is_stored_but_never_sent(slack, client, counting_bot):
    workspace = Workspace(slack, bot_url=counting_bot.url, signing_secret="s")
    ts = client.chat_postMessage(channel=CHANNEL, text="approve me")["ts"]

    silent = workspace.react(
        user_id=ANN, channel_id=CHANNEL, message_ts=ts, name="x", deliver=False
    )
    heard = workspace.react(user_id=BEN, channel_id=CHANNEL, message_ts=ts, name="white_check_mark")

    assert silent == Outcome(ok=True, result="not_delivered", message="Slack never delivered it.")
    assert heard == Outcome(ok=True, result="delivered")
    (body,) = counting_bot.bodies
    event = json.loads(body)["event"]
    assert (event["reaction"], event["user"], event["item_user"]) == ("white_check_mark", BEN, BOT)
    reactions = client.reactions_get(channel=CHANNEL, timestamp=ts)["message"]["reactions"]
    assert [(item["name"], item["users"]) for item in reactions] == [
        ("x", [ANN]),
        ("white_check_mark", [BEN]),
    ]


def test_dropped_events_are_applied_in_slack_but_not_delivered(slack, client, counting_bot):
    workspace = Workspace(slack, bot_url=counting_bot.url, signing_secret="s")
    ts = client.chat_postMessage(channel=CHANNEL, text="approve me")["ts"]
    workspace.drop_next_events(2)

    results = [
        workspace.open_home(ANN).result,
        workspace.react(user_id=ANN, channel_id=CHANNEL, message_ts=ts, name="x").result,
        workspace.react(user_id=BEN, channel_id=CHANNEL, message_ts=ts, name="x").result,
    ]

    assert results == ["not_delivered", "not_delivered", "delivered"]
    assert [json.loads(body)["event"]["user"] for body in counting_bot.bodies] == [BEN]
    reactions = client.reactions_get(channel=CHANNEL, timestamp=ts)["message"]["reactions"]
    assert reactions == [{"name": "x", "users": [ANN, BEN], "count": 2}]
    assert workspace.dropped_events == 2
