"""The bus as the deploy files set it up, outside Docker and Kubernetes: compose's credentials
step run as compose runs it; docs/operations.md's own commands, run with a ``kubectl`` and a
``docker`` that stand in for them (recording the Secrets it creates, running what it runs in a
container in the container a test describes); and the NATS nodes' containers of either, whose
command or ``nats-server`` a test runs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procure_tools.devstack.servers import nats_server_binary

from tests.deploy.files import (
    ROOT,
    Container,
    compose_container,
    interpolate,
    kubernetes_container,
    run,
    script_environment,
    shim,
    tool,
)

__all__ = [
    "COMPOSE_NODES",
    "GUIDE",
    "IMAGE_USER",
    "SERVICES",
    "NatsNode",
    "Target",
    "compose_nats_node",
    "documented_credentials",
    "guide_block",
    "kubernetes_nats_node",
    "on_loopback",
    "run_credentials_step",
    "run_guide",
]

SERVICES = ("contracts", "providers", "notifications")
COMPOSE_NODES = ("nats-1", "nats-2", "nats-3")
GUIDE = ROOT / "docs" / "operations.md"
# The image's user, to whom compose's credentials step gives each service's seed.
IMAGE_USER = "10001"


def run_credentials_step(
    compose: Mapping[str, Any],
    root: Path,
    volumes: Path,
    path: Sequence[Path],
    image_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """compose's ``credentials`` service: its command, with compose's interpolation, in its
    container (its volumes, folders of ``volumes``), with ``path`` (where ``procure`` is) on
    PATH, over the image's environment when given. It runs as root, as compose says; a test
    that is not root runs it as itself, and the seeds go to its own user instead of the
    image's."""
    service = compose["services"]["credentials"]
    assert service["user"] == "0:0"
    container = compose_container(service, root, volumes)
    (script,) = service["command"]
    script = container.place(interpolate(script))
    if os.geteuid() != 0:
        me = f"-o {os.geteuid()} -g {os.getegid()}"
        script = script.replace(f"-o {IMAGE_USER} -g {IMAGE_USER}", me)
    argv = [*service["entrypoint"], script]
    return run(argv, env={**(image_env or {}), **script_environment(container, path)})


