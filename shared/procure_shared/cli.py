"""The ``procure`` command. It never imports a service package: it starts services as processes
and acts on data through their HTTP APIs."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import httpx
import typer
from nats.errors import Error as NatsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from procure_shared.devstack.up import DEMO_BUYER, UpConfig, jwt_secret, run_up
from procure_shared.events import CATALOGUE
from procure_shared.events.asyncapi import asyncapi_document
from procure_shared.http.auth import Role, issue_token
from procure_shared.importer import (
    CsvError,
    ImportStopped,
    ImportSummary,
    ParsedFile,
    RowResult,
    import_providers,
    read_csv,
)
from procure_shared.settings import DEV_JWT_SECRET
from procure_shared.status import gather_status

__all__ = ["app", "main"]

__version__ = version("procure-shared")

app = typer.Typer(help="Procure: tenders, contracts, delivery and alerts.", no_args_is_help=True)
providers_app = typer.Typer(
    help="The provider registry, through the providers service's API.", no_args_is_help=True
)
app.add_typer(providers_app, name="providers")


def _checkout() -> Path:
    """The checkout whose .procure/ holds the development state: the current folder or above."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "services").is_dir():
            return folder
    return here


@app.command()
def up() -> None:
    """Run the whole system: embedded PostgreSQL and NATS (unless PROCURE_POSTGRES_URL and
    NATS_URL are given), migrations, the three services; Ctrl-C stops everything."""
    raise typer.Exit(run_up(UpConfig.from_env(_checkout(), os.environ)))


@app.command()
def token(
    role: Annotated[list[Role], typer.Option("--role", "-r", help="repeat for several")],
    buyer: Annotated[str | None, typer.Option(help="the buyer the user acts for")] = "dfe",
    sub: Annotated[str, typer.Option(help="the user's id")] = "dev-user",
    hours: Annotated[float, typer.Option(help="lifetime")] = 12.0,
) -> None:
    """Print a bearer token signed with the development secret (or PROCURE_JWT_SECRET)."""
    typer.echo(_dev_token(sub=sub, roles=role, buyer=buyer or None, ttl=timedelta(hours=hours)))


def _dev_token(*, sub: str, roles: list[Role], buyer: str | None, ttl: timedelta) -> str:
    """A token signed as ``procure up`` signs them: PROCURE_JWT_SECRET, else .procure/'s."""
    secret = os.environ.get("PROCURE_JWT_SECRET")
    if not secret:
        state = _checkout() / ".procure"
        secret = jwt_secret(state) if state.is_dir() else DEV_JWT_SECRET
    return issue_token(
        secret=secret,
        issuer=os.environ.get("PROCURE_JWT_ISSUER", "procure-dev"),
        audience=os.environ.get("PROCURE_JWT_AUDIENCE", "procure"),
        sub=sub,
        roles=roles,
        buyer=buyer,
        ttl=ttl,
    )


@app.command()
def status(
    nats_url: Annotated[
        str, typer.Option("--nats", envvar="NATS_URL", help="the NATS server the services use")
    ] = "nats://127.0.0.1:42229",
    days: Annotated[
        int | None,
        typer.Option(min=1, max=366, help="the due-soon window (default: the service's)"),
    ] = None,
    bearer: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PROCURE_TOKEN",
            help="a bearer token for the milestone counts (its buyer's, or every buyer's for "
            "an admin); without one, a development admin token",
        ),
    ] = None,
) -> None:
    """Show the running services (found through NATS service discovery, $SRV.INFO) with their
    version and health, and how many milestones are overdue and due soon."""
    token = bearer or _dev_token(
        sub="dev-status", roles=[Role.ADMIN], buyer=None, ttl=timedelta(minutes=5)
    )
    try:
        found = asyncio.run(gather_status(nats_url, token, days=days))
    except (OSError, TimeoutError, NatsError) as exc:
        Console(stderr=True).print(f"NATS at {nats_url} did not answer ({exc!r})", markup=False)
        raise typer.Exit(2) from None
    console = Console()
    services = Table(title=f"Services (NATS {nats_url})")
    for heading in ("service", "version", "instance", "API", "health"):
        services.add_column(heading, overflow="fold")
    for i in found.instances:
        services.add_row(i.label, i.version, i.id, i.http or "-", Text(i.health))
    console.print(services)
    if found.milestones is None:
        console.print(f"milestones: not counted ({found.problem})", markup=False)
    else:
        m = found.milestones
        console.print(
            f"milestones on {m.today}: {m.overdue} overdue, {m.due_soon} due in the next "
            f"{m.due_soon_days} days",
            markup=False,
        )
    failed = not found.instances or not all(i.ready for i in found.instances)
    raise typer.Exit(1 if failed or found.milestones is None else 0)


