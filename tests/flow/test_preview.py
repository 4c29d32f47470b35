"""The dry-run preview (issue 6, point 4): the form's submit shows what Zoom will receive and who
may approve; only the confirmation's Submit stores the request; Back returns to the form."""

import json
import random
import time
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.db.models import RequestEvent, SubaccountRequest
from bot.requests.preview import GENERATED_PASSWORD
from bot.slack import ids
from sandbox.slack_signing import view_block_actions_body
from tests.flow.support import approve, dms, json_body, posts
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    ENCRYPTION_KEY,
    GOOD_PASSWORD,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    BotHarness,
    preview_metadata,
    running_bot,
)

FULL_FORM = {
    "first_name": "Jill",
    "last_name": "Chill",
    "email": "jill@example.com",
    "account_name": "Partner Co",
    "sub_reseller_id": "reseller-7",
    "pay_mode": "sub",
    "options": ["share_mc", "billing_auto_renew"],
    "meeting_connector_list": "10.0.0.1, 2001:db8::1",
    "reason": "A new reseller <!channel> & friends",
}


@pytest.fixture
def bot(database_url, tmp_path):
    with running_bot(database_url, tmp_path) as harness:
        yield harness


def preview_of(bot: BotHarness, user_id: str = REQUESTER, **values: Any) -> dict[str, Any]:
    """Submit the form only; return the confirmation view the bot answered with."""
    answer = json_body(bot.submit_form(user_id, **values))
    assert answer["response_action"] == "update", answer
    view: dict[str, Any] = answer["view"]
    assert view["callback_id"] == ids.PREVIEW_CALLBACK, view
    return view


