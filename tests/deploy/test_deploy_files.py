"""The deploy files, checked without Docker or a cluster: hadolint on the Dockerfile, the
compose specification's schema on compose.yaml, kubernetes-validate on the rendered Kubernetes
manifests, nats-server on every NATS configuration with the credentials and Secrets the deploy
files and the guide make, and what each must say (replicas, migrations first, probes, JetStream
syncing every write, no client or node on the bus without its credentials, every service with
its own seed mounted at run time and none in the image). Every tool really runs, and each check
is shown failing on a broken file."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import msgspec
import pytest
import yaml
from nats.aio.client import Client
from nats.js import JetStreamContext
from procure_tools.devstack.roles import OWNER
from procure_tools.devstack.servers import nats_server_binary

from procure_contracts.settings import options_from_env as contracts_options
from procure_notifications.delivery.metrics import DeliveryMetrics
from procure_notifications.settings import options_from_env as notifications_options
from procure_providers.settings import options_from_env as providers_options
from procure_shared.clock import clock_from_settings
from procure_shared.db.postgres import Pool
from procure_shared.http.observability import HttpMetrics
from procure_shared.identities import DEPLOYED, ROUTE_USER, public_key
from procure_shared.messaging.consumer import Consumer, ConsumerStats
from procure_shared.messaging.nats import NatsState
from procure_shared.messaging.outbox import Relay, RelayStats
from procure_shared.service import Runtime, nats_access
from procure_shared.settings import settings_from_env, trust_refusal
from tests.deploy.bus import (
    COMPOSE_NODES,
    IMAGE_USER,
    compose_nats_node,
    kubernetes_nats_node,
    run_credentials_step,
)
from tests.deploy.conftest import OVERLAYS, Documented
from tests.deploy.files import (
    DEPLOY,
    NKEY_SEED,
    OPERATOR_ENVIRONMENT,
    ROOT,
    RequiredVariable,
    block,
    dockerfile_instructions,
    dockerfile_stages,
    dockerignored,
    guide_secrets,
    includes,
    interpolate,
    kubernetes_container,
    manifests,
    requires_authentication,
    run,
    secret_references,
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


def by_kind(rendered: str, kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(rendered) if m["kind"] == kind}


def nats_configs(rendered: dict[str, str]) -> dict[str, str]:
    """Every NATS configuration we ship that a nats-server starts with: compose's files and the
    Kubernetes ConfigMaps' (the files another one includes are parts of it, not counted)."""
    found = {str(path.relative_to(ROOT)): path.read_text() for path in DEPLOY.rglob("*.conf")}
    for overlay, text in rendered.items():
        for name, config_map in by_kind(text, "ConfigMap").items():
            data = config_map.get("data", {})
            parts = {Path(part).name for value in data.values() for part in includes(value)}
            for key, value in data.items():
                if key.endswith(".conf") and key not in parts:
                    found[f"{overlay}: ConfigMap {name} {key}"] = value
    return found


def placeholder_secrets(rendered: dict[str, str]) -> dict[str, dict[str, str]]:
    """procure-secrets as the base's placeholders have it (production makes its own)."""
    secret = by_kind(rendered["base"], "Secret")["procure-secrets"]
    return {"procure-secrets": dict(secret["stringData"])}


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
    """Without any dependency group: neither the development tools nor the tools for people
    (test_image_command.py checks what the image then holds)."""
    instructions = dockerfile_instructions()
    bases = [argument.split()[0] for kind, argument in instructions if kind == "FROM"]
    assert bases
    assert all(base.startswith("python:3.11-slim") for base in bases)
    runs = [argument for kind, argument in instructions if kind == "RUN"]
    syncs = [command for command in runs if command.startswith("uv sync")]
    assert syncs
    assert all("--frozen --no-default-groups" in command for command in syncs)
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


