"""Workarounds for faust-streaming behaviour we depend on (each explains the bug)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import faust
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.errors import IllegalStateError
from faust.sensors.prometheus import PrometheusMonitor
from faust.tables.manager import TableManager
from faust.transport.consumer import CONSUMER_FETCHING, ensure_TP
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.web.drivers.aiohttp import Web as AiohttpWeb


class SharedTopicGlobalTable(faust.GlobalTable):
    """A GlobalTable whose changelog is an existing topic (the compacted assets topic).

    Faust's partition assignor looks a global table's changelog up by the
    *derived* name ``<app id>-<table>-changelog`` even when the table was given
    its own ``changelog_topic``; the lookup fails inside the assignor and the
    group never finishes rebalancing (seen with faust-streaming 0.15.3). This
    class reports the real topic name instead.
    """

    def _changelog_topic_name(self) -> str:
        if self._changelog_topic is not None:
            return str(self._changelog_topic.get_topic_name())
        return str(super()._changelog_topic_name())


class ConfirmedTable(faust.Table[bytes, bytes]):
    """A Table whose changelog writes can be awaited until the broker has them.

    Faust hands a table's changelog records to its producer buffer and, before
    committing offsets, calls ``producer.flush()``. That flush is not a
    guarantee: the buffer's ``flush_atmost`` returns when no record left the
    buffer for 0.1 s (a busy machine), and a record the buffer has taken but
    not yet handed to aiokafka is in neither queue. An offset could then be
    committed before the state that covers it reached the changelog; a SIGKILL
    at that moment kept the commit and lost the write, and the next owner of
    the partition restored an older state and resumed after events it never
    applied (seen in CI: the last two alerts of an incident never arrived).
    The engine awaits :meth:`delivered` before it acknowledges its inputs.
    """

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        """Send as Faust does, and remember the record's future."""
        future = super().send_changelog(*args, **kwargs)
        self.__dict__.setdefault("_unconfirmed", []).append(future)
        return future

    async def delivered(self) -> None:
        """Wait until every changelog record written so far is acknowledged."""
        futures: list[Any] = self.__dict__.pop("_unconfirmed", [])
        if futures:
            await asyncio.gather(*futures)


class IdempotentProducer(AIOKafkaProducer):
    """Faust's aiokafka producer with idempotence on, as Kafka Streams' producers are.

    faust-streaming turns idempotence on only for exactly-once transactions; a
    plain producer may then write a retried batch twice, or reorder batches of
    one partition after a broker restart. With idempotence every batch lands
    once and in order (and ``acks=all``, which idempotence requires).
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class ApiOnlyWeb(AiohttpWeb):
    """Faust's aiohttp web server serving gridwatch's views and none of Faust's own.

    Faust mounts blueprints of its own on the worker's port: ``/router``
    (cluster topology), ``/table`` (table contents, key by key), ``/graph``,
    the statistics at ``/`` and ``/assignment/``, ``/performance/``, and a
    production index at ``/``. gridwatch uses none of them (no
    ``@table_route``) and they expose internals, so none is registered: those
    paths answer 404.
    """

    default_blueprints = ()
    production_blueprints = ()
    debug_blueprints = ()
    optional_blueprints = ()


class GridwatchApp(faust.App):
    """The Faust app with an idempotent producer and only gridwatch's web views."""

    def _new_producer(self) -> Any:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_web(self) -> Any:
        return ApiOnlyWeb(self)


async def _seek_to_committed_or_beginning(self: Any) -> Mapping[Any, int]:
    """Seek every assigned partition to its committed offset, or to its start if it has none.

    faust-streaming drops records it has already taken from aiokafka when a
    rebalance stops the flow mid-batch, and relies on seeking back to the
    committed offsets to fetch them again. aiokafka's ``seek_to_committed``
    seeks only partitions with a committed offset above 0, so a partition
    never committed (a new group, a quiet input) keeps its advanced position
    and those records are never delivered: the worker looks ready and never
    consumes them (seen here after repeated SIGKILLs, and on fresh workers
    started on a backlog). Partitions without a committed offset are sent to
    their beginning, which is what ``auto_offset_reset="earliest"`` means.
    """
    consumer = self._ensure_consumer()
    for attempt in range(SEEK_ATTEMPTS):
        getattr(self.consumer, SEEK_EPOCHS_ATTR).bump(self.consumer.assignment())
        try:
            committed: Mapping[Any, int] = await self.call_thread(consumer.seek_to_committed)
            break
        except IllegalStateError:
            # The assignment changed during the call (a rebalance): some partitions
            # were sought and the caller would record none of it. Seek the new
            # assignment whole instead (seen in CI: a partition stalled after it).
            if attempt == SEEK_ATTEMPTS - 1:
                raise
    unset = [tp for tp, offset in committed.items() if offset is None or offset <= 0]
    starts = {tp: offset for tp, offset in committed.items() if tp not in unset}
    if unset:
        await self.call_thread(consumer.seek_to_beginning, *unset)
        with contextlib.suppress(Exception):  # unknown partition: asked again later
            starts.update(await self.call_thread(consumer.beginning_offsets, unset))
    # Where each partition starts in this generation (ConsumerView.start_offset).
    setattr(self.consumer, START_OFFSETS_ATTR, {(tp.topic, tp.partition): int(offset)
                                                for tp, offset in starts.items()})  # fmt: skip
    return committed


