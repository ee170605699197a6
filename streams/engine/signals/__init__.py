"""Per-asset signals: small stateful objects fed in event time.

Times are float seconds since the epoch (UTC) inside the engine; every object
can be turned into plain JSON-able data (``snapshot``) and back (``restore``)
so the Faust shell can keep it in a changelog-backed table. A new signal goes
in a module of its own here and is re-exported below.
"""

from streams.engine.signals.baseline import RobustBaseline
from streams.engine.signals.factor import (
    Factor,
    Source,
    factor_from_data,
    factor_to_data,
    level_rank,
    max_level,
)
from streams.engine.signals.learned import Finding, LearnedDetector
from streams.engine.signals.reports import HotlinePressure, InspectionFindings
from streams.engine.signals.sensor import SensorSeries

__all__ = [
    "Factor",
    "Finding",
    "HotlinePressure",
    "InspectionFindings",
    "LearnedDetector",
    "RobustBaseline",
    "SensorSeries",
    "Source",
    "factor_from_data",
    "factor_to_data",
    "level_rank",
    "max_level",
]
