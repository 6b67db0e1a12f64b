"""The ``procure`` command. It never imports a service package: it starts services as processes
and acts on data through their HTTP APIs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn
from urllib.parse import urlsplit

import httpx
import jwt
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from procure_shared.events import CATALOGUE
from procure_shared.events.asyncapi import asyncapi_document
from procure_shared.tokens import Role, issue_token
from procure_shared.version import VERSION
from procure_tools.configuration import configuration_document
from procure_tools.devstack.endpoints import Endpoints, EndpointsError, read_endpoints
from procure_tools.devstack.servers import ServerError
from procure_tools.devstack.up import (
    DEMO_BUYER,
    SERVICES,
    UpConfig,
    development_secret,
    run_up,
    serve_by_hand,
)
from procure_tools.importer import (
    CsvError,
    ImportStopped,
    ImportSummary,
    ParsedFile,
    RowResult,
    import_providers,
    read_csv,
)
from procure_tools.ocds.client import (
    BATCH,
    IN_FLIGHT,
    MAX_BYTES,
    ExportSummary,
    QualityReport,
    RequestFailed,
    export_ocds,
    import_file,
    ocds_files,
)
from procure_tools.ocds.reader import OcdsFile, OcdsFileError

if TYPE_CHECKING:
    from procure_shared.messaging.nats import NatsAccess

__all__ = ["app", "main"]

app = typer.Typer(help="Procure: tenders, contracts, delivery and alerts.", no_args_is_help=True)
providers_app = typer.Typer(
    help="The provider registry, through the providers service's API.", no_args_is_help=True
)
app.add_typer(providers_app, name="providers")
ocds_app = typer.Typer(
    help="OCDS files in and out, through the contracts service's API.", no_args_is_help=True
)
app.add_typer(ocds_app, name="ocds")
bus_app = typer.Typer(
    help="The NATS identities: their credentials and what each may do.", no_args_is_help=True
)
app.add_typer(bus_app, name="bus")


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"procure {VERSION}")
        raise typer.Exit


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and stop"
        ),
    ] = False,
) -> None:
    """Procure: tenders, contracts, delivery and alerts."""


def _checkout() -> Path:
    """The checkout whose .procure/ holds the development state: the current folder or above."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "services").is_dir():
            return folder
    return here


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on standard error, and the exit code."""
    Console(stderr=True).print(message, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(code)


# Where the services listen when a command is not told: the running `procure up`'s
# (.procure/endpoints.json), else `procure up`'s default ports.
_UP = UpConfig.from_env(Path(), {})  # procure up's defaults, read where they are set
_DEFAULT_URLS = {s: f"http://127.0.0.1:{_UP.port_of(s)}" for s in SERVICES}
_DEFAULT_NATS = f"nats://127.0.0.1:{_UP.nats_port}"
_FOUND = "(default: the running make up's, else {})"


def _running() -> Endpoints | None:
    """This checkout's running ``procure up``, as its endpoints file says."""
    try:
        return read_endpoints(_checkout() / ".procure")
    except EndpointsError as exc:
        _fail(str(exc))


def _url_of(service: str, given: str | None) -> str:
    if given:
        return given
    endpoints = _running()
    return endpoints.url_of(service) if endpoints else _DEFAULT_URLS[service]


def _nats_of(given: str | None) -> str:
    if given:
        return given
    endpoints = _running()
    return endpoints.nats if endpoints else _DEFAULT_NATS


# How the commands that speak NATS connect: the nkey seed of the command's identity (cli for
# status, admin for bus upgrade) and the TLS files (as the services' PROCURE_NATS_*).
NatsUrl = Annotated[
    str | None,
    typer.Option(
        "--nats",
        envvar="NATS_URL",
        help="the NATS server the services use " + _FOUND.format(_DEFAULT_NATS),
    ),
]
NatsSeed = Annotated[
    Path | None,
    typer.Option(
        "--nats-credentials",
        envvar="PROCURE_NATS_CREDENTIALS",
        help="the nkey seed of this command's NATS identity (default: the running make up's)",
    ),
]
NatsTlsCa = Annotated[
    Path | None,
    typer.Option(
        "--nats-tls-ca",
        envvar="PROCURE_NATS_TLS_CA",
        help="the certificate authority of a NATS server that requires TLS",
    ),
]
NatsTlsCert = Annotated[
    Path | None,
    typer.Option(
        "--nats-tls-cert",
        envvar="PROCURE_NATS_TLS_CERT",
        help="this client's certificate, for a server that verifies clients",
    ),
]
NatsTlsKey = Annotated[
    Path | None,
    typer.Option("--nats-tls-key", envvar="PROCURE_NATS_TLS_KEY", help="its key"),
]


