"""Fuzzing the request modal through the real signed endpoint (issue 4, point 8).

Generated submissions mix fields drawn from a *valid* pool (tricky but acceptable: astral and
right-to-left scripts, SQL and mrkdwn look-alikes, padding whitespace, long values at the limit)
with a few *nasty* fields (control and format characters, lone surrogates, huge strings, wrong
JSON types, missing or malformed blocks). Properties, per submission:

- the bot never answers 5xx: it answers `response_action: errors` or accepts the request
  (or 400 when the body is over the size limit);
- error keys are block_ids of the modal, and only of the fields that were nasty;
- a submission with no nasty field is accepted;
- an accepted request stores each text exactly as typed, stripped, byte for byte;
- the approval message posted to Slack carries no mention or link that came from user input.

Profiles: `ci` (default, fast) and `long` (10,000 examples a database), chosen with
`ZOOMBOT_FUZZ_PROFILE=long .venv/bin/pytest tests/reliability/test_fuzzing.py -k sqlite`.
"""

import json
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db.models import SubaccountRequest
from bot.requests.passwords import password_problems
from bot.requests.validation import OPTION_FLAGS
from bot.runtime.web import MAX_BODY_BYTES
from bot.slack.render.modal import request_modal
from sandbox.slack_signing import view_submission_body
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    GOOD_PASSWORD,
    ORIGIN_CHANNEL,
    REQUESTER,
    SECOND_APPROVER,
    modal_values,
    preview_metadata,
    running_bot,
)

pytestmark = pytest.mark.reliability

_COMMON = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    # The explain phase re-runs a failure hundreds of times to annotate it: minutes, no news.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("long", max_examples=10_000, **_COMMON)
PROFILE = settings.get_profile(os.environ.get("ZOOMBOT_FUZZ_PROFILE", "ci"))

MODAL_BLOCK_IDS = frozenset(
    block["block_id"]
    for block in request_modal(channel_id=ORIGIN_CHANNEL, require_reason=True).to_dict()["blocks"]
    if "block_id" in block
)
TEXT_BLOCKS = (
    "first_name",
    "last_name",
    "password",
    "account_name",
    "sub_reseller_id",
    "meeting_connector_list",
    "room_connector_list",
    "reason",
)
ALL_BLOCKS = (*TEXT_BLOCKS, "email", "pay_mode", "options")
CONNECTORS = {"meeting_connector_list": "share_mc", "room_connector_list": "share_rc"}
ELEMENT_TYPES = {"email": "email_text_input", "pay_mode": "static_select"}
ELEMENT_TYPES["options"] = "checkboxes"

# -- the valid pool: acceptable, however odd -----------------------------------------------------

SQL_LOOKALIKES = [
    "'; DROP TABLE subaccount_requests; --",
    "Robert'); DROP TABLE request_events;--",
    "' OR '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "%' UNION SELECT password_ciphertext FROM subaccount_requests --",
    "\\'; --",
    "admin'/*",
]
MRKDWN_LOOKALIKES = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    f"<@{APPROVER}>",
    "<#C123|general>",
    "<!subteam^S123|@admins>",
    "<!date^0^{date}|today>",
    "*bold*",
    "_italic_",
    "~strike~",
    "`code`",
    "```block```",
    "<https://evil.example|click here>",
    "<mailto:x@evil.example|mail>",
    "&lt;!channel&gt;",
    "<<@U123>>",
    "> quoted",
    "&amp; & &&",
]
SCRIPTS = [
    "Zoë Ångström",
    "Ñandú O'Brien-Smith",
    "李小龍",
    "محمد بن سلمان",
    "שלום עולם",
    "ناصر\u200cخسرو",  # ZWNJ, allowed: Persian names need it
    "👩\u200d💻 Dev",  # ZWJ emoji sequence
    "😀 Emoji 🇺🇳",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕸𝖆𝖙𝖍",
    "𠜎𠜱𠝹",
    "e\u0301\u0301\u0301",
    "Ǆemal",
]
VALID_NAMES = SQL_LOOKALIKES + MRKDWN_LOOKALIKES + SCRIPTS
VALID_PASSWORDS = ["Xk9mQ2vLp7zR", "Tq7wNe4rUx9z", "P4ss!w0rdZq", "Ünï9côdeÄx", "aZ1" * 4]
VALID_EMAILS = [
    "jill@example.com",
    "o'brien@example.com",
    "*bold*@example.com",
    "a&b@example.com",
    "`tick`@example.org",
    "x|y@example.net",
    "~strike~@example.com",
    "jill+tag@sub.example.co.uk",
    "{curly}@example.com",
]
PADDING = st.sampled_from(["", "", " ", "  ", "\u00a0", "\u3000", "\n "])
_PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S"))