def test_no_seed_can_reach_the_image_and_none_is_in_the_repository() -> None:
    """The build context the Dockerfile copies, as .dockerignore leaves it, holds no nkey seed
    (``make up`` keeps its own in .procure/, which is left out); no stage sets the
    credentials; and neither the deploy files nor the guide hold one."""
    ignored = dockerignored()
    assert ".procure" in ignored
    stages = dockerfile_stages()
    sources = [name for stage in stages for names, _ in stage.copies for name in names]
    assert sources
    assert not any(".procure" in Path(name).parts for name in sources)
    assert not any(name.startswith("PROCURE_NATS") for stage in stages for name in stage.env)
    found: list[str] = []
    roots = [ROOT / name for name in sources] + [DEPLOY, ROOT / "docs"]
    for start in roots:
        files = [start] if start.is_file() else sorted(start.rglob("*"))
        for path in files:
            parts = path.relative_to(ROOT).parts
            if not path.is_file() or any(part in ignored for part in parts):
                continue
            if path.suffix == ".nk" or NKEY_SEED.search(path.read_bytes()):
                found.append(str(path.relative_to(ROOT)))
    assert found == []
    assert NKEY_SEED.search(b"SU" + b"A" * 56)  # the pattern finds a seed


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
        # The routes, whose URLs carry the route password, come from the node's command.
        cluster = block(config, "cluster")
        assert cluster is not None
        assert re.search(r"^\s*routes: \$NATS_ROUTES$", cluster, re.MULTILINE)
        listed = services[node]["environment"]["CLUSTER_NODES"].split()
        assert listed == [f"{name}:6222" for name in nodes]
        assert "nats" in services[node]["networks"]["default"]["aliases"]


def test_the_compose_environment_is_accepted_by_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        environ = {k: interpolate(str(v)) for k, v in services[name]["environment"].items()}
        settings = settings_from_env(name, environ)
        OPTIONS[name](environ)
        assert settings.stream_replicas == 3
        assert settings.database_url.endswith(f"/procure_{name}")
        assert settings.nats_credentials == f"/credentials/{name}.nk"
        migration = services[f"migrate-{name}"]["environment"]
        settings_from_env(name, {k: interpolate(str(v)) for k, v in migration.items()})
        assert "PROCURE_NATS_CREDENTIALS" not in migration  # migrations do not use the bus


def test_compose_refuses_to_start_a_service_without_the_operators_jwt_secret(
    compose: dict[str, Any],
) -> None:
    without = {k: v for k, v in OPERATOR_ENVIRONMENT.items() if k != "PROCURE_JWT_SECRET"}
    for name in SERVICES:
        environment = compose["services"][name]["environment"]
        with pytest.raises(RequiredVariable, match="compose requires PROCURE_JWT_SECRET"):
            {k: interpolate(str(v), given=without) for k, v in environment.items()}
        given = {k: interpolate(str(v)) for k, v in environment.items()}
        assert given["PROCURE_JWT_SECRET"] == OPERATOR_ENVIRONMENT["PROCURE_JWT_SECRET"]
        assert "PROCURE_DEV_MODE" not in given
        settings = settings_from_env(name, given)
        assert trust_refusal(settings) is None
        assert settings.signing_secret == OPERATOR_ENVIRONMENT["PROCURE_JWT_SECRET"]


def test_compose_refuses_to_start_notifications_without_the_operators_secrets_key(
    compose: dict[str, Any],
) -> None:
    """The webhook signing secrets are sealed with the operator's key: compose asks for it, and
    the service takes it as its key (never the public development one)."""
    environment = compose["services"]["notifications"]["environment"]
    without = {k: v for k, v in OPERATOR_ENVIRONMENT.items() if k != "PROCURE_SECRETS_KEY"}
    with pytest.raises(RequiredVariable, match="compose requires PROCURE_SECRETS_KEY"):
        {k: interpolate(str(v), given=without) for k, v in environment.items()}
    given = {k: interpolate(str(v)) for k, v in environment.items()}
    assert given["PROCURE_SECRETS_KEY"] == OPERATOR_ENVIRONMENT["PROCURE_SECRETS_KEY"]
    for name in ("contracts", "providers", "migrate-notifications"):
        assert "PROCURE_SECRETS_KEY" not in compose["services"][name]["environment"]