def _access(
    identity: str,
    seed: Path | None,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
) -> NatsAccess:
    """How this command connects to NATS as ``identity``; a file it cannot read ends the
    command with one line."""
    from procure_shared.messaging.nats import NatsAccess, NatsAccessError

    def text(path: Path | None) -> str | None:
        return None if path is None else str(path)

    try:
        return NatsAccess(
            identity=identity,
            seed_file=_seed_of(identity, seed),
            tls_ca=text(ca),
            tls_cert=text(cert),
            tls_key=text(key),
        ).checked()
    except NatsAccessError as exc:
        _fail(str(exc))


def _seed_of(identity: str, given: Path | None) -> str:
    """The nkey seed ``identity`` connects with: the one given, else the running make up's."""
    if given is not None:
        return str(given)
    endpoints = _running()
    if endpoints is None or not endpoints.credentials:
        _fail(
            f"no NATS credentials: give --nats-credentials (the {identity} identity's nkey "
            "seed), or start make up, which makes them"
        )
    return endpoints.seed_of(identity)


@app.command()
def up(
    without: Annotated[
        list[str] | None,
        typer.Option(
            "--without",
            metavar="SERVICE",
            help="leave this service to you (repeat for several): run it with "
            "`procure serve SERVICE`",
        ),
    ] = None,
) -> None:
    """Run the whole system: embedded PostgreSQL and NATS (unless PROCURE_POSTGRES_URL and
    NATS_URL are given), migrations, the three services; Ctrl-C stops everything."""
    try:
        config = UpConfig.from_env(_checkout(), os.environ, without or [])
    except ServerError as exc:
        _fail(str(exc))
    raise typer.Exit(run_up(config))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(SERVICES)}")],
) -> None:
    """Run SERVICE yourself against the running `procure up` (started with --without
    SERVICE), with the settings it gives its own services; Ctrl-C stops it."""
    if service not in SERVICES:
        _fail(f"no service {service}: the services are {', '.join(SERVICES)}")
    try:
        env = serve_by_hand(_checkout(), service, os.environ)
    except (ServerError, EndpointsError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or ''} {exc.strerror or exc}".strip())
    os.execve(sys.executable, [sys.executable, "-m", f"procure_{service}"], env)  # noqa: S606


@app.command()
def token(
    role: Annotated[list[Role], typer.Option("--role", "-r", help="repeat for several")],
    buyer: Annotated[str | None, typer.Option(help="the buyer the user acts for")] = "dfe",
    sub: Annotated[str, typer.Option(help="the user's id")] = "dev-user",
    hours: Annotated[
        float,
        typer.Option(
            min=0.01, max=12, help="lifetime (at most 12: the services refuse longer ones)"
        ),
    ] = 12.0,
) -> None:
    """Print a development bearer token, signed with this checkout's development secret
    (.procure/jwt-secret, made by make up): only the services make up runs accept it. It
    signs nothing else: a deployment's tokens come from its identity provider."""
    typer.echo(_dev_token(sub=sub, roles=role, buyer=buyer or None, ttl=timedelta(hours=hours)))


def _dev_token(*, sub: str, roles: list[Role], buyer: str | None, ttl: timedelta) -> str:
    """A token signed as ``procure up`` signs them, with the secret it keeps in .procure/;
    never with any other (not PROCURE_JWT_SECRET, not the public one)."""
    state = _checkout() / ".procure"
    try:
        secret = development_secret(state)
    except OSError as exc:
        _fail(f"the development secret in {state} cannot be used: {exc.strerror or exc}")
    if secret is None:
        _fail(
            f"no development secret in {state} (make up makes it): development tokens are "
            "signed only for this checkout's make up; elsewhere use a token from your identity "
            "provider (--token or PROCURE_TOKEN)"
        )
    return issue_token(
        secret=secret,
        issuer=os.environ.get("PROCURE_JWT_ISSUER", "procure-dev"),
        audience=os.environ.get("PROCURE_JWT_AUDIENCE", "procure"),
        sub=sub,
        roles=roles,
        buyer=buyer,
        ttl=ttl,
    )


