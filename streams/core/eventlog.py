"""Reading event logs and other JSON Lines files (plain, ``.gz`` or stdin)."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO


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
