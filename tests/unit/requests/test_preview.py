"""The confirmation step's pieces: sealing the form's values, the body shown, the views."""

import json
import time
import zlib

import pytest
from cryptography.fernet import Fernet

from bot.requests.passwords import PasswordVault
from bot.requests.preview import (
    GENERATED_PASSWORD,
    METADATA_LIMIT,
    PREVIEW_TTL_SECONDS,
    ApprovalRoute,
    Draft,
    Preview,
    PreviewExpiredError,
    PreviewInvalidError,
    open_draft,
    seal_draft,
    shown_body,
)
from bot.requests.validation import RequestInput, validate_request
from bot.slack.render.preview_view import (
    SECTION_LIMIT,
    approvers_text,
    channel_text,
    code_chunks,
    filled_form,
    preview_view,
    zoom_json,
)

KEY = Fernet.generate_key()
TYPED = RequestInput(
    first_name=" Jill ",
    last_name="Chill",
    email="jill@example.com",
    password="Xk9mQ2vLp7zR",
    pay_mode="sub",
    options=("share_rc",),
    room_connector_list="10.0.0.1",
    reason="Partner onboarding",
)


def vault() -> PasswordVault:
    return PasswordVault(KEY)


def route(**changes) -> ApprovalRoute:
    values = {
        "required_approvals": 1,
        "approver_ids": ("UAPP1", "UAPP2"),
        "requester_is_approver": False,
        "channel_id": "CAPPROVE1",
    }
    return ApprovalRoute(**{**values, **changes})


def test_sealed_values_come_back_as_typed_with_when_they_were_sealed():
    sealed = seal_draft(Draft(user_id="UREQ1", channel_id="CORIGIN1", raw=TYPED), vault())

    draft = open_draft(sealed, vault(), user_id="UREQ1")

    assert (draft.user_id, draft.channel_id, draft.raw) == ("UREQ1", "CORIGIN1", TYPED)
    assert draft.made_at is not None
    assert abs(draft.made_at.timestamp() - time.time()) < 5


def test_sealed_values_hide_the_password():
    sealed = seal_draft(Draft(user_id="UREQ1", channel_id=None, raw=TYPED), vault())

    assert TYPED.password not in sealed
    assert "Jill" not in sealed
    assert open_draft(sealed, vault(), user_id="UREQ1").channel_id is None


def test_sealed_values_expire():
    fernet = Fernet(KEY)
    sealed = seal_draft(Draft(user_id="UREQ1", channel_id=None, raw=TYPED), vault())
    old = fernet.encrypt_at_time(
        fernet.decrypt(sealed), int(time.time()) - PREVIEW_TTL_SECONDS - 5
    ).decode()

    with pytest.raises(PreviewExpiredError):
        open_draft(old, vault(), user_id="UREQ1")


@pytest.mark.parametrize(
    "make_sealed",
    [
        lambda: "",
        lambda: "not a token",
        lambda: "ünïcode",
        lambda: Fernet(Fernet.generate_key()).encrypt(b"x").decode(),
        lambda: Fernet(KEY).encrypt(b"not zlib").decode(),
        lambda: Fernet(KEY).encrypt(zlib.compress(b'[2,"UREQ1","",[]]')).decode(),
    ],
    ids=["empty", "garbage", "non-ascii", "another key", "not compressed", "another format"],
)
def test_values_not_sealed_by_this_bot_are_refused(make_sealed):
    # Made when the test runs: a token made at collection expires on a suite slower than its age.
    with pytest.raises(PreviewInvalidError):
        open_draft(make_sealed(), vault(), user_id="UREQ1")


def test_values_sealed_for_someone_else_are_refused():
    sealed = seal_draft(Draft(user_id="UREQ1", channel_id=None, raw=TYPED), vault())

    with pytest.raises(PreviewInvalidError):
        open_draft(sealed, vault(), user_id="UOTHER")


