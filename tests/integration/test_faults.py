"""Same alerts, whatever happens: full-speed replay, SIGKILLs, a broker restart, scale-out.

Every test compares the alert topic with ``gridwatch process`` for the same
log: the same identifiers with byte-identical content, repeats identical, and
nothing dead-lettered as ``late``. ``make test`` runs the short version;
``make faults`` (``GRIDWATCH_FAULTS=long``) runs a larger city, five kills in
both replay modes and three workers.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import local as kafka_local
from streams.broker.local import LocalKafka
from streams.core.settings import Settings
from tests.integration.deployment import City, Deployment, simulate
from tests.support import free_port_pair, get_json, wait_until

LONG = os.environ.get("GRIDWATCH_FAULTS") == "long"
KILLS = 5 if LONG else 3
MODES = [("--max-speed",), ("--speed", "120")] if LONG else [("--speed", "240")]
WORKERS = 3 if LONG else 2

pytestmark = pytest.mark.timeout(1800 if LONG else 600)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    tmp = tmp_path_factory.mktemp("city")
    if LONG:
        return simulate(tmp, assets=300, duration="2h", incidents=12, seed=31)
    return simulate(tmp, assets=120, duration="75m", incidents=8, seed=37)


@pytest.fixture
def deployment(kafka_bootstrap: str, city: City, tmp_path: Path) -> Iterator[Deployment]:
    deployed = Deployment(kafka_bootstrap, f"f{uuid.uuid4().hex[:8]}.", tmp_path, city).setup()
    try:
        yield deployed
    finally:
        deployed.stop()


def test_full_speed_replay_gives_the_offline_alerts(deployment: Deployment) -> None:
    deployment.start_worker()
    replay = deployment.replay("--max-speed")
    assert replay.wait(timeout=300) == 0
    deployment.assert_same_as_offline()
    worker = deployment.workers[0]
    samples = worker.metrics()
    assert samples.get("gridwatch_stragglers_total", 0) == 0
    assert samples.get("gridwatch_merge_passed_over_total", 0) == 0


@pytest.mark.parametrize("speed", MODES, ids=lambda mode: "-".join(mode).strip("-"))
def test_sigkills_during_replay_lose_nothing(
    deployment: Deployment, speed: tuple[str, ...]
) -> None:
    rng = random.Random(7)
    worker = deployment.start_worker()
    replay = deployment.replay(*speed)
    for _ in range(KILLS):
        time.sleep(rng.uniform(2.0, 8.0))
        assert worker.process is not None
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=30)
        # Restarted at once, as a supervisor would; it rejoins when the group lets it.
        worker = deployment.start_worker(wait=False)
    assert replay.wait(timeout=600) == 0
    deployment.assert_same_as_offline(timeout=300)


def test_workers_joining_and_leaving_give_the_offline_alerts(deployment: Deployment) -> None:
    first = deployment.start_worker()
    replay = deployment.replay("--speed", "240")
    time.sleep(3)
    joined = [deployment.start_worker(wait=False) for _ in range(WORKERS - 1)]
    time.sleep(8)
    assert first.process is not None
    first.process.send_signal(signal.SIGKILL)  # the first one leaves without a goodbye
    first.process.wait(timeout=30)
    assert replay.wait(timeout=600) == 0
    deployment.assert_same_as_offline(timeout=300)
    # Every remaining worker answers for every asset (the whole risk topic).
    asset = next(iter(deployment.city.offline)).split("-")[1:3]
    asset_id = "-".join(asset)
    for worker in joined:
        status, body = get_json(f"{worker.web}/risk/{asset_id}")
        assert (status, body["asset_id"]) == (200, asset_id)


def test_a_broker_restart_mid_replay_loses_nothing(city: City, tmp_path: Path) -> None:
    # A broker of its own: stopping the session's broker would disturb other tests.
    port = free_port_pair()
    local = LocalKafka(Settings(home=tmp_path / "broker", kafka_port=port, kafka_heap="512m"))
    shutil.rmtree(local.state_dir, ignore_errors=True)
    kafka_local.up(local, timeout_s=120)
    deployed = Deployment(local.address, "b.", tmp_path / "deploy", city)
    try:
        deployed.setup()
        worker = deployed.start_worker()
        replay = deployed.replay("--speed", "240")
        time.sleep(5)
        kafka_local.down(local)
        stopped = time.monotonic()
        down_for = 60.0 if LONG else 25.0

        def says_unreachable() -> bool:
            status, body = get_json(f"{worker.web}/health")
            return status == 503 and body.get("status") == "broker unreachable"

        wait_until(says_unreachable, timeout=down_for, message="/health to say why")
        time.sleep(max(0.0, down_for - (time.monotonic() - stopped)))
        kafka_local.up(local, timeout_s=120)
        assert replay.wait(timeout=600) == 0
        deployed.assert_same_as_offline(timeout=300)
        assert worker.alive(), "the worker carries on by itself"
        wait_until(
            lambda: get_json(f"{worker.web}/health")[0] == 200, timeout=60, message="ready again"
        )
    finally:
        deployed.stop()
        kafka_local.down(local)


def test_two_prefixes_side_by_side_and_a_shared_app_id_refused(
    kafka_bootstrap: str, city: City, tmp_path: Path
) -> None:
    one = Deployment(kafka_bootstrap, f"p{uuid.uuid4().hex[:6]}.", tmp_path / "one", city)
    two = Deployment(kafka_bootstrap, f"q{uuid.uuid4().hex[:6]}.", tmp_path / "two", city)
    three = Deployment(kafka_bootstrap, f"r{uuid.uuid4().hex[:6]}.", tmp_path / "3", city)
    try:
        for deployed in (one.setup(), two.setup()):
            deployed.start_worker()  # default application ids: derived from the prefixes
        replays = [one.replay("--max-speed"), two.replay("--max-speed")]
        assert [r.wait(timeout=300) for r in replays] == [0, 0]
        one.assert_same_as_offline()
        two.assert_same_as_offline()
        # A third deployment told to use the first one's application id refuses to start.
        three.setup()
        intruder = three.start_worker(wait=False, GRIDWATCH_APP_ID=f"{one.prefix}app")
        assert intruder.process is not None
        assert intruder.process.wait(timeout=120) == 2
        assert "two deployments share one application id" in " ".join(intruder.tail().split())
    finally:
        for deployed in (one, two, three):
            deployed.stop()