def shown_body(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON the preview shows, read back from its code blocks."""
    code = [
        block["text"]["text"]
        for block in view["blocks"]
        if block["type"] == "section" and block["text"]["text"].startswith("```")
    ]
    text = "\n".join(chunk.removeprefix("```\n").removesuffix("\n```") for chunk in code)
    unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    body: dict[str, Any] = json.loads(unescaped)
    return body


def view_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def stored_count(bot: BotHarness) -> int:
    with bot.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(SubaccountRequest)) or 0)


def click_back(bot: BotHarness, view: dict[str, Any], user_id: str = REQUESTER) -> Any:
    """Press the preview's Back button, as Slack sends it: a block_actions from the view."""
    opened = {"id": "VPREVIEW1", "hash": "1700000000.abc", "view": view}
    block = next(block for block in view["blocks"] if block["type"] == "actions")
    body = view_block_actions_body(
        user_id=user_id,
        action_id=ids.PREVIEW_BACK_ACTION,
        value="back",
        opened=opened,
        block_id=block["block_id"],
    )
    response = bot.sender.post(*body)
    assert response.status_code == 200, response.text
    bot.wait()
    return response


def updated_views(bot: BotHarness) -> list[dict[str, Any]]:
    return [call.params["view"] for call in bot.slack.calls_to("views.update")]


def sealed_at(sealed: str, seconds_ago: int) -> str:
    """The same sealed values, as if sealed `seconds_ago` (Fernet keeps the time it was made)."""
    fernet = Fernet(ENCRYPTION_KEY.encode())
    return fernet.encrypt_at_time(fernet.decrypt(sealed), int(time.time()) - seconds_ago).decode()


# -- what the preview shows -------------------------------------------------------------------


def test_preview_shows_the_zoom_body_with_the_password_masked(bot):
    view = preview_of(bot, **FULL_FORM)

    assert shown_body(view) == {
        "first_name": "Jill",
        "last_name": "Chill",
        "email": "jill@example.com",
        "password": "********",
        "account_name": "Partner Co",
        "sub_reseller_id": "reseller-7",
        "options": {
            "share_mc": True,
            "billing_auto_renew": True,
            "pay_mode": "sub",
            "meeting_connector_list": ["10.0.0.1", "2001:db8::1"],
        },
    }
    assert GOOD_PASSWORD not in json.dumps(view)


def test_preview_says_a_blank_password_is_generated(bot):
    view = preview_of(bot, password=None)

    assert shown_body(view)["password"] == GENERATED_PASSWORD
    assert "generates one and sends it only to you" in view_text(view)


def test_preview_names_the_approvers_and_the_approval_channel(bot):
    text = view_text(preview_of(bot))

    assert f"Needs 1 approval from: <@{APPROVER}>, <@{SECOND_APPROVER}>" in text
    assert f"<#{APPROVAL_CHANNEL}>" in text
    assert "Not you" not in text


def test_preview_escapes_what_was_typed(bot):
    view = preview_of(bot, **{**FULL_FORM, "account_name": "<!channel> & Co"})

    mrkdwn = [block["text"]["text"] for block in view["blocks"] if block["type"] == "section"]
    assert "<!channel>" not in "".join(text for text in mrkdwn if text.startswith("```"))
    assert shown_body(view)["account_name"] == "<!channel> & Co"
    # The reason is shown as plain text, where Slack parses no mention at all.
    reason = next(
        block for block in view["blocks"] if block.get("text", {}).get("type") == "plain_text"
    )
    assert reason["text"]["text"] == FULL_FORM["reason"]


def test_requester_on_the_approver_list_is_told_not_you(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist=f"{REQUESTER},{APPROVER}") as bot:
        text = view_text(preview_of(bot, APPROVER))

    assert f"Needs 1 approval from: <@{SECOND_APPROVER}>" in text
    assert f"<@{APPROVER}>" not in text
    assert "Not you: nobody approves their own request." in text


def test_preview_with_no_approval_needed_says_so(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=0) as bot:
        text = view_text(preview_of(bot))

    assert "No approval is needed" in text
    assert "right after you submit" in text


def test_approvers_in_a_user_group_are_listed(database_url, tmp_path):
    with running_bot(database_url, tmp_path, approver_allowlist="S0GROUP1") as bot:
        bot.slack.add_usergroup("S0GROUP1", [APPROVER, SECOND_APPROVER])
        text = view_text(preview_of(bot))

    assert f"<@{APPROVER}>, <@{SECOND_APPROVER}>" in text


# -- nothing before the confirmation ----------------------------------------------------------


def test_the_form_submit_stores_posts_and_sends_nothing(bot):
    preview_of(bot, **FULL_FORM)
    bot.wait()

    assert stored_count(bot) == 0
    assert bot.event_kinds(None) == []
    assert posts(bot, APPROVAL_CHANNEL) == []
    assert bot.slack.calls_to("chat.postMessage") == []
    assert bot.zoom.account_posts == []


def test_field_errors_still_come_back_on_the_form(bot):
    answer = json_body(bot.submit_form(email="not-an-email"))

    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"email"}
    assert stored_count(bot) == 0


def test_an_outsider_is_refused_at_the_form_submit_and_it_is_logged(bot):
    answer = json_body(bot.submit_form(OUTSIDER))

    assert answer["view"]["title"]["text"] == "Not allowed"
    assert [row.status for row in bot.requests()] == ["denied"]


# -- the confirmation ---------------------------------------------------------------------------


def test_confirming_stores_the_request_and_posts_it(bot):
    sealed = preview_metadata(bot.submit_form(**FULL_FORM))
    assert sealed

    answer = json_body(bot.confirm(REQUESTER, sealed))
    bot.wait()

    assert answer["view"]["title"]["text"] == "Request sent"
    (row,) = bot.requests()
    assert (row.status, row.email, row.reason) == (
        "pending_approval",
        "jill@example.com",
        FULL_FORM["reason"],
    )
    assert len(posts(bot, APPROVAL_CHANNEL)) == 1
    assert bot.event_kinds(row.id) == ["submitted", "posted"]
    submitted = bot.events(row.id)[0].detail or {}
    assert "previewed_at" in submitted


