from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from lxml import etree

from schemas import Alert, CapArea, CapInfo, CapParameter, Evidence, encode
from streams.cli.process import cap_xml_command
from streams.core.cap_xml import (
    CAP_NAMESPACE,
    cap_datetime,
    cap_xsd_path,
    render_cap_xml,
    validate_cap_xml,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NS = {"cap": CAP_NAMESPACE}
SENDER = "gridwatch@ops.example"

# People's Square: a closed ring of "lat,lon" pairs (first pair == last pair).
PEOPLES_SQUARE = (
    "31.2336,121.4700 31.2336,121.4780 31.2280,121.4780 31.2280,121.4700 31.2336,121.4700"
)
CIRCLE = "31.2304,121.4737 0.5"

FIRST_SENT = datetime(2026, 11, 27, 16, 0, 5, 123456, tzinfo=SHANGHAI)
UPDATE_SENT = datetime(2026, 11, 27, 8, 15, 30, 987654, tzinfo=UTC)
CANCEL_SENT = datetime(2026, 11, 27, 17, 45, 0, 1, tzinfo=SHANGHAI)


def _ref(alert: Alert) -> str:
    return f"{alert.sender},{alert.identifier},{cap_datetime(alert.sent)}"


def _first_alert() -> Alert:
    return Alert(
        identifier="gridwatch:cp-007:crowd:1",
        sender=SENDER,
        sent=FIRST_SENT,
        msgType="Alert",
        incidents="cp-007:crowd",
        info=[
            CapInfo(
                category=["Safety"],
                event="Crowd density rising",
                urgency="Expected",
                severity="Moderate",
                certainty="Likely",
                headline="Crowd density rising at People's Square",
                onset=FIRST_SENT,
                area=[CapArea(areaDesc="People's Square", polygon=[PEOPLES_SQUARE])],
            )
        ],
        asset_id="cp-007",
        asset_type="crowded_place",
        risk_score=41.5,
        level="watch",
        event_time=FIRST_SENT - timedelta(seconds=30),
        evidence=[Evidence(event_id="sensor-11", summary="4.1 people/m2, rising")],
    )


def _update_alert() -> Alert:
    first = _first_alert()
    return Alert(
        identifier="gridwatch:cp-007:crowd:2",
        sender=SENDER,
        sent=UPDATE_SENT,
        msgType="Update",
        references=[_ref(first)],
        incidents="cp-007:crowd",
        info=[
            CapInfo(
                category=["Safety", "Rescue"],
                event="Crowd crush risk",
                urgency="Immediate",
                severity="Extreme",
                certainty="Observed",
                headline="Crush risk at People's Square",
                description="Density above 6 people/m2 at the east exit; <stairs> & gates closed.",
                onset=UPDATE_SENT,
                parameter=[CapParameter(valueName="gridwatch:level", value="critical")],
                area=[
                    CapArea(
                        areaDesc="People's Square, east exit",
                        polygon=[PEOPLES_SQUARE],
                        circle=[CIRCLE],
                    )
                ],
            )
        ],
        asset_id="cp-007",
        asset_type="crowded_place",
        risk_score=93.0,
        level="critical",
        event_time=UPDATE_SENT - timedelta(seconds=5),
        evidence=[
            Evidence(event_id="sensor-12", summary="6.3 people/m2"),
            Evidence(event_id="hotline-3", summary="caller reports pushing at the stairs"),
        ],
    )


def _cancel_alert() -> Alert:
    first, update = _first_alert(), _update_alert()
    return Alert(
        identifier="gridwatch:cp-007:crowd:3",
        sender=SENDER,
        sent=CANCEL_SENT,
        msgType="Cancel",
        scope="Public",
        references=[_ref(first), _ref(update)],
        incidents="cp-007:crowd",
        info=[
            CapInfo(
                category=["Safety"],
                event="Crowd crush risk",
                urgency="Past",
                severity="Minor",
                certainty="Observed",
                headline="Crowd dispersed",
            )
        ],
        asset_id="cp-007",
        asset_type="crowded_place",
        risk_score=12.0,
        level="watch",
        event_time=CANCEL_SENT,
    )


ALERTS = {"alert": _first_alert, "update": _update_alert, "cancel": _cancel_alert}


@pytest.fixture
def xsd() -> Path:
    path = cap_xsd_path()
    # Deliberately an assertion, not a skip: CAP output must be checked against the real schema.
    assert path is not None, "the OASIS CAP 1.2 schema (CAP-v1.2.xsd) was not found"
    return path


def _parse(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def _text(root: etree._Element, path: str) -> str | None:
    text: str | None = root.findtext(path, namespaces=NS)
    return text


@pytest.mark.parametrize("kind", sorted(ALERTS))
def test_each_message_validates_against_the_oasis_schema(kind: str, xsd: Path) -> None:
    document = render_cap_xml(ALERTS[kind]())
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert validate_cap_xml(document, xsd) == []


def test_sent_keeps_its_offset_and_drops_fractions() -> None:
    utc_root = _parse(render_cap_xml(_update_alert()))
    shanghai_root = _parse(render_cap_xml(_first_alert()))
    assert _text(utc_root, "cap:sent") == "2026-11-27T08:15:30+00:00"
    assert _text(shanghai_root, "cap:sent") == "2026-11-27T16:00:05+08:00"
    assert _text(shanghai_root, "cap:info/cap:onset") == "2026-11-27T16:00:05+08:00"
    for root in (utc_root, shanghai_root):
        sent = _text(root, "cap:sent")
        assert sent is not None
        assert "." not in sent
        assert "Z" not in sent


def test_cap_datetime_offsets() -> None:
    assert cap_datetime(datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)) == (
        "2026-01-02T03:04:05+00:00"
    )
    minus_0530 = timezone(-timedelta(hours=5, minutes=30))
    assert cap_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=minus_0530)) == (
        "2026-01-02T03:04:05-05:30"
    )
    # An offset with seconds cannot be written in CAP: the same instant in UTC.
    odd = timezone(timedelta(hours=8, minutes=5, seconds=43))
    assert cap_datetime(datetime(2026, 1, 2, 8, 5, 43, tzinfo=odd)) == ("2026-01-02T00:00:00+00:00")
    with pytest.raises(ValueError, match="offset"):
        cap_datetime(datetime(2026, 1, 2))  # noqa: DTZ001