def padded(core):
    return st.builds(lambda before, text, after: before + text + after, PADDING, core, PADDING)


def limited(core, limit):
    return core.filter(lambda text: 0 < len(text.strip()) <= limit)


NAME = padded(
    limited(
        st.one_of(
            st.sampled_from(VALID_NAMES),
            st.text(_PRINTABLE, min_size=1, max_size=64),
            st.builds(
                lambda a, b: f"{a} {b}"[:64],
                st.sampled_from(VALID_NAMES),
                st.text(_PRINTABLE, min_size=1, max_size=20),
            ),
            st.builds(lambda c: c * 64, st.sampled_from(["a", "é", "😀", "&", "<", "𠜎"])),
        ),
        64,
    )
)
OPTIONAL_NAME = st.one_of(st.none(), st.just(""), NAME)
SUB_RESELLER = st.one_of(
    st.none(), padded(limited(st.text(_PRINTABLE, min_size=1, max_size=128), 128))
)
REASON = padded(
    limited(
        st.one_of(
            st.text(st.one_of(_PRINTABLE, st.sampled_from(" \n")), min_size=1, max_size=300),
            st.lists(st.sampled_from(VALID_NAMES), min_size=1, max_size=8).map("\n".join),
            st.builds(
                lambda c: (c * 1000)[:1000], st.sampled_from(["a", "&", "<", ">", "😀", "\n*"])
            ),
        ),
        1000,
    )
)
EMAIL = padded(
    st.one_of(
        st.sampled_from(VALID_EMAILS),
        st.from_regex(
            r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,40}@[a-z0-9]{1,20}\.[a-z]{2,6}", fullmatch=True
        ),
    )
)
PASSWORD = st.one_of(st.none(), st.just(""), st.sampled_from(VALID_PASSWORDS))
ADDRESSES = st.sampled_from(["", "10.0.0.1", "10.0.0.1, 2001:db8::1", " 192.168.0.1 ,\n::1 "])

# -- the nasty pool: anything at all --------------------------------------------------------------

