"""Reading import files: session records from a JSON array, one object, or
JSON Lines, in a stream (memory grows with a record, not with the file);
and `open_text`, which turns the bytes people have (UTF-8 with or without a
BOM, gzip by its magic bytes) into that text stream."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from typing import IO, Any, cast

import attrs

from .errors import ImportFileError
from .serde import decode_json, loads

_CHUNK = 1 << 16
_BLANK = re.compile(r"[ \t\r\n]*")
_BOM = "\ufeff"
GZIP_MAGIC = b"\x1f\x8b"


@attrs.frozen
class Location:
    """Where a record is: `FILE:LINE` (JSON Lines, single objects) or
    `FILE: record N` (arrays)."""

    file: str
    line: int | None = None
    record: int | None = None

    def __str__(self) -> str:
        return f"{self.file}: record {self.record}" if self.record else f"{self.file}:{self.line}"


def read_records(stream: IO[str], name: str) -> Iterator[tuple[Location, Any]]:
    """Yield (location, decoded JSON value) for each session record of a
    file: a JSON array, a single object, or JSON Lines. An array is parsed
    record by record, one line or not: memory holds one record and a chunk.

    Raises:
        ImportFileError: broken JSON, a key given twice, a number too long or
            nesting too deep, with the line or record where it is.
    """
    # Read up to the first non-blank character; unless it opens an array,
    # up to the end of its line too (to tell JSON Lines from one object).
    parts: list[str] = []
    first = ""
    while chunk := stream.read(_CHUNK):
        if not parts and chunk.startswith(_BOM):  # Windows tools write one; it is not JSON
            chunk = chunk[1:]
        parts.append(chunk)
        rest = chunk if first else chunk.lstrip()
        first = first or rest[:1]
        if first == "[" or (first and "\n" in rest):
            break
    head = "".join(parts)
    stripped = head.lstrip()
    if not stripped:
        return
    if stripped[0] == "[":
        yield from _array_records(stream, head, name)
        return
    first_line = stripped.partition("\n")[0]
    try:
        loads(first_line)
    except ValueError:
        # Not JSON Lines: one object spread over several lines.
        text = head + stream.read()
        try:
            yield Location(name, 1), loads(text)
        except json.JSONDecodeError as e:
            raise ImportFileError(Location(name, e.lineno), f"broken JSON: {e.msg}") from None
        except ValueError as e:
            raise ImportFileError(Location(name, 1), str(e)) from None
        return
    yield from _line_records(stream, head, name)


def _line_records(stream: IO[str], head: str, name: str) -> Iterator[tuple[Location, Any]]:
    lineno, pending = 0, head
    while True:
        chunk = stream.read(_CHUNK)
        *lines, pending = (pending + chunk).split("\n")
        for line in lines:
            lineno += 1
            if line.strip():
                yield _decode_line(line, Location(name, lineno))
        if not chunk:
            break
    if pending.strip():
        yield _decode_line(pending, Location(name, lineno + 1))


def _decode_line(line: str, location: Location) -> tuple[Location, Any]:
    try:
        return location, loads(line)
    except json.JSONDecodeError as e:
        raise ImportFileError(location, f"broken JSON: {e.msg} (column {e.colno})") from None
    except ValueError as e:
        raise ImportFileError(location, str(e)) from None


def _array_records(stream: IO[str], buffer: str, name: str) -> Iterator[tuple[Location, Any]]:
    i = buffer.index("[") + 1
    record, eof, expect_value = 0, False, True

    def refill(size: int) -> None:
        # Keep what is not consumed yet, add `size` more characters.
        nonlocal buffer, i, eof
        more = stream.read(size)
        eof = not more
        buffer, i = buffer[i:] + more, 0

    while True:
        i = _BLANK.match(buffer, i).end()  # type: ignore[union-attr]
        if i >= len(buffer):
            if eof:
                raise ImportFileError(Location(name, record=record + 1), "the array is not closed")
            refill(_CHUNK)
            continue
        if buffer[i] == "]" and (not expect_value or record == 0):
            return
        if not expect_value:
            if buffer[i] != ",":
                raise ImportFileError(Location(name, record=record + 1), "expected ',' or ']'")
            i, expect_value = i + 1, True
            continue
        try:
            value, end = decode_json(buffer, i)
        except json.JSONDecodeError as e:
            if not eof:  # maybe cut by the chunk: read as much again (linear in the record)
                refill(max(_CHUNK, len(buffer) - i))
                continue
            raise ImportFileError(Location(name, record=record + 1), f"broken JSON: {e.msg}") from None
        except ValueError as e:
            raise ImportFileError(Location(name, record=record + 1), str(e)) from None
        if end == len(buffer) and not eof:  # a number or literal may go on
            refill(_CHUNK)
            continue
        record += 1
        yield Location(name, record=record), value
        i, expect_value = end, False


def open_text(binary: IO[bytes]) -> IO[str]:
    """A text stream over `binary`: gunzipped when it starts with gzip's
    magic bytes (whatever its name; stdin too), decoded as UTF-8, a leading
    BOM dropped. Reading it may raise `UnicodeDecodeError` (not UTF-8),
    `EOFError` or `gzip.BadGzipFile` (a damaged or cut gzip file): see
    `read_error`."""
    buffered: Any = binary if hasattr(binary, "peek") else io.BufferedReader(cast(Any, binary))
    raw: Any = buffered
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=buffered, mode="rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig")


def read_error(e: Exception) -> str | None:
    """The one-line reason for an error raised while reading an `open_text`
    stream, or None for an error of another kind."""
    if isinstance(e, UnicodeDecodeError):
        return f"not UTF-8 text (byte {e.start} of a read)"
    if isinstance(e, EOFError):
        return "a gzip file cut short (it ends before its last block)"
    if isinstance(e, gzip.BadGzipFile | OSError) and not isinstance(e, FileNotFoundError):
        return f"not a readable gzip file ({e})"
    return None