@pytest.mark.parametrize("kind", sorted(ALERTS))
def test_header_fields_round_trip(kind: str) -> None:
    alert = ALERTS[kind]()
    root = _parse(render_cap_xml(alert))
    assert root.tag == f"{{{CAP_NAMESPACE}}}alert"
    assert _text(root, "cap:identifier") == alert.identifier
    assert _text(root, "cap:sender") == alert.sender
    assert _text(root, "cap:msgType") == alert.msgType
    assert _text(root, "cap:scope") == alert.scope
    assert _text(root, "cap:incidents") == alert.incidents
    references = _text(root, "cap:references")
    parsed = references.split(" ") if references is not None else []
    assert parsed == alert.references
    infos = root.findall("cap:info", NS)
    assert len(infos) == len(alert.info)
    for element, info in zip(infos, alert.info, strict=True):
        assert _text(element, "cap:event") == info.event
        assert _text(element, "cap:severity") == info.severity
        assert _text(element, "cap:certainty") == info.certainty
        assert [c.text for c in element.findall("cap:category", NS)] == info.category
        assert _text(element, "cap:description") == info.description


def test_cancel_references_both_earlier_messages() -> None:
    root = _parse(render_cap_xml(_cancel_alert()))
    references = _text(root, "cap:references")
    assert references is not None
    assert references.split(" ") == [
        f"{SENDER},gridwatch:cp-007:crowd:1,2026-11-27T16:00:05+08:00",
        f"{SENDER},gridwatch:cp-007:crowd:2,2026-11-27T08:15:30+00:00",
    ]


def test_area_polygon_and_circle_are_rendered() -> None:
    root = _parse(render_cap_xml(_update_alert()))
    area = root.find("cap:info/cap:area", NS)
    assert area is not None
    assert _text(area, "cap:areaDesc") == "People's Square, east exit"
    polygon = _text(area, "cap:polygon")
    assert polygon == PEOPLES_SQUARE
    pairs = polygon.split(" ")
    assert len(pairs) >= 4
    assert pairs[0] == pairs[-1]
    assert _text(area, "cap:circle") == CIRCLE


