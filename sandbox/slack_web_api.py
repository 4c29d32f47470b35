"""The Slack Web API methods the emulator answers, applied to its workspace state: what each
method changes and the answer (or error code) Slack gives. Called with the emulator's lock held.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from sandbox.slack_state import BOT_ID, ActionRefused, WorkspaceState
from sandbox.slack_views import ViewStacks, view_answer

# Form-encoded calls send these as JSON strings (slack_sdk sends chat.postMessage as JSON).
JSON_STRING_KEYS = ("blocks", "view", "attachments", "metadata")
MAX_VIEW_BLOCKS = 100
# The scope a method needs, as Slack's method pages list them; a token without it gets
# `missing_scope`. Only the lookups `zoombot check` makes are enforced (see required_scope).
METHOD_SCOPES = {
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "usergroups.users.list": "usergroups:read",
}

Params = dict[str, Any]
ApiAnswer = dict[str, Any]
Method = Callable[[Params], ApiAnswer]


def error(code: str) -> ApiAnswer:
    return {"ok": False, "error": code}


def required_scope(method: str, params: Params) -> str | None:
    """The scope `method` needs for these params; conversations.info's depends on the kind of
    channel (channels:read for a public one, groups:read for a private one)."""
    if method == "conversations.info":
        return "groups:read" if str(params.get("channel", "")).startswith("G") else "channels:read"
    return METHOD_SCOPES.get(method)


def truthy(value: Any) -> bool:
    """Form-encoded booleans arrive as strings."""
    return value is True or str(value).lower() in {"true", "1"}


class WebApi:
    def __init__(
        self,
        *,
        state: WorkspaceState,
        views: ViewStacks,
        bot_user_id: str,
        changed: Callable[[], None],
    ) -> None:
        self._state = state
        self._views = views
        self._bot_user_id = bot_user_id
        self._changed = changed

    def methods(self) -> dict[str, Method]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "reactions.add": self._reactions_add,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
        }

    # -- chat ---------------------------------------------------------------------------------

    def _auth_test(self, _params: Params) -> ApiAnswer:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "zoombot",
            "team_id": "T0001",
            "user_id": self._bot_user_id,
            "bot_id": BOT_ID,
        }

    def _chat_post_message(self, params: Params) -> ApiAnswer:
        channel = str(params.get("channel") or "")
        if not channel:
            return error("channel_not_found")
        if not any(params.get(key) for key in ("text", "blocks", "attachments")):
            return error("no_text")
        metadata = params.get("metadata")
        if metadata not in (None, "") and not _valid_metadata(metadata):
            return error("invalid_metadata_format")
        # Posting to a user ID lands in the DM with that user, whose ID Slack returns.
        if channel[0] in "UW":
            channel = f"D{channel}"
        record = self._state.post(
            channel,
            user=self._bot_user_id,
            bot_id=BOT_ID,
            text=str(params.get("text") or ""),
            blocks=list(params.get("blocks") or []),
            thread_ts=str(params.get("thread_ts") or "") or None,
            broadcast=truthy(params.get("reply_broadcast")),
            metadata=metadata or None,
        )
        self._changed()
        return {
            "channel": channel,
            "ts": record["ts"],
            "message": self._state.slack_message(channel, record["ts"]),
        }

    def _chat_update(self, params: Params) -> ApiAnswer:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        found = self._state.messages.get((channel, ts))
        if found is None:
            return error("message_not_found")
        if found["user"] != self._bot_user_id:
            return error("cant_update_message")
        record = self._state.update(channel, ts, changes=params)
        self._changed()
        return {
            "channel": channel,
            "ts": ts,
            "text": record["text"],
            "message": self._state.slack_message(channel, ts),
        }

    def _chat_post_ephemeral(self, params: Params) -> ApiAnswer:
        channel, user = str(params.get("channel") or ""), str(params.get("user") or "")
        if not channel or not user:
            return error("channel_not_found" if not channel else "user_not_found")
        ts = self._state.add_ephemeral(
            channel,
            user=user,
            text=str(params.get("text") or ""),
            blocks=list(params.get("blocks") or []),
        )
        self._changed()
        return {"message_ts": ts}

    def _reactions_add(self, params: Params) -> ApiAnswer:
        channel, ts = str(params.get("channel") or ""), str(params.get("timestamp") or "")
        name = str(params.get("name") or "").strip(":")
        if not name:
            return error("invalid_name")
        try:
            self._state.react(channel, ts, name=name, user=self._bot_user_id)
        except ActionRefused as refused:
            return error(refused.code)
        self._changed()
        return {}

    # -- views --------------------------------------------------------------------------------

    def _views_open(self, params: Params) -> ApiAnswer:
        return self._open_or_push(params, push=False)

    def _views_push(self, params: Params) -> ApiAnswer:
        return self._open_or_push(params, push=True)

    def _open_or_push(self, params: Params, *, push: bool) -> ApiAnswer:
        view = params.get("view")
        if not isinstance(view, dict):
            return error("invalid_arguments")
        view_id = f"V{self._state.new_number():010d}"
        try:
            owner = self._views.exchange(str(params.get("trigger_id") or ""))
            if owner is None:
                # A trigger this emulator never issued (tests make them up): answer, track nothing.
                return {"view": view_answer(view_id, view)}
            add = self._views.push if push else self._views.open
            opened = add(owner, view, view_id=view_id)
        except ActionRefused as refused:
            return error(refused.code)
        self._changed()
        return {"view": opened.answer()}

    def _views_update(self, params: Params) -> ApiAnswer:
        view = params.get("view")
        if not isinstance(view, dict):
            return error("invalid_arguments")
        view_id, external_id = (
            str(params.get("view_id") or ""),
            str(params.get("external_id") or ""),
        )
        opened = self._views.find(view_id=view_id, external_id=external_id)
        if opened is None:
            if external_id and not view_id:
                return error("not_found")
            # A view this emulator does not track (opened with a made-up trigger): answer only.
            return {"view": view_answer(view_id or f"V{self._state.new_number():010d}", view)}
        try:
            self._views.replace(opened, view, view_hash=str(params.get("hash") or ""))
        except ActionRefused as refused:
            return error(refused.code)
        self._changed()
        return {"view": opened.answer()}

    def _views_publish(self, params: Params) -> ApiAnswer:
        """The App Home of `user_id`: created on the first publish, replaced after."""
        view, user_id = params.get("view"), str(params.get("user_id") or "")
        if not isinstance(view, dict) or view.get("type") != "home" or not user_id:
            return error("invalid_arguments")
        if len(view.get("blocks") or []) > MAX_VIEW_BLOCKS:
            return error("invalid_arguments")  # Slack: "no more than 100 items allowed"
        new_view_id = f"V{self._state.new_number():010d}"
        try:
            home = self._views.publish_home(
                user_id, view, new_view_id=new_view_id, view_hash=str(params.get("hash") or "")
            )
        except ActionRefused as refused:
            return error(refused.code)
        self._changed()
        return {"view": home.answer()}

    # -- people -------------------------------------------------------------------------------

    def _conversations_open(self, params: Params) -> ApiAnswer:
        users = str(params.get("users") or "")
        if not users:
            return error("users_list_not_supplied")
        return {"channel": {"id": f"D{users.split(',', maxsplit=1)[0]}"}}

    def _conversations_info(self, params: Params) -> ApiAnswer:
        """A channel the workspace has (add_channel); `is_member` says whether the bot is in it.
        A private one (G…) the bot is not in is as unknown to it as a wrong ID, as in Slack."""
        channel_id = str(params.get("channel") or "")
        name = self._state.channels.get(channel_id)
        is_member = channel_id not in self._state.bot_outside
        private = channel_id.startswith("G")
        if name is None or (private and not is_member):
            return error("channel_not_found")
        return {
            "channel": {
                "id": channel_id,
                "name": name,
                "is_channel": not private,
                "is_group": private,
                "is_private": private,
                "is_archived": False,
                "is_member": is_member,
            }
        }

    def _users_info(self, params: Params) -> ApiAnswer:
        user = self._state.users.get(str(params.get("user", "")))
        return error("user_not_found") if user is None else {"user": copy.deepcopy(user)}

    def _users_lookup_by_email(self, params: Params) -> ApiAnswer:
        user = self._state.user_by_email(str(params.get("email", "")))
        return error("users_not_found") if user is None else {"user": copy.deepcopy(user)}

    def _usergroups_users_list(self, params: Params) -> ApiAnswer:
        members = self._state.usergroups.get(str(params.get("usergroup", "")))
        return error("no_such_subteam") if members is None else {"users": list(members)}


def _valid_metadata(metadata: Any) -> bool:
    """Slack's message metadata: `{"event_type": "...", "event_payload": {...}}`."""
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


# -- reading requests --------------------------------------------------------------------------


def parse_params(query: str, content_type: str, body: bytes) -> Params:
    """Merges query string and body (form or JSON) into one dict, decoding JSON-string fields."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    if content_type.startswith("application/json"):
        if body:
            params.update(json.loads(body))
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in JSON_STRING_KEYS:
        value = params.get(key)
        if isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                continue
    return params


def raw_entry(target: str, body: bytes, decoded: Any) -> str:
    raw = f"{target}\n{body.decode('utf-8', errors='replace')}"
    return "\n".join([raw, *_strings_in(decoded)])


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)
