"""The ``procure`` command. It never imports a service package: it starts services as processes
and acts on data through their HTTP APIs."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer

from procure_shared.devstack.up import SERVICES, UpConfig, jwt_secret, run_up
from procure_shared.events import CATALOGUE
from procure_shared.events.asyncapi import asyncapi_document
from procure_shared.http.auth import Role, issue_token
from procure_shared.settings import DEV_JWT_SECRET

__all__ = ["app", "main"]

__version__ = version("procure-shared")

app = typer.Typer(help="Procure: tenders, contracts, delivery and alerts.", no_args_is_help=True)


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
    secret = os.environ.get("PROCURE_JWT_SECRET")
    if not secret:
        state = _checkout() / ".procure"
        secret = jwt_secret(state) if state.is_dir() else DEV_JWT_SECRET
    typer.echo(
        issue_token(
            secret=secret,
            issuer=os.environ.get("PROCURE_JWT_ISSUER", "procure-dev"),
            audience=os.environ.get("PROCURE_JWT_AUDIENCE", "procure"),
            sub=sub,
            roles=role,
            buyer=buyer or None,
            ttl=timedelta(hours=hours),
        )
    )


@app.command()
def status(
    base_port: Annotated[int, typer.Option(help="the first service's port")] = 8101,
) -> None:
    """Show whether each service answers /health/ready."""
    import httpx

    failed = False
    for offset, service in enumerate(SERVICES):
        url = f"http://127.0.0.1:{base_port + offset}/health/ready"
        try:
            answer = httpx.get(url, timeout=2)
            typer.echo(f"{service:14} {answer.status_code} {answer.text}")
            failed |= answer.status_code != 200
        except httpx.HTTPError as exc:
            typer.echo(f"{service:14} unreachable ({exc})")
            failed = True
    raise typer.Exit(1 if failed else 0)


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