def _is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def _same_url(a: str, b: str) -> bool:
    one, two = urlsplit(a), urlsplit(b)
    return (one.scheme, one.hostname, one.port) == (two.scheme, two.hostname, two.port)


def _dev_token_for(
    url: str, *, sub: str, roles: list[Role], buyer: str | None, ttl: timedelta
) -> str | None:
    """A development token for ``url``, only if it is one of the loopback endpoints the
    running make up of this checkout wrote (None otherwise): a token is never signed for a
    service it did not start."""
    endpoints = _running()
    if endpoints is None or not _is_loopback(url):
        return None
    if not any(_same_url(url, ours) for ours in endpoints.services.values()):
        return None
    return _dev_token(sub=sub, roles=roles, buyer=buyer, ttl=ttl)


def _bearer_for(service: str, given_url: str | None, bearer: str | None, ttl: timedelta) -> str:
    """The token to send to ``service``: the one given, else a development admin token when
    the service is the running make up's, else a one-line refusal (exit 2)."""
    if bearer:
        return bearer
    url = _url_of(service, given_url)
    made = _dev_token_for(
        url, sub=f"dev-admin@{DEMO_BUYER}", roles=[Role.ADMIN], buyer=DEMO_BUYER, ttl=ttl
    )
    if made is None:
        _fail(
            f"no token for {url}: give one with --token (or PROCURE_TOKEN); a development "
            "token is signed only for the services of this checkout's running make up"
        )
    return made


@app.command()
def status(
    nats_url: NatsUrl = None,
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
            "an admin); without one, a development admin token for the running make up's "
            "contracts service, and no count elsewhere",
        ),
    ] = None,
    credentials: NatsSeed = None,
    tls_ca: NatsTlsCa = None,
    tls_cert: NatsTlsCert = None,
    tls_key: NatsTlsKey = None,
) -> None:
    """Show the running services (found through NATS service discovery, $SRV.INFO) with their
    version and health, and how many milestones are overdue and due soon."""

    def token_for(url: str) -> str | None:
        return bearer or _dev_token_for(
            url, sub="dev-status", roles=[Role.ADMIN], buyer=None, ttl=timedelta(minutes=5)
        )

    nats_url = _nats_of(nats_url)
    # Only this command speaks NATS: the others start without loading its client.
    from nats.errors import Error as NatsError

    from procure_tools.status import NATS_WAIT, gather_status

    access = _access("cli", credentials, tls_ca, tls_cert, tls_key)
    try:
        found = asyncio.run(gather_status(nats_url, access, token_for, days=days))
    except TimeoutError:
        _fail(f"NATS at {nats_url} did not answer within {NATS_WAIT} s")
    except (OSError, NatsError) as exc:
        _fail(f"NATS at {nats_url} did not answer: {_reason(exc)}")
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
    document = asyncapi_document(CATALOGUE, version=VERSION)
    _print_or_write(json.dumps(document, indent=2, sort_keys=True) + "\n", out)


@app.command()
def configuration(
    out: Annotated[Path | None, typer.Option(help="write here instead of printing")] = None,
) -> None:
    """Print (or write) the configuration reference generated from the code: every
    environment variable, its default, what it means and which processes read it."""
    _print_or_write(configuration_document(app), out)


@bus_app.command("credentials")
def bus_credentials(
    out: Annotated[Path, typer.Option(help="the folder to write them in (made 0700)")],
    identities: Annotated[
        list[str] | None,
        typer.Option(
            "--identity",
            help="an identity to make credentials for (repeat it; default: every deployed "
            "one: the three services, cli, operator and admin)",
        ),
    ] = None,
) -> None:
    """Make an nkey seed for each identity (<identity>.nk, kept if it is there), the server's
    authorization for them (authorization.conf: public keys and permissions only) and the
    cluster's route password (route.password). The image does the same with
    `python -m procure_shared.bus credentials`."""
    from procure_shared.bus import make_credentials

    try:
        lines = make_credentials(out, identities)
    except LookupError as exc:
        _fail(str(exc.args[0]))
    except OSError as exc:
        _fail(f"cannot write the credentials in {out}: {exc.strerror}")
    for line in lines:
        typer.echo(line)


