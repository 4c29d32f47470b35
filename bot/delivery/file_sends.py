"""How a file and a response_url answer are delivered: the file's bytes made at send time
(files.py), shared once (file_upload.py) in its batch's thread or the person's DM, its secrets
kept out of the logs meanwhile; the response_url forgotten once answered."""

from __future__ import annotations

from bot.delivery import batch_delivery
from bot.delivery.file_upload import FileUploads
from bot.delivery.files import Files
from bot.delivery.sends import SendParts
from bot.delivery.settling import Deferred, forget_response_url
from bot.delivery.slack_errors import SlackFailure, Verdict
from bot.delivery.store import OutboxRow
from bot.observability.redaction import forget_secret, register_secret


class FileSends:
    def __init__(self, parts: SendParts, *, files: Files, uploads: FileUploads) -> None:
        self._engine = parts.engine
        self._poster = parts.poster
        self._settler = parts.settler
        self._renderer = parts.renderer
        self._files = files
        self._uploads = uploads

    def file(self, row: OutboxRow) -> None:
        file = self._files.render(row.payload)
        if file is None:  # nothing left to send (its passwords were given up meanwhile)
            self._settler.settle(row, ts=None, result="nothing_to_send")
            return
        thread_ts = None
        if file.batch_id is not None:
            thread_ts = self._renderer.batch_row(file.batch_id).approval_ts
            if thread_ts is None and batch_delivery.post_pending(self._engine, file.batch_id):
                raise Deferred
        channel = self._file_channel(row)
        for secret in file.secrets:
            register_secret(secret)  # whatever fails below, no log line may carry one
        try:
            file_id = self._uploads.share_once(row, file, channel=channel, thread_ts=thread_ts)
        finally:
            for secret in file.secrets:
                forget_secret(secret)
        self._settler.settle(
            row,
            ts=None,
            channel_id=channel,
            after=lambda connection: self._files.delivered(
                connection, row.payload, file_id=file_id
            ),
        )

    def response(self, row: OutboxRow) -> None:
        self._uploads.respond(str(row.payload["response_url"]), str(row.payload["text"]))
        self._settler.settle(
            row, ts=None, after=lambda connection: forget_response_url(connection, row)
        )

    def _file_channel(self, row: OutboxRow) -> str:
        try:
            return self._poster.dm_channel(row)
        except SlackFailure as failure:
            if failure.verdict is Verdict.PERMANENT:
                raise SlackFailure(Verdict.PERMANENT, "dm_unavailable") from None
            raise
