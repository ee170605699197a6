"""The Kubernetes manifests under deploy/k8s: structure and agreement with the settings.

YAML is read with a loader that rejects duplicate keys (plain ``safe_load``
keeps the last one silently, e.g. a second ``volumeMounts``); ``load_yaml_docs``
is shared with ``test_compose.py``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from streams.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
ENV_PREFIX = "GRIDWATCH_"


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""


def _mapping_without_duplicates(
    loader: StrictLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            ident = (key.tag, key.value)
            if ident in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key.value!r}", key.start_mark
                )
            seen.add(ident)
    return loader.construct_mapping(node, deep)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def load_yaml_docs(path: Path) -> list[Any]:
    """Every document of a YAML file, strictly (no duplicate keys), empty ones dropped."""
    with path.open() as fh:
        return [doc for doc in yaml.load_all(fh, Loader=StrictLoader) if doc is not None]


def settings_env_names() -> set[str]:
    """Every environment variable the settings model reads."""
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def manifests() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml_docs(path)
    ]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in manifests() if doc["kind"] == kind]


def statefulset() -> dict[str, Any]:
    (sts,) = of_kind("StatefulSet")
    assert sts["metadata"]["name"] == "gridwatch-worker"
    return sts


def worker_container() -> dict[str, Any]:
    (container,) = statefulset()["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def configmap() -> dict[str, Any]:
    (cm,) = of_kind("ConfigMap")
    return cm


def http_port() -> dict[str, Any]:
    (port,) = worker_container()["ports"]
    return dict(port)


def probe_port_matches(port: int | str) -> bool:
    """Whether a probe's port names or numbers the container's HTTP port."""
    return port in (http_port()["containerPort"], http_port().get("name"))


def container_env() -> dict[str, str]:
    """The container's effective GRIDWATCH_* environment with values (ConfigMap, then env)."""
    container = worker_container()
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == configmap()["metadata"]["name"]
        env.update(configmap()["data"])
    env.update(
        {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}
    )
    return env


def secret_env() -> dict[str, dict[str, Any]]:
    """Variable -> its ``secretKeyRef``, for the container's variables taken from Secrets."""
    refs = {}
    for item in worker_container().get("env", []):
        if "valueFrom" in item:
            assert set(item) == {"name", "valueFrom"}, item["name"]
            refs[item["name"]] = item["valueFrom"]["secretKeyRef"]
    return refs


def test_manifests_have_the_expected_kinds_in_one_namespace() -> None:
    docs = manifests()
    kinds = sorted(doc["kind"] for doc in docs)
    assert kinds == ["ConfigMap", "Namespace", "Service", "Service", "StatefulSet"]
    (namespace,) = of_kind("Namespace")
    name = namespace["metadata"]["name"]
    for doc in docs:
        assert doc["apiVersion"] in {"v1", "apps/v1"}
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == name, doc["metadata"]["name"]


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_yaml_docs(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    (namespace,) = of_kind("Namespace")
    assert kustomization["namespace"] == namespace["metadata"]["name"]


def test_statefulset_runs_two_workers_of_the_repo_image() -> None:
    spec = statefulset()["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 60
    container = worker_container()
    assert container["image"] == "gridwatch:dev"
    assert container.get("args", ["worker"]) == ["worker"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound]), bound


def test_selectors_match_the_pod_labels() -> None:
    sts = statefulset()
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    match = sts["spec"]["selector"]["matchLabels"]
    assert match
    assert match.items() <= pod_labels.items()
    for service in of_kind("Service"):
        selector = service["spec"]["selector"]
        assert selector, service["metadata"]["name"]
        assert selector.items() <= pod_labels.items(), service["metadata"]["name"]


def test_statefulset_is_governed_by_a_headless_service_and_the_api_has_a_cluster_ip() -> None:
    services = {s["metadata"]["name"]: s["spec"] for s in of_kind("Service")}
    headless = services[statefulset()["spec"]["serviceName"]]
    assert headless["clusterIP"] == "None"
    api = [s for s in services.values() if s.get("clusterIP") != "None"]
    assert len(api) == 1
    assert api[0].get("type", "ClusterIP") == "ClusterIP"
    for spec in services.values():
        (port,) = spec["ports"]
        assert port["port"] == 6066
        assert probe_port_matches(port["targetPort"])


def test_probes_check_health_on_the_container_port() -> None:
    container = worker_container()
    assert http_port()["containerPort"] == 6066
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/health"
    assert probe_port_matches(readiness["port"])
    liveness = container["livenessProbe"]["httpGet"]
    # The health check, asked whether the worker is stalled (not merely recovering).
    assert liveness["path"] == "/health/live"
    assert probe_port_matches(liveness["port"])
    assert container["livenessProbe"]["initialDelaySeconds"] >= 30


def test_prometheus_annotations_point_at_the_metrics_port() -> None:
    annotations = statefulset()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == http_port()["containerPort"]
    assert annotations.get("prometheus.io/path", "/metrics") == "/metrics"


def test_data_dir_is_on_the_volume_claim() -> None:
    sts = statefulset()
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    mounts = {m["name"]: m["mountPath"] for m in worker_container()["volumeMounts"]}
    mount = PurePosixPath(mounts[claim["metadata"]["name"]])
    assert mount == PurePosixPath("/var/lib/gridwatch")
    data_dir = PurePosixPath(container_env()["GRIDWATCH_DATA_DIR"])
    assert data_dir == mount or mount in data_dir.parents


def test_environment_names_are_settings() -> None:
    env = container_env()
    known = settings_env_names()
    assert env, "the worker gets no settings"
    for name in [*env, *secret_env()]:
        assert name.startswith(ENV_PREFIX), name
        assert name in known, f"{name} is not a field of streams.core.settings.Settings"
    assert set(configmap()["data"]) >= {
        "GRIDWATCH_BOOTSTRAP",
        "GRIDWATCH_TOPIC_PREFIX",
        "GRIDWATCH_PARTITIONS",
        "GRIDWATCH_WEB_HOST",
        "GRIDWATCH_WEB_PORT",
    }
    assert all(isinstance(v, str) for v in configmap()["data"].values())
    assert env["GRIDWATCH_WEB_HOST"] == "0.0.0.0"
    assert int(env["GRIDWATCH_WEB_PORT"]) == http_port()["containerPort"]


def test_environment_values_are_valid_settings() -> None:
    env = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in container_env().items()}
    settings = Settings.model_validate(env)
    assert settings.web_port == 6066
    assert settings.worker_data_dir == Path("/var/lib/gridwatch/worker")


