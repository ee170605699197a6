"""docker-compose.yml: services, ports, start order, and agreement with the rest of deploy/.

Docker cannot run in the unit tests; this reads the file (YAML anchors and
merge keys resolved, duplicate keys rejected) the way compose would.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from streams.core.settings import Settings
from tests.constants import ROOT
from tests.unit.test_k8s_manifests import ENV_PREFIX, load_yaml_docs, settings_env_names

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
POM = ROOT / "deploy" / "kafka" / "pom.xml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_PROVIDERS = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "gridwatch.yml"
SAMPLE_REGISTRY = "data/registry/shanghai-sample.geojson"

DONE = "service_completed_successfully"
HEALTHY = "service_healthy"
STARTED = "service_started"


def compose() -> dict[str, Any]:
    (doc,) = load_yaml_docs(COMPOSE)
    assert isinstance(doc, dict)
    return doc


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def gridwatch_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services().items() if s.get("image") == "gridwatch:dev"}


def worker_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in gridwatch_services().items() if s.get("command") == ["worker"]}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """service -> condition, for both the list and the mapping form."""
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, STARTED)
    return {name: spec.get("condition", STARTED) for name, spec in deps.items()}


class InterpolationError(ValueError):
    """A ``${NAME:?message}`` whose variable is unset: compose refuses to start."""


_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Resolve ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` as compose does."""

    def resolve(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        current = env.get(name)
        missing = current is None or (op.startswith(":") and current == "")
        if not missing:
            return str(current)
        if op.endswith("?"):
            raise InterpolationError(f"{name}: {arg}")
        return arg if op.endswith("-") else ""

    return _INTERPOLATION.sub(resolve, value)


def _port_entries(service: dict[str, Any]) -> list[tuple[str | None, int, int]]:
    """(host address or None, host port, container port) of "[ip:]host:container[/proto]"."""
    entries = []
    for entry in service.get("ports", []):
        text = str(entry).split("/")[0]
        # The address may be an interpolation holding colons: split from the right.
        parts = text.rsplit(":", 2)
        address = parts[0] if len(parts) == 3 else None
        entries.append((address, int(parts[-2]), int(parts[-1])))
    return entries


def ports(service: dict[str, Any]) -> dict[int, int]:
    """host port -> container port, from the short syntax ("[ip:]host:container[/proto]")."""
    return {host: container for _, host, container in _port_entries(service)}


def bind_addresses(service: dict[str, Any], env: Mapping[str, str]) -> dict[int, str | None]:
    """host port -> the host address it is published on (None: every interface)."""
    return {
        host: None if address is None else interpolate(address, env)
        for address, host, _ in _port_entries(service)
    }


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """mount target -> source, from the short syntax ("source:target[:mode]")."""
    found: dict[str, str] = {}
    for entry in service.get("volumes", []):
        source, target, *_ = str(entry).split(":")
        found[target] = source
    return found


def _raw_environment(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): None if v is None else str(v) for k, v in env.items()}


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The variables a service sets (pass-through ones, without a value, left out)."""
    return {k: v for k, v in _raw_environment(service).items() if v is not None}


def passed_through(service: dict[str, Any]) -> set[str]:
    """Variables named without a value: taken from the shell when set there."""
    return {k for k, v in _raw_environment(service).items() if v is None}


def dockerfile_env() -> dict[str, str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


def test_compose_has_the_operations_stack() -> None:
    assert set(services()) == {
        "kafka",
        "topics",
        "assets",
        "worker-1",
        "worker-2",
        "simulator",
        "prometheus",
        "grafana",
    }
    assert set(gridwatch_services()) == {"topics", "assets", "worker-1", "worker-2", "simulator"}
    assert set(worker_services()) == {"worker-1", "worker-2"}
    for name, service in gridwatch_services().items():
        assert service["build"] == ".", name
    assert services()["prometheus"]["image"] == "prom/prometheus:v2.53.0"
    assert services()["grafana"]["image"] == "grafana/grafana:11.1.0"


def test_kafka_image_is_the_pom_version() -> None:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    assert match is not None
    assert services()["kafka"]["image"] == f"apache/kafka:{match.group(1).strip()}"


def test_published_ports() -> None:
    assert ports(services()["worker-1"]) == {6066: 6066}
    assert ports(services()["worker-2"]) == {6067: 6066}
    assert ports(services()["prometheus"]) == {9090: 9090}
    assert ports(services()["grafana"]) == {3000: 3000}
    host_ports = [p for s in services().values() for p in ports(s)]
    assert len(host_ports) == len(set(host_ports))


def test_start_order() -> None:
    svc = services()
    assert depends_on(svc["topics"]) == {"kafka": HEALTHY}
    assert depends_on(svc["assets"]) == {"topics": DONE}
    for name in worker_services():
        assert depends_on(svc[name]) == {"topics": DONE}, name
    assert depends_on(svc["simulator"]) == {"topics": DONE, "assets": DONE}
    assert depends_on(svc["grafana"]).get("prometheus") in {STARTED, HEALTHY}
    for name in ("topics", "assets", "simulator"):
        assert svc[name]["restart"] == "no", name  # one-shot: must not loop after success


def test_dependencies_exist_and_have_no_cycle() -> None:
    svc = services()
    visiting: list[str] = []

    def visit(name: str) -> None:
        assert name in svc, f"unknown service {name}"
        assert name not in visiting, f"dependency cycle {[*visiting, name]}"
        visiting.append(name)
        for dep in depends_on(svc[name]):
            visit(dep)
        visiting.pop()

    for name in svc:
        visit(name)


def test_one_shot_commands() -> None:
    svc = services()
    assert svc["topics"]["command"] == ["topics", "create"]
    assert svc["assets"]["command"] == ["assets", "load", SAMPLE_REGISTRY]
    assert (ROOT / SAMPLE_REGISTRY).is_file()
    assert re.search(r"^COPY\s+data\s+\S+", DOCKERFILE.read_text(), re.MULTILINE)
    assert svc["simulator"]["command"] == (
        [
            "simulate",
            "--assets",
            "400",
            "--duration",
            "6h",
            "--incidents",
            "20",
            "--seed",
            "1",
            "--to-kafka",
            "--rate",
            "200",
        ]
    )


def test_prometheus_scrapes_the_compose_workers() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "gridwatch"]
    targets = {t for static in job["static_configs"] for t in static["targets"]}
    expected = set()
    for name, service in worker_services().items():
        web_port = int(environment(service).get("GRIDWATCH_WEB_PORT", Settings().web_port))
        assert web_port in ports(service).values(), name
        expected.add(f"{name}:{web_port}")
    assert targets == expected


def test_workers_listen_beyond_loopback_and_keep_state_on_their_own_volume() -> None:
    volumes = compose()["volumes"]
    sources = []
    for name, service in worker_services().items():
        env = dockerfile_env() | environment(service)
        assert env["GRIDWATCH_WEB_HOST"] == "0.0.0.0", name
        data_dir = PurePosixPath(env["GRIDWATCH_DATA_DIR"])
        on_volume = [
            source
            for target, source in mounts(service).items()
            if PurePosixPath(target) == data_dir or PurePosixPath(target) in data_dir.parents
        ]
        assert len(on_volume) == 1, f"{name}: {data_dir} is on no volume"
        assert on_volume[0] in volumes, name
        sources.extend(on_volume)
    assert len(sources) == len(set(sources)), "workers must not share a state volume"


def test_prometheus_and_grafana_mount_deploy() -> None:
    prometheus = services()["prometheus"]
    assert mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    grafana = services()["grafana"]
    grafana_mounts = mounts(grafana)
    assert grafana_mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    (provider,) = yaml.safe_load(GRAFANA_PROVIDERS.read_text())["providers"]
    dashboards = provider["options"]["path"]
    assert grafana_mounts[dashboards] == "./deploy/grafana/dashboards"
    for source in (*mounts(prometheus).values(), *grafana_mounts.values()):
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), source
    env = environment(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"  # see, never edit or administer
    home = PurePosixPath(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert str(home.parent) == dashboards
    assert (ROOT / "deploy" / "grafana" / "dashboards" / home.name).is_file()


def test_gridwatch_environment_names_and_values_are_settings() -> None:
    known = settings_env_names()
    for name, service in services().items():
        for var in environment(service):
            if var.startswith(ENV_PREFIX):
                assert var in known, f"{name}: {var} is not a field of Settings"
    for var in dockerfile_env():
        if var.startswith(ENV_PREFIX):
            assert var in known, f"Dockerfile: {var} is not a field of Settings"
    for name, service in gridwatch_services().items():
        env = dockerfile_env() | environment(service)
        values = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in env.items()}
        settings = Settings.model_validate(values)
        assert settings.bootstrap == "kafka:9092", name


def test_published_ports_bind_loopback_unless_told_otherwise() -> None:
    for name, service in services().items():
        for port, address in bind_addresses(service, {}).items():
            assert address == "127.0.0.1", f"{name}:{port} is published on {address or 'all'}"
        for port, address in bind_addresses(service, {"GRIDWATCH_BIND": "0.0.0.0"}).items():
            assert address == "0.0.0.0", f"{name}:{port} ignores GRIDWATCH_BIND"
    assert any(services()[name].get("ports") for name in ("kafka", "worker-1", "grafana"))


def test_grafana_admin_password_comes_from_the_environment() -> None:
    env = environment(services()["grafana"])
    password = env["GF_SECURITY_ADMIN_PASSWORD"]
    with pytest.raises(InterpolationError, match="GRAFANA_ADMIN_PASSWORD"):
        interpolate(password, {})  # no default: compose refuses to start
    with pytest.raises(InterpolationError):
        interpolate(password, {"GRAFANA_ADMIN_PASSWORD": ""})
    assert interpolate(password, {"GRAFANA_ADMIN_PASSWORD": "s3cret"}) == "s3cret"
    # Anonymous access, if any, is read-only; nobody signs themselves up.
    if env.get("GF_AUTH_ANONYMOUS_ENABLED", "false") == "true":
        assert env.get("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer") == "Viewer"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_workers_take_the_api_token_from_the_shell_only() -> None:
    for name, service in worker_services().items():
        assert "GRIDWATCH_API_TOKEN" in passed_through(service), name
        assert "GRIDWATCH_API_TOKEN" not in environment(service), name  # never a value here
    for name, service in services().items():
        for var in passed_through(service):
            assert var in settings_env_names() or not var.startswith(ENV_PREFIX), (name, var)


def test_interpolation_follows_compose() -> None:
    assert interpolate("${A:-x}", {}) == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("${A}:1", {"A": "h"}) == "h:1"
    with pytest.raises(InterpolationError, match="A: say so"):
        interpolate("${A:?say so}", {})
