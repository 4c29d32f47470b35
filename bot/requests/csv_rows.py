"""A bulk request's CSV: the header, then one row per account, each validated exactly as the
request form validates one request (bot/requests/validation.py). Pure: no database, no Slack."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.errors import UserFacingError
from bot.requests.validation import (
    OPTION_FLAGS,
    InvalidRequestError,
    RequestInput,
    ValidRequest,
    validate_request,
)

# The POST /accounts fields (options flattened, as in the form) and the reason.
COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "password",
    "account_name",
    "sub_reseller_id",
    "share_mc",
    "meeting_connector_list",
    "share_rc",
    "room_connector_list",
    "billing_auto_renew",
    "pay_mode",
    "reason",
)
REQUIRED_COLUMNS = ("first_name", "last_name", "email")
MAX_ROWS = 1000
MAX_CSV_BYTES = 1_000_000  # 1,000 rows of every field at its longest stay far below this
_TRUE, _FALSE = {"true", "yes", "y", "1", "x"}, {"false", "no", "n", "0", ""}
_CONNECTOR_FLAGS = {"meeting_connector_list": "share_mc", "room_connector_list": "share_rc"}


class CsvProblem(UserFacingError):
    """The file as a whole cannot be read (no header, unknown column, too many rows...)."""


@dataclass(frozen=True)
class RowError:
    row: int  # the line in the file; the header is row 1
    field: str  # a column name, or "row" for the row as a whole
    message: str

    def describe(self) -> str:
        return f"row {self.row}: {self.field} — {self.message}"


@dataclass(frozen=True)
class ValidRow:
    row: int
    request: ValidRequest


@dataclass(frozen=True)
class BulkParse:
    valid: list[ValidRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_with_errors(self) -> int:
        return len({error.row for error in self.errors})


def parse_bulk_csv(text: str, *, require_reason: bool) -> BulkParse:
    """Every row's errors at once; raises CsvProblem when the file itself is unusable."""
    if len(text.encode()) > MAX_CSV_BYTES:
        raise CsvProblem(f"The file is larger than {MAX_CSV_BYTES // 1000} kB.")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), _dialect(text), skipinitialspace=True)
    records = [
        (number, cells) for number, cells in _numbered(reader) if any(c.strip() for c in cells)
    ]
    if not records:
        raise CsvProblem("Paste the header and at least one row, or attach a CSV file.")
    columns = _header(records[0][1], require_reason=require_reason)
    rows = records[1:]
    if not rows:
        raise CsvProblem("The header is there but no row follows it.")
    if len(rows) > MAX_ROWS:
        raise CsvProblem(f"At most {MAX_ROWS} rows per batch (this has {len(rows)}); split it.")
    return _validate_rows(rows, columns, require_reason=require_reason)


def _dialect(text: str) -> type[csv.Dialect]:
    # Spreadsheets in locales with a decimal comma save CSV with semicolons.
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if ";" in first_line and "," not in first_line:
        return _Semicolon
    return csv.excel


class _Semicolon(csv.excel):
    delimiter = ";"


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    try:
        for cells in reader:
            yield reader.line_num, cells  # type: ignore[attr-defined]
    except csv.Error as exc:
        line = reader.line_num  # type: ignore[attr-defined]
        raise CsvProblem(f"Line {line} cannot be read as CSV ({exc}).") from None


def _header(cells: list[str], *, require_reason: bool) -> list[str]:
    names = [cell.strip().lower() for cell in cells]
    known = [name for name in names if name in COLUMNS]
    if not known:
        raise CsvProblem(
            "The first line must be a header naming the columns, such as "
            f"`first_name,last_name,email,reason`. The columns are: {', '.join(COLUMNS)}."
        )
    unknown = [cell.strip() for cell, name in zip(cells, names, strict=True) if name not in COLUMNS]
    if unknown:
        shown = ", ".join(f"“{name[:40]}”" for name in unknown[:5])
        raise CsvProblem(f"Unknown column {shown}. The columns are: {', '.join(COLUMNS)}.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CsvProblem(f"The header names {', '.join(repeated)} more than once.")
    needed = [*REQUIRED_COLUMNS, *(["reason"] if require_reason else [])]
    missing = [name for name in needed if name not in names]
    if missing:
        raise CsvProblem(f"The header needs the column(s) {', '.join(missing)}.")
    return names


def _validate_rows(
    rows: list[tuple[int, list[str]]], columns: list[str], *, require_reason: bool
) -> BulkParse:
    valid: list[ValidRow] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for number, cells in rows:
        row_errors, request = _validate_row(number, cells, columns, require_reason)
        if request is not None:
            seen = first_row_of.setdefault(request.email.casefold(), number)
            if seen != number:
                message = f"also in row {seen}; each account needs its own email"
                row_errors.append(RowError(number, "email", message))
        errors.extend(row_errors)
        if request is not None and not row_errors:
            valid.append(ValidRow(number, request))
    return BulkParse(valid=valid, errors=errors)


def _validate_row(
    number: int, cells: list[str], columns: list[str], require_reason: bool
) -> tuple[list[RowError], ValidRequest | None]:
    if len(cells) != len(columns):
        message = f"has {len(cells)} values but the header has {len(columns)} columns"
        return [RowError(number, "row", message)], None
    values = dict(zip(columns, cells, strict=True))
    errors: list[RowError] = []
    raw = _request_input(number, values, errors)
    try:
        request = validate_request(raw, require_reason=require_reason)
    except InvalidRequestError as invalid:
        errors.extend(_row_errors(number, invalid.errors))
        return sorted(errors, key=_column_order), None
    return errors, request


def _column_order(error: RowError) -> int:
    return COLUMNS.index(error.field) if error.field in COLUMNS else len(COLUMNS)


def _request_input(number: int, values: dict[str, str], errors: list[RowError]) -> RequestInput:
    ticked = []
    for flag in OPTION_FLAGS:
        answer = values.get(flag, "").strip().lower()
        if answer in _TRUE:
            ticked.append(flag)
        elif answer not in _FALSE:
            errors.append(RowError(number, flag, "write true or false (or leave it empty)."))
    return RequestInput(
        first_name=values.get("first_name", ""),
        last_name=values.get("last_name", ""),
        email=values.get("email", ""),
        password=values.get("password", ""),
        account_name=values.get("account_name", ""),
        sub_reseller_id=values.get("sub_reseller_id", ""),
        pay_mode=values.get("pay_mode", "").strip().lower(),
        options=tuple(ticked),
        # In one CSV cell, commas need quoting: semicolons separate addresses as well.
        meeting_connector_list=values.get("meeting_connector_list", "").replace(";", ","),
        room_connector_list=values.get("room_connector_list", "").replace(";", ","),
        reason=values.get("reason", ""),
    )


def _row_errors(number: int, errors: dict[str, str]) -> list[RowError]:
    """The form's messages, reworded where they name the form's widgets."""
    found = []
    for name, message in errors.items():
        shown = message
        if name in _CONNECTOR_FLAGS and message.startswith("Tick"):
            shown = f"set {_CONNECTOR_FLAGS[name]} to true to share these."
        found.append(RowError(number, name, shown))
    return found