@bus_app.command("upgrade")
def bus_upgrade(
    nats_url: NatsUrl = None,
    credentials: NatsSeed = None,
    tls_ca: NatsTlsCa = None,
    tls_cert: NatsTlsCert = None,
    tls_key: NatsTlsKey = None,
) -> None:
    """Delete the streams of earlier versions that stand in the way of this one's (the one
    DEADLETTERS stream of 0.2.0 and before), as the admin identity, before the services of
    this version start. Running it again does nothing."""
    from procure_shared.bus import BusRefused, upgrade

    access = _access("admin", credentials, tls_ca, tls_cert, tls_key)
    try:
        typer.echo(upgrade(_nats_of(nats_url), access))
    except BusRefused as exc:
        _fail(str(exc))


IDENTITIES_START = "<!-- identities: generated by `procure bus identities`; do not edit -->"
IDENTITIES_END = "<!-- identities: end -->"


@bus_app.command("identities")
def bus_identities(
    out: Annotated[
        Path | None,
        typer.Option(help="a Markdown file whose generated section to rewrite (else print)"),
    ] = None,
) -> None:
    """Print every NATS identity and its permissions as a Markdown table (or rewrite the
    section of a file between its markers), generated from procure_shared.identities."""
    from procure_shared.identities import identities_markdown

    table = identities_markdown()
    if out is None:
        typer.echo(table, nl=False)
        return
    text = out.read_text()
    start, end = text.find(IDENTITIES_START), text.find(IDENTITIES_END)
    if start < 0 or end < start:
        _fail(f"{out} has no section marked {IDENTITIES_START} ... {IDENTITIES_END}")
    out.write_text(text[: start + len(IDENTITIES_START)] + "\n" + table + text[end:])


def _print_or_write(text: str, out: Path | None) -> None:
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
        str | None,
        typer.Option(
            envvar="PROCURE_PROVIDERS_URL",
            help="the providers service " + _FOUND.format(_DEFAULT_URLS["providers"]),
        ),
    ] = None,
    bearer: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PROCURE_TOKEN",
            help="an admin bearer token; without one, a development admin token, only for "
            "the running make up's providers service",
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
    token = _bearer_for("providers", url, bearer, timedelta(hours=1))
    done: list[RowResult] = []
    url = _url_of("providers", url)
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
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=_timeout(30)) as client:
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


# --- procure ocds ------------------------------------------------------------------------------

ContractsUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="PROCURE_CONTRACTS_URL",
        help="the contracts service " + _FOUND.format(_DEFAULT_URLS["contracts"]),
    ),
]
Bearer = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PROCURE_TOKEN",
        help="a bearer token (an admin's, to import or revoke); without one, a development admin "
        "token, only for the running make up's contracts service",
    ),
]


def _admin_token(url: str | None, bearer: str | None) -> str:
    return _bearer_for("contracts", url, bearer, timedelta(hours=4))


@ocds_app.command("import")
def ocds_import(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE_OR_DIR...",
            exists=True,
            readable=True,
            help="OCDS files (.json, .jsonl); a folder stands for its .json and .jsonl files",
        ),
    ],
    buyer: Annotated[str, typer.Option(help="the buyer the imported processes belong to")],
    source: Annotated[
        str | None,
        typer.Option(help="what the import is called on what it makes (default: the file name)"),
    ] = None,
    url: ContractsUrl = None,
    bearer: Bearer = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="releases a request")] = BATCH,
    max_bytes: Annotated[
        int, typer.Option(min=1024, help="JSON bytes a request (a larger release goes alone)")
    ] = MAX_BYTES,
    in_flight: Annotated[int, typer.Option(min=1, max=64, help="requests at once")] = IN_FLIGHT,
    report_dir: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="write each file's report here as <file>.quality.json"),
    ] = None,
) -> None:
    """Import OCDS files into the contracts service (admin): release packages, record
    packages, records, releases, or JSON Lines of them, of any size (read as a stream).

    Releases go in batches to POST /v1/ocds/import; a process's releases arrive in file
    order. Each file's quality report (releases read, imported, already there, schema errors
    and where they are in the file, what could not be placed, problems) is printed, and
    saved with --report-dir. Importing a file again imports nothing new. Schema errors are
    reported, not failures. Exit code 1 if a file is not OCDS JSON, 2 if a request failed
    (the service's problem is printed).
    """
    console, errors = Console(), Console(stderr=True)
    files = ocds_files(paths)
    if not files:
        errors.print("no .json or .jsonl file found", style="red")
        raise typer.Exit(1)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
    labels = [source or f.name for f in files]
    if source is not None and len(files) > 1:
        labels = [f"{source}/{f.name}" for f in files]
    try:
        reports, unreadable = asyncio.run(
            _import_files(
                console,
                _url_of("contracts", url),
                _admin_token(url, bearer),
                files,
                labels,
                buyer,
                batch=batch,
                max_bytes=max_bytes,
                in_flight=in_flight,
            )
        )
    except RequestFailed as exc:
        errors.print(f"stopped: {exc}", style="red", markup=False)
        errors.print("what was sent before is stored; importing again is safe.")
        raise typer.Exit(2) from None
    except OSError as exc:  # the report folder
        _fail(f"stopped: {exc.filename or ''}: {exc.strerror or exc}")
    for report in reports:
        _print_quality(console, report)
        if report_dir is not None:
            target = report_dir / f"{Path(report.file).name}.quality.json"
            target.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    _print_totals(console, reports)
    for path, why in unreadable:
        errors.print(f"{path}: {why}", style="red", markup=False)
    raise typer.Exit(1 if unreadable else 0)