NASTY_CHARACTERS = [
    "\x00",
    "\t",
    "\r",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\u200b",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\ue000",
    "\U0010ffff",
    "\ud800",
    "\udfff",
]
NASTY_TEXT = st.one_of(
    st.sampled_from(VALID_NAMES + VALID_EMAILS),
    st.builds(
        lambda a, nasty, b: a + nasty + b,
        st.sampled_from(["", "Jill", "<!channel>", "' OR 1=1 --"]),
        st.sampled_from(NASTY_CHARACTERS),
        st.sampled_from(["", "Chill", "<@U123>"]),
    ),
    st.text(),
    st.text(st.characters(codec=None), max_size=30),  # lone surrogates included
    st.text(st.characters(categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Zs")), max_size=10),
    st.builds(
        lambda chunk, times: chunk * times,
        st.sampled_from(["a", "é", "😀", "<!channel>", "'", " ", "\n", "\ud83d"]),
        st.integers(min_value=65, max_value=20_000),
    ),
)
WRONG_TYPES = st.sampled_from([None, 0, 1.5, True, [], ["Jill"], {}, {"value": "x"}, "x"])


@dataclass
class Case:
    values: Any
    nasty: frozenset[str]
    typed: dict[str, str] = field(default_factory=dict)  # what the bot should read per field
    ticked: tuple[str, ...] | None = None  # the options the bot should read, if well-formed
    state: Any = None  # replaces view.state entirely when set
    metadata: str = ""


def text_element(block, value):
    return {"type": ELEMENT_TYPES.get(block, "plain_text_input"), "value": value}


def option(value):
    return {"text": {"type": "plain_text", "text": str(value)[:75]}, "value": value}


def select_element(selected):
    return {"type": "static_select", "selected_option": selected}


def checkboxes_element(ticked):
    if isinstance(ticked, list):
        ticked = [item if isinstance(item, dict) else option(item) for item in ticked]
    return {"type": "checkboxes", "selected_options": ticked}


NASTY_CHOICES = {
    "pay_mode": st.one_of(WRONG_TYPES, NASTY_TEXT.map(option), WRONG_TYPES.map(option)).map(
        select_element
    ),
    "options": st.one_of(WRONG_TYPES, st.lists(st.one_of(WRONG_TYPES, NASTY_TEXT))).map(
        checkboxes_element
    ),
}


def text_in(element):
    """What the bot reads from an element: its `value` when that is a string, else nothing."""
    value = element.get("value") if isinstance(element, dict) else None
    return value if isinstance(value, str) else ""


@st.composite
def nasty_block(draw, block):
    """(present, block value, what the bot should read): malformed at some level, or odd text."""
    shape = draw(st.sampled_from(["missing", "block", "element", "value", "text", "text"]))
    if shape == "missing":
        return False, None, ""
    if shape == "block":
        return True, draw(WRONG_TYPES), ""
    if shape == "element":
        element = draw(WRONG_TYPES)
    elif block in NASTY_CHOICES:
        element = draw(NASTY_CHOICES[block])
    else:
        element = text_element(block, draw(NASTY_TEXT if shape == "text" else WRONG_TYPES))
    return True, {block: element}, text_in(element)


NASTY_METADATA = [
    "",
    "not json",
    "[]",
    "null",
    json.dumps({"channel_id": 42}),
    json.dumps({"channel_id": None}),
    json.dumps({"channel_id": "C" * 200}),
    json.dumps({"channel_id": "C\u0000X"}),
    json.dumps({"channel_id": "<!channel>"}),
]
VALID_TEXT = {
    "first_name": NAME,
    "last_name": NAME,
    "email": EMAIL,
    "password": PASSWORD,
    "account_name": OPTIONAL_NAME,
    "sub_reseller_id": SUB_RESELLER,
    "reason": REASON,
}


def add_valid_choices(draw, case):
    if "options" not in case.nasty:
        case.ticked = tuple(draw(st.lists(st.sampled_from(OPTION_FLAGS), unique=True)))
        case.values["options"] = {"options": checkboxes_element(list(case.ticked))}
    if "pay_mode" not in case.nasty:
        mode = draw(st.sampled_from([None, "master", "sub"]))
        case.values["pay_mode"] = {"pay_mode": select_element(mode and option(mode))}


def valid_text(draw, case, block):
    if block not in CONNECTORS:
        return draw(VALID_TEXT[block])
    shared = case.ticked is not None and CONNECTORS[block] in case.ticked
    return draw(ADDRESSES) if shared else draw(st.sampled_from([None, ""]))


def damage_the_whole_state(draw, case):
    shape = draw(st.integers(0, 29))
    if shape == 0:  # view.state.values of the wrong type altogether
        case.state = {"values": draw(WRONG_TYPES)}
    elif shape == 1:  # view.state itself of the wrong type
        case.state = draw(WRONG_TYPES)
    if case.state is not None:
        case.nasty = frozenset(ALL_BLOCKS)


@st.composite
def cases(draw, *, max_nasty=4):
    case = Case(
        values={}, nasty=draw(st.frozensets(st.sampled_from(ALL_BLOCKS), max_size=max_nasty))
    )
    add_valid_choices(draw, case)
    for block in ALL_BLOCKS:
        if block in case.nasty:
            present, block_value, case.typed[block] = draw(nasty_block(block))
            if present:
                case.values[block] = block_value
        elif block in VALID_TEXT or block in CONNECTORS:
            text = valid_text(draw, case, block)
            case.values[block] = {block: text_element(block, text)}
            case.typed[block] = text or ""
    if draw(st.integers(0, 9)) == 0:
        case.values["not_a_modal_block"] = {"x": text_element("x", "<!channel>")}
    case.metadata = json.dumps({"channel_id": ORIGIN_CHANNEL})
    if draw(st.integers(0, 7)) == 0:  # the form's own metadata, damaged in transit
        case.metadata = draw(st.sampled_from(NASTY_METADATA))
    if max_nasty:
        damage_the_whole_state(draw, case)
    return case


def baseline(**typed):
    """harness.modal_values' valid submission with `typed` fields changed (and called nasty)."""
    defaults = {
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "jill@example.com",
        "password": GOOD_PASSWORD,
        "reason": "Onboarding a new partner",
    }
    return Case(
        values=modal_values(**{**defaults, **typed}),
        nasty=frozenset(typed),
        typed={**defaults, **typed},
        ticked=(),
        metadata=json.dumps({"channel_id": ORIGIN_CHANNEL}),
    )


# Found by this fuzzer once each; kept as explicit examples so every run tries them.
EXPLICIT = [
    replace(baseline(), state={"values": [1]}, nasty=frozenset(ALL_BLOCKS)),
    replace(baseline(), state=1.5, nasty=frozenset(ALL_BLOCKS)),
    replace(baseline(), metadata=json.dumps({"channel_id": "C" * 200})),
    replace(baseline(), metadata=json.dumps({"channel_id": "C\u0000X"})),
    baseline(first_name="😀" * 70_000),
    baseline(
        first_name="<!channel>",
        last_name="<@U123>",
        account_name="&lt;!everyone&gt;",
        reason="*bold* <!here>\n> <https://evil.example|x>",
    ),
]


def with_explicit_examples(test):
    for case in EXPLICIT:
        test = example(case=case)(test)
    return test


# -- the bot under fuzz ---------------------------------------------------------------------------


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_bot(request, tmp_path_factory):
    """One bot per database for every generated example (function fixtures reset per test,
    not per example, so a module-wide bot is both faster and honest)."""
    tmp_path = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'zoombot.db'}"
    else:
        url = request.getfixturevalue("postgres_server_url")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
    with running_bot(url, tmp_path) as bot:
        yield bot


def stored_rows(bot):
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(SubaccountRequest))


