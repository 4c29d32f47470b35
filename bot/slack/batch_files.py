"""Reading the CSV a person attached with the bulk form's file input: files.info for its private
download URL, then the bytes with the bot token (scope `files:read`), size-capped."""

from __future__ import annotations

import logging

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import UserFacingError
from bot.requests.csv_rows import MAX_CSV_BYTES

logger = logging.getLogger(__name__)
# The whole form submission must be answered within Slack's 3 s: the download gets most of it.
DOWNLOAD_TIMEOUT_SECONDS = 2.0


class FileUnreadable(UserFacingError):
    """Words for the person: the file could not be fetched or is not a UTF-8 CSV."""


def read_attached_csv(client: WebClient, file_id: str) -> str:
    url = _download_url(client, file_id)
    content = _download(url, token=client.token or "")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileUnreadable("The file is not UTF-8 text. Save it as “CSV UTF-8”.") from None


def _download_url(client: WebClient, file_id: str) -> str:
    try:
        file = client.files_info(file=file_id).get("file") or {}
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else "unknown"
        logger.warning("Slack files.info failed: %s", code)
        raise FileUnreadable("Slack could not find the attached file; attach it again.") from None
    except (OSError, SlackClientError) as exc:
        logger.warning("Slack files.info failed: %s", type(exc).__name__)
        raise FileUnreadable("Slack did not answer; try again in a moment.") from None
    if int(file.get("size") or 0) > MAX_CSV_BYTES:
        raise FileUnreadable(f"The file is larger than {MAX_CSV_BYTES // 1000} kB.")
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not url.startswith(("https://", "http://")):
        raise FileUnreadable("Slack gave no way to download the file; attach it again.")
    return url


def _download(url: str, *, token: str) -> bytes:
    # httpx drops the Authorization header if a redirect leaves Slack's host.
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.stream(
            "GET", url, headers=headers, timeout=DOWNLOAD_TIMEOUT_SECONDS, follow_redirects=True
        ) as response:
            if response.status_code != 200:
                logger.warning("file download answered HTTP %s", response.status_code)
                raise FileUnreadable("Slack would not hand over the file; attach it again.")
            return _capped(response)
    except httpx.HTTPError as exc:
        logger.warning("file download failed: %s", type(exc).__name__)
        raise FileUnreadable("The file could not be downloaded in time; try again.") from None


def _capped(response: httpx.Response) -> bytes:
    content = bytearray()
    for chunk in response.iter_bytes():
        content.extend(chunk)
        if len(content) > MAX_CSV_BYTES:
            raise FileUnreadable(f"The file is larger than {MAX_CSV_BYTES // 1000} kB.")
    return bytes(content)
