"""The configuration reference, docs/configuration.md, generated from the code
(``procure configuration``; a test holds the committed file to the code).

Every environment variable a process reads, by who reads it:

- every service: ``Settings`` and its ``ENV_NAMES``;
- each service's own options: its ``ServiceOptions``, found through the ``procure.settings``
  entry points (this package imports no service);
- the ``procure`` command: its options that fall back to a variable (typer's own parameters,
  with their help), and what its module reads from ``os.environ`` itself (found in its source,
  meant as ``CLI_ENVIRONMENT`` says);
- the development stack, ``procure up``: what ``UpConfig.from_env`` reads (found in its source,
  meant as ``UP_ENVIRONMENT`` says), and what it gives the services it starts
  (``SERVICE_ENVIRONMENT``).

The meanings live in the code: the Structs' ``msgspec.Meta(description=...)`` (with their
constraints), the options' help and those tables. A table that describes a variable the code
no longer reads is refused; a variable read without a meaning is left with an empty one, which
the reference's test refuses.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

import msgspec
import msgspec.inspect as mi
import typer
import typer.main
from typer.core import TyperCommand, TyperGroup, TyperOption

from procure_shared.settings import ENV_NAMES, ServiceOptions, Settings
from procure_tools.devstack.up import SERVICE_ENVIRONMENT, UP_ENVIRONMENT, UpConfig

__all__ = [
    "CLI_ENVIRONMENT",
    "ENTRY_POINTS",
    "Group",
    "Variable",
    "configuration_document",
    "environ_reads",
    "markdown",
    "reference",
    "service_options",
]

ENTRY_POINTS = "procure.settings"

# What each variable the ``procure`` command's module reads from ``os.environ`` itself means
# (its default is the code's own): ``procure configuration`` refuses a read this does not
# describe.
CLI_ENVIRONMENT: dict[str, str] = {
    "PROCURE_JWT_AUDIENCE": "The audience of the development tokens the command signs.",
    "PROCURE_JWT_ISSUER": "The issuer of the development tokens the command signs.",
}
_SIGNING_COMMANDS = (
    "`procure token`, and the others given no `--token` for the running make up's services"
)

INTRO = """\
Procure is configured by environment variables only: it reads no configuration file (no
`.env` either). A service reads its variables once, when it starts (`python -m
procure_<service> serve` or `migrate`): an unset or empty variable keeps its default, and a
value that is not allowed stops the service with a message naming the variable. The `procure`
command reads its variables on every run. `procure up` passes its own environment on to the
services it starts, with the variables of the last table set for them.

Durations are in seconds (unless a name says days); booleans are `true` or `false` (or `1`,
`0`).

This file is generated from the code: `procure configuration --out docs/configuration.md`
(`make docs`) writes it, and a test fails when it and the code differ. The meanings are the
code's own: the settings' `msgspec.Meta(description=...)`, the command's option help, and the
tables beside the variables the command and `procure up` read themselves.
"""


class Variable(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the reference: a variable as one group of processes reads it."""

    name: str
    default: str  # Markdown: a literal in backticks, "unset", "required", ...
    meaning: str
    allowed: str = ""  # from the type and its constraints: "an integer from 0 to 65535"
    read_by: str