def body_for(case):
    body, content_type = view_submission_body(
        user_id=REQUESTER, values=case.values, private_metadata=case.metadata
    )
    if case.state is None:
        return body, content_type
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload["view"]["state"] = case.state
    return urlencode({"payload": json.dumps(payload)}).encode(), content_type


def expected_text(case, block):
    return case.typed.get(block, "").strip()


def assert_stored_as_typed(row, case):
    for block in ("first_name", "last_name", "email"):
        stored = getattr(row, block)
        assert stored.encode() == expected_text(case, block).encode(), block
    for block in ("account_name", "sub_reseller_id", "reason"):
        stored = getattr(row, block)
        expected = expected_text(case, block) or None
        assert (stored.encode() if stored else None) == (expected.encode() if expected else None)
    if case.ticked is not None:
        flags = {flag for flag in OPTION_FLAGS if (row.options or {}).get(flag) is True}
        assert flags == set(case.ticked)


SLACK_MARKUP = re.compile(r"<[^<>]*>")


def confirmed(bot, response):
    """The form's answer is its confirmation step, which shows the typed values escaped and
    never the typed password; pressing its Submit is answered with the stored request."""
    answer = response.json()
    assert answer["response_action"] == "update", answer
    sealed = preview_metadata(response)
    assert sealed, answer
    assert_preview_escaped(answer["view"])
    final = bot.confirm(REQUESTER, sealed)
    assert final.status_code == 200, final.text
    return final.json()


