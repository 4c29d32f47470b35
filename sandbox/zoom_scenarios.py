"""Which create bodies get which of Zoom's documented answers: Zoom's published schema first,
then one ordered table of rules that both decides (ZoomSimulator) and describes (the sandbox
page), so the two cannot drift apart."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

from bot.requests.passwords import password_problems

# Zoom's published Accounts (master) document, the /accounts path only, vendored so the sandbox
# runs from a clone alone; tests/unit/test_zoom_simulator.py pins its digest.
ACCOUNTS_OPENAPI = Path(__file__).with_name("accounts.openapi.json")

# Zoom's wording (accounts.openapi.json, 400 / 1111): both sentences it documents for the code.
CODE_1111_MESSAGE = (
    'Password should not contain repeated characters such as "aaaaaa". '
    'Password should not contain consecutive characters such as "abc" or "123".'
)
RATE_LIMIT_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try later."
SERVER_ERROR_MESSAGE = "Internal server error."


@dataclass(frozen=True)
class Scenario:
    """One documented input and the answer it gets, in words a person reads on the page."""

    trigger: str
    status: int
    code: int | None
    answer: str


@dataclass(frozen=True)
class ZoomScenarios:
    """What triggers each answer; an empty value turns its rule off (the 409 for an email
    created here is always on). The defaults are the sandbox's: each is an input the bot's own
    form lets through to Zoom (tests/unit/test_zoom_simulator.py sends them through the bot)."""

    taken_emails: tuple[str, ...] = ("taken@example.com",)
    blocked_domains: tuple[str, ...] = ("blocked.example",)
    invalid_words: tuple[str, ...] = ("badword",)
    special_characters: str = "<>{}"
    password_words: tuple[str, ...] = ("sandbox",)
    throttle_once_suffix: str = "+ratelimit"
    retry_after_seconds: int = 2
    server_error_suffix: str = "+servererror"


@dataclass(frozen=True)
class CreateAttempt:
    """A schema-valid create body and what the simulator's state says about its email."""

    body: dict[str, Any]
    already_used: bool
    throttled_before: bool

    @property
    def email(self) -> str:
        return str(self.body["email"])


@dataclass(frozen=True)
class Verdict:
    """A rule's answer; `throttles` asks the simulator to remember the email was throttled."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    throttles: bool = False


@dataclass(frozen=True)
class Rule:
    scenario: Scenario
    check: Callable[[CreateAttempt], Verdict | None]


SCHEMA_SCENARIO = Scenario(
    trigger=(
        "a body outside Zoom's published schema (an unknown field, a missing or over-long "
        "value); checked first, and the bot's form already refuses most of these"
    ),
    status=400,
    code=300,
    answer="400 · code 300 · Validation Failed. · with an errors list of {field, message}",
)
CREATED_SCENARIO = Scenario(
    trigger="anything else: a new email with valid details",
    status=201,
    code=None,
    answer="201 · the new account's id, owner_id, owner_email and created_at",
)


def account_create_schema() -> dict[str, Any]:
    """The POST /accounts requestBody schema, read strictly (see `_strict`)."""
    document = json.loads(ACCOUNTS_OPENAPI.read_text())
    schema = document["paths"]["/accounts"]["post"]["requestBody"]["content"]
    return _strict(copy.deepcopy(schema["application/json"]["schema"]))


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Catch what Zoom would silently drop: unknown fields (a typo, or `reason` leaking to
    Zoom), and the password's `minimum: 8`, which Zoom's document puts where it means
    `minLength` (a JSON-schema `minimum` never applies to strings)."""
    schema["additionalProperties"] = False
    options = schema["properties"]["options"]
    options["additionalProperties"] = False
    password = schema["properties"]["password"]
    password.setdefault("minLength", password.get("minimum", 0))
    return schema


def schema_problems(validator: Draft4Validator, body: Any) -> list[tuple[str, str]]:
    """(field, message) for each way `body` breaks the schema, in a stable order."""
    return [
        (_field_name(error), error.message)
        for error in sorted(validator.iter_errors(body), key=str)
    ]


def _field_name(error: Any) -> str:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":  # the missing property is only named in the message
        path.append(error.message.split("'")[1])
    elif error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        path.append(",".join(sorted(set(error.instance) - set(known))))
    return ".".join(path) or "body"


def rate_limit_headers(retry_after: str, *, limit: int) -> dict[str, str]:
    """The headers Zoom may put on a 429 (ZOOM_NOTES.md, "Rate limits")."""
    return {
        "Retry-After": retry_after,
        "X-RateLimit-Category": "Light",
        "X-RateLimit-Type": "QPS",
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
    }


def describe(config: ZoomScenarios) -> list[Scenario]:
    """Every active rule in the order the simulator checks them; the first match answers."""
    return [SCHEMA_SCENARIO, *(rule.scenario for rule in rules(config)), CREATED_SCENARIO]


def first_verdict(config: ZoomScenarios, attempt: CreateAttempt) -> Verdict | None:
    """The answer of the first rule that matches, or None: the account is created."""
    for rule in rules(config):
        verdict = rule.check(attempt)
        if verdict is not None:
            return verdict
    return None


def rules(config: ZoomScenarios) -> list[Rule]:
    # Throttling and server trouble come before Zoom looks at the body, as they would in Zoom;
    # the order after that is the one this simulator has always used.
    candidates = (
        _throttle_once(config),
        _server_error(config),
        _already_used(config),
        _blocked_domain(config),
        _invalid_word(config),
        _special_characters(config),
        _password_word(config),
    )
    return [rule for rule in candidates if rule is not None]