SEEK_ATTEMPTS: Final = 3
"""Tries of the seek to the committed offsets while the assignment changes under it."""

START_OFFSETS_ATTR: Final = "gridwatch_start_offsets"
"""Where the Faust consumer keeps the offsets its last seek to the committed ones went to."""

FETCH_SENT_ATTR: Final = "gridwatch_fetch_sent_ms"
"""Where a partition's fetch state keeps the wall time (ms) its last fetch was sent."""

_original_proc_fetch_request = Fetcher._proc_fetch_request

FETCHED_FIRST: Final[set[str]] = set()
"""Topics whose fetched records the consumer hands out before any other's.

aiokafka hands buffered records out partition by partition in the order the
fetches came, so the repartition topic's few records (the router's output and
progress markers, without which the engine's merge releases nothing) waited
behind a backlog's first fetch of 1 MiB per sensor partition. A worker puts the
repartition topic here (:func:`fetch_first`); with ``broker_max_poll_records``
set, they come out with the next ``getmany`` after they arrive.
"""


def fetch_first(topics: Iterable[str]) -> None:
    """Hand the records of ``topics`` out first (:data:`FETCHED_FIRST`; one app a process)."""
    FETCHED_FIRST.clear()
    FETCHED_FIRST.update(topics)


async def _proc_fetch_request_stamped(
    self: Any, assignment: Any, node_id: Any, request: Any
) -> Any:
    """Aiokafka's fetch, which also records when the request was *sent*.

    It also moves the records of :data:`FETCHED_FIRST` topics to the front.

    aiokafka stamps a partition's high watermark with the time it processed
    the response (``last_poll_timestamp``). The broker read that watermark
    earlier, by however long the response waited for a busy client: on a
    loaded machine a partition looked caught up "now" without a record the
    broker had held for a quarter of a second, and the event-time merge let a
    later record of another input overtake it (seen in CI, scale-out test:
    an alert cited an older reading). The send time is a bound the watermark
    is certainly no older than.
    """
    sent_ms = int(1000 * time.time())
    try:
        return await _original_proc_fetch_request(self, assignment, node_id, request)
    finally:
        if FETCHED_FIRST:
            records = self._records  # an OrderedDict: handed out in this order
            for tp in [tp for tp in records if tp.topic in FETCHED_FIRST]:
                records.move_to_end(tp, last=False)
        for topic, partitions in request.topics:
            for partition, *_ in partitions:
                with contextlib.suppress(Exception):  # unassigned meanwhile
                    state = assignment.state_value(TopicPartition(topic, partition))
                    if state.timestamp is not None and state.timestamp >= sent_ms:
                        setattr(state, FETCH_SENT_ATTR, sent_ms)


