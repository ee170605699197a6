"""CAP 1.2 XML rendering of gridwatch alerts.

gridwatch publishes alerts as CAP 1.2 *shaped* JSON (:class:`schemas.Alert`).
Partners that consume OASIS CAP want the XML form; this module renders it,
validates it against the OASIS schema, and splits input into alert records
for the ``cap-xml`` command (:mod:`streams.cli.process`).

The rendering is faithful to the schema's element order and dateTime pattern
(``YYYY-MM-DDThh:mm:ss+hh:mm``: no fractional seconds, never ``Z``).
gridwatch's flat fields travel as ``gridwatch:*`` parameters of each info
block and the evidence as the alert's ``note``, so nothing is lost.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import orjson
from lxml import etree

import schemas
from schemas import Alert, CapArea, CapInfo
from streams.core.settings import project_root

CAP_NAMESPACE: Final = "urn:oasis:names:tc:emergency:cap:1.2"
"""The XML namespace of CAP 1.2."""

XSD_ENV_VAR: Final = "GRIDWATCH_CAP_XSD"
"""Environment variable naming the OASIS CAP 1.2 schema file."""

RESTRICTION_TEXT: Final = "operations center staff"
"""The ``restriction`` text of alerts whose scope is ``Restricted``."""

PARAMETER_PREFIX: Final = "gridwatch:"

_NS: Final = "{" + CAP_NAMESPACE + "}"

# Characters XML 1.0 does not allow anywhere in a document (C0 controls other
# than tab, LF and CR; lone surrogates; U+FFFE and U+FFFF).
_XML_INVALID: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UNSAFE_FILENAME: Final = re.compile(r"[^A-Za-z0-9._-]")
_UTF8_BOM: Final = b"\xef\xbb\xbf"


def cap_datetime(value: datetime) -> str:
    """Format a timezone-aware datetime as a CAP 1.2 dateTime.

    The datetime keeps its own UTC offset; fractional seconds are dropped
    (truncated) and UTC is written ``+00:00``, never ``Z``. An offset that is
    not a whole number of minutes cannot be written in CAP, so such a time is
    converted to UTC (the same instant).

    Args:
        value: A timezone-aware datetime.

    Returns:
        Text such as ``2026-11-27T16:00:00+08:00``.

    Raises:
        ValueError: When ``value`` is naive.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"CAP times need a UTC offset; {value.isoformat()} has none")
    if offset % timedelta(minutes=1):
        value = value.astimezone(UTC)
        offset = timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    local = value.replace(microsecond=0, tzinfo=None)
    return f"{local.isoformat(timespec='seconds')}{sign}{hours:02d}:{mins:02d}"


def _xml_text(text: str) -> str:
    # lxml refuses strings XML cannot hold; mark such characters instead of failing.
    return _XML_INVALID.sub("\ufffd", text)


def _sub(parent: Any, tag: str, text: str | None = None) -> Any:
    element = etree.SubElement(parent, _NS + tag)
    if text is not None:
        element.text = _xml_text(text)
    return element


def _gridwatch_parameters(alert: Alert) -> list[tuple[str, str]]:
    values: list[tuple[str, str | None]] = [
        ("asset_id", alert.asset_id),
        ("asset_type", alert.asset_type),
        ("risk_score", repr(alert.risk_score)),
        ("level", alert.level),
        # Full RFC 3339 precision: this is data, not a CAP dateTime field.
        ("event_time", alert.event_time.isoformat()),
    ]
    return [(PARAMETER_PREFIX + name, value) for name, value in values if value is not None]


def _evidence_note(alert: Alert) -> str | None:
    if not alert.evidence:
        return None
    items = "; ".join(f"{item.event_id} ({item.summary})" for item in alert.evidence)
    return f"evidence: {items}"


def _render_area(parent: Any, area: CapArea) -> None:
    element = _sub(parent, "area")
    _sub(element, "areaDesc", area.areaDesc)
    for polygon in area.polygon:
        _sub(element, "polygon", polygon)
    for circle in area.circle:
        _sub(element, "circle", circle)


def _render_info(parent: Any, info: CapInfo, extra: list[tuple[str, str]]) -> None:
    element = _sub(parent, "info")
    _sub(element, "language", info.language)
    for category in info.category:
        _sub(element, "category", category)
    _sub(element, "event", info.event)
    _sub(element, "urgency", info.urgency)
    _sub(element, "severity", info.severity)
    _sub(element, "certainty", info.certainty)
    if info.onset is not None:
        _sub(element, "onset", cap_datetime(info.onset))
    if info.headline is not None:
        _sub(element, "headline", info.headline)
    if info.description is not None:
        _sub(element, "description", info.description)
    parameters = [(p.valueName, p.value) for p in info.parameter]
    present = {name for name, _ in parameters}
    parameters += [(name, value) for name, value in extra if name not in present]
    for name, value in parameters:
        parameter = _sub(element, "parameter")
        _sub(parameter, "valueName", name)
        _sub(parameter, "value", value)
    for area in info.area:
        _render_area(element, area)


