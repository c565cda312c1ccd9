"""Which encoding a CSV is in, and reading it so that a byte that does not decode spoils only its own row.

With no encoding given, the file's first bytes decide, in this order:
1. a byte order mark: UTF-8, UTF-16 (LE or BE) or UTF-32;
2. in the first 64 KB, half the bytes at odd (even) positions zero and nearly none at even (odd) ones: UTF-16
   LE (BE) without a mark;
3. UTF-8, unless the first 64 KB holds at least two bytes that are not UTF-8 and not one UTF-8 multi-byte
   character: then cp1252 (Windows' Western encoding, a superset of Latin-1's printable characters).
One stray byte is never evidence enough to switch the whole file: read as UTF-8, only its row is refused, with
a message naming the byte. A guess that is wrong is loud (rows refused), never silent mojibake.

Bytes that do not decode become U+DC00 + byte (Python's surrogateescape, for every byte and codec). No decoder
produces lone surrogates otherwise, so the row checks (cells.py) find them and report the row.
"""

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from contacts.csv_import.cells import LINE_TOO_LONG, MAX_LINE

SAMPLE = 64 * 1024
ERRORS = "contacts-csv-escape"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_UNDECODED = re.compile("[\udc80-\udcff]")
_MULTIBYTE = re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]")


def _escape(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + byte) for byte in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(ERRORS, _escape)


@dataclass(frozen=True)
class FileEncoding:
    codec: str  # what Python decodes with
    name: str  # what the user is told
    detected: bool


def encoding_named(name: str) -> FileEncoding:
    """The encoding a user chose (`--encoding`, the upload form); ValueError when Python has no such text codec."""
    try:
        codec = codecs.lookup(name.strip()).name
        io.TextIOWrapper(io.BytesIO(), encoding=codec)  # refuses codecs that are not text encodings (rot13, ...)
    except LookupError:
        raise ValueError(
            f"{name!r} is not a text encoding Python knows; use e.g. utf-8, utf-16, cp1252 or latin-1."
        ) from None
    # A UTF-8 file may still start with a byte order mark; the UTF-16 and UTF-32 codecs read theirs.
    return FileEncoding("utf-8-sig" if codec == "utf-8" else codec, codec, detected=False)


def detect(head: bytes, *, complete: bool) -> FileEncoding:
    """The encoding of a file that starts with `head` (the whole file when `complete`); see the module's rule."""
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return FileEncoding(codec, name, detected=True)
    half = len(head) // 2
    if half >= 8:
        odd, even = head[1::2].count(0), head[0::2].count(0)
        if odd >= half / 2 and even < half / 10:
            return FileEncoding("utf-16-le", "UTF-16-LE", detected=True)
        if even >= half / 2 and odd < half / 10:
            return FileEncoding("utf-16-be", "UTF-16-BE", detected=True)
    # An incremental decoder keeps a character cut at the sample's end for later instead of calling it bad.
    text = codecs.getincrementaldecoder("utf-8")(ERRORS).decode(head, final=complete)
    if len(_UNDECODED.findall(text)) >= 2 and not _MULTIBYTE.search(text):
        return FileEncoding("cp1252", "cp1252", detected=True)
    return FileEncoding("utf-8", "UTF-8", detected=True)


def open_text(source: "CountingReader", *, encoding: str | None) -> tuple[IO[str], FileEncoding]:
    """The file as text (line endings untouched, for the csv module) and the encoding it is read in."""
    head = source.peek(SAMPLE)
    chosen = encoding_named(encoding) if encoding else detect(head, complete=len(head) < SAMPLE)
    buffered = io.BufferedReader(source, buffer_size=1 << 20)
    return io.TextIOWrapper(buffered, encoding=chosen.codec, errors=ERRORS, newline=""), chosen


def lines(text: IO[str]) -> Iterator[str]:
    """The text's lines, for csv.reader. A line longer than MAX_LINE is skipped, never held in memory whole: it
    comes out as LINE_TOO_LONG, which the row checks report."""
    readline = text.readline
    while line := readline(MAX_LINE):
        if len(line) == MAX_LINE and line[-1] not in "\r\n":
            while (rest := readline(MAX_LINE)) and len(rest) == MAX_LINE and rest[-1] not in "\r\n":
                pass
            line = LINE_TOO_LONG + "\n"
        yield line


class CountingReader(io.RawIOBase):
    """Counts the bytes handed on, which is how far through the file the import is; can look at the first
    bytes before anyone reads them (to detect the encoding)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes_read = 0
        self.head = b""

    def readable(self) -> bool:
        return True

    def peek(self, size: int) -> bytes:
        """Up to `size` first bytes (fewer only at the end of the file); they are still handed on afterwards."""
        parts = [self.head]
        have = len(self.head)
        while have < size and (data := self.raw.read(size - have)):
            parts.append(data)
            have += len(data)
        self.head = b"".join(parts)
        return self.head

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        if self.head:
            data, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        else:
            data = self.raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.bytes_read += size
        return size
