"""The bot's error hierarchy: every error it raises on purpose derives from BotError."""


class BotError(Exception):
    """Root of the bot's own errors. Messages never contain secrets."""


class UserFacingError(BotError):
    """Something the person in Slack can act on; the message is shown to them as is."""


class ConfigurationError(BotError):
    """A setting is missing or malformed; each problem names the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
