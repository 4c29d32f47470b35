"""The kinds of `request_events` rows (the audit log of CONTRACT.md): one member per step the bot
writes. The column is `String(48)` and a member is a `str`, so the values stored and read back
are these strings exactly; a row read from the database has a plain `str` kind that compares
equal to its member.

Rows about one request have `request_id` set; rows about a bulk request as a whole have
`batch_id` set and no `request_id` (`submitted`, `posted`, `post_failed`, `notified`,
`ops_alerted`, `outcome_posted`, `outcome_post_failed`, `passwords_sent`, `passwords_not_sent`,
`approve_refused`, `reject_refused`); some have neither (`reaction_held`, `exported`,
`export_failed`, `export_refused`, a refusal of a request that does not exist)."""

from __future__ import annotations

import enum


class EventKind(enum.StrEnum):
    # A request's life, in order.
    DENIED = "denied"  # a requester not on the allowlist; the request row is `denied`
    SUBMITTED = "submitted"  # carries `previewed_at` for a form request
    POSTED = "posted"  # the approval message is in the channel
    POST_FAILED = "post_failed"
    REACTION_HELD = "reaction_held"  # a reaction on a message no request claims yet
    APPROVAL = "approval"  # one approver's approval counted
    APPROVED = "approved"  # the request reached its approvals and goes to Zoom
    REJECTED = "rejected"
    EXPIRED = "expired"  # nobody decided within APPROVAL_TTL (or found so on a late decision)
    APPROVE_REFUSED = "approve_refused"  # someone not allowed to, or too late
    REJECT_REFUSED = "reject_refused"
    REMINDED = "reminded"  # the pending sweep's reminder
    ESCALATED = "escalated"  # the pending sweep's escalation
    REQUEST_AGAIN = "request_again"  # the requester reopened the form from an expired request
    REQUEST_AGAIN_REFUSED = "request_again_refused"  # someone else's click
    # Provisioning.
    ZOOM_CALLED = "zoom_called"  # the body sent, password masked; committed before the call
    RECONCILED = "reconciled"  # a look-up in Zoom after an interrupted try
    REQUEUED = "requeued"  # rate limited: tried again later
    ZOOM_RESULT = "zoom_result"
    # Telling people.
    NOTIFIED = "notified"
    OPS_ALERTED = "ops_alerted"  # posted to OPS_CHANNEL
    SLACK_DELIVERY = "slack_delivery"  # one attempt of an outbox row
    # A kind, not a password: the requester's DM is confirmed, or failed for good.
    PASSWORD_ERASED = "password_erased"  # noqa: S105
    PASSWORD_UNDELIVERABLE = "password_undeliverable"  # noqa: S105
    # A bulk request's files.
    OUTCOME_POSTED = "outcome_posted"
    OUTCOME_POST_FAILED = "outcome_post_failed"
    PASSWORDS_SENT = "passwords_sent"  # a count, never a password
    PASSWORDS_NOT_SENT = "passwords_not_sent"
    # An approver's slash export.
    EXPORTED = "exported"
    EXPORT_FAILED = "export_failed"
    EXPORT_REFUSED = "export_refused"


def refused_kind(action: str) -> EventKind:
    """The kind of a refused `action` ("approve", "reject", "request_again", "export"): the
    `f"{action}_refused"` the audit log has always had. ValueError for any other action."""
    return EventKind(f"{action}_refused")
