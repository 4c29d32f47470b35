"""Tests of bot.requests.validation:
every rule of the modal, each error keyed by the field's block_id."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.requests.validation import (
    InvalidRequestError,
    RequestInput,
    ValidRequest,
    validate_request,
)
from bot.slack.render.modal import request_modal

VALID_PASSWORD = "Tr0ub4dor-Xq"
BLOCK_IDS = frozenset(
    block.block_id
    for block in request_modal(channel_id="C1", require_reason=True).blocks
    if block.block_id is not None
)


def make_input(**overrides: object) -> RequestInput:
    """A request that passes every rule; each test changes only what it is about."""
    fields: dict[str, object] = {
        "first_name": "Jill",
        "last_name": "Valentine",
        "email": "jill@example.com",
        "reason": "Training team needs its own account.",
    }
    fields.update(overrides)
    return RequestInput(**fields)


def errors_for(raw: RequestInput, *, require_reason: bool = True) -> dict[str, str]:
    with pytest.raises(InvalidRequestError) as raised:
        validate_request(raw, require_reason=require_reason)
    return raised.value.errors


# -- the happy path ------------------------------------------------------------------------


def test_minimal_valid_request_is_returned_cleaned():
    raw = make_input(first_name="  Jill ", last_name=" Valentine", email=" jill@example.com ")

    valid = validate_request(raw, require_reason=True)

    assert valid == ValidRequest(
        first_name="Jill",
        last_name="Valentine",
        email="jill@example.com",
        password=None,
        account_name=None,
        sub_reseller_id=None,
        options={},
        reason="Training team needs its own account.",
    )


def test_optional_text_fields_are_kept_when_given():
    raw = make_input(account_name="Training", sub_reseller_id="R-42")

    valid = validate_request(raw, require_reason=True)

    assert (valid.account_name, valid.sub_reseller_id) == ("Training", "R-42")


def test_empty_password_means_the_bot_generates_one():
    valid = validate_request(make_input(password=""), require_reason=True)

    assert valid.password is None


def test_valid_password_is_kept_unchanged():
    valid = validate_request(make_input(password=VALID_PASSWORD), require_reason=True)

    assert valid.password == VALID_PASSWORD


# -- required fields and lengths -----------------------------------------------------------


@pytest.mark.parametrize("field", ["first_name", "last_name", "email"])
def test_required_field_left_empty_is_an_error_on_its_block(field):
    errors = errors_for(make_input(**{field: ""}))

    assert errors == {field: "Required."}


@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_required_field_of_only_spaces_counts_as_empty(field):
    errors = errors_for(make_input(**{field: "   "}))

    assert errors == {field: "Required."}


@pytest.mark.parametrize(
    ("field", "limit"),
    [("first_name", 64), ("last_name", 64), ("account_name", 64), ("sub_reseller_id", 128)],
)
def test_text_at_its_length_limit_is_accepted(field, limit):
    valid = validate_request(make_input(**{field: "a" * limit}), require_reason=True)

    assert getattr(valid, field) == "a" * limit


@pytest.mark.parametrize(
    ("field", "limit"),
    [("first_name", 64), ("last_name", 64), ("account_name", 64), ("sub_reseller_id", 128)],
)
def test_text_one_past_its_length_limit_is_an_error_on_its_block(field, limit):
    errors = errors_for(make_input(**{field: "a" * (limit + 1)}))

    assert errors == {field: f"At most {limit} characters (this has {limit + 1})."}


def test_length_is_counted_after_surrounding_spaces_are_removed():
    valid = validate_request(make_input(first_name="  " + "a" * 64 + "  "), require_reason=True)

    assert valid.first_name == "a" * 64


def test_email_of_128_characters_is_accepted():
    email = "a" * (128 - len("@example.com")) + "@example.com"

    valid = validate_request(make_input(email=email), require_reason=True)

    assert valid.email == email


def test_email_of_129_characters_is_an_error_on_the_email_block():
    email = "a" * (129 - len("@example.com")) + "@example.com"

    errors = errors_for(make_input(email=email))

    assert errors == {"email": "At most 128 characters (this has 129)."}


def test_reason_over_1000_characters_is_an_error_on_the_reason_block():
    errors = errors_for(make_input(reason="r" * 1001))

    assert errors == {"reason": "At most 1000 characters (this has 1001)."}


# -- email format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "jill@example.com",
        "jill.valentine+zoom@mail.example.co.uk",
        "o'brien@example-corp.com",
        "JILL@EXAMPLE.COM",
    ],
)
def test_well_formed_email_is_accepted(email):
    valid = validate_request(make_input(email=email), require_reason=True)

    assert valid.email == email


@pytest.mark.parametrize(
    "email",
    [
        "jill",
        "jill@",
        "@example.com",
        "jill@example",
        "jill@@example.com",
        "jill @example.com",
        "jill@-example.com",
        "jill@example-.com",
        "jill@exa_mple.com",
        "<jill@example.com>",
        "jill@example.com,bob@example.com",
    ],
)
def test_malformed_email_is_an_error_on_the_email_block(email):
    errors = errors_for(make_input(email=email))

    assert errors == {"email": "Enter a valid email address, such as jill@example.com."}


# -- password rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt-x", "must be 8–32 characters"),
        ("Tr0ub4dor-Xq" * 3, "must be 8–32 characters"),
        ("tr0ub4dor-xq", "needs both upper- and lower-case letters"),
        ("TR0UB4DOR-XQ", "needs both upper- and lower-case letters"),
        ("Troubador-Xq", "needs at least one digit"),
        ("Tr0ub4dooor-Xq", "must not repeat a character 3 or more times in a row"),
        ("Tr0ub4dor-Xyz", 'must not contain runs like "abc", "cba" or "123"'),
        ("Tr0ub4dor-X321", 'must not contain runs like "abc", "cba" or "123"'),
        ("Tr0ub4 dor-Xq", "must not contain spaces or control characters"),
        ("Tr0ub4\tdor-Xq", "must not contain spaces or control characters"),
    ],
)
def test_password_breaking_a_rule_is_an_error_naming_that_rule(password, problem):
    errors = errors_for(make_input(password=password))

    assert set(errors) == {"password"}
    assert problem in errors["password"]


def test_password_error_lists_every_broken_rule():
    errors = errors_for(make_input(password="aaa"))

    assert errors == {
        "password": "Password must be 8–32 characters; needs both upper- and lower-case letters; "
        "needs at least one digit; must not repeat a character 3 or more times in a row. "
        "Or leave it empty."
    }


def test_password_error_does_not_repeat_the_password():
    password = "Tr0ub4dor-Xyz"

    errors = errors_for(make_input(password=password))

    assert password not in errors["password"]


# -- connector lists -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("list_name", "flag"),
    [("meeting_connector_list", "share_mc"), ("room_connector_list", "share_rc")],
)
def test_connector_list_with_its_share_option_goes_into_options(list_name, flag):
    raw = make_input(**{list_name: "10.0.0.1,10.0.0.2"}, options=(flag,))

    valid = validate_request(raw, require_reason=True)

    assert valid.options == {flag: True, list_name: ["10.0.0.1", "10.0.0.2"]}


def test_connector_list_accepts_ipv6_addresses_in_canonical_form():
    raw = make_input(meeting_connector_list="2001:DB8:0:0::1, ::1", options=("share_mc",))

    valid = validate_request(raw, require_reason=True)

    assert valid.options["meeting_connector_list"] == ["2001:db8::1", "::1"]


def test_connector_list_accepts_ipv4_and_ipv6_mixed():
    raw = make_input(room_connector_list="192.0.2.10,2001:db8::10", options=("share_rc",))

    valid = validate_request(raw, require_reason=True)

    assert valid.options["room_connector_list"] == ["192.0.2.10", "2001:db8::10"]


def test_connector_list_ignores_surrounding_whitespace_and_empty_entries():
    raw = make_input(
        meeting_connector_list="  10.0.0.1 ,\t10.0.0.2\n, ,10.0.0.3  ", options=("share_mc",)
    )

    valid = validate_request(raw, require_reason=True)

    assert valid.options["meeting_connector_list"] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_connector_list_accepts_one_address_per_line():
    raw = make_input(meeting_connector_list="10.0.0.1\n10.0.0.2", options=("share_mc",))

    valid = validate_request(raw, require_reason=True)

    assert valid.options["meeting_connector_list"] == ["10.0.0.1", "10.0.0.2"]


def test_connector_list_drops_duplicates_keeping_first_order():
    raw = make_input(
        meeting_connector_list="10.0.0.2, 10.0.0.1, 10.0.0.2, 2001:db8::1, 2001:DB8:0::1",
        options=("share_mc",),
    )

    valid = validate_request(raw, require_reason=True)

    assert valid.options["meeting_connector_list"] == ["10.0.0.2", "10.0.0.1", "2001:db8::1"]


@pytest.mark.parametrize(
    "entry", ["10.0.0", "10.0.0.256", "10.0.0.1/24", "host.example.com", "2001:db8::g", "1.2.3.4.5"]
)
def test_connector_list_with_a_non_address_is_an_error_naming_it(entry):
    raw = make_input(meeting_connector_list=f"10.0.0.1, {entry}", options=("share_mc",))

    errors = errors_for(raw)

    assert set(errors) == {"meeting_connector_list"}
    assert f"Not an IPv4 or IPv6 address: {entry}." in errors["meeting_connector_list"]


def test_connector_list_separated_by_spaces_only_is_an_error():
    raw = make_input(room_connector_list="10.0.0.1 10.0.0.2", options=("share_rc",))

    errors = errors_for(raw)

    assert errors["room_connector_list"].startswith("Not an IPv4 or IPv6 address: 10.0.0.1 10.0")


@pytest.mark.parametrize(
    ("list_name", "label"),
    [
        ("meeting_connector_list", "Share Meeting Connectors"),
        ("room_connector_list", "Share Room Connectors"),
    ],
)
def test_connector_list_without_its_share_option_is_an_error_on_the_list(list_name, label):
    errors = errors_for(make_input(**{list_name: "10.0.0.1"}))

    assert errors == {list_name: f"Tick “{label}” in Options to share these."}


def test_meeting_connector_list_is_not_unlocked_by_the_room_share_option():
    raw = make_input(meeting_connector_list="10.0.0.1", options=("share_rc",))

    errors = errors_for(raw)

    assert set(errors) == {"meeting_connector_list"}


def test_share_option_without_a_connector_list_is_just_the_flag():
    valid = validate_request(make_input(options=("share_mc",)), require_reason=True)

    assert valid.options == {"share_mc": True}


def test_connector_list_of_only_commas_and_spaces_counts_as_empty():
    valid = validate_request(make_input(meeting_connector_list=" , ,\n"), require_reason=True)

    assert valid.options == {}


# -- pay mode and options ------------------------------------------------------------------


@pytest.mark.parametrize("pay_mode", ["master", "sub"])
def test_pay_mode_master_or_sub_goes_into_options(pay_mode):
    valid = validate_request(make_input(pay_mode=pay_mode), require_reason=True)

    assert valid.options == {"pay_mode": pay_mode}


@pytest.mark.parametrize("pay_mode", ["Master", "reseller", "both"])
def test_unknown_pay_mode_is_an_error_on_the_pay_mode_block(pay_mode):
    errors = errors_for(make_input(pay_mode=pay_mode))

    assert errors == {"pay_mode": "Choose master or sub."}


def test_every_known_option_flag_goes_into_options_as_true():
    raw = make_input(options=("share_mc", "share_rc", "billing_auto_renew"))

    valid = validate_request(raw, require_reason=True)

    assert valid.options == {"share_mc": True, "share_rc": True, "billing_auto_renew": True}


def test_unknown_option_value_is_an_error_on_the_options_block():
    errors = errors_for(make_input(options=("share_mc", "make_me_admin")))

    assert errors == {"options": "Unknown option."}


def test_options_hold_only_what_was_given():
    raw = make_input(options=("share_rc",), room_connector_list="10.0.0.9")

    valid = validate_request(raw, require_reason=True)

    assert valid.options == {"share_rc": True, "room_connector_list": ["10.0.0.9"]}


def test_nothing_chosen_gives_empty_options():
    valid = validate_request(make_input(), require_reason=True)

    assert valid.options == {}


# -- reason --------------------------------------------------------------------------------


def test_missing_reason_is_an_error_when_reasons_are_required():
    errors = errors_for(make_input(reason="  "), require_reason=True)

    assert errors == {"reason": "Required."}


def test_missing_reason_is_accepted_when_reasons_are_optional():
    valid = validate_request(make_input(reason=""), require_reason=False)

    assert valid.reason is None


def test_reason_keeps_its_line_breaks():
    valid = validate_request(make_input(reason="Line one\nLine two"), require_reason=True)

    assert valid.reason == "Line one\nLine two"


# -- control characters and unicode --------------------------------------------------------


@pytest.mark.parametrize("field", ["first_name", "last_name", "account_name", "sub_reseller_id"])
@pytest.mark.parametrize(
    "character",
    ["\n", "\t", "\x00", "\x1b", "\x7f", "\u202e", "\u200b"],
    ids=["newline", "tab", "nul", "escape", "delete", "rtl-override", "zero-width-space"],
)
def test_control_character_in_a_single_line_field_is_an_error_on_its_block(field, character):
    errors = errors_for(make_input(**{field: f"Ji{character}ll"}))

    assert errors == {field: "Remove control characters (such as tabs or line breaks)."}


@pytest.mark.parametrize("character", ["\t", "\x00", "\u202e"])
def test_control_character_other_than_newline_in_the_reason_is_an_error(character):
    errors = errors_for(make_input(reason=f"Needed{character}now"))

    assert errors == {"reason": "Remove control characters (such as tabs or line breaks)."}


@pytest.mark.parametrize(
    ("first_name", "last_name"),
    [("José", "Müller-Lüdenscheidt"), ("Zoë", "O'Brien"), ("美咲", "山田"), ("Анна", "Иванова")],
)
def test_unicode_names_are_accepted(first_name, last_name):
    raw = make_input(first_name=first_name, last_name=last_name, account_name=f"{first_name} Ltd")

    valid = validate_request(raw, require_reason=True)

    assert (valid.first_name, valid.last_name) == (first_name, last_name)


def test_persian_name_with_zero_width_non_joiner_is_accepted():
    name = "\u0645\u0647\u0631\u200c\u062f\u0627\u062f"  # Mehr‌dad, written with a ZWNJ

    valid = validate_request(make_input(first_name=name), require_reason=True)

    assert valid.first_name == name


def test_multi_byte_characters_count_as_one_character_each():
    valid = validate_request(make_input(first_name="é" * 64), require_reason=True)

    assert valid.first_name == "é" * 64


# -- all errors at once --------------------------------------------------------------------


def test_every_problem_is_reported_at_once_keyed_by_block_id():
    raw = RequestInput(
        first_name="",
        last_name="x" * 65,
        email="not-an-email",
        password="short",
        account_name="a\tb",
        sub_reseller_id="r" * 129,
        pay_mode="neither",
        options=("bogus",),
        meeting_connector_list="10.0.0.1",
        room_connector_list="nope",
        reason="",
    )

    errors = errors_for(raw, require_reason=True)

    assert set(errors) == {
        "first_name",
        "last_name",
        "email",
        "password",
        "account_name",
        "sub_reseller_id",
        "pay_mode",
        "options",
        "meeting_connector_list",
        "room_connector_list",
        "reason",
    }


def test_error_message_of_the_exception_names_the_failing_blocks():
    with pytest.raises(InvalidRequestError, match=r"^email, first_name$"):
        validate_request(make_input(first_name="", email="x"), require_reason=True)


def test_every_error_key_is_a_block_id_of_the_modal():
    raw = replace(
        make_input(),
        first_name="",
        email="x",
        password="x",
        pay_mode="x",
        options=("x",),
        meeting_connector_list="x",
        room_connector_list="x",
    )

    errors = errors_for(raw)

    assert set(errors) <= BLOCK_IDS


# -- property: never any other exception ---------------------------------------------------

OPTION_KEYS = {
    "share_mc",
    "share_rc",
    "billing_auto_renew",
    "pay_mode",
    "meeting_connector_list",
    "room_connector_list",
}


def _either(*plausible: str, max_size: int = 200) -> st.SearchStrategy[str]:
    """Arbitrary text, mixed with values that pass so both outcomes are explored."""
    return st.one_of(st.sampled_from(plausible), st.text(max_size=max_size))


_option_values = st.lists(
    st.one_of(st.sampled_from(["share_mc", "share_rc", "billing_auto_renew"]), st.text()),
    max_size=4,
).map(tuple)
_addresses = _either("", "10.0.0.1", "10.0.0.1, 2001:db8::1", " ::1 ,\n10.0.0.1")


def validate_or_errors(raw: RequestInput, *, require_reason: bool) -> ValidRequest | dict:
    try:
        return validate_request(raw, require_reason=require_reason)
    except InvalidRequestError as error:
        return error.errors


@settings(max_examples=300, deadline=None, database=None)
@given(
    raw=st.builds(
        RequestInput,
        first_name=_either("Jill", "José"),
        last_name=_either("Valentine", "山田"),
        email=_either("jill@example.com", " a.b+c@d-e.example "),
        password=_either("", VALID_PASSWORD),
        account_name=_either("", "Training"),
        sub_reseller_id=_either("", "R-42"),
        pay_mode=_either("", "master", "sub"),
        options=_option_values,
        meeting_connector_list=_addresses,
        room_connector_list=_addresses,
        reason=_either("", "Needed.", "Line one\nLine two", max_size=1100),
    ),
    require_reason=st.booleans(),
)
def test_arbitrary_input_gives_a_valid_request_or_errors_keyed_by_modal_block_ids(
    raw, require_reason
):
    result = validate_or_errors(raw, require_reason=require_reason)

    if isinstance(result, ValidRequest):
        assert set(result.options) <= OPTION_KEYS
    else:
        assert result
        assert set(result) <= BLOCK_IDS
