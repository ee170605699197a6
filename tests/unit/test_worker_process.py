"""The worker process: it logs at its configured level, and its garbage collector is tuned."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest

from streams.core.settings import Settings
from streams.runtime.worker import faust_worker


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_root_logger_stays_at_the_worker_level(root_logging: None, tmp_path: Path) -> None:
    settings = Settings(log_level="warning", home=tmp_path)
    app = faust.App("logging-test", broker="kafka://127.0.0.1:1", store="memory://")
    worker = faust_worker(app, settings)
    worker._setup_logging()
    root = logging.getLogger()
    assert root.level == logging.WARNING
    # Faust's spinner handler (level DEBUG) would have set the root to DEBUG.
    assert all(handler.level >= logging.WARNING for handler in root.handlers)
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)


def test_start_up_is_frozen_out_of_collections_and_young_ones_are_rarer() -> None:
    import gc

    from streams.runtime.worker import GC_THRESHOLDS, tune_gc

    thresholds = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > thresholds[0]  # young collections rarer than Python's
        # Cycles made afterwards are still collected.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