def test_shown_body_masks_a_typed_password_and_names_a_generated_one():
    typed = validate_request(TYPED, require_reason=True)
    blank = validate_request(
        RequestInput(first_name="A", last_name="B", email="a@example.com", reason="r"),
        require_reason=True,
    )

    assert shown_body(typed) == {
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "jill@example.com",
        "password": "********",
        "options": {"share_rc": True, "pay_mode": "sub", "room_connector_list": ["10.0.0.1"]},
    }
    assert shown_body(blank)["password"] == GENERATED_PASSWORD
    assert "options" not in shown_body(blank)


def test_code_chunks_split_long_json_into_blocks_slack_accepts():
    body = {"list": [f"2001:db8::{n:x}" for n in range(600)], "name": "<&>" * 200}
    text = json.dumps(body, indent=2)

    chunks = code_chunks(text)

    assert len(chunks) > 1
    assert all(len(chunk) <= SECTION_LIMIT for chunk in chunks)
    assert all(chunk.startswith("```\n") and chunk.endswith("\n```") for chunk in chunks)
    inner = "\n".join(chunk[4:-4] for chunk in chunks)
    assert json.loads(inner.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) == (
        body
    )


def test_a_line_longer_than_a_block_is_cut_outside_entities():
    chunks = code_chunks("&" * 4000)

    inner = "".join(chunk[4:-4] for chunk in chunks)
    assert all(len(chunk) <= SECTION_LIMIT for chunk in chunks)
    assert inner.replace("\n", "") == "&amp;" * 4000


def test_backticks_that_would_close_the_code_block_are_json_escaped():
    body = {"first_name": "```block```", "last_name": "`ok`"}

    shown = zoom_json(body)

    assert "```" not in shown
    assert json.loads(shown) == body
    assert zoom_json({"first_name": "`ok`"}) == json.dumps({"first_name": "`ok`"}, indent=2)


def test_approvers_text_covers_each_case():
    assert approvers_text(route()) == "Needs 1 approval from: <@UAPP1>, <@UAPP2>"
    assert "different people among" in approvers_text(route(required_approvals=2))
    assert "Only 2 of them" in approvers_text(route(required_approvals=3))
    assert "Nobody else on the approver list" in approvers_text(route(approver_ids=()))
    assert approvers_text(route(requester_is_approver=True)).endswith(
        "Not you: nobody approves their own request."
    )
    assert "No approval is needed" in approvers_text(route(required_approvals=0))
    many = approvers_text(route(approver_ids=tuple(f"U{n:04d}" for n in range(45))))
    assert many.endswith("and 15 more")


def test_channel_text_names_the_channel_or_says_there_is_none():
    assert channel_text(route()) == "It is posted for approval in <#CAPPROVE1>."
    assert "for the record" in channel_text(route(required_approvals=0))
    assert "no channel" in channel_text(route(channel_id=None))


def test_preview_view_is_a_valid_modal_carrying_the_sealed_values():
    typed = validate_request(TYPED, require_reason=True)
    preview = Preview(
        zoom_body=shown_body(typed),
        password_typed=True,
        reason=typed.reason,
        route=route(),
        sealed="sealed-token",
    )

    view = preview_view(preview)
    view.validate_json()  # slack_sdk checks Slack's limits
    shown = view.to_dict()

    assert shown["private_metadata"] == "sealed-token"
    assert (shown["submit"]["text"], shown["callback_id"]) == (
        "Submit request",
        "confirm_sub_account",
    )
    assert len(shown["private_metadata"]) <= METADATA_LIMIT


def test_filled_form_has_every_value_but_the_password():
    form = filled_form(
        Draft(user_id="UREQ1", channel_id="CORIGIN1", raw=TYPED), require_reason=True
    ).to_dict()

    inputs = {block["block_id"]: block for block in form["blocks"] if block["type"] == "input"}
    assert inputs["first_name"]["element"]["initial_value"] == "Jill"
    assert inputs["room_connector_list"]["element"]["initial_value"] == "10.0.0.1"
    assert inputs["pay_mode"]["element"]["initial_option"]["value"] == "sub"
    assert [o["value"] for o in inputs["options"]["element"]["initial_options"]] == ["share_rc"]
    assert "initial_value" not in inputs["password"]["element"]
    assert "Xk9mQ2vLp7zR" not in json.dumps(form)
    assert "initial_value" not in inputs["account_name"]["element"]