def render_cap_xml(alert: Alert) -> bytes:
    """Render an alert as a complete CAP 1.2 XML document.

    Elements follow the order the OASIS schema requires. A ``Restricted``
    alert gets the ``restriction`` element CAP demands; the evidence becomes
    the ``note``; ``references`` are joined by single spaces; gridwatch's
    flat fields (asset_id, asset_type, risk_score, level, event_time) are
    added to every info block as ``gridwatch:*`` parameters unless a
    parameter of that name is already there.

    Args:
        alert: The alert to render.

    Returns:
        The UTF-8 encoded document, with an XML declaration, ending in a newline.

    Raises:
        ValueError: When a datetime of the alert is naive (possible only for
            models built without validation).
    """
    root = etree.Element(_NS + "alert", nsmap={None: CAP_NAMESPACE})
    _sub(root, "identifier", alert.identifier)
    _sub(root, "sender", alert.sender)
    _sub(root, "sent", cap_datetime(alert.sent))
    _sub(root, "status", alert.status)
    _sub(root, "msgType", alert.msgType)
    _sub(root, "scope", alert.scope)
    if alert.scope == "Restricted":
        _sub(root, "restriction", RESTRICTION_TEXT)
    note = _evidence_note(alert)
    if note is not None:
        _sub(root, "note", note)
    if alert.references:
        _sub(root, "references", " ".join(alert.references))
    if alert.incidents is not None:
        _sub(root, "incidents", alert.incidents)
    extra = _gridwatch_parameters(alert)
    for info in alert.info:
        _render_info(root, info, extra)
    document: bytes = etree.tostring(
        root, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return document


def _safe_parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=4)
def _load_schema(path: str, mtime_ns: int, size: int) -> Any:
    # mtime and size are part of the key so an edited schema file is reloaded.
    del mtime_ns, size
    return etree.XMLSchema(etree.parse(path, _safe_parser()))


def load_cap_schema(xsd_path: Path) -> Any:
    """The parsed XML Schema at ``xsd_path``, cached until the file changes."""
    stat = xsd_path.stat()
    return _load_schema(str(xsd_path.resolve()), stat.st_mtime_ns, stat.st_size)


def validate_cap_xml(document: bytes, xsd_path: Path) -> list[str]:
    """Validate a CAP XML document against an XML Schema (the OASIS CAP 1.2 XSD).

    Args:
        document: The XML document.
        xsd_path: The schema file.

    Returns:
        The validation errors as ``line N: message`` texts; empty when the
        document is valid. A document that is not well-formed XML yields one
        error describing the syntax problem.

    Raises:
        OSError: When the schema file cannot be read.
        lxml.etree.XMLSchemaParseError: When the schema file is not a valid
            XML Schema.
        lxml.etree.XMLSyntaxError: When the schema file is not well-formed XML.
    """
    schema = load_cap_schema(xsd_path)
    try:
        tree = etree.fromstring(document, _safe_parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if schema.validate(tree):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


PACKAGED_XSD: Final = Path(schemas.__file__).parent / "cap" / "CAP-v1.2.xsd"
"""The unchanged OASIS schema gridwatch ships (Apache-2.0 redistribution)."""


def cap_xsd_candidate() -> Path | None:
    """Where the CAP schema is looked for (it may not exist there)."""
    configured = os.environ.get(XSD_ENV_VAR)
    if configured:
        return Path(configured)
    root = project_root()
    if root is not None:
        shared = root.parent / "shared" / "data" / "cap" / "CAP-v1.2.xsd"
        if shared.is_file():
            return shared
    return PACKAGED_XSD


def cap_xsd_path() -> Path | None:
    """Locate the OASIS CAP 1.2 schema file.

    The environment variable ``GRIDWATCH_CAP_XSD`` names it when set;
    otherwise it is ``<checkout>/../shared/data/cap/CAP-v1.2.xsd`` when that
    exists, else the copy shipped in ``schemas/cap/``.

    Returns:
        The schema path, or None when that file does not exist (or gridwatch
        runs from an installed package and the variable is unset).
    """
    candidate = cap_xsd_candidate()
    if candidate is None or not candidate.is_file():
        return None
    return candidate


def alert_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, JSON bytes): one object, or one per JSON Lines line."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    lines = data.split(b"\n")
    stripped = data.strip()
    if stripped.startswith(b"{") and b"\n" in stripped:
        # Possibly one pretty-printed object spread over several lines.
        try:
            whole = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            whole = None
        if isinstance(whole, dict):
            first = next(n for n, line in enumerate(lines, 1) if line.strip())
            yield first, stripped
            return
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield number, line.strip()


def xml_file_name(identifier: str, taken: set[str]) -> str:
    """A file name for an alert's document, unique (case-insensitively) within ``taken``."""
    stem = _UNSAFE_FILENAME.sub("_", identifier)
    if stem.startswith("."):
        stem = "_" + stem[1:]
    stem = stem or "alert"
    name = f"{stem}.xml"
    counter = 1
    # Compare case-insensitively: two identifiers must not share a file on
    # case-insensitive file systems either.
    while name.lower() in taken:
        counter += 1
        name = f"{stem}-{counter}.xml"
    taken.add(name.lower())
    return name
