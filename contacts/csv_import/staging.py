# SQL here is assembled from constants, table names and column positions only; every value is a parameter.
# ruff: noqa: S608
"""PostgreSQL import, first half: the file into a typed staging table, every bad cell into an error table.

Python only splits the CSV (robust to ragged and malformed rows) and COPYs the raw cells; PostgreSQL trims,
lower-cases and checks what SQL can check. Checks that need Python (phonenumbers, dates, statuses, tag lists, the
rare email the simple pattern misses) run once per *distinct* value, streamed from the server in batches, so a
million rows cost a few seconds here and the process's memory stays flat. The messages are those of
contacts.normalize, word for word, so both import paths report the same reasons.
"""

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from contacts.csv_import.cells import has_bad_char, printable, spreadsheet_unquote
from contacts.csv_import.encoding import lines
from contacts.csv_import.rows import (
    CHECKED_FIELDS,
    CHECKED_MAX_LENGTH,
    MAX_LENGTHS,
    MEMO_MAX_LENGTH,
    TEXT_FIELDS,
    Header,
    RowError,
    cell_errors,
    csv_problem,
    read_first_row,
    read_header,
)
from contacts.normalize import (
    PLAIN_EMAIL,
    clean_tag_names,
    normalize_email,
    normalize_mobile,
    parse_dob,
    parse_status,
    tag_key,
)
from contacts.tagging import tags_resolve

RAW = "contact_import_raw"
STAGE = "contact_import_stage"
ERRORS = "contact_import_errors"
MAPS = {"mobile": "contact_import_map_mobile", "status": "contact_import_map_status", "dob": "contact_import_map_dob"}
TEMP_TABLES = (RAW, STAGE, ERRORS, *MAPS.values())
COPY_ROWS = 50_000
COPY_CHARS = 32_000_000  # ...or fewer rows when they are wide: memory stays flat whatever the file holds
# A PostgreSQL row must fit in an 8 KB page. A value can move out to TOAST, leaving an 18-byte pointer, so each
# filled cell takes at least min(its bytes + 1, 18): only a header this wide can hold rows too big to store,
# which are then refused before the COPY.
PAGE_ROOM = 8160
WIDE = 300
# Python's str.strip() also drops tabs and line breaks; PostgreSQL's btrim() only spaces unless told.
_WS = "E' \\t\\r\\n\\f\\v'"


def trimmed(column: str) -> str:
    return f"nullif(btrim({column}, {_WS}), '')"


def drop_temp_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute("; ".join(f"DROP TABLE IF EXISTS {table}" for table in TEMP_TABLES))


def _copy(sql: str, buffer: io.StringIO) -> None:
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        copy.write(buffer.getvalue())
    buffer.seek(0)
    buffer.truncate()


class _Tags:
    """Tag cells to `{id,...}` literals. Cells repeat across rows, so each distinct cell is cleaned once, and new
    names are created between COPY chunks (a connection runs no other statement during a COPY)."""

    def __init__(self, account_id: Any, extra: list[str]) -> None:
        self.account_id = account_id
        self.extra = extra
        self.ids: dict[str, int] = {}
        self.names: dict[str, list[str] | ValidationError] = {}
        self.literals: dict[str, str] = {}
        self.unknown: dict[str, None] = {}  # ordered: a tag keeps the spelling first met in the file

    def check(self, raw: str) -> list[str]:
        """The cell's tag names (with --tags); raises ValidationError. Remembers names not yet given ids."""
        names = self.names.get(raw)
        if names is None:
            try:
                names = clean_tag_names(raw)
                names = clean_tag_names([*names, *self.extra]) if self.extra else names
            except ValidationError as exc:
                names = exc
            if len(self.names) < 200_000 and len(raw) <= MEMO_MAX_LENGTH:
                self.names[raw] = names
        if isinstance(names, ValidationError):
            raise names
        return names

    def add_ids(self, names: list[str]) -> None:
        for name in names:
            if tag_key(name) not in self.ids:
                self.unknown.setdefault(name)
        self.resolve()

    def resolve(self) -> None:
        if self.unknown:
            found = tags_resolve(account_id=self.account_id, names=list(self.unknown), create=True)
            self.ids.update({key: tag.pk for key, tag in found.items()})
            self.unknown.clear()

    def literal(self, raw: str) -> str:
        known = self.literals.get(raw)
        if known is None:
            names = self.names.get(raw)
            if not isinstance(names, list):
                names = self.check(raw)
            known = "{" + ",".join(str(i) for i in sorted({self.ids[tag_key(n)] for n in names})) + "}"
            if len(self.literals) < 200_000 and len(raw) <= MEMO_MAX_LENGTH:
                self.literals[raw] = known
        return known

    def extra_literal(self) -> str:
        for name in self.extra:
            if tag_key(name) not in self.ids:
                self.unknown.setdefault(name)
        self.resolve()
        return "{" + ",".join(str(i) for i in sorted({self.ids[tag_key(n)] for n in self.extra})) + "}"


