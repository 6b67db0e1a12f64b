"""The deploy files, checked without Docker or a cluster: hadolint on the Dockerfile, the
compose specification's schema on compose.yaml, kubernetes-validate on the rendered Kubernetes
manifests, nats-server on every NATS configuration, and what each must say (replicas,
migrations first, probes, JetStream syncing every write). Every tool really runs, and each
check is shown failing on a broken file."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest
import yaml
from nats.aio.client import Client
from nats.js import JetStreamContext

from procure_contracts.settings import options_from_env as contracts_options
from procure_notifications.delivery.metrics import DeliveryMetrics
from procure_notifications.settings import options_from_env as notifications_options
from procure_providers.settings import options_from_env as providers_options
from procure_shared.clock import clock_from_settings
from procure_shared.consumer import Consumer, ConsumerStats
from procure_shared.devstack.servers import nats_server_binary
from procure_shared.http.observability import HttpMetrics
from procure_shared.messaging import NatsState
from procure_shared.outbox import Relay, RelayStats
from procure_shared.postgres import Pool
from procure_shared.service import Runtime
from procure_shared.settings import settings_from_env
from tests.deploy.files import (
    DEPLOY,
    ROOT,
    dockerfile_instructions,
    interpolate,
    kustomize,
    manifests,
    nats_routes,
    run,
    syncs_always,
    tool,
)

SERVICES = ("contracts", "providers", "notifications")
OPTIONS: dict[str, Callable[[Mapping[str, str]], msgspec.Struct]] = {
    "contracts": contracts_options,
    "providers": providers_options,
    "notifications": notifications_options,
}
# kubernetes-validate ships the schemas of each Kubernetes minor version; we hold the
# manifests to 1.33's, strictly (unknown fields are errors, as for kubectl).
KUBERNETES_VERSION = "1.33.0"
OVERLAYS = {
    "base": DEPLOY / "k8s" / "base",
    "production": DEPLOY / "k8s" / "overlays" / "production",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {name: kustomize(folder) for name, folder in OVERLAYS.items()}


def by_kind(rendered: str, kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(rendered) if m["kind"] == kind}


def nats_configs(rendered: dict[str, str]) -> dict[str, str]:
    """Every NATS configuration we ship: compose's files and the Kubernetes ConfigMaps'."""
    found = {str(path.relative_to(ROOT)): path.read_text() for path in DEPLOY.rglob("*.conf")}
    for overlay, text in rendered.items():
        for name, config_map in by_kind(text, "ConfigMap").items():
            for key, value in config_map.get("data", {}).items():
                if key.endswith(".conf"):
                    found[f"{overlay}: ConfigMap {name} {key}"] = value
    return found


# The Dockerfile


def test_the_dockerfile_passes_hadolint() -> None:
    result = run([tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_dockerfile_whose_last_user_is_root(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text((DEPLOY / "Dockerfile").read_text() + "\nUSER root\n")
    result = run([tool("hadolint"), "--no-color", str(broken)])
    assert result.returncode != 0
    assert "DL3002" in result.stdout


def test_the_image_is_python_3_11_slim_built_from_the_lock_without_dev_dependencies() -> None:
    instructions = dockerfile_instructions()
    bases = [argument.split()[0] for kind, argument in instructions if kind == "FROM"]
    assert bases
    assert all(base.startswith("python:3.11-slim") for base in bases)
    runs = [argument for kind, argument in instructions if kind == "RUN"]
    assert any("uv sync --frozen --no-dev" in command for command in runs)
    assert not any(re.search(r"uv sync(?!.*--frozen)", command) for command in runs)


def test_the_image_runs_as_a_non_root_user_and_checks_readiness() -> None:
    instructions = dockerfile_instructions()
    last_stage = instructions[
        max(i for i, (kind, _) in enumerate(instructions) if kind == "FROM") :
    ]
    users = [argument for kind, argument in last_stage if kind == "USER"]
    assert users, "the runtime stage must set a USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    checks = [argument for kind, argument in last_stage if kind == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/health/ready" in checks[0]


# compose.yaml


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(DEPLOY / "compose.yaml"),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_fails_a_file_with_an_unknown_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  contracts:\n    image: procure\n    dependson: [postgres]\n")
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)])
    assert result.returncode != 0
    assert "dependson" in result.stdout


def test_compose_runs_two_replicas_of_each_service_once_its_migration_has_succeeded(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in SERVICES:
        service, migration = services[name], services[f"migrate-{name}"]
        assert service["deploy"]["replicas"] == 2
        assert service["command"] == ["python", "-m", f"procure_{name}", "serve", "--role", "all"]
        assert migration["command"] == ["python", "-m", f"procure_{name}", "migrate"]
        assert migration["environment"]["DATABASE_URL"] == service["environment"]["DATABASE_URL"]
        assert service["depends_on"][f"migrate-{name}"] == {
            "condition": "service_completed_successfully"
        }
        assert migration["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_compose_keeps_three_replicas_of_each_stream_on_a_three_node_nats_cluster(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    nodes = sorted(name for name in services if name.startswith("nats-"))
    assert nodes == ["nats-1", "nats-2", "nats-3"]
    for name in SERVICES:
        assert services[name]["environment"]["PROCURE_STREAM_REPLICAS"] == "3"
        for node in nodes:
            assert services[name]["depends_on"][node] == {"condition": "service_healthy"}
    for node in nodes:
        mounts = services[node]["volumes"]
        assert f"./nats/{node}.conf:/etc/nats/nats.conf:ro" in mounts
        assert f"{node}-data:/data/jetstream" in mounts
        config = (DEPLOY / "nats" / f"{node}.conf").read_text()
        assert re.search(rf"^server_name: {node}$", config, re.MULTILINE)
        assert "store_dir: /data/jetstream" in config
        assert sorted(nats_routes(config)) == nodes
        assert "nats" in services[node]["networks"]["default"]["aliases"]


def test_the_compose_environment_is_accepted_by_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        environ = {k: interpolate(str(v)) for k, v in services[name]["environment"].items()}
        settings = settings_from_env(name, environ)
        OPTIONS[name](environ)
        assert settings.stream_replicas == 3
        assert settings.database_url.endswith(f"/procure_{name}")
        migration = services[f"migrate-{name}"]["environment"]
        settings_from_env(name, {k: interpolate(str(v)) for k, v in migration.items()})


# Kubernetes


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_the_kubernetes_manifests_render_and_pass_kubernetes_validate(
    overlay: str, rendered: dict[str, str], tmp_path: Path
) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered[overlay])
    result = run(
        [
            tool("kubernetes-validate"),
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
            str(manifest),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {m["kind"] for m in manifests(rendered[overlay])}
    assert {"Deployment", "StatefulSet", "Job", "ConfigMap", "PodDisruptionBudget"} <= kinds


def test_kubernetes_validate_fails_a_deployment_with_a_misspelt_field(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    deployment = by_kind(rendered["base"], "Deployment")["contracts"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    result = run(
        [tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(broken)]
    )
    assert result.returncode != 0
    assert "readinesProbe" in result.stdout + result.stderr


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_each_service_deployment_has_health_probes_resource_requests_and_a_disruption_budget(
    overlay: str, rendered: dict[str, str]
) -> None:
    deployments = by_kind(rendered[overlay], "Deployment")
    budgets = by_kind(rendered[overlay], "PodDisruptionBudget")
    assert sorted(deployments) == sorted(SERVICES)
    for name, deployment in deployments.items():
        spec = deployment["spec"]
        assert spec["replicas"] >= 2
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"procure_{name}", "serve", "--role", "all"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"configMapRef": {"name": "procure-config"}} in container["envFrom"]
        (migrate,) = pod["initContainers"]
        assert migrate["command"] == ["python", "-m", f"procure_{name}", "migrate"]
        labels = spec["template"]["metadata"]["labels"]
        selectors = [b["spec"]["selector"]["matchLabels"] for b in budgets.values()]
        assert any(s.items() <= labels.items() for s in selectors), f"{name} has no budget"


def test_the_migration_job_migrates_every_service_database(rendered: dict[str, str]) -> None:
    (job,) = by_kind(rendered["base"], "Job").values()
    containers = job["spec"]["template"]["spec"]["containers"]
    assert sorted(c["name"] for c in containers) == sorted(SERVICES)
    for container in containers:
        name = container["name"]
        assert container["command"] == ["python", "-m", f"procure_{name}", "migrate"]
        (database,) = container["env"]
        assert database["name"] == "DATABASE_URL"
        assert database["valueFrom"]["secretKeyRef"]["key"] == f"{name}-database-url"


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_nats_is_a_three_node_statefulset_whose_routes_name_its_pods_by_the_headless_service(
    overlay: str, rendered: dict[str, str]
) -> None:
    (nats,) = by_kind(rendered[overlay], "StatefulSet").values()
    services = by_kind(rendered[overlay], "Service")
    headless = services[nats["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert nats["spec"]["replicas"] == 3
    volumes = nats["spec"]["template"]["spec"]["volumes"]
    (config_volume,) = [v for v in volumes if "configMap" in v]
    config_map = by_kind(rendered[overlay], "ConfigMap")[config_volume["configMap"]["name"]]
    config = config_map["data"]["nats.conf"]
    pods = [f"{nats['metadata']['name']}-{i}.{headless['metadata']['name']}" for i in range(3)]
    assert sorted(nats_routes(config)) == pods
    (container,) = nats["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert f"store_dir: {mounts['data']}" in config
    settings = by_kind(rendered[overlay], "ConfigMap")["procure-config"]["data"]
    assert settings["PROCURE_STREAM_REPLICAS"] == "3"
    assert settings["NATS_URL"] == f"nats://{services['nats']['metadata']['name']}:4222"


def test_the_production_overlay_applies_no_placeholder_secret(rendered: dict[str, str]) -> None:
    assert "procure-secrets" in by_kind(rendered["base"], "Secret")
    assert by_kind(rendered["production"], "Secret") == {}
    namespaces = {m.get("metadata", {}).get("namespace") for m in manifests(rendered["production"])}
    assert namespaces <= {"procure", None}


def test_the_kubernetes_configuration_is_accepted_by_every_service(
    rendered: dict[str, str],
) -> None:
    config = by_kind(rendered["base"], "ConfigMap")["procure-config"]["data"]
    secrets = by_kind(rendered["base"], "Secret")["procure-secrets"]["stringData"]
    for name in SERVICES:
        environ = {
            **config,
            "DATABASE_URL": secrets[f"{name}-database-url"],
            "PROCURE_JWT_SECRET": secrets["jwt-secret"],
        }
        settings = settings_from_env(name, environ)
        OPTIONS[name](environ)
        assert settings.stream_replicas == 3
        assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8000)


# NATS configurations


def test_every_nats_configuration_passes_nats_server_test(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    configs = nats_configs(rendered)
    assert len(configs) == 5  # three for compose, the ConfigMap's in base and in production
    # The Kubernetes configuration names each node after its pod ($SERVER_NAME).
    environ = {**os.environ, "SERVER_NAME": "nats-0"}
    for index, (place, config) in enumerate(configs.items()):
        path = tmp_path / f"{index}.conf"
        path.write_text(config)
        result = run([str(nats_server_binary()), "-t", "-c", str(path)], env=environ)
        assert result.returncode == 0, f"{place}: {result.stdout}{result.stderr}"


def test_nats_server_test_fails_a_broken_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "nats.conf"
    broken.write_text("jetstream {\n  sync_interval: always\n  store_dir: /data\n")
    result = run([str(nats_server_binary()), "-t", "-c", str(broken)])
    assert result.returncode != 0


def test_every_nats_configuration_syncs_jetstream_on_every_write(
    rendered: dict[str, str],
) -> None:
    unsafe = [place for place, config in nats_configs(rendered).items() if not syncs_always(config)]
    assert unsafe == []


@pytest.mark.parametrize(
    "config",
    [
        "jetstream {\n  store_dir: /data\n}\n",
        "jetstream {\n  store_dir: /data\n  sync_interval: 2m\n}\n",
        "jetstream {\n  store_dir: /data\n  # sync_interval: always\n}\n",
        "sync_interval: always\njetstream {\n  store_dir: /data\n}\n",
        "cluster {\n  sync_interval: always\n}\njetstream: enabled\n",
    ],
    ids=["missing", "every-two-minutes", "commented-out", "outside-jetstream", "no-block"],
)
def test_the_sync_guard_catches_a_configuration_that_does_not_sync_always(
    config: str, tmp_path: Path
) -> None:
    path = tmp_path / "nats.conf"
    path.write_text(config)
    assert not syncs_always(path.read_text())
    fixed = "jetstream {\n  store_dir: /data\n  sync_interval: always\n}\n"
    assert syncs_always(fixed)


# docs/operations.md


def exposed_metrics() -> set[str]:
    """The sample names a service process with every role serves on /metrics: HTTP, NATS and
    pool figures, the relay's, a consumer's, and the notifications delivery worker's."""
    pool = SimpleNamespace(get_size=lambda: 1, get_idle_size=lambda: 1)
    runtime = Runtime(
        settings=settings_from_env("contracts", {"DATABASE_URL": "postgresql:///x"}),
        clock=clock_from_settings(None, 1.0),
        pool=cast(Pool, pool),
        nats=cast(Client, None),
        js=cast(JetStreamContext, None),
        nats_state=NatsState(name="test"),
    )
    runtime.relay = cast(Relay, SimpleNamespace(stats=RelayStats()))
    consumer = SimpleNamespace(spec=SimpleNamespace(name="c"), stats=ConsumerStats())
    runtime.consumers = [cast(Consumer, consumer)]
    http = HttpMetrics(runtime.registry)
    http.observe("GET", "/health/ready", 200, 0.01)
    delivery = DeliveryMetrics(runtime.registry)
    delivery.observe("webhook", "delivered", 0.1, 1.0, dead=True)
    return {sample.name for family in runtime.registry.collect() for sample in family.samples} | {
        family.name for family in runtime.registry.collect()
    }


def test_every_metric_the_operations_guide_names_is_one_the_services_expose() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    named = set(re.findall(r"\bprocure_[a-z_]+\b", guide))
    # The packages (and the databases named after them) are not metrics.
    named -= {"procure_shared", *(f"procure_{name}" for name in SERVICES)}
    exposed = exposed_metrics()
    assert named, "the guide names no metric"
    assert sorted(named - exposed) == []
