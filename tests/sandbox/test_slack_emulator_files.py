"""File uploads in the Slack emulator, driven by the real slack_sdk `files_upload_v2` over
loopback HTTP: the bytes kept per file id, the share as a message (in a thread when asked), the
download URL, files.info, Slack's errors, and persistence.
"""

import urllib.error
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_emulator import SlackEmulator

BOT, ANN = "UZOOMBOT", "UANN0001"
CHANNEL = "CAPPROVALS"
CSV = b"id,email\n1,ann@example.org\n"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_user_id=BOT) as emulator:
        emulator.add_user(BOT, name="zoombot")
        emulator.add_user(ANN, email="ann@example.org", name="Ann Archer")
        emulator.add_channel(CHANNEL, "zoom-approvals")
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url)


def _upload(client: WebClient, **fields):
    fields.setdefault("channel", CHANNEL)
    fields.setdefault("filename", "export.csv")
    fields.setdefault("content", CSV)
    return client.files_upload_v2(**fields)


def _channel_messages(slack: SlackEmulator, channel_id: str, viewer: str = ANN) -> list[dict]:
    channels = slack.snapshot(viewer)["channels"]
    return next(channel for channel in channels if channel["id"] == channel_id)["messages"]


def _api_error(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return str(raised.value.response["error"])


def test_upload_keeps_the_bytes_and_shares_them_in_the_channel(slack, client):
    response = _upload(client, title="Audit", initial_comment="Here it is")

    (uploaded,) = slack.uploaded_files()
    assert response["file"]["id"] == uploaded["id"]
    assert uploaded["content"] == CSV
    assert (uploaded["name"], uploaded["title"], uploaded["size"]) == (
        "export.csv",
        "Audit",
        len(CSV),
    )
    assert (uploaded["channel"], uploaded["thread_ts"], uploaded["user"]) == (CHANNEL, None, BOT)
    assert uploaded["initial_comment"] == "Here it is"
    (message,) = _channel_messages(slack, CHANNEL)
    assert message["text"] == "Here it is"
    assert message["ts"] == uploaded["ts"]
    (shown,) = message["files"]
    assert {key: shown[key] for key in ("id", "name", "title", "size")} == {
        "id": uploaded["id"],
        "name": "export.csv",
        "title": "Audit",
        "size": len(CSV),
    }


def test_upload_with_thread_ts_is_a_reply_in_that_thread(slack, client):
    parent = client.chat_postMessage(channel=CHANNEL, text="batch #3")["ts"]

    _upload(client, thread_ts=parent, filename="outcome.csv")

    (top,) = _channel_messages(slack, CHANNEL)
    assert top["ts"] == parent
    (reply,) = top["replies"]
    assert reply["files"][0]["name"] == "outcome.csv"
    assert slack.uploaded_files()[0]["thread_ts"] == parent


def test_upload_to_the_dm_channel_shows_in_that_person_s_dm(slack, client):
    dm = client.conversations_open(users=ANN)["channel"]["id"]

    _upload(client, channel=dm)

    (message,) = _channel_messages(slack, f"D{ANN}", viewer=ANN)
    assert message["files"][0]["name"] == "export.csv"
    assert slack.uploaded_files()[0]["channel"] == f"D{ANN}"


def test_a_user_id_is_not_a_channel_to_share_to(slack, client):
    # Unlike chat.postMessage, Slack refuses a U… id here: a DM is shared to by its D… id.
    assert _api_error(lambda: _upload(client, channel=ANN)) == "invalid_arguments"

    assert [item["channel"] for item in slack.uploaded_files()] == [None]


def test_the_file_url_serves_the_bytes_as_a_download(slack, client):
    _upload(client)
    (message,) = _channel_messages(slack, CHANNEL)

    response = httpx.get(message["files"][0]["url"])

    assert response.status_code == 200
    assert response.content == CSV
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''export.csv"


def test_an_unknown_file_url_is_not_found(slack):
    assert httpx.get(f"{slack.origin}/files/F404/x.csv").status_code == 404


def test_the_message_in_payloads_carries_slack_s_file_object(slack, client):
    _upload(client)
    ts = slack.uploaded_files()[0]["ts"]

    message = slack.slack_message(CHANNEL, ts)

    (file,) = message["files"]
    assert (file["name"], file["mimetype"], file["filetype"]) == ("export.csv", "text/csv", "csv")
    assert file["url_private_download"].startswith(slack.origin + "/files/")
    assert file["channels"] == [CHANNEL]


def test_the_sdk_calls_are_recorded_as_slack_receives_them(slack, client):
    _upload(client, title="Audit", initial_comment="hi")

    (get_url,) = slack.calls_to("files.getUploadURLExternal")
    (complete,) = slack.calls_to("files.completeUploadExternal")
    assert (get_url.params["filename"], get_url.params["length"]) == ("export.csv", str(len(CSV)))
    assert (complete.params["channel_id"], complete.params["initial_comment"]) == (CHANNEL, "hi")
    assert '"title": "Audit"' in complete.params["files"]


def test_uploaded_bytes_are_in_the_raw_log(slack, client):
    _upload(client, content=b"secret-looking-cell")

    assert "secret-looking-cell" in slack.raw_log()


def test_failing_complete_leaves_the_file_unshared(slack, client):
    slack.fail_next("files.completeUploadExternal", "not_in_channel")

    assert _api_error(lambda: _upload(client)) == "not_in_channel"

    (uploaded,) = slack.uploaded_files()
    assert (uploaded["completed"], uploaded["channel"]) == (False, None)
    assert _channel_messages(slack, CHANNEL) == []


def test_failing_get_upload_url_stores_nothing(slack, client):
    slack.fail_next("files.getUploadURLExternal", "missing_scope")

    assert _api_error(lambda: _upload(client)) == "missing_scope"

    assert slack.uploaded_files() == []
    assert slack.calls_to("files.completeUploadExternal") == []


def test_failing_byte_upload_raises_and_keeps_no_bytes(slack, client):
    slack.fail_next_upload(status=500)

    with pytest.raises(urllib.error.HTTPError):
        _upload(client)

    assert slack.uploaded_files() == []
    assert slack.calls_to("files.completeUploadExternal") == []


def test_completing_a_file_whose_bytes_never_arrived_is_file_not_found(slack, client):
    file_id = client.files_getUploadURLExternal(filename="a.csv", length=3)["file_id"]

    error = _api_error(
        lambda: client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=CHANNEL)
    )

    assert error == "file_not_found"


