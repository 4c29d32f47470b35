"""Files in the emulated workspace: uploads awaiting their bytes, their content, where they were
shared, and how Slack's API and the sandbox snapshot describe them.
"""

from __future__ import annotations

import base64
import mimetypes
import time
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

Record = dict[str, Any]


class FileStore:
    """File records by id, oldest first; the emulator serializes access with its lock."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        # The emulator's origin, for file URLs: never saved, the port changes at each start.
        self.origin = ""

    def add(self, file_id: str, *, name: str, length: int | None, user: str) -> Record:
        """A file awaiting its bytes (files.getUploadURLExternal), or a person's upload."""
        record: Record = {
            "id": file_id,
            "name": name,
            "title": name,
            "length": length,  # as declared to getUploadURLExternal
            "content": None,  # bytes once uploaded
            "user": user,
            "created": int(time.time()),
            "completed": False,
            "initial_comment": None,
            "shares": [],  # [{"channel", "ts", "thread_ts"}], one per conversation shared to
        }
        self.records[file_id] = record
        return record

    def get(self, file_id: str) -> Record | None:
        return self.records.get(file_id)

    def url(self, file_id: str) -> str:
        return f"{self.origin}/files/{file_id}/{quote(self.records[file_id]['name'])}"

    def summary(self, file_id: str) -> Record:
        """A file as the snapshot shows it on its message."""
        found = self.records[file_id]
        return {
            "id": file_id,
            "name": found["name"],
            "title": found["title"],
            "size": len(found["content"] or b""),
            "url": self.url(file_id),
        }

    def slack_file(self, file_id: str) -> Record:
        """A file object as Slack's API returns it, trimmed to the fields bots read."""
        found = self.records[file_id]
        name = str(found["name"])
        return {
            "id": file_id,
            "created": found["created"],
            "timestamp": found["created"],
            "name": name,
            "title": found["title"],
            "mimetype": mime_type(name),
            "filetype": PurePosixPath(name).suffix.lstrip(".").lower() or "binary",
            "user": found["user"],
            "size": len(found["content"] or b""),
            "is_public": False,
            "url_private": self.url(file_id),
            "url_private_download": self.url(file_id),
            "channels": sorted({share["channel"] for share in found["shares"]}),
            "shares": _shares(found["shares"]),
        }

    def uploaded(self) -> list[Record]:
        """Every file whose bytes arrived, oldest first, for tests: content as bytes."""
        return [_for_tests(record) for record in self.records.values() if record["content"]]

    # -- persistence (the workspace's JSON file holds the bytes as base64) ----------------

    def saved(self) -> list[Record]:
        return [
            {**record, "content": _encoded(record["content"])} for record in self.records.values()
        ]

    def load(self, items: list[Record]) -> None:
        self.records = {
            item["id"]: {**item, "content": _decoded(item["content"])} for item in items
        }


def _shares(shares: list[Record]) -> Record:
    """Slack's `shares`: public and private conversations, each with the messages sharing it."""
    found: Record = {}
    for share in shares:
        scope = "public" if share["channel"].startswith("C") else "private"
        entry = {"ts": share["ts"], "thread_ts": share["thread_ts"]}
        found.setdefault(scope, {}).setdefault(share["channel"], []).append(entry)
    return found


def mime_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _for_tests(record: Record) -> Record:
    share = record["shares"][0] if record["shares"] else {}
    return {
        "id": record["id"],
        "name": record["name"],
        "title": record["title"],
        "user": record["user"],
        "content": record["content"],
        "size": len(record["content"]),
        "completed": record["completed"],
        "initial_comment": record["initial_comment"],
        "channel": share.get("channel"),
        "thread_ts": share.get("thread_ts"),
        "ts": share.get("ts"),
        "channels": [item["channel"] for item in record["shares"]],
    }


def _encoded(content: bytes | None) -> str | None:
    return None if content is None else base64.b64encode(content).decode("ascii")


def _decoded(content: str | None) -> bytes | None:
    return None if content is None else base64.b64decode(content)
