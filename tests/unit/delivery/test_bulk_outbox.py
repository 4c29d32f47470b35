"""The outbox rows a bulk request owes about its own message: their queues keep a batch's
reply behind its message (the channel's queue) and its reactions behind nothing but its own
updates, and the content is never stored (rendered from the batch when sent)."""

from bot.delivery import outbox
from bot.delivery.outbox import POSTING_KINDS, Kind


def test_the_batch_message_and_its_replies_share_the_channel_queue():
    post = outbox.batch_post(7, channel_id="CAPPROVE", requester_id="UREQ")
    reply = outbox.batch_reply(7, channel_id="CAPPROVE", text="approved")

    assert (post.kind, post.queue, post.user_id) == (Kind.BATCH_POST, "CAPPROVE", "UREQ")
    assert post.payload == {"batch_id": 7}
    assert (reply.kind, reply.queue) == (Kind.BATCH_REPLY, "CAPPROVE")
    assert reply.payload == {"batch_id": 7, "text": "approved"}
    assert {Kind.BATCH_POST, Kind.BATCH_REPLY} <= POSTING_KINDS


def test_updates_and_reactions_of_a_batch_share_its_update_queue():
    update = outbox.batch_update(7)
    reaction = outbox.batch_reaction(7, channel_id="CAPPROVE", ts="1.5", name="x")

    assert (update.kind, update.queue, update.payload) == (
        Kind.BATCH_UPDATE,
        "batch-update:7",
        {"batch_id": 7},
    )
    assert (reaction.kind, reaction.queue, reaction.request_id) == (
        Kind.REACTION,
        "batch-update:7",
        None,
    )
    assert reaction.payload == {"ts": "1.5", "name": "x", "batch_id": 7}
    assert Kind.BATCH_UPDATE not in POSTING_KINDS
