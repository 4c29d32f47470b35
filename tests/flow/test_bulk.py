"""Bulk onboarding through the real HTTP endpoint: the form, the per-row preview, one batch
approved once, every row created in Zoom once, progress, the outcome CSV and the passwords."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.db.models import RequestBatch, RequestEvent, SubaccountRequest
from tests.flow.bulk_support import (
    batch,
    batch_event_kinds,
    batches,
    click_on,
    confirm,
    csv_rows,
    go_back,
    preview,
    react_on,
    read_csv,
    rows_of,
    send_form,
    submit_batch,
    view_text,
)
from tests.flow.support import calls_after_startup, dms, ephemerals, message_text, posts
from tests.harness import (
    APPROVAL_CHANNEL,
    APPROVER,
    GOOD_PASSWORD,
    OUTSIDER,
    REQUESTER,
    SECOND_APPROVER,
    running_bot,
)


def request_count(bot):
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(SubaccountRequest))


def event_count(bot):
    with bot.sessions() as session:
        return session.scalar(select(func.count()).select_from(RequestEvent))


def nothing_stored_or_sent(bot):
    bot.wait()
    assert request_count(bot) == 0
    assert event_count(bot) == 0
    assert posts(bot, APPROVAL_CHANNEL) == []
    assert bot.zoom.account_posts == []


# -- the command and the form -------------------------------------------------------------------


def test_bulk_command_opens_the_form_with_a_file_input_and_a_text_area(bot):
    assert bot.slash(text="bulk").status_code == 200
    bot.wait()

    (opened,) = bot.slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "bulk_upload"
    elements = {block["block_id"]: block["element"]["type"] for block in view["blocks"][1:3]}
    assert elements == {"bulk_file": "file_input", "bulk_csv": "plain_text_input"}


def test_bulk_command_from_someone_not_allowed_is_refused_and_logged(bot):
    response_url = bot.slack.response_url()

    bot.slash(user_id=OUTSIDER, text="bulk", response_url=response_url)
    bot.wait()

    assert bot.slack.calls_to("views.open") == []
    (denied,) = bot.requests()
    assert (denied.status, denied.requester_id) == ("denied", OUTSIDER)
    assert "not on the list" in bot.slack.response_posts[0]["body"]["text"]


def test_form_sent_by_someone_not_allowed_stores_nothing(bot):
    answer = send_form(bot, csv_rows(2), user_id=OUTSIDER)

    assert answer["response_action"] == "update"
    assert "Not allowed" in answer["view"]["title"]["text"]
    assert batches(bot) == []
    assert [row.status for row in bot.requests()] == ["denied"]


# -- the preview: errors per row, nothing stored --------------------------------------------------


def test_rows_without_a_header_are_refused_on_the_input(bot):
    answer = send_form(bot, "Jill,Chill,jill@example.com,,Onboarding\n")

    assert answer["response_action"] == "errors"
    assert "header" in answer["errors"]["bulk_csv"]
    nothing_stored_or_sent(bot)
    assert batches(bot) == []


def test_an_unknown_column_is_refused_naming_it(bot):
    answer = send_form(
        bot, "first_name,last_name,email,reason,favourite_colour\nA,B,a@b.co,x,red\n"
    )

    assert answer["response_action"] == "errors"
    assert "Unknown column “favourite_colour”" in answer["errors"]["bulk_csv"]
    nothing_stored_or_sent(bot)


def test_bad_rows_are_previewed_one_line_each_and_nothing_is_stored(bot):
    text = (
        "first_name,last_name,email,password,reason,share_mc\n"
        "Jill,Chill,jill@example.com,,Onboarding,\n"
        "Bob,Bad,not-an-email,,Onboarding,\n"
        "Ann,Weak,ann@example.com,abc,Onboarding,\n"
        "Eve,Flag,eve@example.com,,Onboarding,maybe\n"
        "Joe,Same,JILL@example.com,,Onboarding,\n"
    )

    view = preview(bot, text)

    shown = view_text(view)
    assert view["callback_id"] == "bulk_preview"
    assert "1 of 5 rows are valid" in shown
    assert "row 3: email — Enter a valid email address" in shown
    assert "row 4: password — Password must be 8–32 characters" in shown
    assert "row 5: share_mc — write true or false" in shown
    assert "row 6: email — also in row 2" in shown
    assert view["submit"]["text"] == "Submit 1"
    assert view["close"]["text"] == "Back"
    nothing_stored_or_sent(bot)


def test_when_no_row_is_valid_the_errors_show_on_the_input(bot):
    text = "first_name,last_name,email,reason\nBob,Bad,nope,Onboarding\n,,x@example.com,\n"

    answer = send_form(bot, text)

    assert answer["response_action"] == "errors"
    error = answer["errors"]["bulk_csv"]
    assert error.startswith("No row can be sent.")
    assert "row 2: email — Enter a valid email address" in error
    assert "row 3: first_name — Required." in error
    nothing_stored_or_sent(bot)
    assert batches(bot) == []


def test_the_preview_never_shows_a_typed_password(bot):
    view = preview(bot, csv_rows(3, password=GOOD_PASSWORD))

    assert GOOD_PASSWORD not in view_text(view)
    assert GOOD_PASSWORD not in view["private_metadata"]


def test_back_drops_the_draft(bot):
    view = preview(bot, csv_rows(2))
    assert [found.status for found in batches(bot)] == ["draft"]

    go_back(bot, view)
    bot.wait()

    assert batches(bot) == []
    assert confirm(bot, view)["view"]["title"]["text"] == "Start again"
    nothing_stored_or_sent(bot)


def test_an_attached_file_is_read_like_pasted_rows(bot):
    file_id = bot.slack.add_file(
        user_id=REQUESTER, name="people.csv", content=csv_rows(3).encode("utf-8-sig")
    )

    view = preview(bot, None, file_ids=[file_id])

    assert "All 3 rows are valid" in view_text(view)
    assert [call.params["file"] for call in bot.slack.calls_to("files.info")] == [file_id]


def test_a_file_slack_cannot_find_is_an_error_on_the_file_input(bot):
    answer = send_form(bot, None, file_ids=["F0NOSUCHFILE"])

    assert answer["response_action"] == "errors"
    assert "attach it again" in answer["errors"]["bulk_file"]


# -- submitting: one batch, one message ------------------------------------------------------------


def test_submit_stores_one_request_per_row_and_posts_one_batch_message(bot):
    found = submit_batch(bot, csv_rows(7))

    rows = rows_of(bot, found.id)
    assert [row.batch_row for row in rows] == [2, 3, 4, 5, 6, 7, 8]
    assert {row.status for row in rows} == {"pending_approval"}
    assert {row.requester_id for row in rows} == {REQUESTER}
    assert all(row.password_generated and row.password_ciphertext for row in rows)
    assert len(posts(bot, APPROVAL_CHANNEL)) == 1
    message = bot.slack.message(APPROVAL_CHANNEL, found.approval_ts)
    text = message_text(message)
    assert f"bulk request #{found.id}" in text
    assert "*7* Zoom sub accounts" in text
    assert "person-1@example.com, person-2@example.com" in text
    assert "person-5@example.com and 2 more" in text
    assert "person-6@example.com" not in text
    where = f"was sent for approval in <#{APPROVAL_CHANNEL}>."
    assert dms(bot, REQUESTER) == [f"Your bulk request #{found.id} (7 accounts) {where}"]
    assert bot.event_kinds(rows[0].id) == ["submitted"]
    assert batch_event_kinds(bot, found.id) == ["submitted", "posted"]


def test_a_second_submit_of_the_same_preview_stores_nothing_more(bot):
    view = preview(bot, csv_rows(3))
    confirm(bot, view)

    again = confirm(bot, view)
    bot.wait()

    assert again["view"]["title"]["text"] == "Start again"
    assert len(batches(bot)) == 1
    assert request_count(bot) == 3


def test_another_requester_cannot_submit_someone_elses_preview(database_url, tmp_path):
    with running_bot(database_url, tmp_path, requester_allowlist=f"{REQUESTER},{OUTSIDER}") as bot:
        view = preview(bot, csv_rows(2))

        answer = confirm(bot, view, user_id=OUTSIDER)

        assert answer["view"]["title"]["text"] == "Start again"
        assert request_count(bot) == 0
        assert [found.status for found in batches(bot)] == ["draft"]


# -- the decision ---------------------------------------------------------------------------------


def test_approval_by_reaction_creates_every_row_in_zoom_exactly_once(bot):
    found = submit_batch(bot, csv_rows(12))

    react_on(bot, APPROVER, found, "white_check_mark")

    emails = [post.body["email"] for post in bot.zoom.account_posts]
    assert sorted(emails) == sorted(f"person-{n}@example.com" for n in range(1, 13))
    rows = rows_of(bot, found.id)
    assert {row.status for row in rows} == {"created"}
    assert {row.approver_id for row in rows} == {APPROVER}
    assert batch(bot, found.id).status == "finished"
    assert bot.event_kinds(rows[3].id) == [
        "submitted",
        "approval",
        "approved",
        "zoom_called",
        "zoom_result",
    ]
    final = message_text(bot.slack.message(APPROVAL_CHANNEL, found.approval_ts))
    assert "done: 12 of 12 created" in final
    assert "actions" not in final  # no buttons once decided


def test_approval_by_button_works_the_same(bot):
    found = submit_batch(bot, csv_rows(3))

    click_on(bot, APPROVER, found, "approve_batch")

    assert {row.status for row in rows_of(bot, found.id)} == {"created"}
    assert len(bot.zoom.account_posts) == 3


def test_a_row_whose_email_is_taken_fails_alone(bot):
    bot.zoom.seed_account("person-2@example.com")
    found = submit_batch(bot, csv_rows(4))

    react_on(bot, APPROVER, found, "white_check_mark")

    statuses = {row.email: (row.status, row.zoom_error_code) for row in rows_of(bot, found.id)}
    assert statuses == {
        "person-1@example.com": ("created", None),
        "person-2@example.com": ("failed", 1005),
        "person-3@example.com": ("created", None),
        "person-4@example.com": ("created", None),
    }
    final = message_text(bot.slack.message(APPROVAL_CHANNEL, found.approval_ts))
    assert "3 of 4 created, 1 failed" in final


def test_rejection_sends_nothing_to_zoom(bot):
    found = submit_batch(bot, csv_rows(5))

    react_on(bot, APPROVER, found, "x")

    assert bot.zoom.account_posts == []
    rows = rows_of(bot, found.id)
    assert {row.status for row in rows} == {"rejected"}
    assert all(row.password_ciphertext is None for row in rows)
    assert batch(bot, found.id).status == "rejected"
    assert f"bulk request #{found.id} (5 accounts) was rejected" in dms(bot, REQUESTER)[-1]


def test_someone_not_an_approver_is_refused_and_logged(bot):
    found = submit_batch(bot, csv_rows(3))

    react_on(bot, OUTSIDER, found, "white_check_mark")

    assert {row.status for row in rows_of(bot, found.id)} == {"pending_approval"}
    assert bot.zoom.account_posts == []
    assert "You can't decide bulk request" in ephemerals(bot, OUTSIDER)[0]
    assert batch_event_kinds(bot, found.id)[-1] == "approve_refused"


def test_the_requester_cannot_approve_their_own_batch(database_url, tmp_path):
    approvers = f"{REQUESTER},{APPROVER}"
    with running_bot(database_url, tmp_path, approver_allowlist=approvers) as bot:
        found = submit_batch(bot, csv_rows(2))

        react_on(bot, REQUESTER, found, "white_check_mark")

        assert {row.status for row in rows_of(bot, found.id)} == {"pending_approval"}
        assert "You can't decide bulk request" in ephemerals(bot, REQUESTER)[0]


def test_a_batch_row_cannot_be_decided_on_its_own(bot):
    found = submit_batch(bot, csv_rows(2))
    child = rows_of(bot, found.id)[0]

    bot.click(APPROVER, child)
    bot.wait()

    assert {row.status for row in rows_of(bot, found.id)} == {"pending_approval"}
    assert bot.zoom.account_posts == []
    assert "part of bulk request" in ephemerals(bot, APPROVER)[0]


def test_two_approvals_needed_means_two_approvers_for_the_whole_batch(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=2) as bot:
        found = submit_batch(bot, csv_rows(3))

        react_on(bot, APPROVER, found, "white_check_mark")
        assert {row.status for row in rows_of(bot, found.id)} == {"pending_approval"}
        react_on(bot, SECOND_APPROVER, found, "white_check_mark")

        assert {row.status for row in rows_of(bot, found.id)} == {"created"}
        assert len(bot.zoom.account_posts) == 3


# -- progress, the outcome file and the passwords --------------------------------------------------


def test_progress_is_shown_in_the_message_while_rows_are_created(database_url, tmp_path):
    # 2 calls a second: the first row's outcome is shown long before the sixth is sent.
    with running_bot(database_url, tmp_path, zoom_rate_limit_per_second=2) as bot:
        found = submit_batch(bot, csv_rows(6))

        react_on(bot, APPROVER, found, "white_check_mark")

        texts = [
            str(call.params.get("text"))
            for call in bot.slack.calls_to("chat.update")
            if call.params.get("ts") == found.approval_ts
        ]
        partial = [t for t in texts if any(f": {n} of 6 created" in t for n in range(1, 6))]
        assert partial, texts
        assert "done: 6 of 6 created" in texts[-1]


def test_the_outcome_csv_is_uploaded_to_the_thread_without_passwords(bot):
    bot.zoom.seed_account("person-3@example.com")
    found = submit_batch(bot, csv_rows(3, password=GOOD_PASSWORD))

    react_on(bot, APPROVER, found, "white_check_mark")

    (outcome,) = [f for f in bot.slack.uploaded_files() if f["channel"] == APPROVAL_CHANNEL]
    assert outcome["thread_ts"] == found.approval_ts
    assert outcome["name"] == f"bulk-request-{found.id}-outcome.csv"
    table = read_csv(outcome["content"])
    created = bot.zoom.created_accounts
    assert [(r["row"], r["email"], r["status"]) for r in table] == [
        ("2", "person-1@example.com", "created"),
        ("3", "person-2@example.com", "created"),
        ("4", "person-3@example.com", "failed"),
    ]
    assert table[0]["zoom_account_id"] == created["person-1@example.com"]["id"]
    assert (table[2]["http_status"], table[2]["error_code"]) == ("409", "1005")
    assert GOOD_PASSWORD not in outcome["content"].decode()
    assert "password" not in table[0]


def test_generated_passwords_reach_the_requester_alone_in_one_file(bot):
    found = submit_batch(bot, csv_rows(4))

    react_on(bot, APPROVER, found, "white_check_mark")

    sent = {post.body["email"]: post.body["password"] for post in bot.zoom.account_posts}
    files = bot.slack.uploaded_files()
    (secret_file,) = [f for f in files if f["channel"] == f"D{REQUESTER}"]
    assert secret_file["channels"] == [f"D{REQUESTER}"]
    table = read_csv(secret_file["content"])
    assert {r["email"]: r["password"] for r in table} == sent
    others = [f for f in files if f is not secret_file]
    for password in sent.values():
        assert all(password.encode() not in f["content"] for f in others)
        for call in calls_after_startup(bot):
            if call.method != "files.completeUploadExternal":
                assert password not in str(call.params)
        assert password not in bot.table_dump()
    assert all(row.password_ciphertext is None for row in rows_of(bot, found.id))


def test_typed_passwords_are_never_sent_back(bot):
    found = submit_batch(bot, csv_rows(2, password=GOOD_PASSWORD))

    react_on(bot, APPROVER, found, "white_check_mark")

    assert [f["channel"] for f in bot.slack.uploaded_files()] == [APPROVAL_CHANNEL]
    assert GOOD_PASSWORD not in "".join(dms(bot, REQUESTER))


def test_without_uploads_the_outcome_is_replied_as_text(bot):
    bot.zoom.seed_account("person-2@example.com")
    found = submit_batch(bot, csv_rows(3, password=GOOD_PASSWORD))
    bot.slack.fail_next("files.getUploadURLExternal", "not_allowed_token_type")

    react_on(bot, APPROVER, found, "white_check_mark")

    replies = [
        str(call.params.get("text"))
        for call in bot.slack.calls_to("chat.postMessage")
        if call.params.get("thread_ts") == found.approval_ts
    ]
    assert "2 of 3 created, 1 failed" in replies[-1]
    assert "row 3: person-2@example.com — failed (Zoom code 1005)" in replies[-1]
    assert "outcome_post_failed" in batch_event_kinds(bot, found.id)


# -- expiry, no approval, what a crash leaves behind -----------------------------------------------


def backdate_submission(bot, found, hours):
    with bot.sessions.begin() as session:
        session.execute(
            update(RequestBatch)
            .where(RequestBatch.id == found.id)
            .values(submitted_at=datetime.now(UTC) - timedelta(hours=hours))
        )


def test_a_batch_decided_after_its_ttl_expires_with_every_row(bot):
    found = submit_batch(bot, csv_rows(3))
    backdate_submission(bot, found, hours=25)

    react_on(bot, APPROVER, found, "white_check_mark")

    assert batch(bot, found.id).status == "expired"
    rows = rows_of(bot, found.id)
    assert {row.status for row in rows} == {"expired"}
    assert all(row.password_ciphertext is None for row in rows)
    assert bot.zoom.account_posts == []
    assert "expired before it was decided" in ephemerals(bot, APPROVER)[0]


def test_with_no_approval_required_the_batch_is_created_right_away(database_url, tmp_path):
    with running_bot(database_url, tmp_path, required_approvals=0) as bot:
        found = submit_batch(bot, csv_rows(3))
        bot.wait(30)

        assert {row.status for row in rows_of(bot, found.id)} == {"created"}
        assert len(bot.zoom.account_posts) == 3
        final = message_text(bot.slack.message(APPROVAL_CHANNEL, found.approval_ts))
        assert "policy (no approval required)" in final
        assert "done: 3 of 3 created" in final


def test_a_report_lost_with_its_instance_is_sent_by_the_sweep(bot):
    found = submit_batch(bot, csv_rows(3))
    progress = bot.runtime.bulk.progress
    lost = []
    progress.run_later = lambda task, batch_id: lost.append(batch_id)  # dies before reporting

    react_on(bot, APPROVER, found, "white_check_mark")
    assert batch(bot, found.id).reported_at is None
    assert bot.slack.uploaded_files() == []
    progress.run_later = lambda task, batch_id: task(batch_id)
    progress.sweep_now()
    bot.wait()  # the report's files are the outbox's to send

    assert batch(bot, found.id).reported_at is not None
    # The thread's file and the DM's leave from two queues at once: in either order.
    shared_in = sorted(f["channel"] for f in bot.slack.uploaded_files())
    assert shared_in == sorted([APPROVAL_CHANNEL, f"D{REQUESTER}"])
    assert all(row.password_ciphertext is None for row in rows_of(bot, found.id))


def test_failed_rows_are_told_to_the_ops_channel_once(database_url, tmp_path):
    with running_bot(database_url, tmp_path, ops_channel="COPS1") as bot:
        bot.zoom.seed_account("person-1@example.com")
        found = submit_batch(bot, csv_rows(2))

        react_on(bot, APPROVER, found, "white_check_mark")

        (alert,) = posts(bot, "COPS1")
        assert f"Bulk request #{found.id}: 1 of 2 created, 1 failed" in alert.params["text"]


class MovableClock:
    """The time the pending-request sweep sees; moves only when the test says so."""

    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now


def test_the_pending_request_sweep_leaves_batch_rows_to_their_batch(database_url, tmp_path):
    clock = MovableClock()
    with running_bot(database_url, tmp_path, clock=clock) as bot:
        found = submit_batch(bot, csv_rows(3))
        sweeps = bot.runtime.sweeper.sweeps
        sent_before = len(bot.slack.calls_to("chat.postMessage"))

        clock.now += timedelta(hours=30)  # past the reminder and the TTL of a single request
        bot.runtime.worker.wake()
        assert bot.runtime.sweeper.wait_for_sweep(sweeps)
        bot.wait()

        assert {row.status for row in rows_of(bot, found.id)} == {"pending_approval"}
        assert all(row.reminded_at is None for row in rows_of(bot, found.id))
        assert len(bot.slack.calls_to("chat.postMessage")) == sent_before
