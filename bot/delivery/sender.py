"""One delivery attempt of one claimed outbox row: the row's kind picks how it is sent
(sends.py, batch_sends.py, file_sends.py), posts go out at most once (posting.py), and the
result is written by settling.py: delivered with what it made true, retried, deferred while the
message it belongs under is still owed, or failed for good with what that still owes people.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.delivery.batch_sends import BatchSends
from bot.delivery.file_sends import FileSends
from bot.delivery.file_upload import FileUploads
from bot.delivery.files import Files
from bot.delivery.outbox import Kind
from bot.delivery.posting import Poster
from bot.delivery.rendering import Renderer
from bot.delivery.sends import OnPosted, SendParts, Sends
from bot.delivery.settling import Deferred, Settler
from bot.delivery.slack_errors import SlackFailure, Verdict
from bot.delivery.store import OutboxRow, OutboxStore
from bot.slack.render.blocks import ApprovalSettings


class Sender:
    def __init__(
        self,
        *,
        engine: Engine,
        store: OutboxStore,
        client: WebClient,
        renderer: Renderer,
        approval: ApprovalSettings,
        post_interval_seconds: float,
        ops_channel: str | None = None,
        files: Files,
        uploads: FileUploads,
        on_posted: OnPosted | None = None,
    ) -> None:
        poster = Poster(client=client, store=store, post_interval_seconds=post_interval_seconds)
        self._settler = Settler(
            engine=engine, store=store, renderer=renderer, files=files, ops_channel=ops_channel
        )
        posted = on_posted or (lambda _request_id, _channel, _ts: None)
        parts = SendParts(engine=engine, poster=poster, settler=self._settler, renderer=renderer)
        sends = Sends(parts, approval=approval, on_posted=posted)
        batches = BatchSends(parts, approval=approval, on_posted=posted)
        file_sends = FileSends(parts, files=files, uploads=uploads)
        self._handlers: dict[str, Callable[[OutboxRow], None]] = {
            Kind.REQUEST_POST: sends.request_post,
            Kind.REQUEST_UPDATE: sends.request_update,
            Kind.REACTION: sends.reaction,
            Kind.THREAD_REPLY: sends.thread_reply,
            Kind.MESSAGE: sends.message,
            Kind.DM: sends.dm,
            Kind.PASSWORD_DM: sends.password_dm,
            Kind.HOME: sends.home,
            Kind.BATCH_POST: batches.batch_post,
            Kind.BATCH_UPDATE: batches.batch_update,
            Kind.BATCH_REPLY: batches.batch_reply,
            Kind.FILE: file_sends.file,
            Kind.RESPONSE: file_sends.response,
        }

    def deliver(self, row: OutboxRow) -> None:
        handler = self._handlers.get(row.kind)
        if handler is None:
            self._settler.fail(
                row, SlackFailure(Verdict.PERMANENT, f"unknown_kind:{row.kind}"[:64])
            )
            return
        try:
            handler(row)
        except Deferred:
            self._settler.defer(row)
        except SlackFailure as failure:
            self._settler.failed_attempt(row, failure)