DATABASE_PASSWORDS = [
    "POSTGRES_PASSWORD",
    "PROCURE_DATABASE_OWNER_PASSWORD",
    "PROCURE_CONTRACTS_DATABASE_PASSWORD",
    "PROCURE_PROVIDERS_DATABASE_PASSWORD",
    "PROCURE_NOTIFICATIONS_DATABASE_PASSWORD",
]


@pytest.mark.parametrize("password", DATABASE_PASSWORDS)
def test_compose_requires_every_database_password(compose: dict[str, Any], password: str) -> None:
    without = {k: v for k, v in OPERATOR_ENVIRONMENT.items() if k != password}
    users = ["postgres", *(f"migrate-{name}" for name in SERVICES), *SERVICES]
    refused = {}
    for user in users:
        environment = compose["services"][user]["environment"]
        try:
            {k: interpolate(str(v), given=without) for k, v in environment.items()}
        except RequiredVariable as exc:
            refused[user] = str(exc)
    assert refused, f"nothing in compose requires {password}"
    assert all(f"compose requires {password}" in said for said in refused.values()), refused


def test_compose_migrates_as_the_owner_and_runs_each_service_as_its_own_role(
    compose: dict[str, Any],
) -> None:
    """No service connects as the superuser or as the owner: each as the role its migration
    makes (DATABASE_URL's user), with a password of its own."""
    services = compose["services"]
    postgres = {k: interpolate(str(v)) for k, v in services["postgres"]["environment"].items()}
    init = "./postgres/owner.sh:/docker-entrypoint-initdb.d/10-owner.sh:ro"
    assert init in services["postgres"]["volumes"]
    script = (ROOT / "deploy" / "postgres" / "owner.sh").read_text()
    assert "CREATE ROLE procure_owner LOGIN CREATEDB CREATEROLE PASSWORD :'owner_password'" in (
        script
    )
    passwords = set()
    for name in SERVICES:
        migration = services[f"migrate-{name}"]["environment"]
        given = settings_from_env(name, {k: interpolate(str(v)) for k, v in migration.items()})
        owner, own = urlsplit(given.database_owner_url or ""), urlsplit(given.database_url)
        assert (owner.username, owner.password) == (
            "procure_owner",
            postgres["PROCURE_DATABASE_OWNER_PASSWORD"],
        )
        assert own.username == f"procure_{name}"
        served = {k: interpolate(str(v)) for k, v in services[name]["environment"].items()}
        assert "DATABASE_OWNER_URL" not in served
        assert served["DATABASE_URL"] == given.database_url
        assert own.username not in (postgres["POSTGRES_USER"], "procure_owner")
        passwords.add(own.password)
    assert len(passwords | {postgres["POSTGRES_PASSWORD"]}) == len(SERVICES) + 1


def test_compose_makes_the_credentials_once_and_gives_each_reader_its_own_alone(
    compose: dict[str, Any], compose_volumes: Path, tmp_path: Path
) -> None:
    everything = compose_volumes / "credentials"
    assert sorted(p.name for p in everything.iterdir()) == sorted(
        [*(f"{name}.nk" for name in DEPLOYED), "authorization.conf", "route.password"]
    )
    nats = compose_volumes / "nats-credentials"
    assert sorted(p.name for p in nats.iterdir()) == ["authorization.conf", "route.password"]
    authorization = (nats / "authorization.conf").read_text()
    owner = int(IMAGE_USER) if os.geteuid() == 0 else os.geteuid()
    for name in SERVICES:
        (seed,) = (compose_volumes / f"{name}-credentials").iterdir()
        assert seed.name == f"{name}.nk"
        assert seed.read_bytes() == (everything / seed.name).read_bytes()
        assert (stat.S_IMODE(seed.stat().st_mode), seed.stat().st_uid) == (0o400, owner)
        # The server knows it as this identity's key, with this identity's permissions.
        key = public_key(seed.read_bytes().strip())
        assert re.search(rf'^\s*# {name}\n\s*\{{"nkey": "{key}"', authorization, re.MULTILINE)
    # A later `up` keeps every credential.
    before = {p.name: p.read_bytes() for p in everything.iterdir()}
    procure = Path(tool("procure")).parent
    again = run_credentials_step(compose, tmp_path / "again", compose_volumes, [procure])
    assert again.returncode == 0, again.stdout + again.stderr
    assert {p.name: p.read_bytes() for p in everything.iterdir()} == before