async def _no_guessed_gaps(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Faust's ``_add_gap``, disabled: a jump in delivered offsets is not a gap.

    Faust's consumer records every jump in the offsets it delivers as a gap (as
    if the offsets held transaction markers) and later commits past it. A jump
    also comes from messages Faust itself skipped around a rebalance, and
    committing past those loses them. The agents' :class:`OffsetGuard` re-reads
    a jump and reports only gaps the broker confirms (``ConsumerView.skip_gap``).
    """


_original_new_offset = FaustConsumer._new_offset


def _new_offset_from_committed(self: Any, tp: Any) -> int | None:
    """Faust's ``_new_offset``, but only for a run of acknowledged offsets from the committed one.

    Faust skips its own check when the first acknowledged offset is exactly one
    past the committed offset (``min(acked) - committed > 1``): a single message
    not acknowledged yet was committed past.
    """
    acked = self._acked[tp]
    committed = self._committed_offset[tp]
    if acked and committed is not None:
        lowest = min(acked)
        gaps = self._gap[tp]
        if gaps:
            lowest = min(lowest, min(interval.begin for interval in gaps))
        if lowest > committed:
            return None
    result: int | None = _original_new_offset(self, tp)
    return result


class ReadOffsets(defaultdict[Any, "int | None"]):
    """Faust's per-partition read offsets, which records fetched before a seek cannot undo.

    Faust's consumer hands a record on only if its offset is at least the
    partition's read offset, and sets the read offset to every record it hands
    on. A seek sets the read offset back, but records fetched before the seek
    are still being handed on and set it forward again; the records the seek
    fetches anew are then dropped as already read. Seen in CI: a worker that
    took a partition over and sought back to the committed offset 687 received
    796…843 from before the seek, then 844 again, and never 687…843. After a
    seek the read offset stays at the seek's offset until that record is read
    again, so nothing the seek fetches is dropped (agents tell repeats apart).

    Args:
        holds: Whether a partition's seeks are kept this way (the agents'
            input topics; Faust's own changelog seeks are plain).
    """

    def __init__(self, holds: Callable[[Any], bool]) -> None:
        super().__init__(lambda: None)
        self._holds = holds
        self._sought: dict[Any, int] = {}

    def sought(self, tp: Any, offset: int | None) -> None:
        """A seek of ``tp`` to ``offset`` (None: its beginning)."""
        if self._holds(tp):
            self._sought[tp] = offset or 0
        super().__setitem__(tp, offset if offset else None)

    def __setitem__(self, tp: Any, value: int | None) -> None:
        # Once per message read: the common case (no seek held) is one test and a store.
        if self._sought:
            target = self._sought.get(tp)
            if target is not None and value is not None:
                if value > target:
                    return  # fetched before the seek: it must not hide what the seek fetches
                del self._sought[tp]
        dict.__setitem__(self, tp, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Faust's seek to the committed offsets: each is a seek."""
        for tp, offset in dict(*args, **kwargs).items():
            self.sought(tp, offset)

    def pop(self, tp: Any, *default: Any) -> Any:
        """A revoked partition: forget its seek too."""
        self._sought.pop(tp, None)
        return super().pop(tp, *default)


class SeekEpochs:
    """Per partition, how many seeks were asked for so far.

    A seek makes the consumer fetch a partition again from the seek's offset,
    so records of it fetched before the seek come again: the drain loop hands
    on none that a seek overtook while it was handing on their fetch. Seen on
    a worker started on a backlog: Faust's recovery resumes the partitions a
    round trip before it seeks them, the first megabytes of the backlog were
    handed on from before the seek and again after it (a second of start-up).
    A seek is counted before it is asked for, so a record fetched after it is
    never taken for one fetched before.
    """

    __slots__ = ("_epochs", "seeks")

    def __init__(self) -> None:
        self._epochs: dict[tuple[str, int], int] = {}
        self.seeks = 0
        """Seeks asked for, all partitions together: unchanged, nothing was overtaken."""

    def bump(self, tps: Iterable[Any]) -> None:
        """Seeks of these partitions are about to be asked for."""
        for tp in tps:
            key = (tp.topic, tp.partition)
            self._epochs[key] = self._epochs.get(key, 0) + 1
            self.seeks += 1

    def snapshot(self) -> dict[tuple[str, int], int]:
        """The counts now (taken once a fetch's records are in hand)."""
        return dict(self._epochs)

    def overtaken(self, snapshot: Mapping[tuple[str, int], int], tp: Any) -> bool:
        """Whether a seek of ``tp`` was asked for since ``snapshot``."""
        key = (tp.topic, tp.partition)
        return self._epochs.get(key, 0) != snapshot.get(key, 0)


SEEK_EPOCHS_ATTR: Final = "gridwatch_seek_epochs"
"""Where the Faust consumer keeps its :class:`SeekEpochs`."""


