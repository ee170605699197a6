"""Where the agents keep what outlives a message: engine state and the registry.

Per-asset engine state lives in a changelog-backed Faust table, written once
per batch for each asset that changed, tagged with the topics it was built
from; the asset registry is rebuilt from the assets GlobalTable when it
changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from schemas import Asset, DecodeError, decode_model
from streams.core.topics import STATE_OWNER_FIELD
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.engine.state import AssetState
from streams.runtime.metrics import Metrics

log = logging.getLogger(__name__)


class ForeignStateError(RuntimeError):
    """The state table holds state built from another deployment's topics."""


class TableStateStore:
    """Engine state backed by a Faust table of JSON snapshots, with a decoded cache.

    Args:
        table: The table (or any mapping of asset id bytes to snapshot bytes).
        owner: The topic prefix this deployment reads; stored in every snapshot,
            and a snapshot with another one is refused.
    """

    def __init__(self, table: Any, owner: str) -> None:
        self.table = table
        self.owner = owner
        self.cache: dict[str, AssetState] = {}

    def get(self, asset_id: str) -> AssetState | None:
        """The asset's state: from the cache, else restored from the table.

        Raises:
            ForeignStateError: The stored state was built from other topics.
        """
        state = self.cache.get(asset_id)
        if state is None:
            blob = self.table.get(asset_id.encode())
            if blob is not None:
                data = orjson.loads(blob)
                check_owner(data, self.owner, asset_id)
                state = AssetState.restore(data)
                self.cache[asset_id] = state
        return state

    def put(self, asset_id: str, state: AssetState) -> None:
        """Keep the state in the cache (persisted by :meth:`persist`)."""
        self.cache[asset_id] = state

    def persist(self, states: list[AssetState], frontier: Callable[[str], dict[str, int]]) -> int:
        """Write changed states to the table (one changelog message each).

        Args:
            states: The states to write.
            frontier: The frontier of the task an asset belongs to, stamped on it.
        """
        for state in states:
            state.frontier = frontier(state.asset_id)
            data = state.snapshot()
            data[STATE_OWNER_FIELD] = self.owner
            self.table[state.asset_id.encode()] = orjson.dumps(data)
        return len(states)

    def forget(self) -> None:
        """Drop the cache (after a rebalance the table is the truth)."""
        self.cache.clear()


def check_owner(data: Mapping[str, Any], owner: str, where: str) -> None:
    """Refuse a snapshot built from another deployment's topics.

    Raises:
        ForeignStateError: Its topic prefix differs from ``owner``.
    """
    found = data.get(STATE_OWNER_FIELD)
    if found != owner:
        raise ForeignStateError(
            f"state for {where} was written by a deployment reading topics {found!r}*, "
            f"not {owner!r}*: two deployments share one application id; give each its "
            "own GRIDWATCH_APP_ID (by default it follows GRIDWATCH_TOPIC_PREFIX)"
        )


def registry_from_table(items: Iterable[tuple[bytes, bytes | None]]) -> AssetRegistry:
    """Build the asset registry from the assets table's (key, value) items."""
    assets = []
    for key, blob in items:
        if blob is None:
            continue
        try:
            assets.append(decode_model(blob, Asset))
        except DecodeError as exc:
            log.warning("asset %r on the assets topic is invalid: %s", key, exc)
    return AssetRegistry(assets)


class RegistryFeed:
    """Keeps the pipeline's registry in step with the assets table.

    The table calls :meth:`on_record` for every record it reads; agents call
    :meth:`refresh` before they use the registry, which rebuilds it only when
    something changed since the last time.

    Args:
        pipeline: The pipeline whose registry to swap.
        metrics: Where the registry size goes.
    """

    def __init__(self, pipeline: RiskPipeline, metrics: Metrics) -> None:
        self._table: Mapping[bytes, bytes | None] = {}
        self._pipeline = pipeline
        self._metrics = metrics
        self._stale = True

    def read_from(self, table: Mapping[bytes, bytes | None]) -> None:
        """Build registries from ``table`` (the assets GlobalTable, or any such mapping)."""
        self._table = table
        self._stale = True

    def changed(self) -> None:
        """Note that the assets table changed."""
        self._stale = True

    async def on_record(self, event: Any) -> None:
        """The table's changelog callback."""
        self.changed()

    def refresh(self) -> None:
        """Rebuild the registry if the table changed since the last refresh."""
        if not self._stale:
            return
        self._stale = False
        self._pipeline.set_registry(registry_from_table(list(self._table.items())))
        self._metrics.registry_assets.set(len(self._pipeline.registry))
        log.info("asset registry loaded: %d assets", len(self._pipeline.registry))