def test_every_compose_service_connects_as_its_own_identity_from_a_volume_mounted_read_only(
    compose: dict[str, Any], compose_volumes: Path
) -> None:
    services = compose["services"]
    made = {"condition": "service_completed_successfully"}
    for name in SERVICES:
        service = services[name]
        seed = PurePosixPath(service["environment"]["PROCURE_NATS_CREDENTIALS"])
        mounts = [str(spec).split(":") for spec in service["volumes"]]
        (mount,) = [m for m in mounts if m[1] == str(seed.parent)]
        volume, _, mode = mount
        assert mode == "ro"
        # The volume the credentials step put this service's seed in, and nothing else.
        assert sorted(p.name for p in (compose_volumes / volume).iterdir()) == [seed.name]
        assert seed.name == f"{name}.nk"
        assert service["depends_on"]["credentials"] == made
    for node in COMPOSE_NODES:
        assert "nats-credentials:/etc/nats/credentials:ro" in services[node]["volumes"]
        assert services[node]["depends_on"]["credentials"] == made
    # Every seed is in `credentials`: the step alone mounts it.
    holders = [
        name
        for name, service in services.items()
        if any(str(spec).split(":")[0] == "credentials" for spec in service.get("volumes", []))
    ]
    assert holders == ["credentials"]


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
        keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
        # As the owner, making the role the service connects as.
        assert keys == {
            "DATABASE_OWNER_URL": f"{name}-owner-database-url",
            "DATABASE_URL": f"{name}-database-url",
        }


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
    (container,) = nats["spec"]["template"]["spec"]["containers"]
    config_path = PurePosixPath(container["command"][container["command"].index("--config") + 1])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (config_volume,) = [
        v
        for v in nats["spec"]["template"]["spec"]["volumes"]
        if mounts.get(v["name"]) == str(config_path.parent)
    ]
    (source,) = [s for s in config_volume["projected"]["sources"] if "configMap" in s]
    config_map = by_kind(rendered[overlay], "ConfigMap")[source["configMap"]["name"]]
    config = config_map["data"][config_path.name]
    assert f"store_dir: {mounts['data']}" in config
    # The routes: every pod by its name under the headless Service, the password in each URL.
    cluster = block(config, "cluster")
    assert cluster is not None
    assert re.search(r"^\s*routes: \$NATS_ROUTES$", cluster, re.MULTILINE)
    env = {e["name"]: e for e in container["env"]}
    routes = env["NATS_ROUTES"]["value"]
    pods = [f"{nats['metadata']['name']}-{i}.{headless['metadata']['name']}" for i in range(3)]
    assert (
        re.findall(r"nats-route://procure_route:\$\(ROUTE_PASSWORD\)@([\w.-]+):6222", routes)
        == pods
    )
    assert env["NATS_ROUTE_PASSWORD"]["value"] == '"$(ROUTE_PASSWORD)"'
    assert env["ROUTE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "nats-server-auth",
        "key": "route-password",
    }
    settings = by_kind(rendered[overlay], "ConfigMap")["procure-config"]["data"]
    assert settings["PROCURE_STREAM_REPLICAS"] == "3"
    scheme = "tls" if overlay == "production" else "nats"
    assert settings["NATS_URL"] == f"{scheme}://{services['nats']['metadata']['name']}:4222"