@dataclass
class NatsNode:
    """A NATS node's container, the command that starts its nats-server, with what
    environment, and where its main configuration is (under the container's root)."""

    container: Container
    argv: list[str]
    env: dict[str, str]
    config: Path

    def start(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.container.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def test(self) -> subprocess.CompletedProcess[str]:
        return run(self.argv, env=self.env)


def compose_nats_node(
    compose: Mapping[str, Any],
    node: str,
    root: Path,
    volumes: Path,
    *,
    test_only: bool,
    cluster_nodes: str | None = None,
) -> NatsNode:
    """A compose NATS node: its volumes (named ones folders of ``volumes``, where the
    credentials step wrote), its command, which becomes a ``nats-server`` that runs the
    environment's binary (with ``-t`` when ``test_only``). ``cluster_nodes`` replaces the
    nodes' addresses (the routes) of compose's environment."""
    service = compose["services"][node]
    container = compose_container(service, root, volumes)
    if cluster_nodes is not None:
        container.env["CLUSTER_NODES"] = cluster_nodes
    binary = [str(nats_server_binary()), *(["-t"] if test_only else [])]
    folder = shim(root / "bin", "nats-server", binary).parent
    (script,) = service["command"]
    script = container.place(interpolate(script))
    (config,) = re.findall(r"exec nats-server --config (\S+)", script)
    argv = [*service["entrypoint"], script]
    return NatsNode(container, argv, script_environment(container, [folder]), Path(config))


def kubernetes_nats_node(
    rendered: Sequence[Mapping[str, Any]],
    ordinal: int,
    secrets: Mapping[str, Mapping[str, str]],
    root: Path,
    *,
    test_only: bool,
) -> NatsNode:
    """Pod ``ordinal`` of the rendered NATS StatefulSet, as the kubelet would start it with
    ``secrets``: its volumes written under ``root``, its environment resolved, its command with
    the environment's nats-server (``-t`` when ``test_only``)."""
    (statefulset,) = [m for m in rendered if m["kind"] == "StatefulSet"]
    config_maps = {
        m["metadata"]["name"]: m.get("data", {}) for m in rendered if m["kind"] == "ConfigMap"
    }
    pod = statefulset["spec"]["template"]["spec"]
    (spec,) = pod["containers"]
    container = kubernetes_container(
        pod,
        spec["name"],
        pod_name=f"{statefulset['metadata']['name']}-{ordinal}",
        config_maps=config_maps,
        secrets=secrets,
        root=root,
    )
    command = container.command(spec["command"])
    assert command[0] == "nats-server", command
    argv = [str(nats_server_binary()), *(["-t"] if test_only else []), *command[1:]]
    env = {**container.env, "PATH": "/usr/bin:/bin"}
    config = command[command.index("--config") + 1]
    return NatsNode(container, argv, env, Path(config))


def on_loopback(config: Path, *, client: int, monitor: int, route: int) -> None:
    """A node's configuration listening on 127.0.0.1, on these ports, instead of every
    address on NATS's usual ones (each replaced exactly once)."""
    text = config.read_text()
    for pattern, port in (
        (r"^(listen: )0\.0\.0\.0:4222$", client),
        (r"^(http: )0\.0\.0\.0:8222$", monitor),
        (r"^(\s+listen: )0\.0\.0\.0:6222$", route),
    ):
        text, count = re.subn(pattern, rf"\g<1>127.0.0.1:{port}", text, flags=re.MULTILINE)
        assert count == 1, f"{pattern} in {config}"
    config.write_text(text)


def guide_block(containing: str) -> str:
    """The one fenced block of docs/operations.md that contains ``containing``."""
    blocks = re.findall(r"^\s*```[a-z]*\n(.*?)^\s*```$", GUIDE.read_text(), re.M | re.S)
    (block,) = [b for b in blocks if containing in b]
    return str(block)


# `kubectl` and `docker` as the guide's commands use them, for a test: `kubectl create secret
# generic` records the Secret; `kubectl exec -i deploy/NAME -- ...` and `docker compose ... run
# ... --entrypoint E SERVICE ...` run the command in a container a test described (its
# environment, where its mounts are, which addresses stand for which), stdin passed on.
_TOOL = """\
import json, os, re, subprocess, sys
from pathlib import Path

tool, args = Path(sys.argv[0]).name, sys.argv[1:]


def option(args, names):
    while args and args[0] in names:
        args = args[2:] if args[0] in ("-n", "--namespace", "-f", "--entrypoint") else args[1:]
    return args


def in_container(target, argv):
    described = json.loads(Path(os.environ["GUIDE_TARGETS"], target + ".json").read_text())
    mounts = sorted(described["mounts"], key=len, reverse=True)
    pattern = "(?<![\\\\w./-])(" + "|".join(map(re.escape, mounts)) + ")(?=[/\\\\s;]|$)"

    def place(word):
        if mounts:
            word = re.sub(pattern, lambda m: described["mounts"][m.group(1)], word, flags=re.M)
        for old, new in described["hosts"].items():
            word = word.replace(old, new)
        return word

    env = {**described["env"], "PATH": os.environ["GUIDE_IMAGE_PATH"]}
    sys.exit(subprocess.run([place(word) for word in argv], env=env).returncode)


if tool == "kubectl":
    args = option(args, ("-n", "--namespace"))
    if args[:3] == ["create", "secret", "generic"]:
        name, data = args[3], {}
        for given in args[4:]:
            kind, _, spec = given.partition("=")
            if kind == "--from-file":
                key, _, path = spec.rpartition("=")
                data[key or Path(path).name] = Path(path).read_text()
            elif kind == "--from-literal":
                key, _, value = spec.partition("=")
                data[key] = value
            else:
                sys.exit(f"kubectl: unknown option {given}")
        Path(os.environ["GUIDE_RECORDS"], name + ".json").write_text(json.dumps(data))
        sys.exit(0)
    if args[:2] == ["exec", "-i"] and args[3] == "--":
        in_container(args[2].replace("/", "-"), args[4:])
if tool == "docker" and args[:1] == ["compose"]:
    args = option(args[1:], ("-f",))
    if args[:1] == ["run"]:
        args = option(args[1:], ("--rm", "--no-deps", "-T"))
        if args[:1] != ["--entrypoint"]:
            sys.exit(f"docker: no --entrypoint in {args}")
        in_container(args[2], [args[1], *args[3:]])
sys.exit(f"{tool}: not what the guide should run here: {sys.argv[1:]}")
"""


@dataclass
class Target:
    """A container a guide's ``kubectl exec`` or ``docker compose run`` reaches: its
    environment, where its mounts are on this machine, and the addresses that stand for the
    ones it would use (``nats:4222`` for a node's port here)."""

    env: dict[str, str]
    mounts: dict[str, str]
    hosts: dict[str, str]


def run_guide(
    block: str,
    folder: Path,
    *,
    targets: Mapping[str, Target] | None = None,
    records: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """A block of docs/operations.md, run by ``sh -e`` in ``folder``, with the workspace's
    ``procure`` as ``.venv/bin/procure`` (as from a checkout) and in a container's image,
    ``kubectl`` and ``docker`` as ``_TOOL`` says."""
    tools = folder / ".guide-tools"
    for name in ("kubectl", "docker"):
        path = tools / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!{sys.executable}\n{_TOOL}")
        path.chmod(0o755)
    procure = Path(tool("procure"))
    shim(folder / ".venv" / "bin", "procure", [str(procure)])
    described = folder / ".guide-targets"
    described.mkdir(exist_ok=True)
    for name, target in (targets or {}).items():
        (described / f"{name}.json").write_text(json.dumps(dataclasses.asdict(target)))
    env = {
        "PATH": os.pathsep.join([str(tools), "/usr/bin", "/bin"]),
        "HOME": str(folder),
        "GUIDE_RECORDS": str(records or folder),
        "GUIDE_TARGETS": str(described),
        # The image's PATH: its environment's binaries (procure, python) first.
        "GUIDE_IMAGE_PATH": os.pathsep.join([str(procure.parent), "/usr/bin", "/bin"]),
    }
    return subprocess.run(
        ["/bin/sh", "-ec", textwrap.dedent(block)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def documented_credentials(folder: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    """Run docs/operations.md's commands that make the bus's credentials and their Secrets,
    in ``folder``, with the workspace's ``procure`` and a ``kubectl`` that records each Secret
    instead of creating it: the credentials' folder, and each Secret's keys and values."""
    block = guide_block('create secret generic "nats-seed-$service"')
    records = folder / "secrets"
    records.mkdir(parents=True)
    done = run_guide(block, folder, records=records)
    assert done.returncode == 0, f"{block}\n{done.stdout}{done.stderr}"
    (made,) = re.findall(r"procure bus credentials --out (\S+)", block)
    secrets = {
        path.stem: dict(json.loads(path.read_text())) for path in sorted(records.glob("*.json"))
    }
    return folder / made, secrets
