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

# The App Home tab: its Approve and Reject buttons carry the request id as their value, like the
# channel's, but distinct ids, since a Home click has no message for the forged-click check.
HOME_VIEW_CALLBACK = "zoombot_home"
HOME_APPROVE_ACTION = "home_approve_request"
HOME_REJECT_ACTION = "home_reject_request"

# The confirmation step after the request form (bot/requests/preview.py): its Submit stores
# the request, its Back button returns to the form filled in.
PREVIEW_CALLBACK = "confirm_sub_account"
PREVIEW_BACK_ACTION = "preview_back"

# Bulk requests: the CSV form, its per-row preview, and the buttons on a batch's message.
BULK_FORM_CALLBACK = "bulk_upload"
BULK_PREVIEW_CALLBACK = "bulk_preview"
# The form's inputs: block_id and action_id alike.
BULK_FILE = "bulk_file"
BULK_TEXT = "bulk_csv"
# On a batch's approval message; the value is the batch id.
APPROVE_BATCH_ACTION = "approve_batch"
REJECT_BATCH_ACTION = "reject_batch"