def test_completing_an_unknown_file_is_file_not_found(client):
    error = _api_error(
        lambda: client.files_completeUploadExternal(files=[{"id": "F404"}], channel_id=CHANNEL)
    )

    assert error == "file_not_found"


def test_an_upload_url_takes_the_bytes_once(slack, client):
    answer = client.files_getUploadURLExternal(filename="a.csv", length=3)
    assert httpx.post(answer["upload_url"], content=b"abc").status_code == 200
    client.files_completeUploadExternal(files=[{"id": answer["file_id"]}], channel_id=CHANNEL)

    assert httpx.post(answer["upload_url"], content=b"xyz").status_code == 404
    assert slack.uploaded_files()[0]["content"] == b"abc"


def test_get_upload_url_without_a_length_is_invalid_arguments(client):
    error = _api_error(
        lambda: client.api_call("files.getUploadURLExternal", params={"filename": "a"})
    )

    assert error == "invalid_arguments"


def test_upload_without_a_channel_stays_private(slack, client):
    client.files_upload_v2(filename="alone.csv", content=CSV)

    (uploaded,) = slack.uploaded_files()
    assert (uploaded["completed"], uploaded["channel"], uploaded["channels"]) == (True, None, [])
    assert _channel_messages(slack, CHANNEL) == []


def test_files_info_describes_an_uploaded_file_and_refuses_an_unknown_one(slack, client):
    _upload(client)
    file_id = slack.uploaded_files()[0]["id"]

    assert client.files_info(file=file_id)["file"]["size"] == len(CSV)
    assert _api_error(lambda: client.files_info(file="F404")) == "file_not_found"


def test_a_person_s_file_is_readable_through_files_info_and_its_download_url(slack, client):
    file_id = slack.add_file(user_id=ANN, name="people.csv", content=b"a,b\n")

    file = client.files_info(file=file_id)["file"]

    assert (file["user"], file["name"], file["channels"]) == (ANN, "people.csv", [])
    download = httpx.get(file["url_private_download"], headers={"Authorization": "Bearer x"})
    assert download.content == b"a,b\n"


def test_wait_for_file_returns_the_shared_file_or_says_what_it_saw(slack, client):
    _upload(client, filename="one.csv")

    assert slack.wait_for_file(lambda item: item["name"] == "one.csv")["content"] == CSV
    with pytest.raises(AssertionError, match=r"one\.csv"):
        slack.wait_for_file(lambda item: item["name"] == "two.csv", timeout=0.05)


def test_files_survive_a_restart_on_the_same_state_file(tmp_path):
    path = tmp_path / "slack.json"
    with SlackEmulator(bot_user_id=BOT, state_path=path) as first:
        first.add_channel(CHANNEL, "zoom-approvals")
        client = WebClient(token=first.bot_token, base_url=first.base_url)
        _upload(client, content=b"\x00\xffbinary")

    with SlackEmulator(bot_user_id=BOT, state_path=path) as second:
        (uploaded,) = second.uploaded_files()
        assert (uploaded["content"], uploaded["channel"]) == (b"\x00\xffbinary", CHANNEL)
        (message,) = _channel_messages(second, CHANNEL)
        # The URL follows the new server's port.
        assert message["files"][0]["url"].startswith(second.origin + "/files/")
        assert httpx.get(message["files"][0]["url"]).content == b"\x00\xffbinary"
