"""Tests of bot.slack.render.modal:
the request modal's shape (CONTRACT.md) and reading its state back."""

from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError

from bot.requests.validation import RequestInput, validate_request
from bot.slack.render.modal import (
    channel_from_metadata,
    notice_view,
    parse_state,
    request_form,
    request_modal,
)
from sandbox.slack_signing import (
    checkboxes_value,
    email_value,
    plain_text_value,
    static_select_value,
)
from tests.contract import CONTRACT_BLOCK_IDS


def modal_dict(*, require_reason: bool = True, channel_id: str = "C0REQ") -> dict[str, Any]:
    return request_modal(channel_id=channel_id, require_reason=require_reason).to_dict()


def input_blocks(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in modal["blocks"] if block["type"] == "input"}


def full_state() -> dict[str, dict[str, dict[str, Any]]]:
    """Every field filled in, shaped as Slack's `view.state.values`."""
    return {
        "first_name": {"first_name": plain_text_value("Jill")},
        "last_name": {"last_name": plain_text_value("Valentine")},
        "email": {"email": email_value("jill@example.com")},
        "password": {"password": plain_text_value("Tr0ub4dor-Xq")},
        "account_name": {"account_name": plain_text_value("Training")},
        "sub_reseller_id": {"sub_reseller_id": plain_text_value("R-42")},
        "pay_mode": {"pay_mode": static_select_value("sub")},
        "options": {"options": checkboxes_value(["share_mc", "share_rc", "billing_auto_renew"])},
        "meeting_connector_list": {"meeting_connector_list": plain_text_value("10.0.0.1")},
        "room_connector_list": {"room_connector_list": plain_text_value("2001:db8::1")},
        "reason": {"reason": plain_text_value("Training team\nneeds it")},
    }


# -- the modal -----------------------------------------------------------------------------


def test_modal_has_the_contract_callback_id():
    assert modal_dict()["callback_id"] == "create_sub_account"


def test_modal_has_an_input_for_every_contract_block_id():
    assert set(input_blocks(modal_dict())) == CONTRACT_BLOCK_IDS


@pytest.mark.parametrize("block_id", sorted(CONTRACT_BLOCK_IDS))
def test_each_input_action_id_equals_its_block_id(block_id):
    block = input_blocks(modal_dict())[block_id]

    assert block["element"]["action_id"] == block_id


def test_email_uses_slacks_email_input():
    element = input_blocks(modal_dict())["email"]["element"]

    assert element["type"] == "email_text_input"


@pytest.mark.parametrize(
    "block_id",
    [
        "first_name",
        "last_name",
        "password",
        "account_name",
        "sub_reseller_id",
        "meeting_connector_list",
        "room_connector_list",
        "reason",
    ],
)
def test_text_fields_use_plain_text_inputs(block_id):
    element = input_blocks(modal_dict())[block_id]["element"]

    assert element["type"] == "plain_text_input"


def test_pay_mode_is_a_static_select_of_master_and_sub():
    element = input_blocks(modal_dict())["pay_mode"]["element"]

    assert element["type"] == "static_select"
    assert [option["value"] for option in element["options"]] == ["master", "sub"]


def test_options_are_checkboxes_with_the_contract_values():
    element = input_blocks(modal_dict())["options"]["element"]

    assert element["type"] == "checkboxes"
    assert [option["value"] for option in element["options"]] == [
        "share_mc",
        "share_rc",
        "billing_auto_renew",
    ]


def test_names_and_email_are_required_and_the_rest_optional_but_reason():
    blocks = input_blocks(modal_dict(require_reason=True))

    required = {block_id for block_id, block in blocks.items() if not block.get("optional")}

    assert required == {"first_name", "last_name", "email", "reason"}


def test_reason_is_optional_when_reasons_are_not_required():
    blocks = input_blocks(modal_dict(require_reason=False))

    assert blocks["reason"]["optional"] is True


def test_reason_is_a_multiline_input():
    element = input_blocks(modal_dict())["reason"]["element"]

    assert element["multiline"] is True


@pytest.mark.parametrize(
    ("block_id", "limit"),
    [("first_name", 64), ("last_name", 64), ("account_name", 64), ("sub_reseller_id", 128)],
)
def test_length_limited_inputs_carry_the_limit(block_id, limit):
    element = input_blocks(modal_dict())[block_id]["element"]

    assert element["max_length"] == limit


def test_modal_remembers_the_channel_in_private_metadata():
    modal = modal_dict(channel_id="C0REQ")

    assert channel_from_metadata(modal["private_metadata"]) == "C0REQ"


def test_modal_tells_the_requester_the_password_is_never_shown():
    modal = modal_dict()

    context = [block for block in modal["blocks"] if block["type"] == "context"]

    assert "never shown to approvers" in context[0]["elements"][0]["text"]


# -- the cached blank form ------------------------------------------------------------------


@pytest.mark.parametrize("require_reason", [True, False])
@pytest.mark.parametrize("channel_id", ["C0REQ", "C1", "G0PRIVATE", "D0DM", "", 'C"quote\\'])
def test_request_form_equals_the_modals_dict(channel_id, require_reason):
    form = request_form(channel_id=channel_id, require_reason=require_reason)

    assert form == modal_dict(channel_id=channel_id, require_reason=require_reason)