def test_restriction_only_for_restricted_scope() -> None:
    restricted = _parse(render_cap_xml(_first_alert()))
    public = _parse(render_cap_xml(_cancel_alert()))
    assert _text(restricted, "cap:scope") == "Restricted"
    assert _text(restricted, "cap:restriction")
    assert public.find("cap:restriction", NS) is None


def test_flat_fields_become_parameters_without_duplicates() -> None:
    update = _update_alert()
    root = _parse(render_cap_xml(update))
    pairs = [
        (_text(p, "cap:valueName"), _text(p, "cap:value"))
        for p in root.findall("cap:info/cap:parameter", NS)
    ]
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names))
    values = dict(pairs)
    assert values["gridwatch:asset_id"] == "cp-007"
    assert values["gridwatch:asset_type"] == "crowded_place"
    assert float(values["gridwatch:risk_score"] or "nan") == update.risk_score
    assert values["gridwatch:level"] == "critical"
    assert values["gridwatch:event_time"] == update.event_time.isoformat()
    # The info's own parameter comes first and is not repeated.
    assert pairs[0] == ("gridwatch:level", "critical")

    untyped = _cancel_alert().model_copy(update={"asset_type": None})
    untyped_root = _parse(render_cap_xml(untyped))
    untyped_names = [
        _text(p, "cap:valueName") for p in untyped_root.findall("cap:info/cap:parameter", NS)
    ]
    assert "gridwatch:asset_type" not in untyped_names
    assert "gridwatch:asset_id" in untyped_names


def test_evidence_goes_into_the_note() -> None:
    note = _text(_parse(render_cap_xml(_update_alert())), "cap:note")
    assert note == (
        "evidence: sensor-12 (6.3 people/m2); hotline-3 (caller reports pushing at the stairs)"
    )
    assert _parse(render_cap_xml(_cancel_alert())).find("cap:note", NS) is None


def test_characters_xml_cannot_hold_are_replaced(xsd: Path) -> None:
    alert = _first_alert().model_copy(update={"incidents": "cp-007\x00crowd"})
    document = render_cap_xml(alert)
    assert _text(_parse(document), "cap:incidents") == "cp-007\ufffdcrowd"
    assert validate_cap_xml(document, xsd) == []


def test_document_without_sender_is_invalid(xsd: Path) -> None:
    root = _parse(render_cap_xml(_first_alert()))
    sender = root.find("cap:sender", NS)
    assert sender is not None
    root.remove(sender)
    errors = validate_cap_xml(etree.tostring(root), xsd)
    assert errors
    assert any("sender" in error for error in errors)


def test_elements_out_of_order_are_invalid(xsd: Path) -> None:
    root = _parse(render_cap_xml(_first_alert()))
    status = root.find("cap:status", NS)
    assert status is not None
    root.remove(status)
    root.append(status)
    assert validate_cap_xml(etree.tostring(root), xsd)


def test_malformed_document_is_reported(xsd: Path) -> None:
    errors = validate_cap_xml(b"<alert", xsd)
    assert len(errors) == 1
    assert errors[0].startswith("not well-formed XML")


def test_xsd_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    schema = tmp_path / "cap.xsd"
    monkeypatch.setenv("GRIDWATCH_CAP_XSD", str(schema))
    assert cap_xsd_path() is None
    schema.write_text("<schema/>")
    assert cap_xsd_path() == schema


def _jsonl(*alerts: Alert) -> bytes:
    return b"".join(encode(alert) + b"\n" for alert in alerts)


def _documents(output: bytes) -> list[bytes]:
    parts = output.split(b"<?xml ")
    assert parts[0].strip() == b""
    return [b"<?xml " + part for part in parts[1:]]