async def _seek_holding_read_offset(self: Any, partition: Any, offset: int) -> None:
    """Faust's ``Consumer.seek``, recording the seek in :class:`ReadOffsets`.

    The seek itself runs on the consumer's thread. Faust calls aiokafka's
    ``seek`` from the event loop's thread, where it drops the partition's
    fetched records while the consumer thread may be handing them out: seen
    here as a ``KeyError`` in aiokafka's ``fetched_records`` that crashed the
    fetcher and stopped the worker (a scaling run, 16 partitions).
    """
    getattr(self, SEEK_EPOCHS_ATTR).bump([partition])  # installed with this patch
    thread = getattr(self, "_thread", None)
    if thread is None:  # a consumer without a thread of its own
        await self._seek(partition, offset)
    else:
        await thread.call_thread(thread.seek, partition, offset)
    self._read_offset.sought(ensure_TP(partition), offset)  # installed with this patch


_original_consumer_init = FaustConsumer.__init__


def _consumer_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """Faust's consumer, with :class:`ReadOffsets` for its read offsets."""
    _original_consumer_init(self, *args, **kwargs)
    topics = self.app.topics
    self._read_offset = ReadOffsets(lambda tp: bool(topics.acks_enabled_for(tp.topic)))
    setattr(self, SEEK_EPOCHS_ATTR, SeekEpochs())


BATCHED_TOPICS_ATTR: Final = "gridwatch_batched_topics"
"""Where a Faust app keeps the topics whose messages reach their agent a fetch at a time."""

URGENT_TOPICS_ATTR: Final = "gridwatch_urgent_topics"
"""Where a Faust app keeps the batched topics whose messages go ahead of waiting lists.

The repartition topic carries the router's progress markers, which the
engine's merge waits for before it releases anything: behind four lists of a
sensor backlog they arrived seconds late, and a worker started on a backlog
applied nothing until then.
"""

MAX_QUEUED_FETCHES: Final = 4
"""Lists waiting for a batched agent before the consumer stops taking more (backpressure)."""

DELIVER_EVERY: Final = 2000
"""Messages of one fetch handed to the agent together at most.

A fetch of every input partition from the start of a backlog holds 1 MiB of
each (16,000 sensor readings on four partitions), and handing it over only
once all of it was iterated kept the repartition topic's few records, without
which the engine's merge releases nothing, from the agent for most of a
second. The agent still takes what arrived while it was busy as one batch.
"""
MAX_BATCH_MESSAGES: Final = 10_000
"""A list still waiting for its agent takes a later fetch's messages up to this many."""

BACKPRESSURE_POLL_S: Final = 0.002

POLL_TIMEOUT_S: Final = 0.1
"""How long one ``getmany`` of the drain loop waits for records (Faust: 1 s).

A ``getmany`` asks for the partitions active when it starts: one started while
recovery held the stream partitions waited its whole second after they were
resumed, a fifth of a worker's start-up. Kafka Streams polls for 100 ms.
"""


class Fetched:
    """A message handed to a batched agent: what it acknowledges, as it would a Faust event.

    Args:
        message: Faust's consumer message.
        consumer: Faust's consumer (acknowledging marks the offset safe to commit).
        fetched_at: Wall time (``time.time()``) by which the broker had the
            message: when its fetch was handed over.
    """

    __slots__ = ("_consumer", "fetched_at", "message")

    def __init__(self, message: Any, consumer: Any, fetched_at: float) -> None:
        self.message = message
        self._consumer = consumer
        self.fetched_at = fetched_at

    def ack(self) -> bool:
        """Acknowledge the message (Faust's ``Event.ack``)."""
        return bool(self.message.ack(self._consumer))


_last_queued: weakref.WeakKeyDictionary[Any, list[Fetched]] = weakref.WeakKeyDictionary()
"""Per channel, the list it was last handed (it may still wait in the channel's queue)."""