def load_raw(
    text: IO[str], *, encoding: str, account_id: Any, extra_tags: list[str], on_progress: Callable[[int], None]
) -> tuple[Header, int, str]:
    """COPY every good row's cells, as text, numbered like a spreadsheet (the header is row 1). Checks that are
    cheap per row run here (characters, email, lengths, empty key, tag lists); returns (header, rows read, --tags
    literal)."""
    reader = csv.reader(lines(text))
    header = read_header(read_first_row(reader), encoding=encoding)
    width = len(header.columns)
    cells_sql = ", ".join(f"c{i} text" for i in range(width))
    drop_temp_tables()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {RAW} (row_no integer NOT NULL, {cells_sql})")
        # `kept`: the row was imported anyway (only its mobile was wrong, and it has an email to be found by).
        columns = "row_no integer, col text, value text, reason text, kept boolean DEFAULT false"
        cursor.execute(f"CREATE TEMP TABLE {ERRORS} ({columns})")
    tags = _Tags(account_id, extra_tags)
    extra_literal = tags.extra_literal() if extra_tags else "{}"
    tags_at = {target: index for index, target in header.fields.items()}.get("tags")
    last_row = 1
    # Chunks of 50,000 rows: big enough that COPY's per-statement cost vanishes, small enough for flat memory.
    # (Checking the next chunk in a thread while this one COPYs was measured: no faster, and more memory.)
    for chunk in _checked_chunks(reader, header, tags, encoding=encoding):
        tags.add_ids(chunk.unknown)
        if tags_at is not None:
            for cells in chunk.rows:
                raw = cells[tags_at + 1]
                cells[tags_at + 1] = tags.literal(raw) if raw else extra_literal
        bad = io.StringIO(chunk.bad)
        bad.seek(0, io.SEEK_END)
        _copy_rows(chunk.rows, csv.writer(bad).writerow)
        _copy(f"COPY {ERRORS} (row_no, col, value, reason) FROM STDIN (FORMAT csv)", bad)
        last_row = chunk.row_no
        on_progress(last_row - 1)
    return header, last_row - 1, extra_literal