def test_command_renders_json_lines(xsd: Path) -> None:
    alerts = [factory() for factory in ALERTS.values()]
    data = _jsonl(alerts[0]) + b"\n" + _jsonl(*alerts[1:])  # a blank line is ignored
    result = CliRunner().invoke(cap_xml_command, ["--validate"], input=data)
    assert result.exit_code == 0, result.stderr
    documents = _documents(result.stdout_bytes)
    assert len(documents) == 3
    for document, alert in zip(documents, alerts, strict=True):
        assert validate_cap_xml(document, xsd) == []
        assert _text(_parse(document.strip()), "cap:identifier") == alert.identifier


def test_command_accepts_one_pretty_printed_object() -> None:
    alert = _first_alert()
    data = alert.model_dump_json(indent=2, exclude_none=True).encode()
    result = CliRunner().invoke(cap_xml_command, [], input=data)
    assert result.exit_code == 0, result.stderr
    documents = _documents(result.stdout_bytes)
    assert len(documents) == 1
    assert _text(_parse(documents[0].strip()), "cap:identifier") == alert.identifier


def test_command_reports_bad_lines_and_keeps_going() -> None:
    first, update, cancel = (factory() for factory in ALERTS.values())
    data = _jsonl(first) + b"{not json\n" + _jsonl(update) + b'{"identifier": "x"}\n'
    data += _jsonl(cancel)
    result = CliRunner().invoke(cap_xml_command, [], input=data)
    assert result.exit_code == 1
    assert "line 2: not_json:" in result.stderr
    assert "line 4: missing_field:" in result.stderr
    assert "line 1:" not in result.stderr
    assert len(_documents(result.stdout_bytes)) == 3


def test_command_writes_files_to_out_dir(tmp_path: Path, xsd: Path) -> None:
    alerts = [factory() for factory in ALERTS.values()]
    out_dir = tmp_path / "cap"
    result = CliRunner().invoke(
        cap_xml_command, ["--out-dir", str(out_dir), "--validate"], input=_jsonl(*alerts)
    )
    assert result.exit_code == 0, result.stderr
    expected = [out_dir / f"gridwatch_cp-007_crowd_{n}.xml" for n in (1, 2, 3)]
    assert result.stdout.splitlines() == [str(path) for path in expected]
    for path, alert in zip(expected, alerts, strict=True):
        document = path.read_bytes()
        assert validate_cap_xml(document, xsd) == []
        assert _text(_parse(document), "cap:identifier") == alert.identifier


def test_command_does_not_overwrite_colliding_file_names(tmp_path: Path) -> None:
    first = _first_alert()
    twin = first.model_copy(update={"identifier": "gridwatch/cp-007/crowd/1"})
    result = CliRunner().invoke(
        cap_xml_command, ["--out-dir", str(tmp_path)], input=_jsonl(first, twin)
    )
    assert result.exit_code == 0, result.stderr
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["gridwatch_cp-007_crowd_1-2.xml", "gridwatch_cp-007_crowd_1.xml"]


def test_command_validate_without_schema_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRIDWATCH_CAP_XSD", str(tmp_path / "missing.xsd"))
    result = CliRunner().invoke(cap_xml_command, ["--validate"], input=_jsonl(_first_alert()))
    assert result.exit_code == 2
    assert "GRIDWATCH_CAP_XSD" in result.stderr
    assert result.stdout_bytes == b""


def test_command_validate_rejects_invalid_documents(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A schema that only allows a different root: every rendered alert fails it.
    schema = tmp_path / "other.xsd"
    schema.write_text(
        '<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:other">'
        '<element name="other" type="string"/></schema>'
    )
    monkeypatch.setenv("GRIDWATCH_CAP_XSD", str(schema))
    result = CliRunner().invoke(cap_xml_command, ["--validate"], input=_jsonl(_first_alert()))
    assert result.exit_code == 1
    assert "line 1: alert 'gridwatch:cp-007:crowd:1' is not valid CAP 1.2" in result.stderr
    assert result.stdout_bytes == b""


def test_shipped_schema_is_the_shared_one() -> None:
    from streams.core.cap_xml import PACKAGED_XSD
    from streams.core.settings import project_root

    assert PACKAGED_XSD.is_file()
    root = project_root()
    shared = None if root is None else root.parent / "shared" / "data" / "cap" / "CAP-v1.2.xsd"
    if shared is not None and shared.is_file():
        assert PACKAGED_XSD.read_bytes() == shared.read_bytes()