class Group(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    about: str
    variables: tuple[Variable, ...]
    default_heading: str = "default"


def configuration_document(cli: typer.Typer) -> str:
    """docs/configuration.md, for the ``procure`` command ``cli``."""
    return markdown(reference(cli))


def reference(cli: typer.Typer) -> list[Group]:
    services = service_options()
    every = ", ".join(o.service for o in services)
    shared = _struct_variables(Settings, ENV_NAMES, every)
    own = {o.service: _struct_variables(o.kind, o.env_names, o.service) for o in services}
    return [
        Group(
            title="Every service",
            about=f"Every service ({every}) reads these (`{_qualified(Settings)}`).",
            variables=_sorted(shared),
        ),
        *(
            Group(
                title=f"The {o.service} service",
                about=f"The {o.service} service's own options (`{_qualified(o.kind)}`).",
                variables=_sorted(own[o.service]),
            )
            for o in services
        ),
        Group(
            title="The `procure` command",
            about="Options of the `procure` command that fall back to a variable, and what "
            "the command reads itself to sign development tokens.",
            variables=_sorted(_cli_variables(cli)),
        ),
        Group(
            title="The development stack (`procure up`)",
            about="`procure up` reads these to start the development stack (embedded "
            "PostgreSQL, NATS and mailbox, the three services).",
            variables=_sorted(
                _described(
                    environ_reads(textwrap.dedent(inspect.getsource(UpConfig.from_env))),
                    UP_ENVIRONMENT,
                    "UP_ENVIRONMENT",
                    read_by="`procure up`",
                )
            ),
        ),
        Group(
            title="What `procure up` gives the services",
            about="On top of its own environment, `procure up` gives the services it starts "
            "these values (`SERVICE_ENVIRONMENT`).",
            variables=_sorted(
                _given(SERVICE_ENVIRONMENT, [*shared, *(v for vs in own.values() for v in vs)])
            ),
            default_heading="value",
        ),
    ]


def service_options() -> list[ServiceOptions[Any]]:
    """Each installed service's options, from the ``procure.settings`` entry points."""
    found = []
    for point in entry_points(group=ENTRY_POINTS):
        options = point.load()
        if not isinstance(options, ServiceOptions):
            raise TypeError(f"the entry point {point.name} = {point.value} is no ServiceOptions")
        found.append(options)
    return sorted(found, key=lambda o: o.service)


def environ_reads(source: str) -> dict[str, str | None]:
    """The variables ``source`` reads from an environment mapping (``os.environ``, or a name
    ``environ``) as ``.get("NAME"[, default])`` or ``["NAME"]``, with their defaults (the text
    of one that is not a string literal; ``None``: none)."""
    reads: dict[str, str | None] = {}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _is_environ(node.func.value)
            and node.args
            and (name := _string(node.args[0])) is not None
        ):
            default = node.args[1] if len(node.args) > 1 else None
            reads[name] = None if default is None else _string(default) or ast.unparse(default)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_environ(node.value)
            and (name := _string(node.slice)) is not None
        ):
            reads[name] = None
    return reads


def markdown(groups: Sequence[Group]) -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from the code by `procure configuration`: do not edit. -->",
        "",
        INTRO,
    ]
    for group in groups:
        lines += [f"## {group.title}", "", group.about, ""]
        lines += [
            f"| variable | {group.default_heading} | meaning | read by |",
            "| --- | --- | --- | --- |",
        ]
        for v in group.variables:
            meaning = f"{v.meaning} Allowed: {v.allowed}." if v.allowed else v.meaning
            cells = (f"`{v.name}`", v.default, meaning, v.read_by)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


# --- the pieces ---------------------------------------------------------------------------------


def _struct_variables(
    kind: type[msgspec.Struct], names: Mapping[str, str], read_by: str
) -> list[Variable]:
    info = mi.type_info(kind)
    assert isinstance(info, mi.StructType)
    fields = {f.name: f for f in info.fields}
    variables = []
    for field, name in names.items():
        if field not in fields:
            raise ValueError(f"{_qualified(kind)} has no field {field} (for {name})")
        f = fields[field]
        kind_of, description = f.type, ""
        # The meaning is on the field's type, or on the one type of an optional field's union.
        described = [kind_of]
        if isinstance(kind_of, mi.UnionType):
            described = [t for t in kind_of.types if not isinstance(t, mi.NoneType)]
        for typ in described:
            if isinstance(typ, mi.Metadata):
                description = str((typ.extra_json_schema or {}).get("description", ""))
        if isinstance(kind_of, mi.Metadata):
            kind_of = kind_of.type
        default = "required" if f.required else _literal(f.default)
        variables.append(
            Variable(
                name=name,
                default=default,
                meaning=description,
                allowed=_allowed(kind_of),
                read_by=read_by,
            )
        )
    return variables


