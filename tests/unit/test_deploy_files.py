from __future__ import annotations

import re

from streams.broker.local import LocalKafka, broker_properties
from streams.core.settings import Settings
from tests.constants import ROOT
from tests.unit.test_k8s_manifests import statefulset


def test_compose_runs_the_kafka_version_the_project_tests_against():
    version = LocalKafka(Settings()).version
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.findall(r"image:\s*apache/kafka:(\S+)", compose) == [version]


def test_pom_pins_a_kafka_4_broker_and_a_log4j2_backend():
    pom = (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    assert "<artifactId>kafka_2.13</artifactId>" in pom
    assert "<artifactId>log4j-core</artifactId>" in pom
    assert LocalKafka(Settings()).version.startswith("4.")


def test_broker_properties_bind_loopback_with_kraft(tmp_path):
    props = broker_properties(LocalKafka(Settings(home=tmp_path, kafka_port=19092)))
    lines = dict(line.split("=", 1) for line in props.splitlines() if "=" in line)
    assert lines["process.roles"] == "broker,controller"
    assert lines["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert lines["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert lines["log.dirs"] == str(tmp_path / "kafka" / "data")
    assert lines["auto.create.topics.enable"] == "false"


def test_the_image_and_the_pod_run_as_the_same_non_root_user():
    match = re.search(r"^USER\s+(\d+):(\d+)\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match is not None, "the Dockerfile must name a numeric USER uid:gid"
    uid, gid = int(match.group(1)), int(match.group(2))
    assert uid != 0
    assert gid != 0
    context = statefulset()["spec"]["template"]["spec"]["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid)
