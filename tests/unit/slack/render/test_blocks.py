"""Tests of bot.slack.render.blocks: the approval message in every state, escaping, no passwords."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.db.models import RequestStatus, SubaccountRequest
from bot.requests.passwords import PasswordVault
from bot.slack.render.blocks import (
    ApprovalSettings,
    Rendered,
    describe_options,
    escape,
    mention,
    request_message,
    slack_date,
)

SETTINGS = ApprovalSettings(required_approvals=1, approve_reaction="+1", reject_reaction="x")
DECIDED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DATE = "<!date^1714564800^{date_short_pretty} {time}|2024-05-01 12:00 UTC>"


def make_row(**overrides: Any) -> SubaccountRequest:
    fields: dict[str, Any] = {
        "id": 7,
        "status": RequestStatus.PENDING_APPROVAL,
        "requester_id": "UREQ",
        "channel_id": "C0REQ",
        "first_name": "Jill",
        "last_name": "Valentine",
        "email": "jill@example.com",
        "account_name": "Training",
        "reason": "Training team needs it.",
    }
    fields.update(overrides)
    return SubaccountRequest(**fields)


def render(row: SubaccountRequest, **kwargs: Any) -> Rendered:
    kwargs.setdefault("approvers", [])
    kwargs.setdefault("settings", SETTINGS)
    return request_message(row, **kwargs)


def everything_shown(rendered: Rendered) -> str:
    return rendered.text + "\n" + json.dumps(rendered.blocks, ensure_ascii=False)


def buttons(rendered: Rendered) -> list[dict[str, Any]]:
    return [
        element
        for block in rendered.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def status_line(rendered: Rendered) -> str:
    contexts = [block for block in rendered.blocks if block["type"] == "context"]
    return contexts[0]["elements"][0]["text"]


def section_texts(rendered: Rendered) -> list[str]:
    return [
        block["text"]["text"]
        for block in rendered.blocks
        if block["type"] == "section" and "text" in block
    ]


def detail_fields(rendered: Rendered) -> dict[str, str]:
    fields = next(block["fields"] for block in rendered.blocks if "fields" in block)
    labelled = (field["text"].split("\n", 1) for field in fields)
    return {label.strip("*"): value for label, value in labelled}


# -- buttons -------------------------------------------------------------------------------


def test_pending_request_shows_approve_and_reject_buttons_carrying_the_request_id():
    rendered = render(make_row(id=7))

    assert [(b["action_id"], b["value"]) for b in buttons(rendered)] == [
        ("approve_request", "7"),
        ("reject_request", "7"),
    ]


def test_reject_button_asks_for_confirmation():
    reject = buttons(render(make_row()))[1]

    assert reject["confirm"]["confirm"]["text"] == "Reject"


@pytest.mark.parametrize("status", sorted(set(RequestStatus) - {RequestStatus.PENDING_APPROVAL}))
def test_decided_request_shows_no_buttons(status):
    row = make_row(status=status, approver_id="UAPP", decided_at=DECIDED_AT)

    assert buttons(render(row)) == []


# -- progress ------------------------------------------------------------------------------


def test_pending_request_with_no_approvals_shows_zero_progress():
    settings = ApprovalSettings(required_approvals=2, approve_reaction="+1", reject_reaction="x")

    line = status_line(render(make_row(), settings=settings))

    assert "(0 of 2 approvals)" in line


def test_pending_request_shows_approvals_so_far_with_mentions():
    settings = ApprovalSettings(required_approvals=2, approve_reaction="+1", reject_reaction="x")

    line = status_line(render(make_row(), approvers=["UAPP1"], settings=settings))

    assert "(1 of 2 approvals: <@UAPP1>)" in line


def test_progress_lists_every_approver_in_order():
    settings = ApprovalSettings(required_approvals=3, approve_reaction="+1", reject_reaction="x")

    line = status_line(render(make_row(), approvers=["UA", "UB"], settings=settings))

    assert "(2 of 3 approvals: <@UA>, <@UB>)" in line


def test_pending_request_names_the_reactions_to_use():
    settings = ApprovalSettings(
        required_approvals=1, approve_reaction="white_check_mark", reject_reaction="no_entry"
    )

    line = status_line(render(make_row(), settings=settings))

    assert "React with :white_check_mark: to approve or :no_entry: to reject" in line


def test_decided_request_shows_no_progress():
    row = make_row(status=RequestStatus.CREATED, approver_id="UAPP", decided_at=DECIDED_AT)

    line = status_line(render(row, approvers=["UAPP"]))

    assert "approvals" not in line


# -- headlines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headline"),
    [
        (RequestStatus.PROVISIONING, f":gear: Approved by <@UAPP> {DATE}; creating the account"),
        (RequestStatus.CREATED, f":white_check_mark: Approved by <@UAPP> {DATE}; account created"),
        (
            RequestStatus.FAILED,
            f":warning: Approved by <@UAPP> {DATE}; Zoom did not create the account",
        ),
        (
            RequestStatus.UNKNOWN,
            f":grey_question: Approved by <@UAPP> {DATE}; outcome unknown, check Zoom",
        ),
        (RequestStatus.REJECTED, f":no_entry: Rejected by <@UAPP> {DATE}"),
        (RequestStatus.EXPIRED, ":clock3: Expired without a decision"),
        (RequestStatus.DENIED, ":no_entry: Refused"),
    ],
)
def test_decided_request_status_line_is_the_headline_of_its_status(status, headline):
    row = make_row(status=status, approver_id="UAPP", decided_at=DECIDED_AT)

    assert status_line(render(row)).startswith(headline)


@pytest.mark.parametrize(
    ("status", "headline"),
    [
        (RequestStatus.PENDING_APPROVAL, ":hourglass: Waiting for approval"),
        (RequestStatus.CREATED, ":white_check_mark: Approved by <@UAPP>"),
        (RequestStatus.REJECTED, ":no_entry: Rejected by <@UAPP>"),
    ],
)
def test_notification_text_names_request_requester_and_headline(status, headline):
    row = make_row(id=12, status=status, approver_id="UAPP", decided_at=DECIDED_AT)

    text = render(row).text

    assert text.startswith(f"Zoom sub account request #12 from <@UREQ>: {headline}")


def test_request_approved_by_policy_says_so_instead_of_a_person():
    row = make_row(status=RequestStatus.PROVISIONING, approver_id=None, decided_at=None)

    line = status_line(render(row))

    assert line.startswith(":gear: Approved by policy (no approval required)")
    assert "<@" not in line


def test_header_carries_the_request_number():
    rendered = render(make_row(id=42))

    assert rendered.blocks[0]["type"] == "header"
    assert rendered.blocks[0]["text"]["text"] == "Zoom sub account request #42"


def test_outcome_is_shown_as_its_own_section():
    row = make_row(status=RequestStatus.CREATED, approver_id="UAPP", decided_at=DECIDED_AT)

    rendered = render(row, outcome="Account *abc123* created.")

    assert section_texts(rendered)[-1] == "Account *abc123* created."


def test_very_long_outcome_is_cut_to_fit_a_section():
    row = make_row(status=RequestStatus.FAILED, approver_id="UAPP", decided_at=DECIDED_AT)

    rendered = render(row, outcome="x" * 5000)

    assert section_texts(rendered)[-1] == "x" * 2900


# -- details -------------------------------------------------------------------------------


def test_details_show_name_email_account_name_and_options():
    row = make_row(options={"share_mc": True, "pay_mode": "sub"})

    assert detail_fields(render(row)) == {
        "Name": "Jill Valentine",
        "Owner email": "jill@example.com",
        "Account name": "Training",
        "Options": "share Meeting Connectors; sub account pays",
    }


def test_missing_account_name_says_zoom_uses_the_names():
    assert detail_fields(render(make_row(account_name=None)))["Account name"] == (
        "(first + last name)"
    )


def test_sub_reseller_id_is_shown_only_when_given():
    with_id = detail_fields(render(make_row(sub_reseller_id="R-42")))
    without = detail_fields(render(make_row(sub_reseller_id=None)))

    assert with_id["Sub-reseller ID"] == "R-42"
    assert "Sub-reseller ID" not in without


def test_requester_is_mentioned():
    assert "<@UREQ> asks for a Zoom sub account." in section_texts(render(make_row()))


def test_reason_is_shown_quoted_line_by_line():
    rendered = render(make_row(reason="Training team\nneeds it"))

    assert "*Reason*\n>Training team\n>needs it" in section_texts(rendered)


def test_request_without_reason_has_no_reason_section():
    rendered = render(make_row(reason=None))

    assert not any(text.startswith("*Reason*") for text in section_texts(rendered))


def test_describe_options_without_options_says_zoom_defaults():
    assert describe_options(None) == "Zoom defaults"


def test_describe_options_lists_flags_pay_mode_and_connectors():
    options = {
        "share_mc": True,
        "share_rc": True,
        "billing_auto_renew": True,
        "pay_mode": "master",
        "meeting_connector_list": ["10.0.0.1", "10.0.0.2"],
        "room_connector_list": ["2001:db8::1"],
    }

    assert describe_options(options) == (
        "share Meeting Connectors; share Room Connectors; billing auto-renew; "
        "master account pays; Meeting Connectors: 10.0.0.1, 10.0.0.2; Room Connectors: 2001:db8::1"
    )


# -- escaping and secrets ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["first_name", "last_name", "account_name", "sub_reseller_id"])
@pytest.mark.parametrize("typed", ["<!channel>", "<@U123>", "<https://evil.example|click>"])
def test_mention_or_link_typed_into_a_detail_comes_out_escaped(field, typed):
    rendered = render(make_row(**{field: f"x {typed}"}))

    shown = everything_shown(rendered)

    assert typed not in shown
    assert escape(typed) in shown


@pytest.mark.parametrize("typed", ["<!channel>", "<@U123>", "<!subteam^S1>"])
def test_mention_typed_into_the_reason_comes_out_escaped(typed):
    rendered = render(make_row(reason=f"Please {typed}\nthanks {typed}"))

    assert typed not in everything_shown(rendered)
    assert f"*Reason*\n>Please {escape(typed)}\n>thanks {escape(typed)}" in section_texts(rendered)


def test_mention_in_the_email_comes_out_escaped():
    rendered = render(make_row(email="<!here>@example.com"))

    assert "<!here>" not in everything_shown(rendered)


def test_connector_list_in_options_is_escaped():
    rendered = render(make_row(options={"meeting_connector_list": ["<!channel>"]}))

    assert "<!channel>" not in everything_shown(rendered)


def test_ampersand_typed_by_the_user_is_escaped_once():
    rendered = render(make_row(account_name="R&D &lt;team&gt;"))

    assert detail_fields(rendered)["Account name"] == "R&amp;D &amp;lt;team&amp;gt;"


def test_message_never_contains_the_password_or_its_ciphertext():
    password = "Tr0ub4dor-Xq"
    ciphertext = PasswordVault(Fernet.generate_key()).encrypt(password)
    row = make_row(password_ciphertext=ciphertext, password_generated=False)

    shown = everything_shown(render(row))

    assert password not in shown
    assert ciphertext.decode() not in shown
    assert "password" not in shown.lower()


def test_reason_full_of_characters_that_need_escaping_still_renders():
    rendered = render(make_row(reason="<" * 1000))

    assert any(text.startswith("*Reason*") for text in section_texts(rendered))


# -- small helpers -------------------------------------------------------------------------


def test_escape_replaces_exactly_slacks_three_control_characters():
    assert escape("a & b < c > d *e* _f_") == "a &amp; b &lt; c &gt; d *e* _f_"


def test_mention_of_a_user_id():
    assert mention("U123") == "<@U123>"


def test_mention_of_nobody_is_someone():
    assert mention(None) == "someone"


def test_slack_date_formats_with_a_utc_fallback():
    assert slack_date(DECIDED_AT) == DATE


def test_slack_date_of_nothing_is_empty():
    assert slack_date(None) == ""
