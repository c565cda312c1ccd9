"""Reading a contacts CSV: header mapping and one row at a time into the values a contact stores.

Every problem becomes an error line (row, column, value, reason); a row with any problem is left out, and the rows
around it are unaffected. Row numbers are spreadsheet numbers, counted in CSV records: the header is row 1, a blank
line is a row, and a quoted cell spanning several lines is still one row.
"""

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError

from contacts.csv_import.cells import cell_problem, has_bad_char, printable, spreadsheet_unquote
from contacts.csv_import.encoding import lines
from contacts.normalize import (
    PLAIN_EMAIL,
    clean_tag_names,
    normalize_email,
    normalize_mobile,
    parse_dob,
    parse_status,
)

# Header spellings people use, to the field they mean.
ALIASES = {
    "email": "email",
    "email_address": "email",
    "e_mail": "email",
    "mobile": "mobile",
    "mobile_number": "mobile",
    "phone": "mobile",
    "phone_number": "mobile",
    "status": "status",
    "full_name": "full_name",
    "name": "full_name",
    "dob": "dob",
    "date_of_birth": "dob",
    "birthday": "dob",
    "gender": "gender",
    "city": "city",
    "country": "country",
    "tags": "tags",
}
MAX_LENGTHS = {"full_name": 200, "gender": 40, "city": 100, "country": 100}
TEXT_FIELDS = ("full_name", "gender", "city", "country")
# Cells checked through lookup tables keyed on the raw value (staging.py): no real one comes near this.
CHECKED_MAX_LENGTH = 100
CHECKED_FIELDS = ("mobile", "status", "dob")
MAX_COLUMNS = 1000
MAX_COLUMN_NAME = 200
# The csv module refuses longer cells (its default field_size_limit; process-wide, so left alone).
MAX_CELL = csv.field_size_limit()
# Distinct cells longer than this are checked every time rather than remembered.
MEMO_MAX_LENGTH = 1000


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no key column, a bad header row, an unknown encoding)."""


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row_no: int
    email: str | None
    mobile: str | None
    status: str | None
    full_name: str | None
    dob: Any
    gender: str | None
    city: str | None
    country: str | None
    attributes: dict[str, str]
    tag_names: list[str]


@dataclass(frozen=True, slots=True)
class RowError:
    row_no: int
    column: str
    value: str
    reason: str


@dataclass
class Header:
    columns: list[str]
    fields: dict[int, str] = field(default_factory=dict)  # position -> contact field
    attributes: dict[int, str] = field(default_factory=dict)  # position -> attribute key


def _slug(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def read_header(cells: list[str], *, encoding: str) -> Header:
    """The header row, or ImportFileError saying what to fix. Empty names at the end are ignored (spreadsheets
    save stray empty columns); anywhere else, a column without a name would silently lose its cells."""
    names = [spreadsheet_unquote(cell.strip()) for cell in cells]
    if names and names[0].startswith("\ufeff"):  # a byte order mark the chosen codec kept (utf-16-le, ...)
        names[0] = names[0][1:].strip()
    while names and not names[-1]:
        names.pop()
    if len(names) > MAX_COLUMNS:
        raise ImportFileError(
            f"The header row has {len(names):,} columns; an import takes at most {MAX_COLUMNS:,}. "
            "Remove the columns you do not need, or split the file."
        )
    for number, name in enumerate(names, 1):
        problem = cell_problem(name, encoding=encoding)
        if problem:
            raise ImportFileError(f"Column {number} of the header row ({printable(name)!r}): {problem}")
        if not name:
            raise ImportFileError(
                f"Column {number} of the header row has no name: name it (it becomes an attribute) or delete it."
            )
        if len(name) > MAX_COLUMN_NAME:
            raise ImportFileError(
                f"Column {number} of the header row is longer than {MAX_COLUMN_NAME} characters: shorten it."
            )
    header = Header(columns=names)
    seen: dict[str, str] = {}
    for position, column in enumerate(header.columns):
        target = ALIASES.get(_slug(column))
        key = target or column
        if key in seen:
            raise ImportFileError(f"Columns {seen[key]!r} and {column!r} both mean {key!r}; keep one of them.")
        seen[key] = column
        if target:
            header.fields[position] = target
        else:
            header.attributes[position] = column
    if "email" not in seen and "mobile" not in seen:
        raise ImportFileError(
            f"The header row needs an email or a mobile column; it has: {', '.join(header.columns) or '(nothing)'}."
        )
    return header


def read_first_row(reader: Iterator[list[str]]) -> list[str]:
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(f"The header row is not valid CSV: {csv_problem(exc)}") from exc
    if first is None:
        raise ImportFileError("The file is empty; it needs a header row (email, mobile, full_name, tags, ...).")
    return first


def csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"A cell is longer than {MAX_CELL:,} characters: shorten it."
    return f"Not valid CSV: {exc}."


def cell_errors(row_no: int, cells: list[str], columns: list[str], *, encoding: str) -> list[RowError]:
    """An error for each cell with a control character or a byte that did not decode."""
    errors = []
    for position, cell in enumerate(cells):
        problem = cell_problem(cell, encoding=encoding) if cell else None
        if problem:
            column = columns[position] if position < len(columns) else f"(cell {position + 1})"
            errors.append(RowError(row_no, column, cell, problem))
    return errors


class RowParser:
    """Checks one row. Written for speed (a million rows go through here): fixed positions, local names, and
    memos for the cells that repeat across rows (tag lists, mobiles)."""

    def __init__(self, header: Header, *, extra_tags: list[str], default_region: str | None) -> None:
        self.header = header
        self.extra_tags = extra_tags
        self.region = default_region
        self.positions = {target: position for position, target in header.fields.items()}
        self.width = len(header.columns)
        self._mobiles: dict[str, str | ValidationError] = {}
        self._tags: dict[str, list[str] | ValidationError] = {}

    def _memo(self, memo: dict[str, Any], raw: str, check: Callable[[str], Any]) -> Any:
        known = memo.get(raw)
        if known is None:
            try:
                known = check(raw)
            except ValidationError as exc:
                known = exc
            if len(memo) < 100_000 and len(raw) <= MEMO_MAX_LENGTH:
                memo[raw] = known
        if isinstance(known, ValidationError):
            raise known
        return known

    def _tag_list(self, raw: str) -> list[str]:
        tags = clean_tag_names(raw)
        return clean_tag_names([*tags, *self.extra_tags]) if self.extra_tags else tags

    def _cell(self, cells: list[str], target: str) -> str:
        position = self.positions.get(target)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    def parse(self, row_no: int, cells: list[str]) -> tuple[ParsedRow | None, list[RowError]]:
        width = self.width
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            return None, [RowError(row_no, "", "", f"This row has {len(cells):,} cells; the header has {width:,}.")]
        errors: list[RowError] = []
        cell = self._cell
        columns = self.header.columns
        positions = self.positions

        def fail(target: str, raw: str, exc: ValidationError) -> None:
            errors.append(RowError(row_no, columns[positions[target]], raw, exc.messages[0]))

        def too_long(target: str, raw: str) -> bool:
            if len(raw) <= CHECKED_MAX_LENGTH:
                return False
            errors.append(
                RowError(row_no, columns[positions[target]], raw, f"Longer than {CHECKED_MAX_LENGTH} characters.")
            )
            return True

        email = mobile = status = dob = None
        raw = cell(cells, "email")
        if raw:
            lowered = raw.lower()
            if len(lowered) <= 254 and PLAIN_EMAIL.fullmatch(lowered):
                email = lowered
            else:
                try:
                    email = normalize_email(raw)
                except ValidationError as exc:
                    fail("email", raw, exc)
        raw = cell(cells, "mobile")
        if raw and not too_long("mobile", raw):
            try:
                mobile = self._memo(self._mobiles, raw, self._normalize_mobile)
            except ValidationError as exc:
                fail("mobile", raw, exc)
        raw = cell(cells, "status")
        if raw and not too_long("status", raw):
            try:
                status = parse_status(raw)
            except ValidationError as exc:
                fail("status", raw, exc)
        raw = cell(cells, "dob")
        if raw and not too_long("dob", raw):
            try:
                dob = parse_dob(raw)
            except ValidationError as exc:
                fail("dob", raw, exc)
        raw = cell(cells, "tags")
        tags = self.extra_tags
        if raw:
            try:
                tags = self._memo(self._tags, raw, self._tag_list)
            except ValidationError as exc:
                fail("tags", raw, exc)
        text = {}
        for target in TEXT_FIELDS:
            raw = cell(cells, target)
            if raw:
                if len(raw) > MAX_LENGTHS[target]:
                    errors.append(
                        RowError(
                            row_no, columns[positions[target]], raw, f"Longer than {MAX_LENGTHS[target]} characters."
                        )
                    )
                text[target] = raw
        if not errors and email is None and mobile is None:
            errors.append(RowError(row_no, "email", "", "Empty key: the row needs an email or a mobile number."))
        only_the_mobile = bool(errors) and email is not None and "mobile" in positions
        if only_the_mobile:
            only_the_mobile = all(error.column == columns[positions["mobile"]] for error in errors)
        if only_the_mobile:  # the contact is imported by its email, without the number, and the number reported
            errors = [
                RowError(e.row_no, e.column, e.value, f"{e.reason} Imported by email without this mobile.")
                for e in errors
            ]
        elif errors:
            return None, errors
        attributes = {}
        for position, key in self.header.attributes.items():
            if position < len(cells):
                value = cells[position].strip()
                if value:
                    attributes[key] = value
        return (
            ParsedRow(
                row_no,
                email,
                mobile,
                status,
                text.get("full_name"),
                dob,
                text.get("gender"),
                text.get("city"),
                text.get("country"),
                attributes,
                tags,
            ),
            errors,
        )

    def _normalize_mobile(self, raw: str) -> str:
        return normalize_mobile(raw, default_region=self.region)


class CsvRows:
    """Good rows in file order; bad ones go to on_error. `row_no` is the last row read (the header is row 1)."""

    def __init__(
        self,
        text: IO[str],
        *,
        encoding: str,
        extra_tags: list[str],
        default_region: str | None,
        on_error: Callable[[RowError], None],
    ) -> None:
        self.reader = csv.reader(lines(text))
        self.encoding = encoding
        self.extra_tags = extra_tags
        self.region = default_region
        self.on_error = on_error
        self.row_no = 0

    def __iter__(self) -> Iterator[ParsedRow]:
        header = read_header(read_first_row(self.reader), encoding=self.encoding)
        self.row_no = 1
        parser = RowParser(header, extra_tags=self.extra_tags, default_region=self.region)
        while True:
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self.row_no += 1
                self.on_error(RowError(self.row_no, "", "", csv_problem(exc)))
                continue
            self.row_no += 1
            joined = "".join(cells)
            if not joined.isprintable() and has_bad_char(joined):
                for error in cell_errors(self.row_no, cells, header.columns, encoding=self.encoding):
                    self.on_error(error)
                continue
            if not joined.strip():
                continue
            if "'" in joined:
                cells = [spreadsheet_unquote(cell) for cell in cells]
            parsed, errors = parser.parse(self.row_no, cells)
            for error in errors:
                self.on_error(error)
            if parsed is not None:
                yield parsed
