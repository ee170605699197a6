"""Publishing an asset registry to the compacted assets topic (``gridwatch assets load``)."""

from __future__ import annotations

from collections.abc import Iterable

from kafka.errors import KafkaError

from schemas import Asset, encode
from streams.broker.admin import BrokerUnavailableError
from streams.broker.clients import open_producer
from streams.core.settings import Settings
from streams.core.topics import Topics


def publish_assets(settings: Settings, assets: Iterable[Asset]) -> tuple[str, int]:
    """Send every asset, keyed by ``asset_id``, and wait until the broker has them all.

    Returns:
        (topic, number of assets published).

    Raises:
        BrokerUnavailableError: The broker cannot be reached or refused the records.
    """
    topic = Topics(settings.topic_prefix).assets
    producer = open_producer(settings, client_id="gridwatch-assets")
    try:
        futures = [
            producer.send(topic, key=asset.asset_id.encode(), value=encode(asset))
            for asset in assets
        ]
        producer.flush(timeout=120)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"publishing to {topic} failed: {exc}") from exc
    finally:
        producer.close(timeout=10)
    failed = [future.exception for future in futures if future.failed()]
    if failed:
        raise BrokerUnavailableError(
            f"{len(failed)} assets were not delivered to {topic}: {failed[0]}"
        )
    return topic, len(futures)
