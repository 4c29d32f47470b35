"""Every callback, action and block id the bot uses, in one place (see CONTRACT.md)."""

REQUEST_MODAL_CALLBACK = "create_sub_account"
APPROVE_ACTION = "approve_request"
REJECT_ACTION = "reject_request"

# Modal inputs: block_id and action_id are both the Zoom field name.
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
EMAIL = "email"
PASSWORD = "password"  # noqa: S105 - a field name, not a password
ACCOUNT_NAME = "account_name"
SUB_RESELLER_ID = "sub_reseller_id"
PAY_MODE = "pay_mode"
MEETING_CONNECTORS = "meeting_connector_list"
ROOM_CONNECTORS = "room_connector_list"
OPTIONS = "options"
REASON = "reason"

# On the DM that tells a requester their request expired: reopen the form, filled in.
REQUEST_AGAIN_ACTION = "request_again"
