from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import WorkerProcess, worker_env


@pytest.fixture
def worker_factory(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `gridwatch worker` processes on this test's topics; all stopped at teardown."""
    started: list[WorkerProcess] = []

    def start(**extra_env: str) -> WorkerProcess:
        index = len(started)
        env = worker_env(kafka_bootstrap, topic_prefix, tmp_path / f"w{index}", **extra_env)
        worker = WorkerProcess(env, tmp_path / f"worker-{index}.log").start()
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