@pytest.mark.parametrize("password", [GOOD_PASSWORD, None])
def test_what_zoom_receives_is_what_the_preview_showed(bot, password):
    view = preview_of(bot, **FULL_FORM, password=password)
    json_body(bot.confirm(REQUESTER, view["private_metadata"]))
    bot.wait()

    approve(bot, bot.latest_request())

    (post,) = bot.zoom.account_posts
    shown = shown_body(view)
    sent = dict(post.body)
    if password:
        assert (shown.pop("password"), sent.pop("password")) == ("********", password)
    else:
        assert shown.pop("password") == GENERATED_PASSWORD
        generated = sent.pop("password")
        assert any(generated in text for text in dms(bot, REQUESTER))
    assert sent == shown


def test_a_requester_removed_from_the_list_before_confirming_is_refused(database_url, tmp_path):
    # Two instances on one database and key: the preview on the old list, the Submit on one
    # restarted without the requester.
    with running_bot(database_url, tmp_path) as before:
        sealed = preview_metadata(before.submit_form())
        assert sealed
        with running_bot(database_url, tmp_path, requester_allowlist=SECOND_APPROVER) as after:
            answer = json_body(after.confirm(REQUESTER, sealed))
            after.wait()

            assert answer["view"]["title"]["text"] == "Not allowed"
            (row,) = after.requests()
            assert (row.status, row.email) == ("denied", None)
            assert after.events(row.id)[0].detail["attempted"] == "modal_submission"
            assert after.zoom.account_posts == []


def test_a_confirmation_from_someone_else_is_refused(bot):
    sealed = preview_metadata(bot.submit_form())
    assert sealed

    answer = json_body(bot.confirm(SECOND_APPROVER, sealed))

    assert answer["view"]["title"]["text"] == "Start again"
    assert "could not be read" in json.dumps(answer)
    assert stored_count(bot) == 0


def test_an_expired_confirmation_asks_to_start_again(bot):
    sealed = preview_metadata(bot.submit_form())
    assert sealed

    answer = json_body(bot.confirm(REQUESTER, sealed_at(sealed, seconds_ago=16 * 60)))
    bot.wait()

    assert answer["view"]["title"]["text"] == "Start again"
    assert "expired" in json.dumps(answer)
    assert "/zoom-subaccount" in json.dumps(answer)
    assert stored_count(bot) == 0
    assert bot.slack.calls_to("chat.postMessage") == []


def test_a_confirmation_just_within_its_time_is_stored(bot):
    sealed = preview_metadata(bot.submit_form())
    assert sealed

    answer = json_body(bot.confirm(REQUESTER, sealed_at(sealed, seconds_ago=14 * 60)))

    assert answer["view"]["title"]["text"] == "Request sent"
    assert stored_count(bot) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda sealed: sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:],
        lambda sealed: Fernet(Fernet.generate_key()).encrypt(b"x").decode(),
        lambda sealed: json.dumps({"channel_id": "CORIGIN1"}),
        lambda sealed: "",
    ],
    ids=["changed", "another key", "the form's metadata", "empty"],
)
def test_tampered_confirmation_is_refused_and_nothing_stored(bot, tamper):
    sealed = preview_metadata(bot.submit_form())
    assert sealed

    answer = json_body(bot.confirm(REQUESTER, tamper(sealed)))
    bot.wait()

    assert answer["view"]["title"]["text"] == "Start again"
    assert "Nothing was saved" in json.dumps(answer)
    assert stored_count(bot) == 0
    assert bot.zoom.account_posts == []


def test_too_long_to_carry_is_a_field_error(bot):
    # 1,000 random CJK characters: valid, but no compression brings them under Slack's limit.
    noise = random.Random(6)  # noqa: S311 - repeatable test data, not a secret
    reason = "".join(chr(noise.randint(0x4E00, 0x9FFF)) for _ in range(1000))

    answer = json_body(bot.submit_form(reason=reason))

    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"reason"}
    assert stored_count(bot) == 0


