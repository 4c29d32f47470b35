"""The sandbox workspace's cast, defined once: its people (and what each may do), its channels,
and the bot settings that give them those roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BOT_USER_ID = "UZOOMBOT"
BOT_NAME = "zoombot"
REQUEST_CHANNEL = "CREQUESTS"
APPROVAL_CHANNEL = "CAPPROVALS"


@dataclass(frozen=True)
class Person:
    """Someone the page lets you act as; `role` is what the bot's allowlists make of them."""

    id: str
    name: str
    email: str
    role: str  # "requester" | "approver" | "not allowed"
    description: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "description": self.description,
        }


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


PEOPLE = (
    Person(
        "URILEY01",
        "Riley Rivera",
        "riley@sandbox.example",
        "requester",
        "May request sub accounts; cannot approve.",
    ),
    Person(
        "UAVERY01",
        "Avery Adams",
        "avery@sandbox.example",
        "approver",
        "Approves requests; may also request, but cannot approve her own.",
    ),
    Person(
        "UBLAKE01",
        "Blake Brown",
        "blake@sandbox.example",
        "approver",
        "Approves or rejects requests.",
    ),
    Person(
        "UOLIVE01",
        "Olive Ortiz",
        "olive@sandbox.example",
        "not allowed",
        "On no list: the bot politely refuses her.",
    ),
)

CHANNELS = (
    Channel(REQUEST_CHANNEL, "zoom-requests"),
    Channel(APPROVAL_CHANNEL, "zoom-approvals"),
)

# Who may do what, as the bot reads it from its environment (see bot/config.py).
BOT_ROLE_SETTINGS = {
    "REQUESTER_ALLOWLIST": "URILEY01,UAVERY01",
    "APPROVER_ALLOWLIST": "UAVERY01,UBLAKE01",
    "APPROVAL_CHANNEL": APPROVAL_CHANNEL,
    "REQUIRED_APPROVALS": "1",
}
