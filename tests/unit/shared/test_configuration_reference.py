"""docs/configuration.md, the configuration reference: generated from the code, and held to
it both ways (a variable the code reads is in it, and what it lists the code reads)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from unittest import mock

import pytest
from procure_tools.cli import app
from procure_tools.configuration import configuration_document, environ_reads, reference
from procure_tools.devstack.up import (
    SERVICE_ENVIRONMENT,
    SERVICES,
    UP_ENVIRONMENT,
    Stack,
    UpConfig,
    migration_environment,
    service_environment,
)
from rich.console import Console

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = ROOT / "docs" / "configuration.md"
# A variable's name: PROCURE_<something>, and the two URLs every service reads.
NAME = re.compile(r"\b(?:PROCURE_[A-Z0-9_]*[A-Z0-9]|DATABASE(?:_OWNER)?_URL|NATS_URL)\b")
ROW = re.compile(r"^\| `([A-Z0-9_]+)` \|", re.MULTILINE)


def names_in_the_code() -> dict[str, set[str]]:
    """Every variable name a string literal (f-strings' parts too) or a keyword argument
    (``env.update(DATABASE_URL=...)``) under shared/, tools/ and services/ holds, with where."""
    found: dict[str, set[str]] = {}
    for folder in ("shared", "tools", "services"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                elif isinstance(node, ast.keyword) and node.arg is not None:
                    text = node.arg
                else:
                    continue
                for name in NAME.findall(text):
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_committed_reference_is_the_one_the_code_generates() -> None:
    assert DOCUMENT.read_text() == configuration_document(app), (
        "docs/configuration.md differs from the code: run `make docs` "
        "(or `procure configuration --out docs/configuration.md`) and commit it"
    )


def test_every_variable_the_code_names_is_in_the_reference() -> None:
    documented = set(ROW.findall(configuration_document(app)))
    missing = {n: sorted(w) for n, w in names_in_the_code().items() if n not in documented}
    assert not missing, f"read but not documented (give each a meaning in the code): {missing}"


def test_every_variable_in_the_reference_is_one_the_code_reads() -> None:
    documented = set(ROW.findall(configuration_document(app)))
    assert documented, "the reference lists no variable"
    unread = sorted(documented - names_in_the_code().keys())
    assert not unread, f"documented but read nowhere in shared/, tools/ or services/: {unread}"


def test_every_documented_variable_has_a_meaning() -> None:
    empty = [
        (group.title, v.name, v.read_by)
        for group in reference(app)
        for v in group.variables
        if not v.meaning.strip()
    ]
    assert not empty, f"no meaning (a Meta description, an option's help, a table): {empty}"


def test_every_service_and_its_own_options_are_in_the_reference() -> None:
    titles = [group.title for group in reference(app)]
    assert titles[0] == "Every service"
    assert [f"The {s} service" for s in sorted(SERVICES)] == titles[1:4]


def test_procure_up_gives_the_services_the_variables_the_reference_lists(
    tmp_path: Path,
) -> None:
    config = UpConfig(root=tmp_path, postgres_url=None, nats_url=None, clock_rate="60")
    stack = Stack(config, Console(quiet=True))
    endpoints = stack.endpoints("postgresql://u@127.0.0.1:5432/x", "nats://127.0.0.1:4222", "p")
    served = {s: service_environment(s, endpoints, "s" * 48, {}) for s in SERVICES}
    # The owner's URL goes to the migration step alone, never to the service.
    assert all("DATABASE_OWNER_URL" not in env for env in served.values())
    given = {name for env in served.values() for name in migration_environment(env, endpoints)}
    assert given == SERVICE_ENVIRONMENT.keys()


def test_a_variable_described_but_no_longer_read_is_refused() -> None:
    with (
        mock.patch.dict(UP_ENVIRONMENT, {"PROCURE_DEV_GONE": "read once"}),
        pytest.raises(ValueError, match="UP_ENVIRONMENT describes PROCURE_DEV_GONE"),
    ):
        reference(app)


def test_reads_from_the_environment_are_found_with_their_defaults() -> None:
    source = """
def f(environ):
    a = os.environ.get("A")
    b = int(environ.get("B", "54329"))
    c = os.environ["C"]
    os.environ["D"] = "written, not read"
    e = settings.get("E", "not the environment")
    return environ.get("F", DEFAULT)
"""
    assert environ_reads(source) == {"A": None, "B": "54329", "C": None, "F": "DEFAULT"}
