"""Facts of the interface contract (CONTRACT.md) that tests check the bot against, written out
independently of the bot's own constants so a change on either side shows."""

# The modal's inputs: each block_id (and action_id) is the Zoom field name, plus `reason`.
CONTRACT_BLOCK_IDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "password",
        "account_name",
        "sub_reseller_id",
        "pay_mode",
        "meeting_connector_list",
        "room_connector_list",
        "options",
        "reason",
    }
)