@app.command()
def asyncapi(
    out: Annotated[Path | None, typer.Option(help="write here instead of printing")] = None,
) -> None:
    """Print (or write) the AsyncAPI 3 document generated from the event catalogue."""
    document = asyncapi_document(CATALOGUE, version=__version__)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


@providers_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", exists=True, dir_okay=False, readable=True, help="the CSV file"
        ),
    ],
    url: Annotated[
        str, typer.Option(envvar="PROCURE_PROVIDERS_URL", help="the providers service")
    ] = "http://127.0.0.1:8102",
    bearer: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PROCURE_TOKEN",
            help="an admin bearer token; without one, a development admin token is signed "
            "as `procure token` signs them",
        ),
    ] = None,
) -> None:
    """Create or update providers from a CSV file, matched by identifier (admin).

    Columns (a header row; legalName and "Legal name" spellings work too):
      legal_name, kind, identifiers   required; kind: company, charity,
                                      school_or_trust or public_body
      identifiers                     SCHEME:ID separated by ";", e.g.
                                      GB-COH:01234567;GB-PPON:ABCD-1234-EFGH
      trading_name, notes             optional
      sme, vcse                       optional: yes/no, true/false, 1/0
      regions                         optional: ITL 1 regions separated by ";"
      street_address, locality,       optional, all three or none: the address
      postal_code, country_name
      contact_name, contact_email,    optional, name and email together
      contact_telephone, contact_role

    An empty cell keeps the registry's value. A row whose identifiers no
    provider holds is created; one that matches a provider updates only what
    differs; one that matches two providers, or that the API refuses, is
    rejected with the reason and stores nothing. Importing a file again
    changes nothing. Exit code 1 if a row was rejected, 2 if the file or the
    API could not be used.
    """
    console, errors = Console(), Console(stderr=True)
    try:
        parsed = read_csv(file)
    except CsvError as exc:
        errors.print(f"{file}: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    token = bearer or _dev_token(
        sub=f"dev-admin@{DEMO_BUYER}", roles=[Role.ADMIN], buyer=DEMO_BUYER, ttl=timedelta(hours=1)
    )
    done: list[RowResult] = []
    try:
        summary = asyncio.run(_import(console, url, token, parsed, done))
    except (ImportStopped, httpx.HTTPError) as exc:
        why = exc if isinstance(exc, ImportStopped) else f"no answer from {url} ({exc})"
        errors.print(f"stopped: {why}", style="red", markup=False)
        errors.print(f"{len(done)} of {len(parsed)} rows were done; importing again is safe.")
        raise typer.Exit(2) from None
    _print_summary(console, summary)
    raise typer.Exit(1 if summary.rejected else 0)


async def _import(
    console: Console, url: str, token: str, parsed: ParsedFile, done: list[RowResult]
) -> ImportSummary:
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("rows", total=len(parsed))

    def advance(result: RowResult) -> None:
        done.append(result)
        progress.advance(task)

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        with progress:
            return await import_providers(client, parsed, on_row=advance)


def _print_summary(console: Console, summary: ImportSummary) -> None:
    counts = Table(title="Providers imported")
    for heading in ("created", "updated", "unchanged", "rejected"):
        counts.add_column(heading, justify="right")
    counts.add_row(
        *map(str, (summary.created, summary.updated, summary.unchanged, len(summary.rejected)))
    )
    console.print(counts)
    if summary.rejected:
        rejected = Table(title="Rejected rows (nothing of them was stored)")
        rejected.add_column("line", justify="right")
        rejected.add_column("reason", overflow="fold")
        for rejection in summary.rejected:
            rejected.add_row(str(rejection.line), Text(rejection.reason))
        console.print(rejected)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