async def _deliver_fetched(consumer: Any, messages: list[Any]) -> None:
    """Hand one fetch's messages of batched topics to their agents' channels as lists.

    It does per fetch what Faust's conductor does per message: wait while the
    flow is stopped (a rebalance) and while the producer's buffer is full,
    track each message as unacknowledged, and queue it for the channel.

    Messages of the app's :data:`URGENT_TOPICS_ATTR` join the next list the
    agent takes instead.

    While the agent is busy with a batch, later fetches join the list still
    waiting in its queue (up to :data:`MAX_BATCH_MESSAGES`), so the agent's
    next batch takes everything that arrived meanwhile: a batch costs broker
    round trips (it awaits its writes), and one small fetch per batch held a
    worker below a 5k events/s input. A channel holding
    :data:`MAX_QUEUED_FETCHES` lists stops the consumer.
    """
    fetched_at = time.time()  # the broker had them all by now
    app = consumer.app
    urgent: frozenset[str] = getattr(app, URGENT_TOPICS_ATTR, frozenset())
    await app.flow_control.acquire()
    await app.producer.buffer.wait_until_ebb()
    index = app.topics._topic_name_index  # no public accessor: topic -> its channels
    unacked = consumer._unacked_messages
    by_channel: dict[Any, list[Fetched]] = {}
    urgent_by_channel: dict[Any, list[Fetched]] = {}
    for message in messages:
        channels = index.get(message.topic, ())
        if not channels:
            continue
        # As the conductor does: one reference per channel, so that the offset is
        # committable only once every agent reading the topic acknowledged it.
        message.incref(len(channels))
        message.tracked = True
        unacked.add(message)
        into = urgent_by_channel if message.topic in urgent else by_channel
        for channel in channels:
            into.setdefault(channel, []).append(Fetched(message, consumer, fetched_at))
    for channel, fetched in urgent_by_channel.items():
        queue = channel.queue
        head = queue._queue[0] if queue.qsize() else None  # asyncio.Queue's deque
        if isinstance(head, list):
            # Into the next list the agent takes, ahead of any waiting behind it, and
            # past the backpressure. Each partition's order holds: every earlier
            # message of these topics went into this list or one taken before it.
            # (A list of their own cost the agent a round of its own each time: a
            # tenth of a 16-partition worker's throughput.)
            head.extend(fetched)
        else:
            by_channel.setdefault(channel, []).extend(fetched)
    for channel, fetched in by_channel.items():
        queue = channel.queue
        waiting = _last_queued.get(channel)
        # Items leave the queue in order: while it holds any, the last list put is among them.
        if waiting is not None and queue.qsize() and len(waiting) < MAX_BATCH_MESSAGES:
            waiting.extend(fetched)
            continue
        while queue.qsize() >= MAX_QUEUED_FETCHES:
            await asyncio.sleep(BACKPRESSURE_POLL_S)
        await queue.put(fetched)
        _last_queued[channel] = fetched


async def _drain_messages_batched(self: Any, fetcher: Any) -> None:  # pragma: no cover
    """Faust's ``Consumer._drain_messages``, handing batched topics' messages over per fetch.

    Faust hands every message to its conductor on its own, each through
    ``wait_first`` (four tasks and an ``asyncio.wait``) and then through the
    stream's per-event machinery; on this machine that alone stopped a worker
    at about 10k messages/s, a quarter of a plain aiokafka loop. Messages of
    the topics in the app's :data:`BATCHED_TOPICS_ATTR` are collected over
    one ``getmany`` and handed over together (:func:`_deliver_fetched`), at
    most :data:`DELIVER_EVERY` at a time; every other message takes Faust's
    path unchanged. The offset bookkeeping is Faust's, line for line.
    """
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    batched: frozenset[str] = getattr(self.app, BATCHED_TOPICS_ATTR, frozenset())
    seek_epochs: SeekEpochs = getattr(self, SEEK_EPOCHS_ATTR)
    yield_every = 100
    num_since_yield = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            if not self._get_active_partitions():
                # Faust's getmany sleeps a whole second while every partition is held
                # (recovery, a seek): resumed partitions would wait for it.
                unset_flag(CONSUMER_FETCHING)
                await self.sleep(POLL_TIMEOUT_S)
                continue
            ait = getmany(timeout=POLL_TIMEOUT_S)
            await self.sleep(0)
            if not self.should_stop:
                fetched: list[Any] = []
                epochs_at: dict[tuple[str, int], int] | None = None
                seeks_at = 0
                async for tp, message in ait:
                    if epochs_at is None:  # the fetch's records are in hand now
                        epochs_at, seeks_at = seek_epochs.snapshot(), seek_epochs.seeks
                    if (
                        seek_epochs.seeks != seeks_at  # per partition only after a seek
                        and message.topic in batched
                        and seek_epochs.overtaken(epochs_at, tp)
                    ):
                        continue  # a seek overtook it: fetched again from the seek's offset
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if message.topic in batched:
                            fetched.append(message)
                            if len(fetched) >= DELIVER_EVERY:
                                await self.wait_first(
                                    _deliver_fetched(self, fetched), self.suspend_flow.wait()
                                )
                                fetched = []
                        else:
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        set_read_offset(tp, offset)
                if fetched:
                    await self.wait_first(_deliver_fetched(self, fetched), self.suspend_flow.wait())
                unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