def test_the_production_overlay_applies_no_placeholder_secret(rendered: dict[str, str]) -> None:
    assert "procure-secrets" in by_kind(rendered["base"], "Secret")
    assert by_kind(rendered["production"], "Secret") == {}
    namespaces = {m.get("metadata", {}).get("namespace") for m in manifests(rendered["production"])}
    assert namespaces <= {"procure", None}


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_each_service_pod_connects_as_its_own_identity_with_its_seed_from_its_secret(
    overlay: str, rendered: dict[str, str], documented: Documented, tmp_path: Path
) -> None:
    """Each service's pod, as the kubelet would start it with the Secrets the guide's commands
    create: its settings are accepted, its seed is its own alone, read-only, readable by the
    pod's group only, and in production it trusts the certificate authority alone."""
    config_maps = {
        name: m.get("data", {}) for name, m in by_kind(rendered[overlay], "ConfigMap").items()
    }
    secrets = {**placeholder_secrets(rendered), **documented.secrets}
    for name, deployment in by_kind(rendered[overlay], "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        container = kubernetes_container(
            pod,
            name,
            pod_name=f"{name}-0",
            config_maps=config_maps,
            secrets=secrets,
            root=tmp_path / name,
        )
        settings = settings_from_env(name, container.env)
        OPTIONS[name](container.env)
        assert settings.stream_replicas == 3
        assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8000)
        placed = settings_from_env(name, {k: container.place(v) for k, v in container.env.items()})
        nats_access(name, placed).checked()  # every file it names is there and readable
        seed = Path(container.place(container.env["PROCURE_NATS_CREDENTIALS"]))
        assert seed.read_bytes() == (documented.credentials / f"{name}.nk").read_bytes()
        assert [p.name for p in seed.parent.iterdir()] == [f"{name}.nk"]
        (spec,) = pod["containers"]
        folder = str(PurePosixPath(container.env["PROCURE_NATS_CREDENTIALS"]).parent)
        (mount,) = [m for m in spec["volumeMounts"] if m["mountPath"] == folder]
        assert mount["readOnly"] is True
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["secret"]["secretName"] == f"nats-seed-{name}"
        mode = volume["secret"]["defaultMode"]
        assert mode & 0o040, oct(mode)  # the pod's group reads it
        assert not mode & 0o007, oct(mode)  # no one else
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
        if name == "contracts":  # the dashboard's client secret, where the guide puts it
            given = secrets["procure-secrets"].get("ops-oidc-client-secret")
            assert container.env.get("PROCURE_OPS_OIDC_CLIENT_SECRET") == given
        if overlay == "production":
            assert settings.nats_url.startswith("tls://")
            assert settings.nats_tls_ca is not None
            ca = Path(container.place(settings.nats_tls_ca))
            assert ca.read_text() == documented.secrets["nats-tls"]["ca.crt"]
            assert [p.name for p in ca.parent.iterdir()] == ["ca.crt"]  # not the key
        else:
            assert settings.nats_tls_ca is None


def test_the_secrets_the_manifests_read_are_the_ones_the_guide_creates(
    rendered: dict[str, str], documented: Documented
) -> None:
    read = secret_references(manifests(rendered["production"]))
    created = guide_secrets((ROOT / "docs" / "operations.md").read_text())
    for name, secret in documented.secrets.items():
        created.setdefault(name, set()).update(secret)
    assert {"nats-server-auth", *(f"nats-seed-{s}" for s in SERVICES), "nats-tls"} <= set(read)
    missing = {name: keys - created.get(name, set()) for name, keys in read.items()}
    assert {name: keys for name, keys in missing.items() if keys or name not in created} == {}


# NATS configurations