def _throttle_once(config: ZoomScenarios) -> Rule | None:
    suffix = config.throttle_once_suffix
    if not suffix:
        return None
    body = {"code": 429, "message": RATE_LIMIT_MESSAGE}
    # 30/s: the Light limit of a Pro account. Delta-seconds here, though Zoom's own example gives
    # an ISO-8601 time (the per-second limit in zoom_simulator.py sends that form).
    headers = rate_limit_headers(str(config.retry_after_seconds), limit=30)

    def check(attempt: CreateAttempt) -> Verdict | None:
        if attempt.throttled_before or not _local_part_ends(attempt.email, suffix):
            return None
        return Verdict(429, body, headers, throttles=True)

    scenario = Scenario(
        trigger=(
            f"the first create for an email whose local part ends with `{suffix}` "
            f"(e.g. `kim{suffix}@example.com`); the next attempt is treated normally"
        ),
        status=429,
        code=429,
        answer=(
            f"429 · code 429 · {RATE_LIMIT_MESSAGE} · Retry-After: {config.retry_after_seconds} "
            "— the bot waits and sends it again, so the request still ends created"
        ),
    )
    return Rule(scenario, check)


def _server_error(config: ZoomScenarios) -> Rule | None:
    suffix = config.server_error_suffix
    if not suffix:
        return None
    body = {"code": 500, "message": SERVER_ERROR_MESSAGE}

    def check(attempt: CreateAttempt) -> Verdict | None:
        return Verdict(500, body) if _local_part_ends(attempt.email, suffix) else None

    scenario = Scenario(
        trigger=f"an email whose local part ends with `{suffix}` (e.g. `kim{suffix}@example.com`)",
        status=500,
        code=500,
        answer=(
            f"500 · code 500 · {SERVER_ERROR_MESSAGE} Nothing is created. The bot cannot know "
            "that, so it marks the request “outcome unknown, check Zoom” and sends nothing more"
        ),
    )
    return Rule(scenario, check)


def _already_used(config: ZoomScenarios) -> Rule:
    def check(attempt: CreateAttempt) -> Verdict | None:
        if not attempt.already_used:
            return None
        message = f'Email "{attempt.email}" has already been used.'
        return Verdict(409, {"code": 1005, "message": message})

    trigger = "an email already created in this sandbox (any letter case)"
    if config.taken_emails:
        trigger += ", or the pre-seeded " + _listed(config.taken_emails, "or")
    answer = '409 · code 1005 · Email "…" has already been used.'
    return Rule(Scenario(trigger, 409, 1005, answer), check)


def _blocked_domain(config: ZoomScenarios) -> Rule | None:
    blocked = {domain.casefold() for domain in config.blocked_domains}
    if not blocked:
        return None
    body = {"code": 1107, "message": "Email domain is blocked."}

    def check(attempt: CreateAttempt) -> Verdict | None:
        return Verdict(400, body) if _domain(attempt.email) in blocked else None

    trigger = "an email at domain " + _listed(config.blocked_domains, "or")
    return Rule(Scenario(trigger, 400, 1107, "400 · code 1107 · Email domain is blocked."), check)


def _invalid_word(config: ZoomScenarios) -> Rule | None:
    words = sorted(config.invalid_words)
    if not words:
        return None

    def check(attempt: CreateAttempt) -> Verdict | None:
        names = (str(attempt.body["first_name"]), str(attempt.body["last_name"]))
        for word in words:
            if any(word.casefold() in name.casefold() for name in names):
                return Verdict(400, {"code": 300, "message": _invalid_word_message(word)})
        return None

    trigger = "a first or last name containing " + _listed(words, "or") + " (any letter case)"
    shown = words[0] if len(words) == 1 else "{word}"
    answer = f"400 · code 300 · {_invalid_word_message(shown)}"
    return Rule(Scenario(trigger, 400, 300, answer), check)


def _invalid_word_message(word: str) -> str:
    return f"Your request could not be completed because the name contains an invalid word: {word}"


def _special_characters(config: ZoomScenarios) -> Rule | None:
    characters = config.special_characters
    if not characters:
        return None
    message = 'Your request was not accepted because "account_name" contains special character(s).'

    def check(attempt: CreateAttempt) -> Verdict | None:
        name = str(attempt.body.get("account_name") or "")
        return (
            Verdict(400, {"code": 300, "message": message}) if set(name) & set(characters) else None
        )

    trigger = "an account name containing any of " + _listed(tuple(characters), "or")
    return Rule(Scenario(trigger, 400, 300, f"400 · code 300 · {message}"), check)


def _password_word(config: ZoomScenarios) -> Rule | None:
    words = sorted(config.password_words)
    if not words:
        return None
    body = {"code": 1111, "message": CODE_1111_MESSAGE}

    def check(attempt: CreateAttempt) -> Verdict | None:
        password = str(attempt.body["password"]).casefold()
        return Verdict(400, body) if any(w.casefold() in password for w in words) else None

    trigger = "a password containing " + _listed(words, "or") + " (any letter case)"
    example = f"{words[0].capitalize()}7Qx"
    if not password_problems(example):  # only an example the bot's own check lets through
        trigger += f", e.g. `{example}`"
    trigger += "; it stands in for the stricter rules a Zoom admin can enable"
    return Rule(Scenario(trigger, 400, 1111, f"400 · code 1111 · {CODE_1111_MESSAGE}"), check)


def _local_part_ends(email: str, suffix: str) -> bool:
    return email.rpartition("@")[0].casefold().endswith(suffix.casefold())


def _domain(email: str) -> str:
    return email.rpartition("@")[2].casefold()


def _listed(values: tuple[str, ...] | list[str], conjunction: str) -> str:
    quoted = [f"`{value}`" for value in values]
    if len(quoted) <= 2:
        return f" {conjunction} ".join(quoted)
    return ", ".join(quoted[:-1]) + f" {conjunction} " + quoted[-1]
