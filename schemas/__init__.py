"""gridwatch contracts: the events, assets, alerts and dead letters on the wire.

Pure pydantic v2 models and one orjson codec; nothing here imports faust,
kafka or prometheus.
"""

from schemas._acks import INTERNAL_ADAPTER, Acknowledgement, InternalMessage
from schemas._alerts import (
    Alert,
    CapArea,
    CapCertainty,
    CapInfo,
    CapParameter,
    CapSeverity,
    CapUrgency,
    Evidence,
    IncidentRef,
    RiskFactor,
    RiskLevel,
    RiskState,
)
from schemas._assets import Asset, AssetType, Geometry, MetricThresholds
from schemas._common import MAX_DESCRIPTION_CHARS, MAX_ID_CHARS
from schemas._dead_letters import (
    MAX_KEPT_VALUE_BYTES,
    DeadLetter,
    DeadLetterReason,
    FieldError,
    bounded_dead_letter,
)
from schemas._events import (
    EVENT_ADAPTER,
    KNOWN_HAZARDS,
    KNOWN_METRICS,
    KNOWN_SERVICE_CODES,
    Event,
    HotlineCase,
    InspectionFinding,
    SensorReading,
)
from schemas.codec import (
    AnyEvent,
    DecodeError,
    InputLimits,
    decode_ack,
    decode_event,
    decode_input,
    decode_internal,
    decode_model,
    encode,
)

__all__ = [
    "EVENT_ADAPTER",
    "INTERNAL_ADAPTER",
    "KNOWN_HAZARDS",
    "KNOWN_METRICS",
    "KNOWN_SERVICE_CODES",
    "MAX_DESCRIPTION_CHARS",
    "MAX_ID_CHARS",
    "MAX_KEPT_VALUE_BYTES",
    "Acknowledgement",
    "Alert",
    "AnyEvent",
    "Asset",
    "AssetType",
    "CapArea",
    "CapCertainty",
    "CapInfo",
    "CapParameter",
    "CapSeverity",
    "CapUrgency",
    "DeadLetter",
    "DeadLetterReason",
    "DecodeError",
    "Event",
    "Evidence",
    "FieldError",
    "Geometry",
    "HotlineCase",
    "IncidentRef",
    "InputLimits",
    "InspectionFinding",
    "InternalMessage",
    "MetricThresholds",
    "RiskFactor",
    "RiskLevel",
    "RiskState",
    "SensorReading",
    "bounded_dead_letter",
    "decode_ack",
    "decode_event",
    "decode_input",
    "decode_internal",
    "decode_model",
    "encode",
]
