"""Tests of bot.slack.web_client: slack_sdk's WebClient over kept-alive connections, against a
loopback HTTP/1.1 server that counts connections and requests and misbehaves on demand."""

from __future__ import annotations

import gc
import json
import logging
import socket
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.loopback import KeepAliveHTTPServer, LoopbackServer
from bot.slack import web_client
from bot.slack.web_client import KeepAliveWebClient, ResponseLostError

TOKEN = "xoxb-transport-test"


@dataclass(frozen=True)
class Received:
    target: str
    headers: dict[str, str]
    body: bytes


class CountingSlack(LoopbackServer):
    """Answers every POST with {"ok": true} unless `behaviour` says otherwise:
    "close_after_answer" (answers, then closes as an idle timeout would), "drop" (reads the
    request, closes without a byte), "reset_mid_answer" (a few bytes, then a TCP reset),
    "ratelimited" (429 with Retry-After). `behave_from` leaves the first requests answered."""

    def __init__(self, behaviour: str = "answer", *, behave_from: int = 0) -> None:
        self.behaviour = behaviour
        self.behave_from = behave_from
        self.connections = 0
        self.received: list[Received] = []
        self.resets: set[socket.socket] = set()
        self.closed = threading.Semaphore(0)  # released as each connection ends
        self.lock = threading.Lock()
        self._server = _Server(self)
        self._serve("counting-slack")

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def record(self, received: Received) -> str:
        with self.lock:
            self.received.append(received)
            misbehave = len(self.received) > self.behave_from
        return self.behaviour if misbehave else "answer"


