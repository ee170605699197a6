"""Where the agents keep what outlives a message: engine state and the registry.

Per-asset engine state lives in a changelog-backed Faust table, written once
per batch for each asset that changed, tagged with the topics it was built
from; the asset registry is rebuilt from the assets GlobalTable when it
changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from schemas import (
    Asset,
    DeadLetter,
    DeadLetterReason,
    DecodeError,
    bounded_dead_letter,
    decode_model,
)
from streams.core.topics import STATE_OWNER_FIELD
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.engine.state import AssetState
from streams.runtime.agents.common import timestamp_ms
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

    async def delivered(self) -> None:
        """Wait until the broker has every state written so far.

        Inputs are acknowledged only after this: an offset must never be
        committed ahead of the state that covers it. A table without
        confirmations (a plain mapping in tests) has nothing to wait for.
        """
        delivered = getattr(self.table, "delivered", None)
        if delivered is not None:
            await delivered()

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


@dataclass(frozen=True, slots=True)
class Rejection:
    """An assets-topic record the registry cannot hold, and why."""

    key: bytes
    value: bytes
    error: DecodeError


def registry_from_table(
    items: Iterable[tuple[bytes, bytes | None]],
) -> tuple[AssetRegistry, list[Rejection]]:
    """Build the asset registry from the assets table's (key, value) items.

    Every valid asset is kept; a record that does not decode, or whose geometry
    cannot be built, is left out and returned as a rejection.
    """
    assets: list[Asset] = []
    rejections: list[Rejection] = []
    blobs: dict[str, tuple[bytes, bytes]] = {}
    for key, blob in items:
        if blob is None:
            continue
        try:
            asset = decode_model(blob, Asset)
        except DecodeError as exc:
            rejections.append(Rejection(key, blob, exc))
            continue
        # Policy: whatever fails on one record rejects that record alone.
        except Exception as exc:  # noqa: BLE001
            error = DecodeError(DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            rejections.append(Rejection(key, blob, error))
            continue
        assets.append(asset)
        blobs[asset.asset_id] = (key, blob)
    registry, problems = AssetRegistry.keeping_valid(assets)
    for asset_id, problem in problems.items():
        key, blob = blobs[asset_id]
        error = DecodeError(DeadLetterReason.INVALID_GEOMETRY, f"asset {asset_id}: {problem}")
        rejections.append(Rejection(key, blob, error))
    return registry, rejections


class RegistryFeed:
    """Keeps the pipeline's registry in step with the assets table.

    The table calls :meth:`on_record` for every record it reads (recovery
    included), which notes where the record came from; agents call
    :meth:`refresh` before they use the registry, which rebuilds it only when
    something changed since the last time and returns the dead letters of
    records newly rejected (a poisoned asset is skipped, every valid one kept).

    Args:
        pipeline: The pipeline whose registry to swap.
        metrics: Where the registry size and rejections go.
    """

    def __init__(self, pipeline: RiskPipeline, metrics: Metrics) -> None:
        self._table: Mapping[bytes, bytes | None] = {}
        self._pipeline = pipeline
        self._metrics = metrics
        self._stale = True
        # Where each key's newest record came from: (topic, partition, offset, timestamp ms).
        self._origins: dict[bytes, tuple[str, int, int, int | None]] = {}
        self._reported: set[tuple[bytes, int]] = set()

    def read_from(self, table: Mapping[bytes, bytes | None]) -> None:
        """Build registries from ``table`` (the assets GlobalTable, or any such mapping)."""
        self._table = table
        self._stale = True

    def changed(self) -> None:
        """Note that the assets table changed."""
        self._stale = True

    async def on_record(self, event: Any) -> None:
        """The table's changelog callback."""
        message = event.message
        if message.key is not None:
            self._origins[bytes(message.key)] = (
                message.topic,
                message.partition,
                message.offset,
                timestamp_ms(message),
            )
        self.changed()

    def refresh(self) -> list[DeadLetter]:
        """Rebuild the registry if the table changed; the dead letters of new rejections."""
        if not self._stale:
            return []
        self._stale = False
        registry, rejections = registry_from_table(list(self._table.items()))
        self._pipeline.set_registry(registry)
        self._metrics.registry_assets.set(len(registry))
        log.info("asset registry loaded: %d assets", len(registry))
        letters: list[DeadLetter] = []
        for rejection in rejections:
            origin = self._origins.get(rejection.key)
            if origin is None:
                continue
            topic, partition, offset, timestamp = origin
            if (rejection.key, offset) in self._reported:
                continue
            self._reported.add((rejection.key, offset))
            log.warning(
                "asset record %r (%s[%d]@%d) rejected: %s",
                rejection.key[:64],
                topic,
                partition,
                offset,
                rejection.error,
            )
            self._metrics.assets_rejected.labels(rejection.error.reason.value).inc()
            letters.append(
                bounded_dead_letter(
                    rejection.error.reason,
                    rejection.error.detail,
                    errors=rejection.error.errors,
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    timestamp_ms=timestamp,
                    key=rejection.key,
                    value=rejection.value,
                )
            )
        return letters
