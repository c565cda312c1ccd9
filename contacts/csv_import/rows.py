"""Reading a contacts CSV: header mapping and one row at a time into the values a contact stores.

Every problem becomes an error line (row, column, value, reason); a row with any problem is left out, and the rows
around it are unaffected. Row numbers are spreadsheet numbers: the header is row 1.
"""

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError

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


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no key column, unreadable header, not UTF-8)."""


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


def read_header(columns: list[str]) -> Header:
    header = Header(columns=[column.strip() for column in columns])
    seen: dict[str, str] = {}
    for position, column in enumerate(header.columns):
        if not column:
            continue
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


class CountingReader(io.RawIOBase):
    """Counts the bytes handed to the CSV reader, which is how far through the file the import is."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        return size


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
            if len(memo) < 100_000:
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
            return None, [RowError(row_no, "", "", f"This row has {len(cells)} cells; the header has {width}.")]
        errors: list[RowError] = []
        cell = self._cell
        columns = self.header.columns
        positions = self.positions

        def fail(target: str, raw: str, exc: ValidationError) -> None:
            errors.append(RowError(row_no, columns[positions[target]], raw, exc.messages[0]))

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
        if raw:
            try:
                mobile = self._memo(self._mobiles, raw, self._normalize_mobile)
            except ValidationError as exc:
                fail("mobile", raw, exc)
        raw = cell(cells, "status")
        if raw:
            try:
                status = parse_status(raw)
            except ValidationError as exc:
                fail("status", raw, exc)
        raw = cell(cells, "dob")
        if raw:
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
        if errors:
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
            [],
        )

    def _normalize_mobile(self, raw: str) -> str:
        return normalize_mobile(raw, default_region=self.region)


class CsvRows:
    """Good rows in file order; bad ones go to on_error. `row_no` is the last row read (the header is row 1)."""

    def __init__(
        self, text: IO[str], *, extra_tags: list[str], default_region: str | None, on_error: Callable[[RowError], None]
    ) -> None:
        self.reader = csv.reader(text)
        self.extra_tags = extra_tags
        self.region = default_region
        self.on_error = on_error
        self.row_no = 0

    def __iter__(self) -> Iterator[ParsedRow]:
        try:
            first = next(self.reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"The header row cannot be read: {exc}. Save the file as UTF-8 CSV.") from exc
        if first is None:
            raise ImportFileError("The file is empty; it needs a header row (email, mobile, full_name, tags, ...).")
        self.row_no = 1
        parser = RowParser(read_header(first), extra_tags=self.extra_tags, default_region=self.region)
        while True:
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"Row {self.row_no + 1} is not UTF-8 ({exc.reason}); save the file as UTF-8 CSV."
                ) from exc
            except csv.Error as exc:
                self.row_no += 1
                self.on_error(RowError(self.row_no, "", "", f"Not valid CSV: {exc}."))
                continue
            self.row_no += 1
            if not cells or not any(cell.strip() for cell in cells):
                continue
            parsed, errors = parser.parse(self.row_no, cells)
            for error in errors:
                self.on_error(error)
            if parsed is not None:
                yield parsed