def _bytes_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[releases]}"),
        TimeElapsedColumn(),
        console=console,
    )


async def _import_files(
    console: Console,
    url: str,
    token: str,
    files: list[Path],
    labels: list[str],
    buyer: str,
    **options: int,
) -> tuple[list[QualityReport], list[tuple[Path, str]]]:
    reports: list[QualityReport] = []
    unreadable: list[tuple[Path, str]] = []
    headers = {"Authorization": f"Bearer {token}"}
    progress = _bytes_progress(console)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=_timeout(300)) as client:
        with progress:
            for path, label in zip(files, labels, strict=True):
                task = progress.add_task(path.name, total=path.stat().st_size, releases="")

                def advance(file: OcdsFile, report: QualityReport, task: TaskID = task) -> None:
                    progress.update(
                        task,
                        completed=file.position,
                        releases=f"{report.releases_read:,} releases read by the service",
                    )

                try:
                    report = await import_file(
                        client, path, buyer=buyer, source=label, on_progress=advance, **options
                    )
                except OcdsFileError as exc:
                    unreadable.append((path, str(exc)))
                    continue
                progress.update(task, completed=path.stat().st_size)
                reports.append(report)
    return reports, unreadable


def _print_quality(console: Console, report: QualityReport) -> None:
    table = Table(title=f"{report.file} ({report.shape}, source {report.source!r})")
    for heading in ("releases read", "imported", "already there", "schema errors", "processes"):
        table.add_column(heading, justify="right")
    table.add_column("releases/s", justify="right")
    rate = report.releases_read / report.seconds if report.seconds else 0.0
    table.add_row(
        *(
            f"{n:,}"
            for n in (
                report.releases_read,
                report.imported,
                report.skipped,
                report.schema_errors,
                len(report.processes),
            )
        ),
        f"{rate:,.0f}",
    )
    console.print(table)
    if report.errors:
        shown = report.errors[:20]
        errors = Table(
            title=f"Schema errors ({len(shown)} of {report.schema_errors:,} shown)",
            title_justify="left",
        )
        for heading in ("release (in the file)", "field", "message"):
            errors.add_column(heading, overflow="fold")
        for e in shown:
            errors.add_row(Text(e["where"] or "/"), Text(e["path"]), Text(e["message"]))
        console.print(errors)
    if report.unplaced:
        unplaced = Table(title="Fields not placed on anything", title_justify="left")
        unplaced.add_column("field", overflow="fold")
        unplaced.add_column("times", justify="right")
        for path, count in report.unplaced.most_common(20):
            unplaced.add_row(Text(path), f"{count:,}")
        console.print(unplaced)
    for problem in list(report.problems)[:20]:
        console.print(Text(f"problem: {problem}"))
    if len(report.problems) > 20:
        console.print(f"... and {len(report.problems) - 20:,} more problems (see the report)")


def _print_totals(console: Console, reports: list[QualityReport]) -> None:
    if len(reports) < 2:
        return
    console.print(
        f"{len(reports)} files: {sum(r.releases_read for r in reports):,} releases read, "
        f"{sum(r.imported for r in reports):,} imported, "
        f"{sum(r.skipped for r in reports):,} already there, "
        f"{sum(r.schema_errors for r in reports):,} schema errors",
        markup=False,
    )