def test_every_nats_configuration_passes_nats_server_test_with_its_credentials(
    compose: dict[str, Any],
    compose_volumes: Path,
    rendered: dict[str, str],
    documented: Documented,
    tmp_path: Path,
) -> None:
    """Each node as it would start: compose's by its own command (after the credentials
    step), Kubernetes' by its pod's command with the guide's Secrets (and, in production, the
    certificate), with ``nats-server -t``."""
    assert len(nats_configs(rendered)) == 5  # three for compose, the ConfigMap's in each
    for node in COMPOSE_NODES:
        started = compose_nats_node(compose, node, tmp_path / node, compose_volumes, test_only=True)
        result = started.test()
        assert result.returncode == 0, f"{node}: {result.stdout}{result.stderr}"
        assert str(started.config) in result.stdout + result.stderr
    for overlay in OVERLAYS:
        rendering = list(manifests(rendered[overlay]))
        for ordinal in range(3):
            root = tmp_path / f"{overlay}-{ordinal}"
            pod = kubernetes_nats_node(rendering, ordinal, documented.secrets, root, test_only=True)
            result = pod.test()
            assert result.returncode == 0, f"{overlay}: {result.stdout}{result.stderr}"


def test_without_the_authorization_nats_server_refuses_each_configuration(
    compose: dict[str, Any],
    compose_volumes: Path,
    rendered: dict[str, str],
    documented: Documented,
    tmp_path: Path,
) -> None:
    """The configurations do read the credentials: without authorization.conf, none starts."""
    volumes = tmp_path / "volumes"
    (volumes / "nats-credentials").mkdir(parents=True)
    (volumes / "nats-credentials" / "route.password").write_bytes(
        (compose_volumes / "nats-credentials" / "route.password").read_bytes()
    )
    node = compose_nats_node(compose, "nats-1", tmp_path / "compose", volumes, test_only=True)
    nodes = [node]
    for overlay in OVERLAYS:
        rendering = list(manifests(rendered[overlay]))
        pod = kubernetes_nats_node(
            rendering, 0, documented.secrets, tmp_path / overlay, test_only=True
        )
        (pod.config.parent / "authorization.conf").unlink()
        nodes.append(pod)
    for started in nodes:
        result = started.test()
        assert result.returncode != 0
        assert "authorization.conf" in result.stdout + result.stderr


def test_every_nats_configuration_requires_each_client_to_be_an_identity_and_routes_a_password(
    rendered: dict[str, str],
) -> None:
    configs = nats_configs(rendered)
    assert len(configs) == 5
    assert [place for place, config in configs.items() if not requires_authentication(config)] == []


_AUTHORIZED = "include credentials/authorization.conf\n"
_ROUTES = "cluster {\n  authorization {\n    user: procure_route\n    password: $P\n  }\n}\n"


@pytest.mark.parametrize(
    "config",
    [
        "listen: 0.0.0.0:4222\n" + _ROUTES,
        "# include credentials/authorization.conf\n" + _ROUTES,
        "include credentials/tls.conf\n" + _ROUTES,
        "cluster {\n  include authorization.conf\n}\n",
        _AUTHORIZED + "no_auth_user: contracts\n" + _ROUTES,
        _AUTHORIZED + "authorization {\n  user: a\n  password: b\n}\n" + _ROUTES,
        _AUTHORIZED + "accounts {\n  A: { users: [{user: a, password: b}] }\n}\n" + _ROUTES,
        _AUTHORIZED + "cluster {\n  routes: [nats-route://nats-1:6222]\n}\n",
        _AUTHORIZED + "cluster {\n  authorization {\n    user: anyone\n  }\n}\n",
    ],
    ids=[
        "no-authorization",
        "commented-out",
        "another-file",
        "only-in-the-cluster-block",
        "a-user-without-credentials",
        "a-shared-password",
        "accounts-of-its-own",
        "routes-without-a-password",
        "routes-for-another-user",
    ],
)
def test_the_authentication_guard_catches_a_configuration_that_lets_someone_in(
    config: str,
) -> None:
    assert not requires_authentication(config)
    assert requires_authentication(_AUTHORIZED + _ROUTES)
    assert requires_authentication(_AUTHORIZED + "jetstream {\n  store_dir: /data\n}\n")


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
    # The packages (and the databases and roles named after them), the databases' owner and
    # the NATS route user are not metrics.
    named -= {"procure_shared", ROUTE_USER, OWNER, *(f"procure_{name}" for name in SERVICES)}
    exposed = exposed_metrics()
    assert named, "the guide names no metric"
    assert sorted(named - exposed) == []
