"""Files the bot uploads (an audit export, a bulk batch's outcome CSV), through slack_sdk's
`files_upload_v2`: each failure contained and reported as Slack's error code, never the bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """Where an upload ended: the file id, or what went wrong (Slack's error code, or the
    failure's class name when Slack never answered)."""

    file_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def upload_file(
    client: WebClient,
    *,
    channel_id: str,
    filename: str,
    content: bytes,
    title: str,
    initial_comment: str | None = None,
    thread_ts: str | None = None,
) -> Upload:
    """Uploads `content` and shares it in `channel_id` (in the thread `thread_ts`, if given)."""
    try:
        response = client.files_upload_v2(
            channel=channel_id,
            filename=filename,
            content=content,
            title=title,
            initial_comment=initial_comment,
            thread_ts=thread_ts,
        )
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        return _failed(str(code or "unknown"))
    except (OSError, SlackClientError) as exc:
        # The POST of the bytes failed (HTTP error or network), or Slack's answer was unusable.
        return _failed(type(exc).__name__)
    file = response.get("file") or {}
    return Upload(file_id=str(file.get("id") or "") or None)


def _failed(error: str) -> Upload:
    logger.warning("Slack file upload failed: %s", error)
    return Upload(error=error)
