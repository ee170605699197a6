"""Export the JSON Schema of every public model to ``schemas/json/``.

Run ``python -m schemas.export`` after changing a model; a unit test fails
when the committed files drift from the models.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import BaseModel

from schemas._acks import Acknowledgement
from schemas._alerts import Alert, RiskState
from schemas._assets import Asset
from schemas._dead_letters import DeadLetter
from schemas._events import EVENT_ADAPTER, HotlineCase, InspectionFinding, SensorReading

JSON_DIR: Final = Path(__file__).parent / "json"

_MODELS: Final[dict[str, type[BaseModel]]] = {
    "sensor_reading": SensorReading,
    "hotline_case": HotlineCase,
    "inspection_finding": InspectionFinding,
    "asset": Asset,
    "alert": Alert,
    "risk_state": RiskState,
    "dead_letter": DeadLetter,
    "acknowledgement": Acknowledgement,
}

_BASE_URI: Final = "https://gridwatch.example/schemas/"


def generate() -> dict[str, dict[str, Any]]:
    """Return file name → JSON Schema for every public model and the event union."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, model in _MODELS.items():
        schemas[f"{name}.schema.json"] = _decorate(name, model.model_json_schema())
    event = EVENT_ADAPTER.json_schema()
    event["title"] = "Event"
    event["description"] = "Any gridwatch input event; the `kind` field selects the shape."
    schemas["event.schema.json"] = _decorate("event", event)
    return schemas


def _decorate(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_BASE_URI}{name}.schema.json",
        **schema,
    }


def render(schema: dict[str, Any]) -> bytes:
    """Serialise a schema the way the committed files are written."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> int:
    """Write every schema file and remove stale ones."""
    JSON_DIR.mkdir(exist_ok=True)
    wanted = generate()
    for stale in JSON_DIR.glob("*.schema.json"):
        if stale.name not in wanted:
            stale.unlink()
    for file_name, schema in wanted.items():
        (JSON_DIR / file_name).write_bytes(render(schema))
    sys.stdout.write(f"wrote {len(wanted)} schemas to {JSON_DIR}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
