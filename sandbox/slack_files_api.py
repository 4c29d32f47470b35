"""The Web API methods of Slack's file upload flow, as slack_sdk's `files_upload_v2` drives it:
files.getUploadURLExternal → POST of the bytes to the upload URL → files.completeUploadExternal
(shares the file as a message, in a thread when asked), and files.info. Called with the
emulator's lock held.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.slack_state import BOT_ID, WorkspaceState
from sandbox.slack_web_api import ApiAnswer, Method, Params, error


class FilesApi:
    def __init__(
        self, *, state: WorkspaceState, bot_user_id: str, changed: Callable[[], None]
    ) -> None:
        self._state = state
        self._files = state.files
        self._bot_user_id = bot_user_id
        self._changed = changed

    def methods(self) -> dict[str, Method]:
        return {
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._info,
        }

    def _get_upload_url(self, params: Params) -> ApiAnswer:
        name, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not name or not length.isdigit():
            return error("invalid_arguments")
        file_id = f"F{self._state.new_number():010d}"
        self._files.add(file_id, name=name, length=int(length), user=self._bot_user_id)
        self._changed()
        return {"upload_url": f"{self._files.origin}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Params) -> ApiAnswer:
        entries = _file_entries(params.get("files"))
        if not entries:
            return error("invalid_arguments")
        records = [self._files.get(str(entry.get("id") or "")) for entry in entries]
        if any(record is None or record["content"] is None for record in records):
            # Slack cannot complete an upload whose bytes never reached the upload URL.
            return error("file_not_found")
        channels = _channels(params)
        if any(channel[0] not in "CGDZ" for channel in channels):
            # Slack checks channel_id against ^[CGDZ][A-Z0-9]{8,}$: a user ID is refused (share
            # to the DM's D… id from conversations.open instead). The length is not checked
            # here, as the emulator's IDs are short.
            return error("invalid_arguments")
        thread_ts = str(params.get("thread_ts") or "") or None
        if thread_ts and len(channels) != 1:
            return error("invalid_arguments")  # a thread lives in one channel
        comment = str(params.get("initial_comment") or "")
        for entry, record in zip(entries, records, strict=True):
            assert record is not None  # checked above; narrows for mypy
            record.update(title=str(entry.get("title") or record["name"]), completed=True)
            record["initial_comment"] = comment or None
        file_ids = [str(entry["id"]) for entry in entries]
        for channel in channels:
            self._share(file_ids, channel=channel, thread_ts=thread_ts, comment=comment)
        self._changed()
        return {"files": [self._files.slack_file(file_id) for file_id in file_ids]}

    def _share(
        self, file_ids: list[str], *, channel: str, thread_ts: str | None, comment: str
    ) -> None:
        """One message in `channel` (or its thread) carrying the files, as Slack shows a share."""
        message = self._state.post(
            channel,
            user=self._bot_user_id,
            bot_id=BOT_ID,
            text=comment,
            blocks=[],
            thread_ts=thread_ts,
            files=file_ids,
        )
        share = {"channel": channel, "ts": message["ts"], "thread_ts": message["thread_ts"]}
        for file_id in file_ids:
            self._files.records[file_id]["shares"].append(share)

    def _info(self, params: Params) -> ApiAnswer:
        record = self._files.get(str(params.get("file") or ""))
        if record is None or record["content"] is None:
            return error("file_not_found")
        return {"file": self._files.slack_file(str(record["id"]))}


def _file_entries(value: Any) -> list[dict[str, Any]]:
    """`files` arrives as a JSON string in a form or query, or as a list in a JSON body."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, dict)]


def _channels(params: Params) -> list[str]:
    """`channel_id`, or the comma-separated `channels`; none keeps the file private (unshared)."""
    single = str(params.get("channel_id") or "")
    if single:
        return [single]
    return [item for item in str(params.get("channels") or "").split(",") if item]
