"""Slack: the Bolt app and its listeners (one register() per surface), the pure Block Kit
builders and wording (render/), the notifier that owes or sends what the bot says, and ids."""