def _cli_variables(cli: typer.Typer) -> list[Variable]:
    """The options with an ``envvar`` (one row for the commands that share its default and
    help), and what the commands' modules read from ``os.environ`` themselves."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    sources: dict[str, str] = {}
    for path, command in _commands(typer.main.get_command(cli), "procure"):
        module = inspect.getmodule(command.callback) if command.callback else None
        if module is not None:
            sources[module.__name__] = inspect.getsource(module)
        for param in command.params:
            if not isinstance(param, TyperOption) or not param.envvar:
                continue
            envvars = [param.envvar] if isinstance(param.envvar, str) else param.envvar
            option = max(param.opts, key=len)
            meaning = f"Sets `{option}`: {param.help}." if param.help else ""
            for envvar in envvars:
                rows.setdefault((envvar, _literal(param.default), meaning), []).append(path)
    options = [
        Variable(name=name, default=default, meaning=meaning, read_by=_commands_text(paths))
        for (name, default, meaning), paths in rows.items()
    ]
    reads: dict[str, str | None] = {}
    for _, source in sorted(sources.items()):
        reads |= environ_reads(source)
    own = _described(reads, CLI_ENVIRONMENT, "CLI_ENVIRONMENT", read_by=_SIGNING_COMMANDS)
    return options + own


def _commands(command: object, path: str) -> Iterator[tuple[str, TyperCommand | TyperGroup]]:
    """Every command and group under ``command`` (as typer builds them), with its path."""
    if isinstance(command, TyperCommand | TyperGroup):
        yield path, command
    if isinstance(command, TyperGroup):
        for name in sorted(command.commands):
            yield from _commands(command.commands[name], f"{path} {name}")


def _commands_text(paths: Sequence[str]) -> str:
    return ", ".join(f"`{p}`" for p in sorted(paths))


def _described(
    reads: Mapping[str, str | None], meanings: Mapping[str, str], table: str, *, read_by: str
) -> list[Variable]:
    """The variables ``reads`` found, each meant as ``meanings`` (the table ``table``) says."""
    unread = sorted(meanings.keys() - reads.keys())
    if unread:
        raise ValueError(f"{table} describes {', '.join(unread)}, which the code does not read")
    return [
        Variable(
            name=name, default=_literal(default), meaning=meanings.get(name, ""), read_by=read_by
        )
        for name, default in reads.items()
    ]


def _given(values: Mapping[str, str], read: Sequence[Variable]) -> list[Variable]:
    """What ``procure up`` gives the services: each value with the meaning and readers of the
    services' variable of that name."""
    by_name: dict[str, list[Variable]] = {}
    for v in read:
        by_name.setdefault(v.name, []).append(v)
    missing = sorted(values.keys() - by_name.keys())
    if missing:
        raise ValueError(f"SERVICE_ENVIRONMENT gives {', '.join(missing)}, which no service reads")
    return [
        Variable(
            name=name,
            default=value,
            meaning=by_name[name][0].meaning,
            read_by=", ".join(sorted({v.read_by for v in by_name[name]})),
        )
        for name, value in values.items()
    ]


def _allowed(kind: mi.Type) -> str:
    """The values a variable of this type may take, where that says more than its meaning."""
    if isinstance(kind, mi.Metadata):
        return _allowed(kind.type)
    if isinstance(kind, mi.UnionType):
        return " or ".join(
            a for t in kind.types if not isinstance(t, mi.NoneType) if (a := _allowed(t))
        )
    if isinstance(kind, mi.BoolType):
        return "`true` or `false` (or `1`, `0`)"
    if isinstance(kind, mi.IntType | mi.FloatType):
        noun = "an integer" if isinstance(kind, mi.IntType) else "a number"
        return " ".join([noun, *_bounds(kind)])
    if isinstance(kind, mi.StrType):
        rules = []
        if kind.min_length is not None:
            rules.append(f"at least {kind.min_length} characters")
        if kind.max_length is not None:
            rules.append(f"at most {kind.max_length} characters")
        if kind.pattern is not None:
            rules.append(f"matching `{kind.pattern}`")
        return ", ".join(rules)
    if isinstance(kind, mi.LiteralType):
        return "one of " + ", ".join(f"`{v}`" for v in kind.values)
    if isinstance(kind, mi.DateTimeType):
        return "an ISO 8601 instant"
    return ""


def _bounds(kind: mi.IntType | mi.FloatType) -> list[str]:
    if kind.ge is not None and kind.le is not None:
        return [f"from {kind.ge} to {kind.le}"]
    low = f"at least {kind.ge}" if kind.ge is not None else None
    low = f"above {kind.gt}" if kind.gt is not None else low
    high = f"at most {kind.le}" if kind.le is not None else None
    high = f"below {kind.lt}" if kind.lt is not None else high
    return [" and ".join(b for b in (low, high) if b is not None)]


def _literal(value: object) -> str:
    """A default as the environment would spell it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value == "":
        return "empty"
    return f"`{value}`"


def _sorted(variables: Sequence[Variable]) -> tuple[Variable, ...]:
    return tuple(sorted(variables, key=lambda v: (v.name, v.read_by, v.default, v.meaning)))


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ"
    )
