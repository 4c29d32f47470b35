"""`/zoom-subaccount`: the modal for allowlisted requesters, refusals, `help` and `status ID`."""

import json

from tests.contract import CONTRACT_BLOCK_IDS
from tests.flow.support import calls_after_startup, json_body
from tests.harness import APPROVER, ORIGIN_CHANNEL, OUTSIDER, REQUESTER, running_bot


def opened_view(bot):
    (call,) = bot.slack.calls_to("views.open")
    return call.params["view"]


def input_blocks(view):
    return {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}


def test_allowlisted_requester_gets_the_request_modal(bot):
    response = bot.slash(REQUESTER, trigger_id="trig-requester")
    bot.wait()

    assert response.status_code == 200
    (call,) = bot.slack.calls_to("views.open")
    assert call.params["trigger_id"] == "trig-requester"
    assert call.params["view"]["callback_id"] == "create_sub_account"


def test_modal_has_an_input_for_every_contract_field(bot):
    bot.slash(REQUESTER)
    bot.wait()

    blocks = input_blocks(opened_view(bot))
    assert sorted(blocks) == sorted(CONTRACT_BLOCK_IDS)
    assert all(block["element"]["action_id"] == block_id for block_id, block in blocks.items())


def test_modal_inputs_have_the_contract_element_types(bot):
    bot.slash(REQUESTER)
    bot.wait()

    blocks = input_blocks(opened_view(bot))
    assert blocks["email"]["element"]["type"] == "email_text_input"
    assert blocks["pay_mode"]["element"]["type"] == "static_select"
    pay_modes = [option["value"] for option in blocks["pay_mode"]["element"]["options"]]
    assert pay_modes == ["master", "sub"]
    assert blocks["options"]["element"]["type"] == "checkboxes"
    flags = [option["value"] for option in blocks["options"]["element"]["options"]]
    assert flags == ["share_mc", "share_rc", "billing_auto_renew"]


def test_modal_leaves_password_optional_and_requires_reason(bot):
    bot.slash(REQUESTER)
    bot.wait()

    blocks = input_blocks(opened_view(bot))
    assert blocks["password"].get("optional") is True
    assert not blocks["reason"].get("optional")


def test_modal_remembers_the_channel_the_command_ran_in(bot):
    bot.slash(REQUESTER, channel_id="CSOMEWHERE")
    bot.wait()

    assert json.loads(opened_view(bot)["private_metadata"]) == {"channel_id": "CSOMEWHERE"}


def test_outsider_gets_an_ephemeral_refusal_by_response_url(bot):
    response_url = bot.slack.response_url("outsider")

    response = bot.slash(OUTSIDER, response_url=response_url)
    bot.wait()

    assert response.status_code == 200
    (post,) = bot.slack.response_posts
    assert post["url"] == response_url
    assert post["body"]["response_type"] == "ephemeral"
    assert "not on the list" in post["body"]["text"]


def test_outsider_gets_no_modal(bot):
    bot.slash(OUTSIDER)
    bot.wait()

    assert bot.slack.calls_to("views.open") == []


def test_outsider_attempt_is_logged_as_a_denied_request(bot):
    bot.slash(OUTSIDER)
    bot.wait()

    (row,) = bot.requests()
    assert (row.status, row.requester_id, row.channel_id) == ("denied", OUTSIDER, ORIGIN_CHANNEL)
    (event,) = bot.events(row.id)
    assert (event.kind, event.actor_id) == ("denied", OUTSIDER)
    assert event.detail["attempted"] == "slash_command"


def test_outsider_submitting_the_form_is_refused_and_logged(bot):
    response = bot.submit(OUTSIDER)

    body = json_body(response)
    bot.wait()
    assert body["response_action"] == "update"
    assert "not on the list" in json.dumps(body["view"])
    (row,) = bot.requests()
    assert (row.status, row.requester_id, row.email) == ("denied", OUTSIDER, None)
    (event,) = bot.events(row.id)
    assert (event.kind, event.detail["attempted"]) == ("denied", "modal_submission")
    assert bot.slack.calls_to("chat.postMessage") == []


def test_help_explains_the_command_in_the_reply(bot):
    response = bot.slash(REQUESTER, text="help")
    bot.wait()

    assert response.status_code == 200
    assert "/zoom-subaccount status ID" in response.text
    assert "opens a form" in response.text
    assert calls_after_startup(bot) == []


def test_unknown_words_are_answered_with_help(bot):
    response = bot.slash(REQUESTER, text="please make me an account")
    bot.wait()

    assert "did not understand" in response.text
    assert "/zoom-subaccount help" in response.text
    assert bot.slack.calls_to("views.open") == []


def test_status_shows_the_requester_their_request(bot):
    request = bot.submit_ok(email="status@example.com")

    response = bot.slash(REQUESTER, text=f"status {request.id}")

    assert f"*Request #{request.id}* — pending approval" in response.text
    assert "status@example.com" in response.text


def test_status_accepts_a_hash_before_the_id(bot):
    request = bot.submit_ok()

    response = bot.slash(REQUESTER, text=f"status #{request.id}")

    assert f"*Request #{request.id}*" in response.text


def test_status_shows_an_approver_any_request(bot):
    request = bot.submit_ok()

    response = bot.slash(APPROVER, text=f"status {request.id}")

    assert f"*Request #{request.id}* — pending approval" in response.text


def test_status_hides_a_request_from_an_outsider(bot):
    request = bot.submit_ok(email="secret-plans@example.com")

    response = bot.slash(OUTSIDER, text=f"status {request.id}")

    assert response.text == f"There is no request #{request.id} that you can see."
    assert "secret-plans" not in response.text


def test_status_of_a_missing_request_says_so(bot):
    response = bot.slash(REQUESTER, text="status 999")

    assert response.text == "There is no request #999 that you can see."


def test_requester_allowlisted_by_email_gets_the_modal(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist="ureq1@example.com") as bot:
        bot.slash(REQUESTER)
        bot.wait()

        assert len(bot.slack.calls_to("views.open")) == 1
        (lookup,) = bot.slack.calls_to("users.lookupByEmail")
        assert lookup.params["email"] == "ureq1@example.com"


def test_email_allowlist_refuses_someone_else(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist="ureq1@example.com") as bot:
        bot.slash(OUTSIDER)
        bot.wait()

        assert bot.slack.calls_to("views.open") == []
        assert [row.status for row in bot.requests()] == ["denied"]


def test_requester_allowlisted_by_user_group_gets_the_modal(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist="SREQUESTERS") as bot:
        bot.slack.add_usergroup("SREQUESTERS", [REQUESTER])

        bot.slash(REQUESTER)
        bot.wait()

        assert len(bot.slack.calls_to("views.open")) == 1
        (lookup,) = bot.slack.calls_to("usergroups.users.list")
        assert lookup.params["usergroup"] == "SREQUESTERS"


def test_user_group_allowlist_refuses_a_non_member(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist="SREQUESTERS") as bot:
        bot.slack.add_usergroup("SREQUESTERS", [REQUESTER])

        bot.slash(OUTSIDER)
        bot.wait()

        assert bot.slack.calls_to("views.open") == []
        assert [row.status for row in bot.requests()] == ["denied"]