def test_request_form_keeps_the_channel_of_each_call():
    first = request_form(channel_id="C1", require_reason=True)
    second = request_form(channel_id="C2", require_reason=True)

    assert channel_from_metadata(first["private_metadata"]) == "C1"
    assert channel_from_metadata(second["private_metadata"]) == "C2"


def test_changing_a_returned_form_at_the_top_leaves_later_forms_intact():
    form = request_form(channel_id="C1", require_reason=True)
    form["title"] = {"type": "plain_text", "text": "Tampered"}
    form["blocks"] = []
    del form["callback_id"]

    assert request_form(channel_id="C1", require_reason=True) == modal_dict(channel_id="C1")


def test_request_form_refuses_metadata_past_slacks_limit_as_the_modal_does():
    with pytest.raises(SlackObjectFormationError):
        request_form(channel_id="C" * 3000, require_reason=True)


@pytest.mark.parametrize(
    "metadata", ["", "not json", "[1, 2]", "null", '"C1"', '{"channel_id": 5}']
)
def test_garbled_private_metadata_gives_no_channel(metadata):
    assert channel_from_metadata(metadata) is None


def test_notice_view_shows_the_text_in_a_closable_modal():
    view = notice_view(title="Request sent", text="Request #7 is waiting.").to_dict()

    assert view["type"] == "modal"
    assert view["title"]["text"] == "Request sent"
    assert view["close"]["text"] == "Done"
    assert view["blocks"][0]["text"]["text"] == "Request #7 is waiting."


# -- parse_state ---------------------------------------------------------------------------


def test_parse_state_reads_every_field_of_a_filled_in_modal():
    raw = parse_state(full_state())

    assert raw == RequestInput(
        first_name="Jill",
        last_name="Valentine",
        email="jill@example.com",
        password="Tr0ub4dor-Xq",
        account_name="Training",
        sub_reseller_id="R-42",
        pay_mode="sub",
        options=("share_mc", "share_rc", "billing_auto_renew"),
        meeting_connector_list="10.0.0.1",
        room_connector_list="2001:db8::1",
        reason="Training team\nneeds it",
    )


def test_parsed_state_of_a_filled_in_modal_validates():
    valid = validate_request(parse_state(full_state()), require_reason=True)

    assert valid.options == {
        "share_mc": True,
        "share_rc": True,
        "billing_auto_renew": True,
        "pay_mode": "sub",
        "meeting_connector_list": ["10.0.0.1"],
        "room_connector_list": ["2001:db8::1"],
    }


def test_parse_state_reads_empty_inputs_as_empty_strings():
    values = {
        "first_name": {"first_name": plain_text_value("Jill")},
        "password": {"password": plain_text_value(None)},
        "email": {"email": email_value(None)},
        "pay_mode": {"pay_mode": static_select_value(None)},
        "options": {"options": checkboxes_value([])},
    }

    raw = parse_state(values)

    assert raw == RequestInput(first_name="Jill")


def test_parse_state_of_no_values_is_an_empty_request():
    assert parse_state({}) == RequestInput()


def test_parse_state_ignores_blocks_it_does_not_know():
    values = {**full_state(), "surprise": {"surprise": plain_text_value("x")}}

    assert parse_state(values) == parse_state(full_state())


@pytest.mark.parametrize(
    "garbled",
    [
        None,
        "Jill",
        ["Jill"],
        {},
        {"wrong_action": plain_text_value("Jill")},
        {"first_name": None},
        {"first_name": "Jill"},
        {"first_name": {"type": "plain_text_input", "value": 42}},
        {"first_name": {"type": "plain_text_input", "value": ["Jill"]}},
    ],
    ids=[
        "none",
        "string",
        "list",
        "empty",
        "other-action-id",
        "null-element",
        "string-element",
        "int-value",
        "list-value",
    ],
)
def test_garbled_text_block_reads_as_empty(garbled):
    values = {**full_state(), "first_name": garbled}

    assert parse_state(values).first_name == ""


@pytest.mark.parametrize(
    "selected",
    [None, "sub", ["sub"], {}, {"value": 1}, {"text": "sub"}],
    ids=["none", "string", "list", "empty", "int-value", "no-value"],
)
def test_garbled_pay_mode_reads_as_empty(selected):
    values = {
        **full_state(),
        "pay_mode": {"pay_mode": {"type": "static_select", "selected_option": selected}},
    }

    assert parse_state(values).pay_mode == ""


@pytest.mark.parametrize("selected", [None, "share_mc", {"value": "share_mc"}])
def test_garbled_checkbox_list_reads_as_no_options(selected):
    values = {
        **full_state(),
        "options": {"options": {"type": "checkboxes", "selected_options": selected}},
    }

    assert parse_state(values).options == ()


def test_checkbox_entries_that_are_not_objects_are_skipped():
    selected = ["share_mc", None, {"value": "share_rc"}, 7]
    values = {
        **full_state(),
        "options": {"options": {"type": "checkboxes", "selected_options": selected}},
    }

    assert parse_state(values).options == ("share_rc",)


def test_parse_state_keeps_text_exactly_as_typed():
    values = {"first_name": {"first_name": plain_text_value("  <@U123> Jill  ")}}

    assert parse_state(values).first_name == "  <@U123> Jill  "
