"""What a CSV cell may hold, both ways: the importer refuses control characters and bytes that did not decode,
and the exporter writes cells a spreadsheet shows as text, never runs as formulas (OWASP's CSV injection rule).
"""

import re

# C0 controls except tab and line breaks (a quoted cell may span lines), DEL, C1 controls, and surrogates: the
# decoder turns each byte it cannot read into U+DC00 + byte (see encoding.py), which no real text contains.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Stands in for a line longer than MAX_LINE, which is skipped unread (see encoding.lines).
LINE_TOO_LONG = "\udfff"
MAX_LINE = 4_000_000
_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}

# A spreadsheet treats a cell starting with one of these as a formula (tab and CR: it strips them, then does).
FORMULA_STARTS = frozenset("=+-@\t\r")
# ...except a plain number, such as an E.164 mobile or -2: it is read as a number, and quoting it would break
# the round trip for every mobile.
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")

has_bad_char = _BAD.search


def cell_problem(cell: str, *, encoding: str) -> str | None:
    """Why the importer refuses this cell, in words that say what to fix; None when it is fine."""
    found = _BAD.search(cell)
    if found is None:
        return None
    char = found.group()
    if char == LINE_TOO_LONG:
        return f"This row has a line longer than {MAX_LINE:,} characters; split or shorten it."
    if "\udc00" <= char <= "\udcff":
        raw = [ord(c) - 0xDC00 for c in cell if "\udc00" <= c <= "\udcff"]
        shown = " ".join(f"0x{byte:02X}" for byte in raw[:4]) + (" ..." if len(raw) > 4 else "")
        hint = " (often cp1252, for files saved by Excel)" if encoding.lower().startswith("utf-8") else ""
        return (
            f"Has bytes that are not valid {encoding} ({shown}) at position {found.start() + 1}: fix the cell, "
            f"or import the file again choosing its real encoding{hint}."
        )
    code = ord(char)
    name = f" ({_NAMES[code]})" if code in _NAMES else ""
    return f"Contains a control character, U+{code:04X}{name}, at position {found.start() + 1}: remove it."


def printable(text: str) -> str:
    """The text with each control character or unreadable byte shown as U+FFFD, safe to print or write out."""
    return _BAD.sub("\ufffd", text) if _BAD.search(text) else text


def spreadsheet_cell(value: str) -> str:
    """A cell a spreadsheet shows as the text it is: control characters stripped, and a leading single quote
    when it would start a formula (=, +, -, @, tab, CR), unless it is a plain number."""
    if not value.isprintable():
        value = _CONTROL.sub("", value)
    if value and value[0] in FORMULA_STARTS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_unquote(cell: str) -> str:
    """Undo spreadsheet_cell's quote, so an export imports back unchanged."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell
