"""The slash command: open the form, `help`, `status ID`, `list`, `export`, `bulk`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.flows.batches import BulkFlows
from bot.flows.forms import RequestForms
from bot.flows.queries import Queries
from bot.runtime.tasks import BackgroundTasks


def register(
    app: App,
    *,
    forms: RequestForms,
    queries: Queries,
    tasks: BackgroundTasks,
    bulk: BulkFlows | None = None,
) -> None:
    command_name = queries.settings.slash_command

    @app.command(command_name)
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        words = str(command.get("text") or "").split()
        user_id = str(command["user_id"])
        if not words:
            ack()
            # views.open happens off the request path; the trigger lives 3 s, plenty for a queue.
            tasks.submit(
                forms.open_form,
                user_id=user_id,
                channel_id=str(command.get("channel_id") or ""),
                trigger_id=str(command["trigger_id"]),
                response_url=str(command.get("response_url") or ""),
            )
        elif words[0] == "status" and len(words) == 2 and words[1].lstrip("#").isdigit():
            ack(text=queries.status(user_id=user_id, request_id=int(words[1].lstrip("#"))))
        elif words == ["list"]:
            team_domain = str(command.get("team_domain") or "")
            ack(text=queries.list_requests(user_id=user_id, team_domain=team_domain))
        elif words[0] == "export":
            response_url = str(command.get("response_url") or "")
            ack(
                text=queries.export(user_id=user_id, arguments=words[1:], response_url=response_url)
            )
        elif words == ["bulk"] and bulk is not None:
            ack()
            tasks.submit(
                bulk.open_form,
                user_id=user_id,
                channel_id=str(command.get("channel_id") or ""),
                trigger_id=str(command["trigger_id"]),
                response_url=str(command.get("response_url") or ""),
            )
        elif words[0] == "help":
            ack(text=queries.help_text(user_id=user_id))
        else:
            ack(text="I did not understand that.\n" + queries.help_text(user_id=user_id))