@ocds_app.command("export")
def ocds_export(
    out: Annotated[Path, typer.Option(file_okay=False, help="the folder to write into")],
    url: ContractsUrl = None,
    bearer: Bearer = None,
    since: Annotated[
        str | None,
        typer.Option(help="only changes made at or after this date or instant (ISO 8601)"),
    ] = None,
) -> None:
    """Export the contracts service's data as OCDS: every release (one release package
    a page of the API: releases-00001.json, ...) and each process's record
    (records/<ocid>.json, a record package with its releases and compiled release).

    A viewer's token exports its buyer's processes, an admin's every buyer's. Exit code 2 if
    a request failed.
    """
    console, errors = Console(), Console(stderr=True)
    if since is not None and "T" not in since:
        since = f"{since}T00:00:00Z"
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        summary = asyncio.run(
            _export(progress, _url_of("contracts", url), _admin_token(url, bearer), out, since)
        )
    except RequestFailed as exc:
        errors.print(f"stopped: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    except OSError as exc:  # the folder to write into
        _fail(f"stopped: {exc.filename or out}: {exc.strerror or exc}")
    console.print(
        f"{summary.releases:,} releases in {summary.pages:,} release packages and "
        f"{summary.records:,} records written to {out}",
        markup=False,
    )


async def _export(
    progress: Progress, url: str, token: str, out: Path, since: str | None
) -> ExportSummary:
    headers = {"Authorization": f"Bearer {token}"}
    pages = progress.add_task("releases", total=None)
    records = progress.add_task("records", total=None, visible=False)

    def on_page(summary: ExportSummary) -> None:
        progress.update(pages, completed=summary.releases)

    def on_record(summary: ExportSummary, total: int) -> None:
        progress.update(records, completed=summary.records, total=total, visible=True)

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=_timeout(120)) as client:
        with progress:
            return await export_ocds(client, out, since=since, on_page=on_page, on_record=on_record)


# --- procure revoke ----------------------------------------------------------------------------


@app.command()
def revoke(
    jti: Annotated[
        str | None,
        typer.Option(
            "--jti", help="the id of the one token to revoke, or the token itself (its jti is read)"
        ),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="revoke every token of this subject issued before --issued-before"),
    ] = None,
    issued_before: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ"],
            help="with --subject: an instant with its offset (default: now)",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="why (kept in the audit)")] = None,
    url: ContractsUrl = None,
    bearer: Bearer = None,
) -> None:
    """Revoke a bearer token (--jti), or every token of a subject (--subject) issued before a
    time, through the contracts service (admin). Every service refuses them within two
    seconds. Prints the revocation; exit 2 if the service refused it."""
    body: dict[str, str] = {"jti": _token_id(jti)} if jti else {}
    if subject:
        body["subject"] = subject
    if issued_before is not None:
        if issued_before.tzinfo is None:
            issued_before = issued_before.replace(tzinfo=UTC)
        body["issuedBefore"] = issued_before.isoformat()
    if reason:
        body["reason"] = reason
    target = _url_of("contracts", url)
    try:
        answer = httpx.post(
            f"{target}/v1/revocations",
            json=body,
            headers={"Authorization": f"Bearer {_admin_token(url, bearer)}"},
            timeout=_timeout(10),
        )
    except httpx.HTTPError as exc:
        _fail(f"{target}: {_reason(exc)}")
    if answer.status_code not in (200, 201):
        detail = answer.text
        with contextlib.suppress(ValueError):
            detail = str(answer.json().get("detail", detail))
        _fail(f"refused ({answer.status_code}): {detail}")
    print(json.dumps(answer.json(), indent=2))


def _token_id(given: str) -> str:
    """``given`` if it is a token id; the ``jti`` of the token if it is a whole token (read,
    not verified: the services verify, and a revocation of a forged token's id is harmless)."""
    if given.count(".") != 2:
        return given
    try:
        claims = jwt.decode(given, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        _fail(f"--jti: not a token id, nor a token that can be read ({exc})")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        _fail("--jti: that token has no jti; revoke its subject with --subject")
    return jti


def _timeout(answer: float) -> httpx.Timeout:
    """``answer`` seconds for a service to answer, but 5 to connect: a service that is not
    there is said at once."""
    return httpx.Timeout(answer, connect=5.0)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def main() -> None:
    app()


if __name__ == "__main__":
    main()
