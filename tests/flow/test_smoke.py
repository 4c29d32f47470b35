"""The happy path, end to end, on both databases."""

from tests.harness import APPROVER


def test_approved_request_creates_the_account(bot):
    request = bot.submit_ok()
    bot.react(APPROVER, request)
    bot.wait()
    assert bot.request(request.id).status == "created"
    assert len(bot.zoom.account_posts) == 1
