"""Slack's file upload, shared once, and an answer through a response_url.

A share takes three steps: `files.getUploadURLExternal` names the file, the bytes are POSTed to
the URL it gives, and `files.completeUploadExternal` shares the file as a message. Only the last
is visible to anyone, and like chat.postMessage it has no idempotency key. So the file's id is
stored on the row before it is shared, and after an attempt that may have shared it (a timeout,
a lost answer, a 5xx) the next attempt asks `files.info` where the file is shared before
uploading again. An unshared file left behind by a failed attempt is private to the bot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.delivery.files import FileToShare
from bot.delivery.slack_errors import SlackFailure, Verdict, classify
from bot.delivery.store import OutboxRow, OutboxStore


class FileUploads:
    def __init__(
        self,
        *,
        client: WebClient,
        store: OutboxStore,
        timeout_seconds: float,
        post_interval_seconds: float,
    ) -> None:
        self._client = client
        self._store = store
        self._timeout = timeout_seconds
        self._post_interval = post_interval_seconds

    def share_once(
        self, row: OutboxRow, file: FileToShare, *, channel: str, thread_ts: str | None
    ) -> str:
        """The id of the row's file shared in `channel`: found shared by an earlier attempt,
        or uploaded and shared now."""
        stored = row.payload.get("file_id")
        if row.maybe_sent and stored and self._shared_in(str(stored), channel):
            return str(stored)
        answer = _call(
            self._client.files_getUploadURLExternal,
            filename=file.filename,
            length=len(file.content),
        )
        file_id, upload_url = str(answer["file_id"]), str(answer["upload_url"])
        self._store.remember(row, file_id=file_id)  # committed before the share can happen
        self._send_bytes(upload_url, file.content)
        self._store.mark_sending(row, pace_seconds=self._post_interval)
        in_thread: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        try:
            self._client.files_completeUploadExternal(
                files=[{"id": file_id, "title": file.title}],
                channel_id=channel,
                initial_comment=file.initial_comment,
                **in_thread,
            )
        except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
            failure = classify(exc)
            failure.posted = True
            raise failure from None
        return file_id

    def _shared_in(self, file_id: str, channel: str) -> bool:
        try:
            answer = self._client.files_info(file=file_id)
        except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
            failure = classify(exc)
            if failure.error == "file_not_found":
                return False  # its bytes never arrived: it cannot have been shared
            raise failure from None
        return channel in shared_channels(answer.get("file") or {})

    def _send_bytes(self, url: str, content: bytes) -> None:
        """Nothing is visible until the share: any failure here is safe to retry."""
        try:
            answer = httpx.post(url, content=content, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise SlackFailure(Verdict.TRANSIENT, type(exc).__name__[:64]) from None
        if answer.status_code != 200:
            raise SlackFailure(Verdict.TRANSIENT, f"upload_http_{answer.status_code}")

    def respond(self, response_url: str, text: str) -> None:
        """An ephemeral answer to a slash command; a response_url lives 30 minutes."""
        try:
            answer = WebhookClient(response_url, timeout=int(self._timeout)).send(
                text=text, response_type="ephemeral"
            )
        except OSError as exc:
            raise SlackFailure(Verdict.TRANSIENT, type(exc).__name__[:64]) from None
        status = answer.status_code
        if status == 429 or status >= 500:
            raise SlackFailure(Verdict.TRANSIENT, f"http_{status}")
        if status != 200:
            raise SlackFailure(Verdict.PERMANENT, f"response_url_http_{status}")


def shared_channels(file: dict[str, Any]) -> set[str]:
    """Every conversation a Slack file object says the file is shared in."""
    found: set[str] = set()
    for key in ("channels", "groups", "ims"):
        found.update(str(channel) for channel in file.get(key) or [])
    for scope in (file.get("shares") or {}).values():
        found.update(str(channel) for channel in scope or {})
    return found


def _call(method: Callable[..., Any], **arguments: Any) -> Any:
    try:
        return method(**arguments)
    except Exception as exc:  # noqa: BLE001 - classified; an unknown kind re-raises
        raise classify(exc) from None