def test_long_connector_lists_still_fit(bot):
    addresses = ", ".join(f"10.{n // 250}.{n % 250}.{n % 7 + 1}" for n in range(180))

    view = preview_of(
        bot,
        options=["share_mc", "share_rc"],
        meeting_connector_list=addresses,
        room_connector_list=addresses,
    )

    assert len(view["private_metadata"]) <= 3000
    assert len(shown_body(view)["options"]["room_connector_list"]) == 180
    assert all(len(block.get("text", {}).get("text", "")) <= 3000 for block in view["blocks"])


# -- Back ------------------------------------------------------------------------------------------


def test_back_returns_the_form_filled_in_without_the_password(bot):
    view = preview_of(bot, **FULL_FORM)

    click_back(bot, view)

    (form,) = updated_views(bot)
    call = bot.slack.calls_to("views.update")[0]
    assert (call.params["view_id"], call.params["hash"]) == ("VPREVIEW1", "1700000000.abc")
    assert form["callback_id"] == ids.REQUEST_MODAL_CALLBACK
    inputs = {block["block_id"]: block for block in form["blocks"] if block["type"] == "input"}
    for field in ("first_name", "last_name", "email", "account_name", "sub_reseller_id"):
        assert inputs[field]["element"]["initial_value"] == FULL_FORM[field]
    assert inputs["meeting_connector_list"]["element"]["initial_value"] == "10.0.0.1, 2001:db8::1"
    assert inputs["reason"]["element"]["initial_value"] == FULL_FORM["reason"]
    assert inputs["pay_mode"]["element"]["initial_option"]["value"] == "sub"
    ticked = {option["value"] for option in inputs["options"]["element"]["initial_options"]}
    assert ticked == {"share_mc", "billing_auto_renew"}
    assert "initial_value" not in inputs["password"]["element"]
    assert "enter the password again" in inputs["password"]["hint"]["text"].lower()
    assert json.loads(form["private_metadata"]) == {"channel_id": "CORIGIN1"}
    assert stored_count(bot) == 0


def test_back_after_a_blank_password_keeps_the_usual_hint(bot):
    view = preview_of(bot, password=None)

    click_back(bot, view)

    (form,) = updated_views(bot)
    password = next(block for block in form["blocks"] if block.get("block_id") == "password")
    assert "enter the password again" not in password["hint"]["text"].lower()


def test_back_on_an_expired_preview_asks_to_start_again(bot):
    view = preview_of(bot)
    view["private_metadata"] = sealed_at(view["private_metadata"], seconds_ago=20 * 60)

    click_back(bot, view)

    (notice,) = updated_views(bot)
    assert notice["title"]["text"] == "Start again"
    assert "expired" in json.dumps(notice)


def test_back_then_submit_again_goes_through_a_new_preview(bot):
    view = preview_of(bot, **FULL_FORM)
    click_back(bot, view)

    response = bot.submit(**{**FULL_FORM, "first_name": "Jillian"})
    bot.wait()

    assert json_body(response)["view"]["title"]["text"] == "Request sent"
    (row,) = bot.requests()
    assert row.first_name == "Jillian"


# -- the password never goes back to Slack -----------------------------------------------------


def test_the_typed_password_is_in_no_view_the_bot_sent(bot):
    password = "Qz8rTm4wXv2n"
    answers = []
    view = preview_of(bot, **FULL_FORM, password=password)
    answers.append(json.dumps(view))
    click_back(bot, view)
    again = bot.submit_form(**FULL_FORM, password=password)
    answers.append(again.text)
    confirmed = bot.confirm(REQUESTER, preview_metadata(again) or "")
    answers.append(confirmed.text)
    bot.wait()
    final = approve(bot, bot.latest_request())

    assert final.status == "created"
    assert bot.zoom.account_posts[0].body["password"] == password  # it did reach Zoom
    assert all(password not in text for text in answers)
    assert password not in bot.slack.raw_log()
    assert password not in bot.table_dump()
    with bot.sessions() as session:
        details = [event.detail for event in session.scalars(select(RequestEvent))]
    assert password not in json.dumps(details)
