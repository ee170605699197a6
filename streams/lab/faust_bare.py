"""A bare Faust agent on a backlog: the ceiling of Faust's per-message stream delivery.

``python -m streams.lab.faust_bare BOOTSTRAP PREFIX COUNT`` starts a plain
Faust app (faust-streaming, the worker's runtime, without gridwatch's
patches) whose one agent reads ``PREFIX``'s sensor, hotline and inspection
topics from the beginning, in batches of up to 1,000 (``noack_take``),
acknowledges every event and does nothing else. Once it has had ``COUNT``
events it prints one JSON line, ``{"events": N, "seconds": S}`` (from the
first batch to the last), and exits. ``gridwatch bench pipeline`` runs it
between the raw loops and the workers. It measures the path Faust gives an
agent by default; the worker's engine no longer takes it (its inputs arrive
a fetch at a time, ``streams.runtime.faust_compat._drain_messages_batched``),
so a worker can be faster than this agent.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

import faust
import orjson

BATCH = 1000
WITHIN_S = 0.02


def build(bootstrap: str, prefix: str, count: int) -> Any:
    """The Faust app with its one agent (it exits the process when done)."""
    app = faust.App(
        f"{prefix}bare-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # It exits without leaving its group: the broker drops it (and the bench can
        # delete the group) after the shortest session the broker allows.
        broker_session_timeout=6.0,
        broker_heartbeat_interval=2.0,
    )
    topic = app.topic(
        f"{prefix}sensor",
        f"{prefix}hotline",
        f"{prefix}inspection",
        key_serializer="raw",
        value_serializer="raw",
    )
    seen = {"events": 0}
    first: list[float] = []

    async def bare(stream: Any) -> None:
        try:
            async for events in stream.noack_take(BATCH, WITHIN_S):
                if not first:
                    first.append(time.perf_counter())
                for event in events:
                    event.ack()
                seen["events"] += len(events)
                if seen["events"] >= count:
                    seconds = time.perf_counter() - first[0]
                    # File descriptor 1 itself: Faust's worker routes sys.stdout to its log.
                    os.write(1, orjson.dumps({"events": seen["events"], "seconds": seconds}))
                    os._exit(0)  # no graceful stop: the measurement is done
        except BaseException:  # noqa: BLE001 - any other end of the agent is a failed run
            os._exit(70)  # a crashed agent would leave the worker idling forever

    app.agent(topic, name="bare")(bare)
    return app


def main() -> None:
    """Entry point: ``BOOTSTRAP PREFIX COUNT``."""
    bootstrap, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = build(bootstrap, prefix, count)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main()