def test_strict_loader_rejects_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        load_yaml_docs(path)


SECRET_SETTINGS = {"GRIDWATCH_API_TOKEN", "GRIDWATCH_SASL_USERNAME", "GRIDWATCH_SASL_PASSWORD"}


def test_pod_runs_unprivileged_with_a_read_only_root() -> None:
    pod = statefulset()["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    pod_context = pod["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert pod_context["runAsUser"] > 0
    assert pod_context["runAsGroup"] > 0
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    container = worker_container()
    context = container["securityContext"]
    assert context.get("runAsNonRoot", True) is True
    assert context.get("runAsUser", pod_context["runAsUser"]) > 0
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context["capabilities"].get("add")
    for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host_namespace, False), host_namespace


def test_the_only_writable_paths_are_volumes() -> None:
    pod = statefulset()["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    claims = {c["metadata"]["name"] for c in statefulset()["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m for m in worker_container()["volumeMounts"]}
    assert volumes[mounts["/tmp"]["name"]]["emptyDir"] is not None
    assert mounts["/var/lib/gridwatch"]["name"] in claims
    assert not mounts["/var/lib/gridwatch"].get("readOnly", False)
    for path, mount in mounts.items():
        if path not in {"/tmp", "/var/lib/gridwatch"}:
            assert mount.get("readOnly") is True, path
        assert mount["name"] in volumes or mount["name"] in claims, path


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity ("500m", "2", "512Mi", "1Gi") as a number."""
    text = str(value)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("m", 1e-3)):
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


def test_resources_are_bounded() -> None:
    resources = worker_container()["resources"]
    for key in ("cpu", "memory"):
        request = quantity(resources["requests"][key])
        limit = quantity(resources["limits"][key])
        assert 0 < request <= limit, key


def test_secrets_come_from_secrets_only() -> None:
    refs = secret_env()
    assert set(refs) == SECRET_SETTINGS
    for name, ref in refs.items():
        assert ref["name"], name
        assert ref["key"], name
        # Optional: without the Secret the worker runs with no token and PLAINTEXT.
        assert ref["optional"] is True, name
    literal = set(container_env())
    assert not literal & SECRET_SETTINGS, "a secret is written into a manifest"
    assert not {k for k in configmap()["data"] if "PASSWORD" in k or "TOKEN" in k}
    tls = {v["name"]: v for v in statefulset()["spec"]["template"]["spec"]["volumes"]}
    assert tls["kafka-tls"]["secret"]["optional"] is True


def test_topics_are_created_with_production_durability() -> None:
    env = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in container_env().items()}
    settings = Settings.model_validate(env)
    assert settings.replication_factor == 3
    assert settings.min_insync_replicas == 2
    assert settings.create_topics  # the worker creates missing topics with them
