from __future__ import annotations

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas.export import JSON_DIR, generate, render
from tests.factories import hotline_factory, inspection_factory, sensor_factory


def committed() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in JSON_DIR.glob("*.schema.json")}


def test_committed_schemas_match_the_models():
    expected = {name: render(schema) for name, schema in generate().items()}
    files = committed()
    assert sorted(files) == sorted(expected), "run `make schemas`"
    for name, content in expected.items():
        assert files[name] == content, f"{name} drifted from the models; run `make schemas`"


def test_every_schema_is_valid_json_schema():
    for name, content in committed().items():
        Draft202012Validator.check_schema(orjson.loads(content)), name


def event_validator() -> Draft202012Validator:
    return Draft202012Validator(orjson.loads((JSON_DIR / "event.schema.json").read_bytes()))


@pytest.mark.parametrize("factory", [sensor_factory, hotline_factory, inspection_factory])
def test_event_schema_accepts_valid_events(factory):
    assert list(event_validator().iter_errors(factory())) == []


@pytest.mark.parametrize(
    "event",
    [
        sensor_factory(value="12"),
        sensor_factory(metric="Bad Name"),
        hotline_factory(lat=120.0),
        hotline_factory(description="x" * 4001),
        inspection_factory(severity=0),
        sensor_factory(event_id="e" * 129),
        sensor_factory(kind="weather"),
    ],
)
def test_event_schema_rejects_what_the_models_reject(event):
    assert list(event_validator().iter_errors(event)) != []
