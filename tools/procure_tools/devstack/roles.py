"""The development stack's database roles, as production has them (docs/operations.md,
"Database roles"): ``procure_owner`` owns the databases and runs the migrations, which make
each service's own role (``procure_<service>``), the one the service connects as. One
password, kept under ``.procure/``, serves them all (the embedded server trusts local
connections; a server of ``PROCURE_POSTGRES_URL`` may not)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from procure_shared.db.migrations import create_owner_role, with_database

__all__ = ["OWNER", "adopt_database", "prepare_roles", "service_role"]

OWNER = "procure_owner"


def service_role(service: str) -> str:
    return f"procure_{service}"


async def prepare_roles(admin_url: str, password: str, databases: Sequence[str]) -> bool:
    """Make the owner's role, and give it the ``databases`` an earlier ``procure up`` made as
    the superuser. False when the user of ``admin_url`` may not make roles (a server of
    ``PROCURE_POSTGRES_URL``): the services then connect as that user."""
    try:
        await create_owner_role(admin_url, OWNER, password)
    except asyncpg.InsufficientPrivilegeError:
        return False
    for database in databases:
        await adopt_database(admin_url, database, OWNER)
    return True


# Every table, view and function of the schema that ``owner`` does not own yet (a table's
# sequences and triggers go with it).
_ADOPT = """
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT format('ALTER TABLE %s OWNER TO %I', c.oid::regclass, $owner${owner}$owner$)
               AS statement
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
          AND pg_get_userbyid(c.relowner) <> $owner${owner}$owner$
        UNION ALL
        SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure,
                      $owner${owner}$owner$)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> $owner${owner}$owner$
    LOOP
        EXECUTE item.statement;
    END LOOP;
END
$$
"""


async def adopt_database(admin_url: str, database: str, owner: str) -> bool:
    """Make ``owner`` the owner of ``database`` and of everything in it, if the database
    exists and is another's. True when it changed hands."""
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        current = await admin.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", database
        )
        if current is None or current == owner:
            return False
        await admin.execute(
            await admin.fetchval(
                "SELECT format('ALTER DATABASE %I OWNER TO %I', $1::text, $2::text)",
                database,
                owner,
            )
        )
    finally:
        await admin.close()
    inside = await asyncpg.connect(with_database(admin_url, database), timeout=10)
    try:
        await inside.execute(_ADOPT.format(owner=owner))
    finally:
        await inside.close()
    return True
