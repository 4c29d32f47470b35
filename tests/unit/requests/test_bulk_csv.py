"""Reading a bulk request's CSV: the header, every row checked as the form checks one request."""

import pytest

from bot.requests.csv_rows import MAX_ROWS, CsvProblem, parse_bulk_csv


def parse(text, *, require_reason=True):
    return parse_bulk_csv(text, require_reason=require_reason)


def described(parsed):
    return [error.describe() for error in parsed.errors]


def test_a_valid_row_becomes_the_same_request_the_form_would_make():
    parsed = parse(
        "first_name,last_name,email,password,account_name,share_mc,meeting_connector_list,"
        "pay_mode,reason\n"
        "Jill,Chill,jill@example.com,,Partner Co,true,10.0.0.1;10.0.0.2,Sub,Onboarding\n"
    )

    (row,) = parsed.valid
    assert row.row == 2
    request = row.request
    assert (request.first_name, request.email, request.password) == (
        "Jill",
        "jill@example.com",
        None,
    )
    assert request.account_name == "Partner Co"
    assert request.options == {
        "share_mc": True,
        "pay_mode": "sub",
        "meeting_connector_list": ["10.0.0.1", "10.0.0.2"],
    }
    assert parsed.errors == []


def test_rows_are_numbered_as_lines_of_the_file_and_blank_lines_are_skipped():
    parsed = parse("first_name,last_name,email,reason\n\nA,B,a@example.com,x\n\nC,D,bad,x\n")

    assert [row.row for row in parsed.valid] == [3]
    assert described(parsed) == [
        "row 5: email — Enter a valid email address, such as jill@example.com."
    ]


def test_every_problem_of_a_row_is_listed_in_column_order():
    parsed = parse(
        "first_name,last_name,email,password,share_rc,room_connector_list,reason\n"
        ",B,nope,short,perhaps,1.2.3.4,\n"
    )

    fields = [error.field for error in parsed.errors]
    assert fields == [
        "first_name",
        "email",
        "password",
        "share_rc",
        "room_connector_list",
        "reason",
    ]
    assert parsed.rows_with_errors == 1
    assert parsed.valid == []


def test_connector_lists_without_their_share_flag_are_worded_for_a_csv():
    parsed = parse("first_name,last_name,email,reason,meeting_connector_list\nA,B,a@b.co,x,::1\n")

    assert described(parsed) == [
        "row 2: meeting_connector_list — set share_mc to true to share these."
    ]


def test_a_repeated_email_is_an_error_on_its_second_row():
    parsed = parse("first_name,last_name,email,reason\nA,B,a@example.com,x\nC,D,A@Example.com,x\n")

    assert [row.row for row in parsed.valid] == [2]
    assert described(parsed) == ["row 3: email — also in row 2; each account needs its own email"]


def test_a_row_with_the_wrong_number_of_values_is_one_error():
    parsed = parse("first_name,last_name,email,reason\nA,B,a@example.com\n")

    assert described(parsed) == ["row 2: row — has 3 values but the header has 4 columns"]


def test_a_password_error_never_repeats_the_password():
    parsed = parse("first_name,last_name,email,password,reason\nA,B,a@example.com,aaa111,x\n")

    assert "aaa111" not in " ".join(described(parsed))


def test_semicolon_separated_files_and_a_byte_order_mark_are_read():
    parsed = parse("\ufefffirst_name;last_name;email;reason\nA;B;a@example.com;x\n")

    assert [row.request.email for row in parsed.valid] == ["a@example.com"]


def test_the_reason_column_is_needed_only_when_reasons_are_required():
    text = "first_name,last_name,email\nA,B,a@example.com\n"

    with pytest.raises(CsvProblem, match="needs the column"):
        parse(text)
    assert len(parse(text, require_reason=False).valid) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Paste the header"),
        ("A,B,a@example.com,x\n", "must be a header"),
        ("first_name,last_name,email,reason,shoe_size\nA,B,a@b.co,x,9\n", "Unknown column"),
        ("first_name,first_name,last_name,email,reason\n", "more than once"),
        ("first_name,last_name,email,reason\n", "no row follows"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_as_a_whole(text, message):
    with pytest.raises(CsvProblem, match=message):
        parse(text)


def test_more_rows_than_a_batch_takes_are_refused():
    rows = "".join(f"A,B,a{n}@example.com,x\n" for n in range(MAX_ROWS + 1))

    with pytest.raises(CsvProblem, match=f"At most {MAX_ROWS}"):
        parse("first_name,last_name,email,reason\n" + rows)