FETCH_MAX_WAIT_MS: Final = 100
"""How long the broker may hold a fetch for data: Faust's consumer asks for 1.5 s.

One connection answers one request at a time, so every other request of the
worker's consumer to that broker (the offsets recovery and the health check
ask for, the end offsets of a standby's changelog) queues behind a held fetch:
with Faust's 1.5 s, recovery took 1.5 s for three requests that answer in
milliseconds. 100 ms costs ten empty fetches a second on an idle worker.
"""

_original_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def _create_worker_consumer_short_wait(self: Any, transport: Any) -> Any:
    """Faust's worker consumer, whose fetches the broker holds :data:`FETCH_MAX_WAIT_MS` at most."""
    consumer = _original_create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
    return consumer


async def _table_manager_start_at_once(self: Any) -> None:
    """Faust's ``TableManager.on_start`` without its first second of sleep.

    Faust sleeps a second so that tables defined while the worker starts are
    registered before the consumer subscribes. gridwatch defines every table
    with the app; a table added later still fails loudly ("Too late to add
    tables"). The second was a fifth of a worker's start-up.
    """
    await asyncio.sleep(0)
    if not self.should_stop:
        await self._update_channels()
        await self.recovery.start()


_original_on_partitions_revoked = FaustConsumer.on_partitions_revoked


async def _commit_then_revoke(self: Any, revoked: Any) -> None:
    """Commit the acknowledged offsets, then Faust's revocation.

    Faust commits at a revocation only in ``wait_empty``, which waits for every
    message in flight to be acknowledged; the engine holds messages back for
    the event-time merge, so the worker turns that wait off
    (``stream_wait_empty``), and with it the commit. Faust's revocation then
    drops the acknowledged offsets of every revoked partition (the eager
    protocol revokes them all), and the next owner, often this worker again,
    read everything since the last periodic commit a second time: in a
    two-worker bench the second worker's join sent one worker back from
    offset 7,706 to 46. Kafka Streams commits its tasks when they are
    revoked. What is acknowledged is safe to commit at any moment (the
    engine acknowledges only what the changelog has), so this commit is the
    periodic one done early, and fails as that one does: Faust skips a commit
    the group's new generation refuses (the messages are read again) and
    stops the worker on other errors. Whatever it raises here is logged, and
    the revocation goes on.
    """
    try:
        await self.commit()
    except Exception as exc:  # noqa: BLE001 - the messages are delivered again instead
        self.log.warning("Commit before the revocation failed (read again instead): %r", exc)
    await _original_on_partitions_revoked(self, revoked)


_original_track_tp_end_offset = PrometheusMonitor.track_tp_end_offset


def _track_changed_end_offset(self: Any, tp: Any, offset: int) -> None:
    """Faust's Prometheus end-offset gauge, set only when the end offset moved.

    Faust's ``getmany`` reports the partition's end offset for every message
    it hands out, and the Prometheus monitor looks the gauge's labelled child
    up each time: 5% of a worker's event loop on a backlog (py-spy), for a
    value that changes once per fetch.
    """
    if self.tp_end_offsets.get(tp) != offset:
        _original_track_tp_end_offset(self, tp, offset)


def patch_faust() -> None:
    """Install the workarounds that cannot be subclasses (idempotent)."""
    AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed_or_beginning  # type: ignore[method-assign]  # the fix replaces the method
    Fetcher._proc_fetch_request = _proc_fetch_request_stamped  # records the send time
    FaustConsumer._add_gap = _no_guessed_gaps  # type: ignore[method-assign]  # see the function
    FaustConsumer._new_offset = _new_offset_from_committed  # type: ignore[method-assign]  # see the function
    FaustConsumer.__init__ = _consumer_init  # type: ignore[method-assign]  # see ReadOffsets
    FaustConsumer.seek = _seek_holding_read_offset  # type: ignore[method-assign]  # see ReadOffsets
    FaustConsumer._drain_messages = _drain_messages_batched  # type: ignore[method-assign]  # see the function
    FaustConsumer.on_partitions_revoked = _commit_then_revoke  # type: ignore[method-assign]  # see the function
    PrometheusMonitor.track_tp_end_offset = _track_changed_end_offset  # type: ignore[method-assign]  # see the function
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer_short_wait  # type: ignore[method-assign]  # see the function
    TableManager.on_start = _table_manager_start_at_once  # type: ignore[method-assign]  # see the function
