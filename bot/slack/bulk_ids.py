"""The callback, action and block ids of bulk requests (beside bot/slack/ids.py)."""

BULK_FORM_CALLBACK = "bulk_upload"
BULK_PREVIEW_CALLBACK = "bulk_preview"
# The form's inputs: block_id and action_id alike.
BULK_FILE = "bulk_file"
BULK_TEXT = "bulk_csv"
# On a batch's approval message; the value is the batch id.
APPROVE_BATCH_ACTION = "approve_batch"
REJECT_BATCH_ACTION = "reject_batch"
