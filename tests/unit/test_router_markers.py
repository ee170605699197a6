"""The hotline router's progress markers: one per partition, fresh while inputs flow."""

from __future__ import annotations

import asyncio

from streams.core.repartition import Progress, read
from tests.fakes import Cluster, FakeEvent
from tests.scenarios import water_main_burst


def markers(cluster: Cluster) -> list[tuple[int, tuple[Progress, ...]]]:
    """(target partition, progress carried) of every marker sent so far."""
    out = []
    for sent in cluster.outbox.to(cluster.topics.events_by_asset):
        decoded = read(sent.headers, sent.value)
        if isinstance(decoded, tuple):
            assert sent.partition is not None  # a marker names its partition
            out.append((sent.partition, decoded))
    return out


def test_one_marker_per_partition_carries_every_hotline_partition_held():
    cluster = Cluster(water_main_burst().assets, partitions=4)
    asyncio.run(cluster.router.heartbeat())
    sent = markers(cluster)
    assert sorted(target for target, _ in sent) == [0, 1, 2, 3]
    for _, progress in sent:
        assert [p.partition for p in progress] == [0, 1, 2, 3]
        assert all(p.caught_up_at == cluster.wall() for p in progress)


def test_while_inputs_flow_progress_is_repeated_every_busy_heartbeat():
    cluster = Cluster(water_main_burst().assets, partitions=2)
    router = cluster.router
    router.heartbeat_s, router.busy_heartbeat_s = 0.2, 0.03
    flowing = False
    router._busy = lambda: flowing  # the app wires it to the inputs' arrival

    def announcements_over(seconds: float) -> int:
        before = len(markers(cluster))
        for _ in range(round(seconds / 0.01)):
            cluster.wall.advance(0.01)
            asyncio.run(router.heartbeat())
        return (len(markers(cluster)) - before) // cluster.partitions

    asyncio.run(router.heartbeat())
    # Every 0.2 s while nothing flows, every 0.03 s while inputs do (to the next 0.01 s tick).
    assert 4 <= announcements_over(1.0) <= 5
    flowing = True
    assert 24 <= announcements_over(1.0) <= 34


def test_cases_on_one_partition_do_not_hold_back_the_progress_of_the_others():
    scenario = water_main_burst()
    cluster = Cluster(scenario.assets, partitions=2)
    router = cluster.router
    router.heartbeat_s = router.busy_heartbeat_s = 0.1
    case = next(e for e in scenario.events if e["kind"] == "hotline")
    cluster.publish(case)
    ((topic, busy_partition),) = cluster.pending()
    message = cluster.logs[(topic, busy_partition)][0]
    asyncio.run(router.heartbeat())
    announced_at: dict[int, float] = {}
    for _ in range(50):
        cluster.wall.advance(0.02)
        # The same case again and again (a redelivery): the router announces its partition.
        asyncio.run(router.handle_batch([FakeEvent(message)]))
        asyncio.run(router.heartbeat())
        for _, progress in markers(cluster):
            for one in progress:
                if one.caught_up_at is not None:
                    announced_at[one.partition] = max(
                        announced_at.get(one.partition, 0.0), one.caught_up_at
                    )
    quiet = 1 - busy_partition
    assert cluster.wall() - announced_at[quiet] <= 0.1


def test_progress_markers_do_not_count_as_inputs_flowing():
    scenario = water_main_burst()
    cluster = Cluster(scenario.assets, partitions=2)
    asyncio.run(cluster.router.heartbeat())
    for topic, partition in cluster.pending():
        cluster.deliver(topic, partition, 100)
    assert cluster.engine.last_input_at == 0.0
    cluster.wall.advance(1.0)
    cluster.publish(next(e for e in scenario.events if e["kind"] == "sensor"))
    for topic, partition in cluster.pending():
        cluster.deliver(topic, partition, 100)
    assert cluster.engine.last_input_at == cluster.wall()