class _Server(KeepAliveHTTPServer):
    def __init__(self, fake: CountingSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def shutdown_request(self, request: Any) -> None:
        with self.fake.lock:
            reset = request in self.fake.resets
        if reset:
            request.close()  # no shutdown(SHUT_WR) first: that would send a FIN
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes (see the Slack emulator)

    @property
    def fake(self) -> CountingSlack:
        return cast(_Server, self.server).fake

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake.connections += 1

    def finish(self) -> None:
        super().finish()
        self.fake.closed.release()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        behaviour = self.fake.record(Received(self.path, headers, body))
        if behaviour == "drop":
            self.close_connection = True
        elif behaviour == "reset_mid_answer":
            self.wfile.write(b"HTTP/1.1 20")
            # Linger 0: closing sends a reset, so the client reads those bytes, then ECONNRESET.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with self.fake.lock:
                self.fake.resets.add(self.connection)
            self.close_connection = True
        elif behaviour == "ratelimited":
            self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
        else:
            self._reply(200, {"ok": True, "user_id": "UBOT"})
            self.close_connection = behaviour == "close_after_answer"

    def _reply(self, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None):
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced."""


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch):
    # slack_sdk takes a proxy from these; with one, calls go through urllib, not kept alive.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


def serve(behaviour: str = "answer", *, behave_from: int = 0) -> CountingSlack:
    return CountingSlack(behaviour, behave_from=behave_from)


@pytest.fixture
def slack() -> Iterator[CountingSlack]:
    with serve() as server:
        yield server


def in_thread(call: Any) -> None:
    worker = threading.Thread(target=call)
    worker.start()
    worker.join()


def keep_alive_client(slack: CountingSlack, **options: Any) -> KeepAliveWebClient:
    return KeepAliveWebClient(token=TOKEN, base_url=slack.base_url, **options)


# -- reuse ---------------------------------------------------------------------------------


def test_calls_from_one_thread_share_one_connection(slack):
    client = keep_alive_client(slack)

    for _ in range(5):
        assert client.auth_test()["ok"] is True

    assert slack.connections == 1
    assert len(slack.received) == 5


def test_each_thread_keeps_a_connection_of_its_own(slack):
    client = keep_alive_client(slack)
    client.auth_test()

    in_thread(client.auth_test)
    client.auth_test()

    assert slack.connections == 2
    assert len(slack.received) == 3


def test_close_ends_every_threads_connection(slack):
    client = keep_alive_client(slack)
    client.auth_test()
    in_thread(client.auth_test)

    client.close()

    assert slack.closed.acquire(timeout=5)
    assert slack.closed.acquire(timeout=5)


def test_a_threads_connection_closes_when_the_thread_ends(slack):
    client = keep_alive_client(slack)

    in_thread(client.auth_test)

    assert slack.closed.acquire(timeout=5)


def test_a_client_lost_in_a_reference_cycle_closes_its_connection_cleanly():
    with serve("ratelimited") as slack:
        client = keep_alive_client(slack)
        with pytest.raises(SlackApiError) as raised:  # its traceback holds this frame: a cycle
            client.chat_postMessage(channel="C1", text="hi")
        del client, raised

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()

        assert slack.closed.acquire(timeout=5)
    assert [warning for warning in caught if warning.category is ResourceWarning] == []


def test_with_a_proxy_calls_go_through_urllib_to_the_proxy(slack):
    client = keep_alive_client(slack, proxy=slack.origin)

    client.auth_test()

    # A proxy is sent the absolute URL; the kept-alive path would send only the path.
    assert slack.received[0].target == f"{slack.base_url}auth.test"


def test_slack_sdk_formats_its_debug_lines_only_when_debug_is_on(slack, caplog):
    client = keep_alive_client(slack)
    caplog.set_level(logging.INFO, logger="slack_sdk")
    # slack_sdk formats the line (the whole request body) whenever `logger.level <= DEBUG`.
    assert client.logger.level == logging.INFO
    client.auth_test()

    caplog.set_level(logging.DEBUG, logger="slack_sdk")
    client.auth_test()

    sent = [r.message for r in caplog.records if r.message.startswith("Sending a request")]
    assert len(sent) == 1
    assert f"url: {slack.base_url}auth.test" in sent[0]
    assert TOKEN not in caplog.text


# -- what arrives is what slack_sdk sends ----------------------------------------------------


def same_request(slack: CountingSlack, call: Any) -> tuple[Received, Received]:
    call(WebClient(token=TOKEN, base_url=slack.base_url))
    call(keep_alive_client(slack))
    return slack.received[0], slack.received[1]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.views_open(trigger_id="T1", view={"type": "modal"}), id="json"),
        pytest.param(lambda c: c.conversations_open(users="U1"), id="form"),
        pytest.param(lambda c: c.api_call("users.info", params={"user": "U1"}), id="query"),
    ],
)
def test_the_request_arrives_as_slack_sdk_sends_it(slack, call):
    stock, kept = same_request(slack, call)

    assert kept.target == stock.target
    assert kept.body == stock.body
    for header in ("authorization", "user-agent", "content-type", "content-length"):
        assert kept.headers[header] == stock.headers[header]
    assert kept.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_multipart_upload_arrives_whole(slack):
    client = keep_alive_client(slack)

    client.api_call("files.upload", files={"file": b"id,name\n1,Jill\n"}, data={"title": "x"})

    received = slack.received[0]
    assert received.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b"id,name\n1,Jill\n" in received.body
    assert len(received.body) == int(received.headers["content-length"])


def test_a_429_surfaces_as_slack_sdks_error_with_status_and_retry_after():
    with serve("ratelimited") as slack:
        client = keep_alive_client(slack)

        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel="C1", text="hi")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


def test_the_connection_survives_an_error_status():
    with serve("ratelimited", behave_from=1) as slack:
        client = keep_alive_client(slack)
        client.auth_test()
        with pytest.raises(SlackApiError):
            client.auth_test()

    assert slack.connections == 1


# -- failures: resent only when the server cannot have seen the request ---------------------


def test_a_connection_the_server_closed_while_idle_is_replaced():
    with serve("close_after_answer") as slack:
        client = keep_alive_client(slack)

        answers = [client.chat_postMessage(channel="C1", text=f"m{n}") for n in range(3)]

    assert all(answer["ok"] for answer in answers)
    assert [json.loads(r.body)["text"] for r in slack.received] == ["m0", "m1", "m2"]
    assert slack.connections == 3


def test_a_stale_connection_found_only_by_sending_is_resent_once(monkeypatch):
    # The race the idle check cannot see: the server closes just as the request leaves.
    monkeypatch.setattr(web_client, "_closed_by_peer", lambda connection: False)
    with serve("close_after_answer") as slack:
        client = keep_alive_client(slack)

        client.chat_postMessage(channel="C1", text="first")
        second = client.chat_postMessage(channel="C1", text="second")

    assert second["ok"] is True
    assert [json.loads(r.body)["text"] for r in slack.received] == ["first", "second"]
    assert slack.connections == 2


def test_a_fresh_connection_dropped_after_the_request_is_not_resent():
    with serve("drop") as slack:
        client = keep_alive_client(slack)

        with pytest.raises(ResponseLostError):
            client.chat_postMessage(channel="C1", text="once")

    assert len(slack.received) == 1


def test_a_reused_connection_reset_mid_answer_is_not_resent():
    with serve("reset_mid_answer", behave_from=1) as slack:
        client = keep_alive_client(slack)
        client.chat_postMessage(channel="C1", text="first")

        with pytest.raises(ResponseLostError):
            client.chat_postMessage(channel="C1", text="second")

    assert [json.loads(r.body)["text"] for r in slack.received] == ["first", "second"]


def test_a_refused_connection_fails_as_urllib_does():
    with serve() as slack:
        base_url = slack.base_url
    client = KeepAliveWebClient(token=TOKEN, base_url=base_url, retry_handlers=[])

    with pytest.raises(URLError):
        client.auth_test()