def _copy_rows(rows: list[list[Any]], write_bad: Callable[[tuple[Any, ...]], Any]) -> None:
    """COPY rows into RAW. Should PostgreSQL refuse one (a check here missed something), the others still go in:
    the batch is retried in sixteenths down to the row, and the refused row is reported."""
    if not rows:
        return
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    try:
        with transaction.atomic():
            _copy(f"COPY {RAW} FROM STDIN (FORMAT csv)", buffer)
    except psycopg.Error as exc:
        # Data exceptions (22) and program limits (54, "row is too big") belong to the rows; anything else doesn't.
        if not (exc.sqlstate or "").startswith(("22", "54")):
            raise
        if len(rows) == 1:
            reason = (exc.diag.message_primary or str(exc)).rstrip(".")
            write_bad((rows[0][0], "", "", f"PostgreSQL cannot store this row ({reason}): shorten or remove cells."))
            return
        step = -(-len(rows) // 16)
        for start in range(0, len(rows), step):
            _copy_rows(rows[start : start + step], write_bad)


@dataclass
class _Chunk:
    rows: list[list[Any]]
    bad: str  # error rows as CSV text
    unknown: list[str]  # tag names without an id yet
    row_no: int  # the last row read


def _checked_chunks(reader: Iterator[list[str]], header: Header, tags: "_Tags", *, encoding: str) -> Iterator[_Chunk]:
    """The per-row checks that are cheap in Python: characters, cell count, email, lengths, tag lists, empty key."""
    columns = header.columns
    width = len(columns)
    position = {target: index for index, target in header.fields.items()}
    email_at, mobile_at, tags_at = position.get("email"), position.get("mobile"), position.get("tags")
    limits = [(position[t], columns[position[t]], MAX_LENGTHS[t]) for t in TEXT_FIELDS if t in position]
    limits += [(position[t], columns[position[t]], CHECKED_MAX_LENGTH) for t in CHECKED_FIELDS if t in position]
    key_column = columns[email_at if email_at is not None else mobile_at]  # type: ignore[index]
    plain = PLAIN_EMAIL.fullmatch
    padding = [""] * width
    # Row number, null bitmap and tuple header, then each filled cell's least inline size (see PAGE_ROOM).
    room = PAGE_ROOM - 4 - (width + 8) // 8 - 24 if width > WIDE else 0
    row_no = 1
    pending: list[list[Any]] = []
    chars = 0
    unknown: dict[str, None] = {}
    bad = io.StringIO()
    write_bad = csv.writer(bad).writerow
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_no += 1
            write_bad((row_no, "", "", csv_problem(exc)))
            continue
        row_no += 1
        joined = "".join(cells)
        if not joined.isprintable() and has_bad_char(joined):
            for error in cell_errors(row_no, cells, columns, encoding=encoding):
                # PostgreSQL text holds neither NUL nor the stand-ins for bytes that did not decode.
                write_bad((error.row_no, error.column, printable(error.value), error.reason))
            continue
        if len(cells) != width:
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                write_bad((row_no, "", "", f"This row has {len(cells):,} cells; the header has {width:,}."))
                continue
            cells = (cells + padding)[:width]
        if not joined.strip():
            continue
        if "'" in joined:
            cells = [spreadsheet_unquote(cell) for cell in cells]
        if room and sum(min(len(cell.encode()) + 1, 18) for cell in cells if cell) > room:
            filled = sum(1 for cell in cells if cell.strip())
            write_bad((row_no, "", "", f"Too many filled cells ({filled:,}) to store in one row: remove columns."))
            continue
        failed = False
        email = cells[email_at].strip().lower() if email_at is not None else ""
        if email:
            if len(email) > 254 or not plain(email):
                try:
                    email = normalize_email(cells[email_at])  # type: ignore[index]
                except ValidationError as exc:
                    write_bad((row_no, columns[email_at], cells[email_at].strip(), exc.messages[0]))  # type: ignore[index]
                    failed = True
            cells[email_at] = email  # type: ignore[index]
        for at, name, limit in limits:
            if len(cells[at]) > limit and len(cells[at].strip()) > limit:
                write_bad((row_no, name, cells[at].strip(), f"Longer than {limit} characters."))
                if at == mobile_at and email:
                    cells[at] = ""  # only the number is unusable: the row may still be imported by its email
                else:
                    failed = True
        if tags_at is not None:
            raw_tags = cells[tags_at].strip()
            cells[tags_at] = raw_tags
            if raw_tags:
                try:
                    for name in tags.check(raw_tags):
                        if tag_key(name) not in tags.ids:
                            unknown[name] = None
                except ValidationError as exc:
                    write_bad((row_no, columns[tags_at], raw_tags, exc.messages[0]))
                    failed = True
        if failed:
            continue
        if not email and (mobile_at is None or not cells[mobile_at].strip()):
            write_bad((row_no, key_column, "", "Empty key: the row needs an email or a mobile number."))
            continue
        cells.insert(0, row_no)  # type: ignore[arg-type]
        pending.append(cells)
        chars += len(joined)
        if len(pending) == COPY_ROWS or chars > COPY_CHARS:
            yield _Chunk(pending, bad.getvalue(), list(unknown), row_no)
            pending, unknown, chars = [], {}, 0
            bad.seek(0)
            bad.truncate()
    yield _Chunk(pending, bad.getvalue(), list(unknown), row_no)


def _distinct(column: str, *, where: str = "") -> Iterator[list[str]]:
    with connection.chunked_cursor() as cursor:
        value = trimmed(column)
        cursor.execute(f"SELECT DISTINCT {value} FROM {RAW} WHERE {value} IS NOT NULL {where}")
        while batch := cursor.fetchmany(5000):
            yield [row[0] for row in batch]


def _map_values(column: str, table: str, check: Callable[[str], Any]) -> None:
    """table(raw, value, error): each distinct raw value of the column, checked once in Python."""
    with connection.cursor() as cursor:
        kind = "date" if table == MAPS["dob"] else "text"
        cursor.execute(f"CREATE TEMP TABLE {table} (raw text PRIMARY KEY, value {kind}, error text)")
    buffer = io.StringIO()
    write = csv.writer(buffer).writerow
    for batch in _distinct(column):
        for raw in batch:
            try:
                write((raw, check(raw), None))
            except ValidationError as exc:
                write((raw, None, exc.messages[0]))
        _copy(f"COPY {table} FROM STDIN (FORMAT csv)", buffer)


def validate_and_stage(header: Header, *, default_region: str | None, extra_literal: str) -> None:
    """Record every bad cell in ERRORS, then build STAGE from the rows without any."""
    position = {target: index for index, target in header.fields.items()}
    column = {target: f"r.c{index}" for target, index in position.items()}
    name = {target: header.columns[index] for target, index in position.items()}
    errors: list[tuple[str, list[Any]]] = []
    checks: dict[str, Callable[[str], Any]] = {
        "mobile": lambda raw: normalize_mobile(raw, default_region=default_region),
        "status": parse_status,
        "dob": parse_dob,
    }
    for target, check in checks.items():
        if target in position:
            _map_values(f"c{position[target]}", MAPS[target], check)
            errors.append(
                (
                    f"INSERT INTO {ERRORS} SELECT r.row_no, %s, m.raw, m.error FROM {RAW} r "
                    f"JOIN {MAPS[target]} m ON m.raw = {trimmed(column[target])} WHERE m.error IS NOT NULL",
                    [name[target]],
                )
            )
    if "mobile" in position and "email" in position:
        # A row whose only fault is its mobile is imported by its email, without the number, which is reported.
        errors.append(
            (
                f"UPDATE {ERRORS} e SET kept = true, reason = e.reason || ' Imported by email without this mobile.' "
                f"FROM {RAW} r WHERE r.row_no = e.row_no AND e.col = %s AND {trimmed(column['email'])} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {ERRORS} o WHERE o.row_no = e.row_no AND o.col <> %s)",
                [name["mobile"], name["mobile"]],
            )
        )
    with connection.cursor() as cursor:
        for sql, params in errors:
            cursor.execute(sql, params)
        keys = [header.columns[index] for index in sorted(header.attributes)]
        cursor.execute(_stage_sql(header, position, column), [*keys, extra_literal])


def _stage_sql(header: Header, position: dict[str, int], column: dict[str, str]) -> str:
    def text(target: str) -> str:
        return trimmed(column[target]) if target in position else "NULL::text"

    joins = []
    values = {"email": "NULL::text", "mobile": "NULL::text", "status": "NULL::text", "dob": "NULL::date"}
    if "email" in position:
        values["email"] = text("email")  # checked and lower-cased while loading
    for target in ("mobile", "status", "dob"):
        if target in position:
            joins.append(f"LEFT JOIN {MAPS[target]} m_{target} ON m_{target}.raw = {text(target)}")
            values[target] = f"m_{target}.value"
    # Tag cells were turned into id literals while loading; rows without one get the --tags alone.
    tags = f"nullif(coalesce({text('tags')}, %s)::integer[], '{{}}')"
    # Keys are parameters (`%s`), never spliced: a header cell is user input.
    pairs = [f"%s::text, {trimmed(f'r.c{index}')}" for index in sorted(header.attributes)]
    # jsonb_build_object takes at most 50 pairs per call; more unknown columns are concatenated.
    chunks = [pairs[start : start + 50] for start in range(0, len(pairs), 50)]
    attributes = (
        " || ".join(f"jsonb_strip_nulls(jsonb_build_object({', '.join(chunk)}))" for chunk in chunks)
        if chunks
        else "NULL::jsonb"
    )
    return f"""
        CREATE TEMP TABLE {STAGE} AS
        SELECT r.row_no, {values["email"]} AS email, {values["mobile"]} AS mobile, {values["status"]} AS status,
               {text("full_name")} AS full_name, {values["dob"]} AS dob, {text("gender")} AS gender,
               {text("city")} AS city, {text("country")} AS country, nullif({attributes}, '{{}}') AS attributes,
               {tags} AS tag_ids, NULL::bigint AS contact_id
        FROM {RAW} r {" ".join(joins)}
        WHERE NOT EXISTS (SELECT 1 FROM {ERRORS} e WHERE e.row_no = r.row_no AND NOT e.kept)
    """


def stream_errors(on_error: Callable[[RowError], None]) -> None:
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT row_no, col, value, reason FROM {ERRORS} ORDER BY row_no, col")
        while batch := cursor.fetchmany(5000):
            for row_no, column, value, reason in batch:
                on_error(RowError(row_no, column or "", value or "", reason))
