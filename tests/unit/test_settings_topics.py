from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from streams.broker.admin import topic_configs
from streams.core.settings import Settings
from streams.core.topics import Topics, TopicSpec
from streams.runtime.app import faust_broker_url
from tests.constants import PRODUCT_TOPICS


def test_defaults_match_the_product_contract(monkeypatch):
    for name in ("BOOTSTRAP", "TOPIC_PREFIX", "WEB_PORT", "PARTITIONS"):
        monkeypatch.delenv(f"GRIDWATCH_{name}", raising=False)
    settings = Settings()
    assert settings.bootstrap == "127.0.0.1:9092"
    assert settings.topic_prefix == "gridwatch."
    assert settings.web_port == 6066
    assert settings.partitions == 4


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDWATCH_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("GRIDWATCH_TOPIC_PREFIX", "city.")
    monkeypatch.setenv("GRIDWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDWATCH_MAX_FUTURE_SKEW_S", "30")
    settings = Settings()
    assert settings.bootstrap == "k1:9092,k2:9092"
    assert settings.worker_data_dir == tmp_path
    assert settings.input_limits.max_future_skew == timedelta(seconds=30)
    assert Topics(settings.topic_prefix).sensor == "city.sensor"


def test_invalid_setting_is_refused(monkeypatch):
    monkeypatch.setenv("GRIDWATCH_PARTITIONS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_controller_port_follows_client_port():
    assert Settings(kafka_port=19092).controller_port == 19093
    assert Settings(kafka_port=19092, kafka_controller_port=20000).controller_port == 20000


def test_specs_cover_every_product_topic():
    specs = Topics().specs(partitions=4)
    public = {spec.name for spec in specs if not spec.internal}
    assert public == PRODUCT_TOPICS
    compacted = {spec.name for spec in specs if spec.compacted}
    assert compacted == {
        "gridwatch.assets",
        "gridwatch.risk",
        "gridwatch.app-asset-state-changelog",
    }
    for name in ("sensor", "hotline", "inspection", "alerts", "risk"):
        assert next(s for s in specs if s.name == f"gridwatch.{name}").partitions == 4


def test_internal_topics_share_the_prefix():
    topics = Topics("t1.")
    assert all(spec.name.startswith("t1.") for spec in topics.specs(2))


def test_the_application_id_follows_the_topic_prefix(monkeypatch):
    for name in ("TOPIC_PREFIX", "APP_ID"):
        monkeypatch.delenv(f"GRIDWATCH_{name}", raising=False)
    assert Settings().app_id == "gridwatch.app"
    assert Settings(topic_prefix="city1.").app_id == "city1.app"
    assert Settings(topic_prefix="city1.", app_id="ops").app_id == "ops"
    monkeypatch.setenv("GRIDWATCH_TOPIC_PREFIX", "east.")
    settings = Settings()
    assert settings.app_id == "east.app"
    internal = {spec.name for spec in Topics.of(settings).specs(4) if spec.internal}
    assert internal == {"east.app-events-by-asset", "east.app-asset-state-changelog"}
    # Two prefixes never share an application id, so never state.
    assert Settings(topic_prefix="a.").app_id != Settings(topic_prefix="a").app_id


def test_faust_broker_url():
    assert faust_broker_url("a:1,b:2") == "kafka://a:1;kafka://b:2"


def test_min_insync_replicas_is_optional_and_bounded_by_the_replication_factor():
    assert Settings().min_insync_replicas is None
    settings = Settings(replication_factor=3, min_insync_replicas=2)
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    with pytest.raises(ValidationError, match="cannot exceed replication_factor"):
        Settings(replication_factor=1, min_insync_replicas=2)
    with pytest.raises(ValidationError):
        Settings(min_insync_replicas=0)


def test_created_topics_carry_min_insync_replicas_only_when_set():
    spec, compacted = TopicSpec("a"), TopicSpec("b", compacted=True)
    assert topic_configs(spec, None) == {}
    assert topic_configs(spec, 2) == {"min.insync.replicas": "2"}
    assert topic_configs(compacted, 2) == {"cleanup.policy": "compact", "min.insync.replicas": "2"}
