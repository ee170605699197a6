"""Spatial matching plus the risk engine: the one path every shell drives.

The Faust agents split it across topics (holding topic → matcher → per-asset
stream → engine); ``gridwatch process`` and the benchmarks call
:meth:`RiskPipeline.handle` directly. Both run the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from schemas import Acknowledgement, Alert, AnyEvent, HotlineCase, RiskState
from streams.engine.config import EngineConfig
from streams.engine.flow import RiskEngine
from streams.engine.registry import AssetRegistry
from streams.engine.state import StateStore


@dataclass(slots=True)
class PipelineOutput:
    """What one input message produced.

    Attributes:
        alerts: CAP messages, in order.
        risk: New risk state of the asset, when it changed meaningfully.
        late: The event was later than the allowed lateness (dead-letter it as ``late``).
        unmatched: A hotline case without asset_id that no asset fits (kept, counted).
        unknown_asset: The asset is not in the registry (processed as far as possible).
        acknowledged: The message was an acknowledgement.
        redelivered: The message was already applied (a redelivery); nothing changed.
        duplicate: The asset already applied an event with this id; dropped.
    """

    alerts: list[Alert] = field(default_factory=list)
    risk: RiskState | None = None
    late: bool = False
    unmatched: bool = False
    unknown_asset: bool = False
    acknowledged: bool = False
    redelivered: bool = False
    duplicate: bool = False


# Shared outputs for the common "nothing changed" case (never mutated by callers).
_NOTHING: Final = PipelineOutput()
_UNKNOWN_ASSET: Final = PipelineOutput(unknown_asset=True)


def match_case_to_asset(
    case: HotlineCase, registry: AssetRegistry, radius_m: float
) -> HotlineCase | None:
    """Attach the nearest fitting asset within ``radius_m`` to a case without asset_id.

    Returns:
        The case with ``asset_id`` set, the case itself if it already had one,
        or None when no asset of a fitting type is near enough.
    """
    if case.asset_id is not None:
        return case
    match = registry.match_case(case.lat, case.long, case.service_code, radius_m)
    if match is None:
        return None
    return case.model_copy(update={"asset_id": match.asset_id})


class RiskPipeline:
    """Matching and the engine over one registry.

    Args:
        registry: The asset registry.
        config: Engine configuration.
        store: Per-asset state store (in memory by default).
    """

    def __init__(
        self, registry: AssetRegistry, config: EngineConfig, store: StateStore | None = None
    ) -> None:
        self.registry = registry
        self.config = config
        self.engine = RiskEngine(registry, config, store)

    def set_registry(self, registry: AssetRegistry) -> None:
        """Swap in a new registry version (asset updates arrive while running)."""
        self.registry = registry
        self.engine.registry = registry

    def match(self, case: HotlineCase) -> HotlineCase | None:
        """Match a hotline case to an asset (see :func:`match_case_to_asset`)."""
        return match_case_to_asset(case, self.registry, self.config.match_radius_m)

    def handle(
        self, message: AnyEvent | Acknowledgement, origin: tuple[str, int] | None = None
    ) -> PipelineOutput:
        """Run one event or acknowledgement through matching and the engine.

        Args:
            message: The event or acknowledgement.
            origin: (source, offset) of the message, for exactly-once state changes
                across redeliveries (see :meth:`RiskEngine.process`).
        """
        if isinstance(message, Acknowledgement):
            result = self.engine.acknowledge(message)
            return PipelineOutput(
                risk=result.risk, unknown_asset=result.unknown_asset, acknowledged=True
            )
        if isinstance(message, HotlineCase) and message.asset_id is None:
            matched = self.match(message)
            if matched is None:
                return PipelineOutput(unmatched=True)
            message = matched
        result = self.engine.process(message, origin)
        if (
            not (result.alerts or result.risk is not None or result.late or result.redelivered)
            and not result.duplicate
        ):
            return _UNKNOWN_ASSET if result.unknown_asset else _NOTHING
        return PipelineOutput(
            alerts=result.alerts,
            risk=result.risk,
            late=result.late,
            unknown_asset=result.unknown_asset,
            redelivered=result.redelivered,
            duplicate=result.duplicate,
        )
