"""Event logs and other JSON Lines files: reading and writing (plain, ``.gz``, stdin/stdout)."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast


def read_log(path: Path | str) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, bytes) of a JSON Lines log; ``-`` is stdin; ``.gz`` is gunzipped."""
    if str(path) == "-":
        stream: IO[bytes] = sys.stdin.buffer
        yield from _numbered(stream)
        return
    if str(path).endswith(".gz"):
        with gzip.open(path, "rb") as zipped:
            yield from _numbered(zipped)
    else:
        with open(path, "rb") as plain:
            yield from _numbered(plain)


def _numbered(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        stripped = line.strip()
        if stripped:
            yield number, stripped


def write_log(lines: Iterable[bytes], out: IO[bytes]) -> int:
    """Write lines as JSON Lines; return how many."""
    count = 0
    for line in lines:
        out.write(line)
        out.write(b"\n")
        count += 1
    return count


@contextmanager
def open_log(path: Path | str) -> Iterator[IO[bytes]]:
    """Open a log for writing: ``-`` is stdout, a ``.gz`` path is gzipped."""
    if str(path) == "-":
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as zipped:
            yield cast(IO[bytes], zipped)
    else:
        with open(path, "wb") as plain:
            yield plain