def assert_preview_escaped(view):
    """The only <…> markup in the confirmation step is the bot's own mentions and channel."""
    shown = "\n".join(
        block["text"]["text"]
        for block in view["blocks"]
        if block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    )
    own = {f"<@{APPROVER}>", f"<@{SECOND_APPROVER}>", f"<#{APPROVAL_CHANNEL}>"}
    assert set(SLACK_MARKUP.findall(shown)) <= own, shown
    assert "<!" not in shown


def assert_no_injected_markup(message, row):
    """The only <…> markup in the message is the bot's own mention of the requester."""
    shown = message["text"] + "\n" + json.dumps(message["blocks"], ensure_ascii=False)
    assert set(SLACK_MARKUP.findall(shown)) <= {f"<@{row.requester_id}>"}, shown
    assert "<!" not in shown
    assert shown.count("<@") == shown.count(f"<@{row.requester_id}>")


@settings(PROFILE)
@given(case=cases())
@with_explicit_examples
def test_any_submission_gets_field_errors_or_is_stored_exactly(fuzz_bot, case):
    bot = fuzz_bot
    bot.slack.reset_calls()  # keeps the fake's memory flat over thousands of examples
    body, content_type = body_for(case)
    rows_before = stored_rows(bot)

    response = bot.sender.post(body, content_type)

    assert response.status_code < 500, response.text
    if len(body) > MAX_BODY_BYTES:
        event("oversized")
        assert response.status_code == 400
        assert stored_rows(bot) == rows_before
        return
    assert response.status_code == 200, response.text
    answer = response.json()
    if answer["response_action"] == "errors":
        event("field errors")
        errors = answer["errors"]
        assert errors, answer
        assert set(errors) <= MODAL_BLOCK_IDS
        assert set(errors) <= case.nasty, (errors, case.nasty)
        assert all(isinstance(text, str) and text for text in errors.values())
        assert stored_rows(bot) == rows_before
        return
    event("accepted")
    answer = confirmed(bot, response)
    assert answer["view"]["title"]["text"] == "Request sent", answer
    request_id = int(re.search(r"Request #(\d+) is saved", json.dumps(answer)).group(1))
    bot.wait()
    row = bot.request(request_id)
    assert (row.status, row.requester_id) == ("pending_approval", REQUESTER)
    assert_stored_as_typed(row, case)
    assert row.approval_channel_id == APPROVAL_CHANNEL, bot.event_kinds(request_id)
    message = bot.slack.message(APPROVAL_CHANNEL, row.approval_ts)
    assert message is not None
    assert_no_injected_markup(message, row)


@settings(PROFILE)
@given(case=cases(max_nasty=0))
def test_submission_with_only_valid_fields_is_accepted(fuzz_bot, case):
    bot = fuzz_bot
    bot.slack.reset_calls()

    response = bot.sender.post(*body_for(case))

    assert response.status_code == 200, response.text
    answer = confirmed(bot, response)
    request_id = int(re.search(r"Request #(\d+) is saved", json.dumps(answer)).group(1))
    bot.wait()
    row = bot.request(request_id)
    assert_stored_as_typed(row, case)
    assert_no_injected_markup(bot.slack.message(APPROVAL_CHANNEL, row.approval_ts), row)


def test_the_valid_pools_hold_only_valid_values():
    """The oracle's own premise: what the valid pools draw from is acceptable input."""
    assert all(not password_problems(password) for password in VALID_PASSWORDS)
    assert all(0 < len(name) <= 64 for name in VALID_NAMES)
    assert all(len(email) <= 128 and email.count("@") == 1 for email in VALID_EMAILS)
