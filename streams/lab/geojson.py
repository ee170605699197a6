"""Registries as GeoJSON FeatureCollection files: streamed writing and reading."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Protocol

import orjson

from schemas._assets import Asset

_HEADER = b'{"type":"FeatureCollection","features":[\n'
_SEPARATOR = b",\n"
_FOOTER = b"\n]}\n"


class _BinaryWriter(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _write_features(assets: Iterable[Asset], out: _BinaryWriter) -> int:
    out.write(_HEADER)
    count = 0
    for asset in assets:
        if count:
            out.write(_SEPARATOR)
        out.write(orjson.dumps(asset.to_feature()))
        count += 1
    out.write(_FOOTER)
    return count


def write_geojson(assets: Iterable[Asset], out: str | os.PathLike[str] | IO[bytes]) -> int:
    """Stream assets to a GeoJSON FeatureCollection, one feature per line.

    Writes the header, then each feature as it comes (serialized with orjson),
    then the footer, so memory stays constant for any number of assets. A path
    ending in ``.gz`` is gzip-compressed, with a zero timestamp so equal input
    gives byte-identical files.

    Args:
        assets: The assets to write, e.g. :func:`generate_registry`'s output.
        out: A file path, or a binary file object to write into (left open).

    Returns:
        The number of features written.
    """
    if not isinstance(out, str | os.PathLike):
        return _write_features(assets, out)
    path = Path(out)
    if path.suffix == ".gz":
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        ):
            return _write_features(assets, zipped)
    with path.open("wb") as plain:
        return _write_features(assets, plain)


def read_geojson(path: str | os.PathLike[str]) -> list[Asset]:
    """Read a registry GeoJSON FeatureCollection (plain or ``.gz``) into assets.

    Args:
        path: The file to read; a name ending in ``.gz`` is decompressed.

    Returns:
        The assets, in file order.

    Raises:
        ValueError: If the file is not a GeoJSON FeatureCollection of features.
        pydantic.ValidationError: If a feature does not describe a valid asset.
    """
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    document = orjson.loads(data)
    if not (
        isinstance(document, dict)
        and document.get("type") == "FeatureCollection"
        and isinstance(document.get("features"), list)
    ):
        raise ValueError(f"{path} is not a GeoJSON FeatureCollection")
    assets = []
    for feature in document["features"]:
        if not isinstance(feature, dict):
            raise ValueError(f"{path} holds a feature that is not a JSON object")
        assets.append(Asset.from_feature(feature))
    return assets
